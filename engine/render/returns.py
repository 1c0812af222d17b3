"""Agencies' returns on a case as text lines (`reviewflow case returns`)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from reviewflow.engine.core.records import AgencyReturn
from reviewflow.engine.render.lines import Line
from reviewflow.engine.render.text import return_text


def returns_lines(ref: str, returns: Sequence[AgencyReturn], today: date) -> list[Line]:
    """Each return, then a count of those outstanding and late (on standard error)."""
    lines = [Line(return_text(r, today)) for r in returns]
    if not returns:
        lines.append(Line(f"{ref}: no agency returns requested; request them with 'reviewflow case request'",
                          err=True))
        return lines
    outstanding = sum(r.status == "requested" for r in returns)
    late = sum(r.is_late(today) for r in returns)
    lines.append(Line(f"{ref}: {len(returns)} return(s) requested, {outstanding} outstanding, {late} late",
                      err=True))
    return lines
