"""The terminal tables of `case list`, `action list` and `user list`: labels rather than internal names, and one
status cell coloured red (overdue), amber (paused, or evidence to check) or green (on time)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date
from typing import Any

from reviewflow.engine.core.learning import is_overdue
from reviewflow.engine.core.measures import describe
from reviewflow.engine.core.records import Action, CaseView
from reviewflow.engine.render.table import Cell, Column, Output, render_table


def _days(n: int) -> str:
    return f"{n} working day{'' if n == 1 else 's'}"


def case_status(view: CaseView, overdue_days: int) -> Cell:
    """'OVERDUE by 3 working days' (red), 'paused' (amber), 'on time' (green), 'closed'."""
    if not view.is_open:
        return Cell("closed")
    if view.paused_at:
        return Cell("paused", "amber")
    if view.overdue:
        return Cell(f"OVERDUE by {_days(overdue_days)}", "red")
    if view.deadline is not None and view.now >= view.deadline.at:
        return Cell(f"OVERDUE: {view.deadline.what}", "red")
    return Cell("on time", "green")


def case_table(views: Sequence[CaseView], overdue_days: Callable[[CaseView], int], out: Output) -> str:
    """Reference, review type, sub-group, stage (by its label), due date (the binding one) and status."""
    columns = [Column("Reference", no_wrap=True), Column("Review type", min_width=12),
               Column("Sub-group", min_width=9), Column("Stage", min_width=12), Column("Due", no_wrap=True),
               Column("Status", min_width=12)]
    rows: list[list[str | Cell]] = [
        [v.ref, v.workflow_title, v.subgroup or "-", v.state_label,
         str((v.deadline.due_date if v.deadline else v.due_date) or "-"), case_status(v, overdue_days(v))]
        for v in views]
    return render_table(columns, rows, out)


def _status_label(status: str) -> str:
    return status.replace("_", " ")


def action_status(a: Action, today: date) -> Cell:
    if is_overdue(a.facts(), today):
        return Cell(f"{_status_label(a.status)}, OVERDUE", "red")
    if any(e.status == "submitted" for e in a.evidence):
        return Cell(f"{_status_label(a.status)}, evidence to check", "amber")
    return Cell(_status_label(a.status), "green" if a.status in ("verified", "impact_evaluated", "embedded") else "")


def _due(a: Action) -> str:
    if a.first_due_date is None or a.first_due_date == a.due_date:
        return a.due_date.isoformat()
    return f"{a.due_date.isoformat()} (re-dated from {a.first_due_date.isoformat()}: {a.redate_reason or ''})"


def action_table(actions: Sequence[Action], today: date, out: Output) -> str:
    """Case, action, what it is, agency and owner, due date (with any re-dating), status, and the measure when any
    action has one."""
    measured = any(a.measure is not None for a in actions)
    columns = [Column("Case", no_wrap=True), Column("Action", no_wrap=True), Column("Description", min_width=16),
               Column("Agency / owner", min_width=12), Column("Due", min_width=10), Column("Status", min_width=12)]
    if measured:
        columns.append(Column("Measure", min_width=12))
    rows: list[list[str | Cell]] = []
    for a in actions:
        row: list[str | Cell] = [a.ref, a.number, a.description,
                                 a.owner_agency + (f" / {a.owner}" if a.owner else ""), _due(a),
                                 action_status(a, today)]
        if measured:
            row.append(describe(a.measure) if a.measure is not None else "-")
        rows.append(row)
    return render_table(columns, rows, out)


def user_table(accounts: Sequence[Any], out: Output) -> str:
    """Name, roles, e-mail, agency, and whether an administrator or disabled."""
    columns = [Column("Name", no_wrap=True), Column("Roles", min_width=12), Column("E-mail", min_width=12),
               Column("Agency", min_width=8), Column("")]
    rows: list[list[str | Cell]] = [
        [u.name, ", ".join(u.roles) or "-", u.email or "-", u.agency or "-",
         ", ".join(m for m, on in (("administrator", u.admin), ("disabled", u.disabled_at is not None)) if on)]
        for u in accounts]
    return render_table(columns, rows, out)
