"""`import tracker --update`: cases already in the database brought up to date from the sheet.

The comparison is the core's (`engine/core/tracker/changes.py`); this module reads each case as reviewflow holds
it and writes what changed, inside the import's transaction. Every change is written to the case's sealed
history as the importer's, dated when the import ran and noting the file and rows: a stage or field change as
`import_update`, new recommendations and actions and changed actions as the learning loop's own entries. Nothing
is rewritten or removed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from reviewflow.engine.core.decide import Move
from reviewflow.engine.core.definition import WorkflowDefinition
from reviewflow.engine.core.durations import start_of_day
from reviewflow.engine.core.escalation import action_checkpoints, checkpoints, next_check
from reviewflow.engine.core.learning import CLOSED_WITH_REASON, EMBEDDED, WORKING
from reviewflow.engine.core.statutory import stage_due
from reviewflow.engine.core.tracker.changes import CaseUpdate, CurrentAction, CurrentCase
from reviewflow.engine.core.tracker.planning import PlannedAction, PlannedCase
from reviewflow.store import importing, ledger, repo
from reviewflow.store import learning as learning_store

UPDATE = "import_update"
"""The history trigger of a stage or field change brought in from a tracker."""


@dataclass(frozen=True)
class Writer:
    """Who writes, when, and from which file."""

    recorded: str
    now: datetime
    file: str

    def note(self, rows: list[int]) -> str:
        where = f"row {rows[0]}" if len(rows) == 1 else f"rows {', '.join(map(str, rows))}"
        return f"updated from {self.file} {where}"


def current_case(s: Any, ref: str, d: WorkflowDefinition) -> CurrentCase:
    """The case `ref` as far as a tracker can say anything about it."""
    record = repo.get_case_record(s, ref)
    recs = learning_store.recommendations(s, record.case_id)
    actions = tuple(CurrentAction(a.number, r.number, a.description, a.owner_agency, a.owner, a.due_date, a.status)
                    for r in recs for a in r.actions)
    return CurrentCase(record.case.ref, record.workflow, record.state, d.states[record.state].terminal,
                       repo.without_meta(record.case.fields), tuple((r.number, r.text) for r in recs), actions,
                       record.is_open or record.state in d.learning.open_after)


def write_update(s: Any, w: Writer, d: WorkflowDefinition, planned: PlannedCase, update: CaseUpdate) -> None:
    """Write `update` on the case, each change sealed in its history."""
    ref = update.ref
    supplied = {name: new for name, (_old, new) in update.fields.items()}
    note = w.note(update.rows)
    if update.stage:
        _move(s, w, d, planned, update, supplied, note)
    elif supplied:
        case = repo.get_case(s, ref)
        case_id = repo.record_event(s, case, UPDATE, w.now, w.recorded, note, supplied)
        importing.set_case_fields(s, case_id, {**case.fields, **supplied})
        s.flush()
    case_id = repo.get_case_record(s, ref).case_id
    numbers = {}
    for rec in update.recommendations:
        p = rec.planned
        numbers[rec.number] = learning_store.add_recommendation(s, case_id, p.text, p.themes, p.agencies, w.recorded,
                                                                w.now)
        _event(s, w, ref, "recommend", {"recommendation": numbers[rec.number], "themes": list(p.themes)}, note)
    for new in update.actions:
        _add_action(s, w, d, case_id, ref, numbers.get(new.recommendation, new.recommendation), new.planned, note)
    for change in update.action_changes:
        _change_action(s, w, d, case_id, ref, change.number, change.changes, planned, note)


def _move(s: Any, w: Writer, d: WorkflowDefinition, planned: PlannedCase, update: CaseUpdate,
          supplied: dict[str, Any], note: str) -> None:
    assert update.stage is not None
    read = repo.case_to_move(s, update.ref)
    fields = {**repo.without_meta(read.record.case.fields), **supplied}
    dest = d.states[update.stage[1]]
    # A stage start the sheet gives (in its own column) counts the new stage's time; else it starts today.
    given = planned.entered if planned.entered and planned.entered != planned.opened else None
    entered = start_of_day(given) if given else w.now
    due: datetime | None = None
    if not dest.terminal and planned.due is not None:
        due = start_of_day(planned.due + timedelta(days=1))
    elif not dest.terminal and dest.time_limit is not None:
        due = stage_due(d, dest.name, fields, entered)
    when = None if dest.terminal else next_check(checkpoints(d, dest, entered, due), ())
    if not dest.terminal and (d.milestones or d.progress_checks):
        when = w.now
    move = Move(UPDATE, update.stage[0], dest.name, supplied, fields, w.now, due)
    repo.apply_move(s, read, move, w.recorded, dest.terminal, note, when)


def _event(s: Any, w: Writer, ref: str, trigger: str, fields: dict[str, Any], note: str | None) -> None:
    repo.record_event(s, repo.get_case(s, ref), trigger, w.now, w.recorded, note, fields)
    s.flush()  # the next entry's number counts this one (the import holds back autoflush)


def _add_action(s: Any, w: Writer, d: WorkflowDefinition, case_id: int, ref: str, recommendation: str,
                a: PlannedAction, note: str) -> None:
    values: dict[str, Any] = {"description": a.description, "owner_agency": a.agency, "owner": a.owner,
                              "due_date": a.due, "success_measure": a.measure}
    number = learning_store.add_action(s, case_id, ref, recommendation, values, w.recorded, w.now)
    _event(s, w, ref, "action_add", {"action": number, "recommendation": recommendation, "agency": a.agency,
                                     "due": a.due.isoformat()}, note)
    if a.status != "agreed":
        _change_action(s, w, d, case_id, ref, number, {"status": ("agreed", a.status)}, None, note, a.reason)
    else:
        _reschedule(s, d, case_id, ref, number)


def _change_action(s: Any, w: Writer, d: WorkflowDefinition, case_id: int, ref: str, number: str,
                   changes: dict[str, tuple[Any, Any]], planned: PlannedCase | None, note: str,
                   reason: str | None = None) -> None:
    action = learning_store.find_action(s, case_id, ref, number)
    values = {column: new for column, (_old, new) in changes.items()}
    status = values.get("status")
    if status in CLOSED_WITH_REASON:
        values["status_reason"] = reason or _planned_reason(planned, action.description) or f"as {w.file} records"
    if status == EMBEDDED:
        values["embedded_at"] = w.now
    if "due_date" in values:
        values["first_due_date"] = action.ladder_due
        values["redate_reason"] = f"changed by tracker import {w.file}"
    learning_store.update_action(s, action.id, w.now, **values)
    shown = {k: (v.isoformat() if isinstance(v, date) else v) for k, v in values.items()
             if k in ("status", "due_date", "owner", "owner_agency", "first_due_date")}
    _event(s, w, ref, "action_update", {"action": number, **shown}, values.get("redate_reason") or note)
    _reschedule(s, d, case_id, ref, number)


def _planned_reason(planned: PlannedCase | None, description: str) -> str | None:
    if planned is None:
        return None
    for rec in planned.recommendations.values():
        for a in rec.actions:
            if a.description.strip().lower() == description.strip().lower():
                return a.reason
    return None


def _reschedule(s: Any, d: WorkflowDefinition, case_id: int, ref: str, number: str) -> None:
    action = learning_store.find_action(s, case_id, ref, number)
    when = None
    if action.status in WORKING:
        when = next_check(action_checkpoints(d, number, action.ladder_due), ledger.fired_keys(s, case_id, 0))
    learning_store.set_action_next_check(s, action.id, when)
