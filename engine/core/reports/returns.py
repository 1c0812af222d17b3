"""Report figures for agencies' returns: every outstanding return of an open case, by agency. Pure."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from reviewflow.engine.core.durations import working_days_between
from reviewflow.engine.core.reports.data import ReportData


@dataclass(frozen=True)
class OutstandingReturn:
    """A return requested and neither in nor excused."""

    agency: str
    ref: str
    type_title: str
    requested_on: date
    due_date: date
    late: bool
    working_days_late: int


def outstanding_returns(data: ReportData, today: date) -> tuple[OutstandingReturn, ...]:
    """The outstanding returns of the open cases in `data`, by agency, then oldest due first."""
    cases = {c.case_id: c for c in data.cases if c.is_open}
    found = []
    for r in data.outstanding_returns:
        case = cases.get(r.case_id)
        if case is None or r.status != "requested":
            continue
        d = data.definition(case)
        late = max(working_days_between(r.due_date, today, d.calendar), 0) if r.is_late(today) else 0
        found.append(OutstandingReturn(r.agency, case.ref, d.title, r.requested_on, r.due_date, r.is_late(today),
                                       late))
    return tuple(sorted(found, key=lambda o: (o.agency.casefold(), o.due_date, o.ref)))
