"""`action list` as a one-table report, for CSV and a workbook with typed cells (dates as dates). Pure."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from reviewflow.engine.core.learning import is_overdue
from reviewflow.engine.core.records import Action
from reviewflow.engine.core.reports.layout import Layout, Section, Table, words

COLUMNS = ("case", "action", "recommendation", "description", "agency", "owner", "due", "first due",
           "re-dated because", "status", "overdue", "themes", "evidence accepted", "success measure")


def action_list_layout(actions: Sequence[Action], today: date, filters: str = "") -> Layout:
    """The actions, soonest due first as listed, with how many there are and how many are overdue."""
    rows = tuple(
        (a.ref, a.number, a.recommendation, a.description, a.owner_agency, a.owner, a.due_date,
         a.first_due_date or a.due_date, a.redate_reason, words(a.status),
         "yes" if is_overdue(a.facts(), today) else "no", a.themes,
         sum(e.status == "accepted" for e in a.evidence), a.success_measure or None)
        for a in actions)
    overdue = sum(row[10] == "yes" for row in rows)
    header = (f"As of {today.isoformat()}" + (f"; {filters}" if filters else ""),)
    return Layout("Actions", header, (("actions", str(len(rows))), ("overdue", str(overdue))),
                  (Section("Actions", tables=(Table("actions", "Actions", COLUMNS, rows, "No actions match."),)),),
                  ("Overdue: past the due date and not yet evidenced, verified, superseded or not implemented.",))
