"""The Board's exception list: stage entries and actions whose escalation reached the top of its ladder. Pure."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime

from reviewflow.engine.core.definition import WorkflowDefinition
from reviewflow.engine.core.durations import due_date_of, local_date
from reviewflow.engine.core.learning import WORKING
from reviewflow.engine.core.milestones import Milestone
from reviewflow.engine.core.records import CaseRecord, HistoryEntry, LedgerEntry
from reviewflow.engine.core.reports.data import ReportData
from reviewflow.engine.core.reports.period import Period
from reviewflow.engine.core.reports.stages import StageEntry, stage_entries, working_days, working_days_late
from reviewflow.engine.core.statutory import milestone_of_key


@dataclass(frozen=True)
class LadderStep:
    level: int
    label: str
    fired_on: date


@dataclass(frozen=True)
class BoardException:
    """A stage entry or an action that climbed to the top of its ladder (the Board)."""

    ref: str
    type_title: str
    subject: str
    escalated_on: date
    due_date: date
    outstanding: bool
    position: str
    working_days_overdue: int
    ladder: tuple[LadderStep, ...]


def _label(d: WorkflowDefinition, state: str) -> str:
    """A stage's label (its name when a later version no longer has it)."""
    found = d.states.get(state)
    return found.label if found else state.replace("_", " ")


MILESTONE = "milestone:"
CHECK = "check:"
RETURN = "return:"
OTHER = "other:"
"""An entry-0 ledger row of no ladder this report knows: never taken for the stage's own ladder."""


def _climb(r: LedgerEntry) -> str:
    """Which ladder a ledger row climbs, beside its stage entry: '' for the stage's own, 'action A1',
    'milestone:NAME', 'check:...' for a progress check or 'return:...' for an agency's late return (entry 0
    rows)."""
    if r.entry_seq != 0:
        return ""
    if r.state.startswith("action "):
        return r.state
    milestone = milestone_of_key(r.key)
    if milestone is not None:
        return MILESTONE + milestone
    if r.key.startswith("check-"):
        return CHECK + r.key
    if r.key.startswith("return-"):
        return RETURN + r.key
    return OTHER + r.key


def _steps(rows: list[LedgerEntry]) -> tuple[LadderStep, ...]:
    return tuple(LadderStep(r.level, r.label, local_date(r.fired_at)) for r in rows if r.level is not None)


class Exceptions:
    """Finds every ladder climb that reached the Board and says where it stands now."""

    def __init__(self, data: ReportData, now: datetime, period: Period) -> None:
        self.data, self.now, self.period, self.today = data, now, period, local_date(now)
        self.cases = {c.id: c for c in data.cases}
        self.actions = {(a.case_id, f"action {a.number}"): a for a in data.actions}
        history: dict[int, list[HistoryEntry]] = defaultdict(list)
        for h in data.history:
            history[h.case_id].append(h)
        self.history = history

    def find(self) -> tuple[BoardException, ...]:
        climbs: dict[tuple[int, int, str], list[LedgerEntry]] = defaultdict(list)
        for r in self.data.ladder:
            climbs[(r.case_id, r.entry_seq, _climb(r))].append(r)
        found = []
        for (case_id, entry_seq, climb), rows in climbs.items():
            c = self.cases[case_id]
            d = self.data.definition(c)
            milestone = next((m for m in d.milestones if climb == f"{MILESTONE}{m.name}"), None)
            if climb.startswith((CHECK, RETURN, OTHER)):
                # A missed progress check escalates once, straight to its roles; a late return climbs to the
                # sub-group chair, never the Board (the outstanding_returns table lists them): no Board exception.
                continue
            if climb.startswith(MILESTONE) and milestone is None:
                continue  # a milestone a later version no longer has
            top = len(milestone.escalation if milestone else d.action_ladder if climb else d.escalation)
            board = [r for r in rows if r.level == top]
            if not top or not board:
                continue
            if milestone is not None:
                item = self._milestone(c, milestone, rows, board[0])
            elif climb:
                item = self._action(c, climb, rows, board[0])
            else:
                item = self._stage(c, entry_seq, rows, board[0])
            if item is not None:
                found.append(item)
        return tuple(sorted(found, key=lambda e: (e.escalated_on, e.ref, e.subject)))

    def _milestone(self, c: CaseRecord, m: Milestone, rows: list[LedgerEntry],
                   top: LedgerEntry) -> BoardException | None:
        """A milestone (the LCSPR's final report, say) whose ladder reached the Board: outstanding while the case
        is still in one of the stages it runs through."""
        d = self.data.definition(c)
        outstanding = c.is_open and c.state in m.during
        if not self._keep(outstanding, top.fired_at, None if outstanding else c.entered_at):
            return None
        late = working_days_late(top.due_at, self.today, d.calendar) if outstanding else 0
        position = (f"still at {_label(d, c.state)}, {late} working days overdue" if outstanding
                    else f"met: moved on to {_label(d, c.state)}")
        return BoardException(c.ref, d.title, f"Milestone: {m.label}", local_date(top.fired_at),
                              due_date_of(top.due_at), outstanding, position, late, _steps(rows))

    def _keep(self, outstanding: bool, escalated: datetime, resolved: datetime | None) -> bool:
        return outstanding or escalated in self.period or (resolved is not None and resolved in self.period)

    def _entry(self, c: CaseRecord, seq: int) -> StageEntry | None:
        entries = stage_entries(self.data.definition(c), self.history.get(c.id, []), c.fields)
        return next((e for e in entries if e.seq == seq), None)

    def _stage(self, c: CaseRecord, seq: int, rows: list[LedgerEntry], top: LedgerEntry) -> BoardException | None:
        d = self.data.definition(c)
        label = _label(d, top.state)
        outstanding = c.is_open and c.entry_seq == seq
        entry = None if outstanding else self._entry(c, seq)
        left = entry.left_at if entry else None
        if not self._keep(outstanding, top.fired_at, left):
            return None
        if outstanding:
            paused = c.paused_at is not None
            late = 0 if paused or c.due_at is None else working_days_late(c.due_at, self.today, d.calendar)
            position = "clock paused" if paused else f"still at {label}, {late} working days overdue"
        else:
            late = 0
            where = _label(d, entry.left_to) if entry and entry.left_to else "a later stage"
            position = f"moved on to {where} on {local_date(left).isoformat()}" if left else "moved on"
        due = c.due_at if outstanding and c.due_at else top.due_at
        return BoardException(c.ref, d.title, f"Stage: {label}", local_date(top.fired_at), due_date_of(due),
                              outstanding, position, late, _steps(rows))

    def _action(self, c: CaseRecord, what: str, rows: list[LedgerEntry], top: LedgerEntry) -> BoardException | None:
        d = self.data.definition(c)
        a = self.actions.get((c.id, what))
        if a is None:
            return None
        outstanding = a.status in WORKING and self.today > a.due_date
        resolved = None if outstanding else (a.verified_at or a.updated_at)
        if not self._keep(outstanding, top.fired_at, resolved):
            return None
        late = working_days(a.due_date, self.today, d.calendar) if outstanding else 0
        position = (f"still {a.status.replace('_', ' ')}, {late} working days overdue" if outstanding
                    else f"now {a.status.replace('_', ' ')}" + (f" (due {a.due_date.isoformat()})"
                                                                if a.status in WORKING else ""))
        return BoardException(c.ref, d.title, f"Action {a.number} ({a.owner_agency})", local_date(top.fired_at),
                              a.due_date, outstanding, position, late, _steps(rows))
