"""The learning themes: the partnership's list (`learning_themes`) and the themes recommendations carry."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.engine import Connection
from sqlmodel import Session
from sqlmodel import select as select_scalars

from reviewflow.engine.core.themes import Theme, ThemeList, parse_shipped
from reviewflow.store.models import LearningThemeRow, RecommendationRow

_T: Any = LearningThemeRow.__table__  # type: ignore[attr-defined]


def themes_in_use(s: Session) -> set[str]:
    """Every learning theme given to a recommendation (themes are a JSON list on each, so gathered here)."""
    return {t for themes in s.exec(select_scalars(RecommendationRow.themes)).all() for t in (themes or ())}


def themes_by_recommendation(s: Session) -> list[list[str]]:
    return [list(themes or ()) for themes in s.exec(select_scalars(RecommendationRow.themes)).all()]


def _record(row: Any) -> Theme:
    return Theme(row.key, row.label, row.description or "", row.retired_at)


def theme_list(s: Session | Connection) -> ThemeList:
    """The partnership's list, in its order (retired themes included)."""
    conn = s if isinstance(s, Connection) else s.connection()
    return ThemeList(tuple(_record(r) for r in conn.execute(select(_T).order_by(_T.c.position, _T.c.key))))


def add(s: Session, theme: Theme) -> None:
    conn = s.connection()
    last = conn.execute(select(func.max(_T.c.position))).scalar()
    conn.execute(insert(_T).values(key=theme.key, label=theme.label, description=theme.description,
                                   position=(last or 0) + 1, retired_at=None))


def change(s: Session, key: str, **values: Any) -> None:
    s.connection().execute(update(_T).where(_T.c.key == key).values(**values))


def retire(s: Session, key: str, when: datetime) -> None:
    change(s, key, retired_at=when)


def seed(conn: Connection) -> list[str]:
    """Add the shipped themes the list lacks (none is ever removed: an administrator retires them); returns the
    keys added."""
    from reviewflow.workflows import shipped_themes_file

    path = shipped_themes_file()
    shipped = parse_shipped(path.read_text("utf-8"), path.name)
    known = {r.key for r in conn.execute(select(_T.c.key))}
    last = conn.execute(select(func.max(_T.c.position))).scalar() or 0
    added = [t for t in shipped if t.key not in known]
    if added:  # one statement for them all
        conn.execute(insert(_T), [{"key": t.key, "label": t.label, "description": t.description, "position": n,
                                   "retired_at": None} for n, t in enumerate(added, last + 1)])
    return [t.key for t in added]
