"""Escalation decisions: given a stage's timing, its ladder and what already fired, what is due now.

Pure: callers pass `now`; nothing here reads the clock, the database or the scheduler.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Protocol, TypeVar

from reviewflow.engine.core.definition import OWNER, StateDef, WorkflowDefinition
from reviewflow.engine.core.durations import Duration, due_date_of, start_of_day

REMINDER = "reminder"


def level_key(index: int) -> str:
    return f"level-{index + 1}"


@dataclass(frozen=True)
class Checkpoint:
    """One thing that happens to a stage entry at a moment: a reminder or a ladder level."""

    key: str
    at: datetime
    roles: tuple[str, ...]
    label: str
    level: int | None  # 1-based ladder level; None for the reminder


def _roles(roles: tuple[str, ...], state: StateDef) -> tuple[str, ...]:
    resolved = [state.owner if r == OWNER else r for r in roles]
    return tuple(dict.fromkeys(r for r in resolved if r))


def checkpoints(d: WorkflowDefinition, state: StateDef, entered_at: datetime,
                due_at: datetime | None) -> list[Checkpoint]:
    """Reminder and ladder levels of a stage entered at `entered_at`, becoming overdue at `due_at`."""
    if due_at is None:
        return []
    due_date = due_date_of(due_at)
    found: list[Checkpoint] = []
    remind = state.remind or d.remind
    if remind is not None:
        at = start_of_day(remind.subtract_from(due_date, d.calendar))
        if entered_at < at < due_at:
            found.append(Checkpoint(REMINDER, at, _roles((OWNER,), state), f"reminder {remind} before due", None))
    for i, level in enumerate(d.escalation):
        at = max(due_at, start_of_day(level.after.add_to(due_date, d.calendar)))
        label = level.label or f"level {i + 1}"
        found.append(Checkpoint(level_key(i), at, _roles(level.notify, state), label, i + 1))
    return found


def action_key(number: str, due: date, index: int) -> str:
    """Ledger key of an action's ladder level, keyed by its first due date (re-dating does not restart it)."""
    return f"action-{number}-{due.isoformat()}-{level_key(index)}"


def action_checkpoints(d: WorkflowDefinition, number: str, due: date) -> list[Checkpoint]:
    """Ladder levels of an action due on `due`: it becomes overdue at the London midnight after that day.

    `owner` stays in the roles: it names the action's owner, resolved by the caller.
    """
    overdue_at = start_of_day(due + timedelta(days=1))
    found = []
    for i, level in enumerate(d.action_ladder):
        at = max(overdue_at, start_of_day(level.after.add_to(due, d.calendar)))
        found.append(Checkpoint(action_key(number, due, i), at, tuple(dict.fromkeys(level.notify)),
                                level.label or f"level {i + 1}", i + 1))
    return found


class Timed(Protocol):
    """Anything fired once at a moment under a ledger key: a stage's checkpoint, a milestone's, a check's."""

    @property
    def key(self) -> str: ...

    @property
    def at(self) -> datetime: ...


T = TypeVar("T", bound=Timed)


def due_now(points: Sequence[T], fired: Collection[str], now: datetime) -> list[T]:
    """Checkpoints at or before `now` that have not fired yet, earliest first."""
    return sorted((p for p in points if p.at <= now and p.key not in fired), key=lambda p: p.at)


def next_check(points: Sequence[Timed], fired: Collection[str]) -> datetime | None:
    """When the next unfired checkpoint falls due (None when the climb is over)."""
    pending = [p.at for p in points if p.key not in fired]
    return min(pending) if pending else None


def shift_for_pause(due_at: datetime | None, paused_at: datetime, resumed_at: datetime) -> datetime | None:
    """A paused stage's due time moves on by the time it spent paused."""
    if due_at is None:
        return None
    return due_at + max(resumed_at - paused_at, timedelta(0))


def overdue_summary(due_at: datetime, now: datetime, working_days: int) -> str:
    """'overdue by 12 working days (due 2026-03-04)' or 'due 2026-03-04'."""
    due = due_date_of(due_at).isoformat()
    if now < due_at:
        return f"due {due}"
    return f"overdue by {working_days} working day{'s' if working_days != 1 else ''} (due {due})"


__all__ = ["REMINDER", "Checkpoint", "Duration", "action_checkpoints", "action_key", "checkpoints",
           "due_now", "level_key", "next_check",
           "overdue_summary", "shift_for_pause"]
