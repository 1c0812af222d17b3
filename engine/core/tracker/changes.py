"""`import tracker --update`: what a sheet's row says has changed on a case already in the database.

A board that keeps its spreadsheet going beside reviewflow brings its changes in again and again. Each case in
the sheet is compared with the case as reviewflow holds it: its stage, the fields the mapping reads, and its
recommendations and actions (matched by their text and description, as a spreadsheet has no A1, A2 numbers of
ours). What differs becomes a `CaseUpdate`; nothing the sheet leaves empty is changed, and nothing the sheet
leaves out is removed. Pure: the service reads the case and writes the update.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from reviewflow.engine.core.learning import FINISHED
from reviewflow.engine.core.tracker.cells import norm
from reviewflow.engine.core.tracker.planning import BadCell, PlannedAction, PlannedCase, PlannedRecommendation


@dataclass(frozen=True)
class CurrentAction:
    number: str
    recommendation: str
    description: str
    agency: str
    owner: str | None
    due: date
    status: str


@dataclass(frozen=True)
class CurrentCase:
    """A case as reviewflow holds it, as far as a tracker can say anything about it."""

    ref: str
    workflow: str
    state: str
    terminal: bool
    fields: Mapping[str, Any]
    recommendations: tuple[tuple[str, str], ...]
    """(number, text) of each recommendation."""
    actions: tuple[CurrentAction, ...]
    learning_open: bool
    """Learning records may still change (an open case, or a closed one its workflow keeps open for them)."""


@dataclass
class NewRecommendation:
    number: str
    planned: PlannedRecommendation


@dataclass
class NewAction:
    recommendation: str
    number: str
    planned: PlannedAction


@dataclass
class ActionChange:
    number: str
    changes: dict[str, tuple[Any, Any]]
    """Column (`status`, `due_date`, `owner`, `owner_agency`) to (now, in the sheet)."""


@dataclass
class CaseUpdate:
    ref: str
    rows: list[int]
    stage: tuple[str, str] | None = None
    fields: dict[str, tuple[Any, Any]] = field(default_factory=dict)
    recommendations: list[NewRecommendation] = field(default_factory=list)
    actions: list[NewAction] = field(default_factory=list)
    action_changes: list[ActionChange] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (self.stage or self.fields or self.recommendations or self.actions or self.action_changes)

    @property
    def learning(self) -> bool:
        return bool(self.recommendations or self.actions or self.action_changes)

    def lines(self) -> list[str]:
        """Each change as `REF: what: before -> after`, in the order they are written."""
        out = []
        if self.stage:
            out.append(f"{self.ref}: stage: {self.stage[0]} -> {self.stage[1]}")
        out += [f"{self.ref}: field {name}: {_shown(old)} -> {_shown(new)}" for name, (old, new) in self.fields.items()]
        out += [f"{self.ref}: recommendation {r.number} added: {_short(r.planned.text)}" for r in self.recommendations]
        out += [f"{self.ref}: action {a.number} added to {a.recommendation}: {_short(a.planned.description)} "
                f"(due {a.planned.due.isoformat()})" for a in self.actions]
        for change in self.action_changes:
            out += [f"{self.ref}: action {change.number} {_COLUMN_WORDS[c]}: {_shown(old)} -> {_shown(new)}"
                    for c, (old, new) in change.changes.items()]
        return out


_COLUMN_WORDS = {"status": "status", "due_date": "due date", "owner": "owner", "owner_agency": "agency"}


def _shown(value: Any) -> str:
    if value is None or value == "":
        return "(none)"
    return value.isoformat() if isinstance(value, date) else str(value)


def _short(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[:limit - 1] + "…"


def compare(planned: PlannedCase, current: CurrentCase) -> CaseUpdate:
    """What the sheet changes on the case; BadCell for a change a tracker may not make."""
    if planned.definition is not None and planned.definition.name != current.workflow:
        raise BadCell(f"the sheet gives review type {planned.definition.name} but the case is a {current.workflow}: "
                      "a tracker cannot change a case's review type")
    update = CaseUpdate(current.ref, list(planned.rows))
    if planned.state and planned.state != current.state:
        if current.terminal:
            raise BadCell(f"the case is closed in reviewflow ({current.state}) but the sheet says {planned.state}: "
                          "a tracker cannot reopen a case; correct the sheet")
        update.stage = (current.state, planned.state)
    update.fields = {name: (current.fields.get(name), value) for name, value in planned.fields.items()
                     if value not in (None, "") and current.fields.get(name) != value}
    _learning(planned, current, update)
    if update.learning and not current.learning_open:
        raise BadCell(f"the case is closed ({current.state}): its recommendations and actions can no longer change")
    return update


def _learning(planned: PlannedCase, current: CurrentCase, update: CaseUpdate) -> None:
    recs = {norm(text): number for number, text in current.recommendations}
    next_rec = len(current.recommendations)
    next_action = len(current.actions)
    for rec in planned.recommendations.values():
        number = recs.get(norm(rec.text))
        if number is None:
            next_rec += 1
            number = f"R{next_rec}"
            update.recommendations.append(NewRecommendation(number, rec))
        existing = {norm(a.description): a for a in current.actions if a.recommendation == number}
        for action in rec.actions:
            found = existing.get(norm(action.description))
            if found is None:
                next_action += 1
                update.actions.append(NewAction(number, f"A{next_action}", action))
                continue
            changes = _action_changes(found, action)
            if changes:
                update.action_changes.append(ActionChange(found.number, changes))


def _action_changes(found: CurrentAction, action: PlannedAction) -> dict[str, tuple[Any, Any]]:
    changes: dict[str, tuple[Any, Any]] = {}
    if action.status != found.status:
        if found.status in FINISHED:
            raise BadCell(f"action {found.number} is {found.status} in reviewflow but the sheet says {action.status}: "
                          "a finished action does not change; correct the sheet")
        changes["status"] = (found.status, action.status)
    if action.due != found.due:
        changes["due_date"] = (found.due, action.due)
    if action.owner is not None and action.owner != found.owner:
        changes["owner"] = (found.owner, action.owner)
    if action.agency != found.agency:
        changes["owner_agency"] = (found.agency, action.agency)
    return changes
