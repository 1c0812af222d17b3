"""Stage entries rebuilt from a case's history, their time limits with pauses, and the RAG status. Pure."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from functools import lru_cache
from typing import Any

from reviewflow.engine.core.definition import WorkflowDefinition
from reviewflow.engine.core.durations import Duration, due_date_of, local_date, start_of_day, working_days_between
from reviewflow.engine.core.records import HistoryEntry
from reviewflow.engine.core.statutory import stage_due, stage_start

OVERDUE, DUE_SOON, ON_TIME, PAUSED, NO_LIMIT = "overdue", "due_soon", "on_time", "paused", "no_limit"
DUE_SOON_WORKING_DAYS = 10
RAG_LABELS = {
    OVERDUE: "Overdue",
    DUE_SOON: f"Due within {DUE_SOON_WORKING_DAYS} working days",
    ON_TIME: "On time",
    PAUSED: "Paused",
    NO_LIMIT: "No time limit",
}
"""Every RAG cell says its status in words: colour is never the only sign."""
RAG_ORDER = (OVERDUE, DUE_SOON, ON_TIME, PAUSED, NO_LIMIT)
PAUSE, RESUME = "pause", "resume"


@lru_cache(maxsize=8192)
def working_days(start: date, end: date, calendar: str) -> int:
    """`working_days_between`, remembered: a report asks the same question for many cases."""
    return working_days_between(start, end, calendar)


@lru_cache(maxsize=8192)
def _due_after(entered_on: date, limit: Duration, calendar: str) -> datetime:
    return start_of_day(limit.add_to(entered_on, calendar) + timedelta(days=1))


def limit_due(entered: datetime, limit: Duration, calendar: str) -> datetime:
    """When a stage entered at `entered` with `limit` becomes overdue, as `durations.due_at` says (remembered)."""
    return _due_after(local_date(entered), limit, calendar)


def rag(due: datetime | None, paused: bool, now: datetime, calendar: str) -> str:
    """Overdue once `now` reaches the due time; amber when due within 10 working days; paused; else green."""
    if paused:
        return PAUSED
    if due is None:
        return NO_LIMIT
    if now >= due:
        return OVERDUE
    if working_days(local_date(now), due_date_of(due), calendar) <= DUE_SOON_WORKING_DAYS:
        return DUE_SOON
    return ON_TIME


@dataclass(frozen=True)
class StageEntry:
    """One time a case entered a stage, and when (and to where) it left it."""

    case_id: int
    seq: int
    state: str
    entered_at: datetime
    left_at: datetime | None = None
    left_to: str | None = None
    pauses: tuple[tuple[datetime, datetime | None], ...] = ()
    """(paused, resumed) pairs; resumed is None while still paused."""
    starts_at: datetime | None = None
    """When the stage's clock started, if not at entry (a time limit `from` a date field)."""
    due_back: datetime | None = None
    """When the stage falls due, for a time limit counted back `before` a date field."""

    def paused_for(self, until: datetime) -> timedelta:
        """How long the clock stood still between entering and `until`."""
        total = timedelta(0)
        for start, end in self.pauses:
            stop = min(end or until, until, self.left_at or until)
            if stop > start:
                total += stop - start
        return total

    def is_paused(self, when: datetime) -> bool:
        return any(start <= when and (end is None or when < end) for start, end in self.pauses)

    def due(self, d: WorkflowDefinition, until: datetime) -> datetime | None:
        """The stage's due time, moved on by the time paused before `until` (None without a time limit)."""
        limit = d.states[self.state].time_limit
        if limit is None:
            return None
        due = self.due_back or limit_due(self.starts_at or self.entered_at, limit, d.calendar)
        return due + self.paused_for(until)

    def within_limit(self, d: WorkflowDefinition) -> bool | None:
        """Left before its due time (None when it has no limit or has not been left)."""
        if self.left_at is None:
            return None
        due = self.due(d, self.left_at)
        return None if due is None else self.left_at < due

    def overdue_at(self, d: WorkflowDefinition, when: datetime) -> bool:
        """Still in the stage at `when`, not paused, and past its due time."""
        if when < self.entered_at or (self.left_at is not None and self.left_at <= when) or self.is_paused(when):
            return False
        due = self.due(d, when)
        return due is not None and when >= due


def is_move(d: WorkflowDefinition, h: HistoryEntry) -> bool:
    """An opening or a transition (not a pause, resume or learning event within the stage)."""
    if h.from_state is None or h.from_state != h.to_state:
        return True
    t = d.transition(h.from_state, h.trigger)
    return t is not None and t.dest == h.from_state and h.trigger not in (PAUSE, RESUME)


def stage_entries(d: WorkflowDefinition, history: Iterable[HistoryEntry],
                  fields: Mapping[str, Any] | None = None) -> list[StageEntry]:
    """A case's stage entries in order, from its history rows (any order in, sorted by seq); with the case's
    `fields`, a stage whose time limit counts `from` a date field starts its clock on that day."""
    entries: list[StageEntry] = []
    pauses: list[tuple[datetime, datetime | None]] = []
    for h in sorted(history, key=lambda r: r.seq):
        if is_move(d, h):
            if entries:
                entries[-1] = _left(entries[-1], h, pauses)
            start = stage_start(d.states[h.to_state], fields or {}, h.at) if h.to_state in d.states else h.at
            back = (stage_due(d, h.to_state, fields or {}, h.at)
                    if h.to_state in d.states and d.states[h.to_state].time_limit_before else None)
            entries.append(StageEntry(h.case_id, h.seq, h.to_state, h.at, starts_at=start, due_back=back))
            pauses = []
        elif h.trigger == PAUSE:
            pauses.append((h.at, None))
        elif h.trigger == RESUME and pauses and pauses[-1][1] is None:
            pauses[-1] = (pauses[-1][0], h.at)
    if entries and pauses:
        last = entries[-1]
        entries[-1] = replace(last, pauses=tuple(pauses))
    return entries


def _left(entry: StageEntry, move: HistoryEntry, pauses: list[tuple[datetime, datetime | None]]) -> StageEntry:
    return replace(entry, left_at=move.at, left_to=move.to_state, pauses=tuple(pauses))


def working_days_late(due: datetime, today: date, calendar: str) -> int:
    """Working days from the last day on time to `today` (0 when not late)."""
    return max(working_days(due_date_of(due), today, calendar), 0)
