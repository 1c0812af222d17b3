"""Agencies' returns on a case as text lines (`reviewflow case returns`)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from reviewflow.engine.core.records import AgencyReturn
from reviewflow.engine.render.escape import printable
from reviewflow.engine.render.lines import Line


def return_text(r: AgencyReturn, today: date) -> str:
    """One return: agency, status (late when past due), due date and what became of it."""
    status = r.shown_status(today)
    detail = ""
    if r.returned_on:
        detail = f", returned {r.returned_on.isoformat()}"
    elif r.reason:
        detail = f": {printable(r.reason)}"
    return (f"{printable(r.agency):<32} {status:<9} asked {r.requested_on.isoformat()}, "
            f"due {r.due_date.isoformat()}{detail}")


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
