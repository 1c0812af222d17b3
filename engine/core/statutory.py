"""Statutory clocks counted from recorded dates: stage time limits `from` a date field, milestones spanning
stages, and recurring progress checks.

Pure: callers pass the case's fields, its history and `now`; nothing here reads the clock or the database.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from reviewflow.engine.core.definition import OWNER, StateDef, WorkflowDefinition
from reviewflow.engine.core.durations import (
    Duration,
    due_at,
    due_date_of,
    local_date,
    start_of_day,
    working_days_between,
)
from reviewflow.engine.core.escalation import Checkpoint, level_key
from reviewflow.engine.core.milestones import CHECK_EVENT, OUTCOMES, Milestone, ProgressCheck

if TYPE_CHECKING:
    from reviewflow.engine.core.records import HistoryEntry

_PAUSE, _RESUME = "pause", "resume"
_MOST_CHECKS = 500
"""No case has more progress checks than this (500 six-weekly checks is 57 years)."""


def date_value(fields: Mapping[str, Any], name: str | None) -> date | None:
    """The date recorded in field `name` (stored as YYYY-MM-DD), or None when it is not recorded."""
    value = fields.get(name) if name else None
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value)
        except ValueError:
            return None
    return None


def stage_start(state: StateDef, fields: Mapping[str, Any], entered: datetime) -> datetime:
    """When a stage's clock starts: the start of the day of its `from` date field, else its entry."""
    day = date_value(fields, state.time_limit_from)
    return start_of_day(day) if day is not None else entered


def stage_due(d: WorkflowDefinition, name: str, fields: Mapping[str, Any], entered: datetime) -> datetime | None:
    """When a stage entered at `entered` with these fields becomes overdue (None: no time limit)."""
    state = d.states[name]
    if state.time_limit is None:
        return None
    end = date_value(fields, state.time_limit_before)
    if end is not None:  # due that long before the recorded date: overdue at the midnight after that day
        return start_of_day(state.time_limit.subtract_from(end, d.calendar) + timedelta(days=1))
    return due_at(stage_start(state, fields, entered), state.time_limit, d.calendar)


# --- what a case's history says about its stays and pauses -------------------------------------------------

@dataclass(frozen=True)
class Spans:
    """A case's stays in each state, its pauses and its recorded progress-check outcomes, from its history."""

    stays: tuple[tuple[str, datetime, datetime | None], ...] = ()
    """(state, entered, left); left is None for the current stay."""
    pauses: tuple[tuple[datetime, datetime | None], ...] = ()
    """(paused, resumed); resumed is None for a pause still running."""
    outcomes: Mapping[tuple[str, int], str] = field(default_factory=dict)
    """By (check name, occurrence): the outcome recorded."""

    def first_entry(self, states: Collection[str]) -> datetime | None:
        return next((entered for state, entered, _ in self.stays if state in states), None)

    def running(self, states: Collection[str], at: datetime) -> bool:
        """Whether the case was in one of `states`, with its clock running, at `at`."""
        inside = any(state in states and entered <= at and (left is None or at < left)
                     for state, entered, left in self.stays)
        return inside and not any(start <= at and (end is None or at < end) for start, end in self.pauses)

    def paused_during(self, states: Collection[str]) -> timedelta:
        """Time spent paused (finished pauses) while in one of `states`."""
        total = timedelta(0)
        for start, end in self.pauses:
            if end is not None and any(state in states and entered <= start and (left is None or start < left)
                                       for state, entered, left in self.stays):
                total += end - start
        return total


def spans_of(history: Sequence[HistoryEntry]) -> Spans:
    """The stays, pauses and check outcomes recorded in a case's history (in order)."""
    stays: list[tuple[str, datetime, datetime | None]] = []
    pauses: list[tuple[datetime, datetime | None]] = []
    outcomes: dict[tuple[str, int], str] = {}

    def end_pause(at: datetime) -> None:
        if pauses and pauses[-1][1] is None:
            pauses[-1] = (pauses[-1][0], at)

    for h in history:
        if not stays or h.to_state != stays[-1][0]:
            if stays:
                stays[-1] = (stays[-1][0], stays[-1][1], h.at)
            stays.append((h.to_state, h.at, None))
            end_pause(h.at)
        elif h.trigger == _PAUSE:
            pauses.append((h.at, None))
        elif h.trigger == _RESUME:
            end_pause(h.at)
        elif h.trigger == CHECK_EVENT:
            name, number = h.fields.get("check"), h.fields.get("occurrence")
            if isinstance(name, str) and isinstance(number, int):
                outcomes[(name, number)] = str(h.fields.get("outcome"))
    return Spans(tuple(stays), tuple(pauses), outcomes)


