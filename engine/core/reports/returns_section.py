"""The Board report's table of outstanding agency returns (laid out by board_sections.py)."""

from __future__ import annotations

from reviewflow.engine.core.reports.board import BoardReport
from reviewflow.engine.core.reports.layout import Section, Table


def returns_section(r: BoardReport) -> Section:
    table = Table("outstanding_returns", "Outstanding agency returns, by agency",
                  ("agency", "ref", "type", "requested", "due date", "status", "working days late"),
                  tuple((o.agency, o.ref, o.type_title, o.requested_on, o.due_date, "late" if o.late else "requested",
                         o.working_days_late) for o in r.returns),
                  empty="No agency return is outstanding.")
    intro = ("Returns asked of agencies (and schools) on open reviews and audits, neither returned nor excused with "
             "a reason, by agency; late once past their due date. A late return climbs its agency's own ladder.")
    return Section("Agency returns", intro, (table,), anchor="returns")
