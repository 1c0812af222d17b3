"""The learning themes recommendations carry."""

from __future__ import annotations

from sqlmodel import Session, select

from reviewflow.store.models import RecommendationRow


def themes_in_use(s: Session) -> set[str]:
    """Every learning theme given to a recommendation (themes are a JSON list on each, so gathered here)."""
    return {t for themes in s.exec(select(RecommendationRow.themes)).all() for t in (themes or ())}