# --- milestones ---------------------------------------------------------------------------------------------

def milestone_key(m: Milestone, what: str) -> str:
    """Ledger key of a milestone's reminder or ladder level (entry 0 of the case: fired once per case)."""
    return f"milestone-{m.name}-{what}"


def milestone_of_key(key: str) -> str | None:
    """The milestone a ledger key made by `milestone_key` belongs to ('final_report' from
    'milestone-final_report-level-2' or 'milestone-final_report-reminder'); None for any other key."""
    if not key.startswith("milestone-"):
        return None
    rest = key.removeprefix("milestone-")
    return rest.rsplit("-level-", 1)[0] if "-level-" in rest else rest.rsplit("-", 1)[0]


def milestone_due(d: WorkflowDefinition, m: Milestone, fields: Mapping[str, Any], spans: Spans) -> datetime | None:
    """When milestone `m` becomes overdue: its duration from its date field, moved on by the time the case
    was paused while it ran. None until the date is recorded."""
    start = date_value(fields, m.start_field)
    if start is None:
        return None
    return due_at(start_of_day(start), m.due, d.calendar) + spans.paused_during(m.during)


def _late(due: datetime, now: datetime, calendar: str) -> str:
    days = max(working_days_between(due_date_of(due), local_date(now), calendar), 0)
    return f"overdue by {days} working day{'s' if days != 1 else ''}"


@dataclass(frozen=True)
class ClockPoint(Checkpoint):
    """A checkpoint of a milestone or a progress check, with what its ledger row and notice say."""

    due_at: datetime | None = None
    reason: str = ""
    event: str = "escalation"
    day: str = ""
    """The due date the notice gives, YYYY-MM-DD."""


def _resolve(roles: Sequence[str], owner: str | None) -> tuple[str, ...]:
    return tuple(dict.fromkeys(r for r in ((owner if r == OWNER else r) for r in roles) if r))


def milestone_points(d: WorkflowDefinition, m: Milestone, fields: Mapping[str, Any], spans: Spans,
                     now: datetime) -> list[ClockPoint]:
    """The reminder and ladder levels of a running milestone."""
    due = milestone_due(d, m, fields, spans)
    if due is None:
        return []
    due_date = due_date_of(due)
    found: list[ClockPoint] = []
    started = spans.first_entry(m.during)
    if m.remind is not None:
        at = start_of_day(m.remind.subtract_from(due_date, d.calendar))
        if (started is None or started < at) and at < due:
            found.append(ClockPoint(milestone_key(m, "reminder"), at, _resolve((OWNER,), m.owner),
                                    f"reminder {m.remind} before due", None, due,
                                    f"{m.label} is due on {due_date.isoformat()}", "reminder", due_date.isoformat()))
    for i, level in enumerate(m.escalation):
        at = max(due, start_of_day(level.after.add_to(due_date, d.calendar)))
        label = level.label or f"level {i + 1}"
        found.append(ClockPoint(milestone_key(m, level_key(i)), at, _resolve(level.notify, m.owner), label, i + 1,
                                due, f"{m.label} {_late(due, now, d.calendar)} ({m.due} from {m.start_field}, "
                                     f"due {due_date.isoformat()}); escalated to {label}", "escalation",
                                due_date.isoformat()))
    return found


# --- progress checks ----------------------------------------------------------------------------------------

def check_key(c: ProgressCheck, number: int, missed: bool = False) -> str:
    """Ledger key of a progress check's occurrence (or of its missed escalation): fired once per case."""
    return f"check-{c.name}-{number}" + ("-missed" if missed else "")


def check_start(c: ProgressCheck, fields: Mapping[str, Any], spans: Spans) -> datetime | None:
    """When the checks count from: the `from` date, else the first entry into one of `during`."""
    if c.start_field is not None:
        day = date_value(fields, c.start_field)
        return start_of_day(day) if day is not None else None
    return spans.first_entry(c.during)


def occurrence_at(d: WorkflowDefinition, c: ProgressCheck, start: datetime, number: int) -> datetime:
    """When check `number` (from 1) falls due: `number` times `every` after the start's day."""
    return start_of_day(Duration(c.every.amount * number, c.every.unit).add_to(local_date(start), d.calendar))


def missed_at(d: WorkflowDefinition, c: ProgressCheck, at: datetime) -> datetime | None:
    if c.missed_after is None or not c.escalate:
        return None
    return start_of_day(c.missed_after.add_to(local_date(at), d.calendar))


def occurrences(d: WorkflowDefinition, c: ProgressCheck, fields: Mapping[str, Any], spans: Spans,
                now: datetime) -> list[tuple[int, datetime]]:
    """The checks that fell due by `now` while the case was in `during` with its clock running, and the next
    one after `now`, as (number, when)."""
    start = check_start(c, fields, spans)
    if start is None:
        return []
    found: list[tuple[int, datetime]] = []
    for number in range(1, _MOST_CHECKS + 1):
        at = occurrence_at(d, c, start, number)
        if at > now:
            found.append((number, at))
            break
        if spans.running(c.during, at):
            found.append((number, at))
    return found


def next_check_after(d: WorkflowDefinition, c: ProgressCheck, fields: Mapping[str, Any], spans: Spans,
                     now: datetime) -> datetime | None:
    """When the next check of `c` after `now` falls due, if the case stays where it is."""
    return next((at for _, at in occurrences(d, c, fields, spans, now) if at > now), None)


def check_points(d: WorkflowDefinition, c: ProgressCheck, fields: Mapping[str, Any], spans: Spans,
                 now: datetime) -> list[ClockPoint]:
    """Each check's notice and, when its outcome is not recorded in time, its missed escalation."""
    found: list[ClockPoint] = []
    for number, at in occurrences(d, c, fields, spans, now):
        day = local_date(at).isoformat()
        found.append(ClockPoint(check_key(c, number), at, c.notify, f"{c.label} {number}", None, at,
                                f"{c.label} {number} is due on {day}: record its outcome "
                                f"({', '.join(OUTCOMES)})", "progress_check", day))
        late = missed_at(d, c, at)
        if late is not None and (c.name, number) not in spans.outcomes:
            found.append(ClockPoint(check_key(c, number, missed=True), late, c.escalate,
                                    f"{c.label} {number} missed", None, late,
                                    f"{c.label} {number} (due {day}) has no outcome recorded "
                                    f"{c.missed_after} later; escalated to {', '.join(c.escalate)}", "escalation",
                                    day))
    return found


def statutory_points(d: WorkflowDefinition, state: str, fields: Mapping[str, Any], spans: Spans,
                     now: datetime) -> list[ClockPoint]:
    """Every checkpoint of the milestones and progress checks running while a case is in `state`."""
    found: list[ClockPoint] = []
    for m in d.milestones:
        if state in m.during:
            found.extend(milestone_points(d, m, fields, spans, now))
    for c in d.progress_checks:
        if state in c.during:
            found.extend(check_points(d, c, fields, spans, now))
    return found


def fired_checks(c: ProgressCheck, fired: Collection[str]) -> list[int]:
    """The numbers of the checks of `c` whose notice has gone out, in order."""
    prefix = f"check-{c.name}-"
    return sorted(int(k[len(prefix):]) for k in fired if k.startswith(prefix) and k[len(prefix):].isdigit())


def awaiting_outcome(c: ProgressCheck, fired: Collection[str], spans: Spans) -> int | None:
    """The latest check of `c` that has gone out with no outcome recorded yet, if any."""
    waiting = [n for n in fired_checks(c, fired) if (c.name, n) not in spans.outcomes]
    return waiting[-1] if waiting else None


# --- the binding deadline -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Deadline:
    """The deadline that binds a case now: its stage's or a running milestone's, whichever is earlier."""

    at: datetime
    """When it becomes overdue (the midnight after its last day)."""
    what: str
    """The stage's or the milestone's label."""
    milestone: str | None = None

    @property
    def due_date(self) -> str:
        return due_date_of(self.at).isoformat()


def binding_deadline(d: WorkflowDefinition, state: str, stage_due_at: datetime | None,
                     fields: Mapping[str, Any], spans: Spans) -> Deadline | None:
    """The earlier of the stage's due time and any running milestone's (the stage's on a tie)."""
    found = Deadline(stage_due_at, d.states[state].label) if stage_due_at is not None else None
    for m in d.milestones:
        if state not in m.during:
            continue
        due = milestone_due(d, m, fields, spans)
        if due is not None and (found is None or due < found.at):
            found = Deadline(due, m.label, m.name)
    return found
