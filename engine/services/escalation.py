"""One escalation sweep: claim due cases in batches, fire what is due once, queue the notifications."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import structlog

from reviewflow.engine.core.definition import StateDef, WorkflowDefinition
from reviewflow.engine.core.durations import due_date_of, local_date, working_days_between
from reviewflow.engine.core.escalation import REMINDER, Checkpoint, action_checkpoints, checkpoints, due_now, next_check
from reviewflow.engine.core.learning import WORKING
from reviewflow.engine.core.notices import Outgoing, Recipient, expand, for_agency, within_subgroup
from reviewflow.engine.core.records import DueAction, DueCase, LedgerEntry
from reviewflow.engine.services.clocks import ClockSweep, earliest
from reviewflow.engine.services.context import ServiceContext
from reviewflow.engine.services.pause_sweep import PauseEnds
from reviewflow.engine.services.returns_sweep import ReturnBatch
from reviewflow.store import learning as learning_store
from reviewflow.store import ledger, outbox
from reviewflow.store import subgroups as subgroup_store

log = structlog.get_logger("reviewflow.sweep")

_EARLIEST = datetime.min.replace(tzinfo=UTC)
"""An entry time before every checkpoint: `checkpoints` then leaves out no reminder for lateness of entry."""


@dataclass(frozen=True)
class Fired:
    """A reminder or ladder level that fired (or, in a dry run, would fire)."""

    ref: str
    workflow: str
    state: str
    key: str
    level: int | None
    label: str
    scheduled_at: datetime
    roles: tuple[str, ...]
    recipients: tuple[str, ...]
    reason: str


@dataclass
class SweepReport:
    now: datetime
    dry_run: bool
    cases: int = 0
    actions: int = 0
    returns: int = 0
    batches: int = 0
    fired: list[Fired] = field(default_factory=list)


def _reason(state: StateDef, due: datetime, p: Checkpoint, late: int) -> str:
    due_date = due_date_of(due)
    if p.key == REMINDER:
        return f"{state.label} is due on {due_date.isoformat()} ({p.label})"
    return (f"{state.label} overdue by {late} working day{'s' if late != 1 else ''} "
            f"(limit {state.time_limit}, due {due_date.isoformat()}); escalated to {p.label}")


def _possible(d: WorkflowDefinition, state: str) -> str:
    """The moves that take a case on from `state`, for the notices' 'needed' line."""
    triggers = ", ".join(t.trigger for t in d.transitions_from(state) if t.dest != state) or "none"
    return f"on from {d.states[state].label} (possible: {triggers}), or pause its clock with a reason"


@dataclass(frozen=True)
class _StageDue:
    """What every case in one stage with one due time shares in a sweep."""

    points: list[Checkpoint]
    """The stage's checkpoints for a case that entered it before all of them (reminder included)."""
    due_date: str
    late: int
    """Working days overdue."""
    reasons: dict[str, str]
    """By checkpoint key."""


class Sweeper:
    """Runs escalation sweeps, with every loaded definition parsed once per sweep."""

    def __init__(self, ctx: ServiceContext, progress: Callable[[SweepReport], None] | None = None) -> None:
        self.ctx = ctx
        self.progress = progress
        self._defs: dict[tuple[str, int], WorkflowDefinition] = {}
        self._late: dict[tuple[date, str, datetime], int] = {}
        self._possible: dict[tuple[str, int, str], str] = {}
        self._stages: dict[tuple[str, int, str, datetime, datetime], _StageDue] = {}

    def _definition(self, case: DueCase) -> WorkflowDefinition:
        return self._defs[(case.workflow, case.version)]

    def _working_days_late(self, due_date: date, calendar: str, now: datetime) -> int:
        """Working days from `due_date` to the day of `now` (worked out once per due date in a sweep)."""
        key = (due_date, calendar, now)
        late = self._late.get(key)
        if late is None:
            late = self._late[key] = working_days_between(due_date, local_date(now), calendar)
        return late

    def _needed(self, d: WorkflowDefinition, case: DueCase) -> str:
        key = (case.workflow, case.version, case.state)
        possible = self._possible.get(key)
        if possible is None:
            possible = self._possible[key] = _possible(d, case.state)
        return f"move {case.ref} {possible}"

    def _stage_due(self, d: WorkflowDefinition, state: StateDef, case: DueCase, now: datetime) -> _StageDue:
        """What the cases of one stage and due time share in a sweep at `now`, worked out once: the working-day
        arithmetic of their checkpoints and lateness, and the reasons given."""
        assert case.due_at is not None
        key = (case.workflow, case.version, case.state, case.due_at, now)
        found = self._stages.get(key)
        if found is None:
            every = checkpoints(d, state, _EARLIEST, case.due_at)
            due_date = due_date_of(case.due_at)
            late = self._working_days_late(due_date, d.calendar, now)
            found = self._stages[key] = _StageDue(every, due_date.isoformat(), late,
                                                  {p.key: _reason(state, case.due_at, p, late) for p in every})
        return found

    def _fire_case(self, case: DueCase, fired: set[str], now: datetime,
                   directory: dict[str, list[Recipient]]) -> tuple[list[Fired], list[Outgoing], datetime | None]:
        d = self._definition(case)
        state = d.states[case.state]
        if case.due_at is None:  # looked at for its milestones or progress checks only (services/clocks.py)
            return [], [], None
        due = self._stage_due(d, state, case, now)
        # Of the checkpoints, only whether the reminder counts depends on when the stage was entered:
        # `checkpoints` leaves out a reminder that falls before the entry.
        points = [p for p in due.points if p.key != REMINDER or case.entered_at < p.at]
        done: list[Fired] = []
        items: list[Outgoing] = []
        settings = self.ctx.settings
        for p in due_now(points, fired, now):
            reason = due.reasons[p.key]
            payload = {"ref": case.ref, "workflow": d.name, "workflow_title": d.title, "state": case.state,
                       "state_label": state.label, "level": p.level, "level_label": p.label,
                       "headline": reason, "timing": reason, "working_days_overdue": max(due.late, 0),
                       "due_date": due.due_date, "needed": self._needed(d, case), "link": settings.link(case.ref)}
            event = "reminder" if p.key == REMINDER else "escalation"
            new = expand(f"{case.ref}:{case.entry_seq}:{p.key}", event, p.roles, payload, directory,
                         webhook=True)
            items.extend(new)
            people = tuple(dict.fromkeys(o.recipient for o in new if o.channel != "webhook"))
            done.append(Fired(case.ref, d.name, case.state, p.key, p.level, p.label, p.at, p.roles, people, reason))
            fired = fired | {p.key}
        return done, items, next_check(points, fired)

    def _fire_action(self, action: DueAction, fired: set[str], now: datetime,
                     directory: dict[str, list[Recipient]],
                     owner: Recipient | None) -> tuple[list[Fired], list[Outgoing], datetime | None]:
        d = self._defs[(action.workflow, action.version)]
        points = action_checkpoints(d, action.number, action.ladder_due)
        if action.status not in WORKING:
            return [], [], None
        late = self._working_days_late(action.ladder_due, d.calendar, now)
        done: list[Fired] = []
        items: list[Outgoing] = []
        people = for_agency(directory, action.owner_agency, owner)
        for p in due_now(points, fired, now):
            reason = (f"action {action.number} ({action.owner_agency}) overdue by {late} working "
                      f"day{'s' if late != 1 else ''} (due {action.due_date.isoformat()}); escalated to {p.label}")
            payload = {"ref": action.ref, "workflow": d.name, "workflow_title": d.title, "action": action.number,
                       "state": f"action {action.number}", "state_label": f"action {action.number}",
                       "level": p.level, "level_label": p.label, "headline": reason, "timing": reason,
                       "working_days_overdue": max(late, 0), "due_date": action.due_date.isoformat(),
                       "needed": f"update action {action.number} of {action.ref} or submit its evidence",
                       "link": self.ctx.settings.link(action.ref, f"action-{action.number}")}
            new = expand(f"{action.ref}:{p.key}", "action_overdue", p.roles, payload, people,
                         webhook=True)
            items.extend(new)
            recipients = tuple(dict.fromkeys(o.recipient for o in new if o.channel != "webhook"))
            done.append(Fired(action.ref, d.name, f"action {action.number}", p.key, p.level, p.label, p.at,
                              p.roles, recipients, reason))
            fired = fired | {p.key}
        return done, items, next_check(points, fired)

    def _case_batch(self, s: Any, now: datetime, size: int, after: Any, report: SweepReport,
                    directory: dict[str, list[Recipient]]) -> Any:
        due = ledger.claim_due(s, now, size, after=after if report.dry_run else None, lock=not report.dry_run)
        already = ledger.fired_keys_for(s, [(c.case_id, c.entry_seq) for c in due])
        groups = subgroup_store.of_cases(s, [c.case_id for c in due])  # who is told follows each case's sub-group
        statutory = ClockSweep(self.ctx, self._defs)  # milestones and progress checks
        statutory.load(s, due)
        entries: list[LedgerEntry] = []
        notices: list[dict[str, Any]] = []
        next_checks: dict[int, datetime | None] = {}
        for case in due:
            fired = already[(case.case_id, case.entry_seq)]
            told = within_subgroup(directory, groups[case.case_id])
            done, items, when = self._fire_case(case, fired, now, told)
            more, more_items, more_entries, more_when = statutory.fire(case, now, told)
            report.fired.extend(done + more)
            if report.dry_run:
                continue
            entries.extend(ledger.entry(case, f.key, f.level, f.label, f.scheduled_at, now, f.roles, f.recipients,
                                        f.reason) for f in done)
            entries.extend(more_entries)
            notices.extend(outbox.new_row(o, case.case_id, now) for o in [*items, *more_items])
            next_checks[case.case_id] = earliest(when, more_when)
        # One statement each per batch; the ledger rows are sealed into the audit chain as they go in.
        ledger.record_many(s, entries)
        outbox.add_many(s, notices)
        ledger.set_next_checks(s, next_checks)
        report.cases += len(due)
        return (due[-1].next_check_at, due[-1].case_id) if due else None

    def _action_batch(self, s: Any, now: datetime, size: int, after: Any, report: SweepReport,
                      directory: dict[str, list[Recipient]]) -> Any:
        due = learning_store.claim_due_actions(s, now, size, after=after if report.dry_run else None,
                                               lock=not report.dry_run)
        already = ledger.fired_keys_for(s, [(a.case_id, 0) for a in due])
        owners = outbox.people(s, [a.owner for a in due])
        groups = subgroup_store.of_cases(s, [a.case_id for a in due])  # who is told follows each case's sub-group
        entries: list[LedgerEntry] = []
        notices: list[dict[str, Any]] = []
        next_checks: dict[int, datetime | None] = {}
        for action in due:
            fired = already[(action.case_id, 0)]
            told = within_subgroup(directory, groups[action.case_id])
            done, items, when = self._fire_action(action, fired, now, told, owners[action.owner])
            already[(action.case_id, 0)] = fired | {f.key for f in done}
            report.fired.extend(done)
            if report.dry_run:
                continue
            entries.extend(ledger.action_entry(action.case_id, f.state, action.due_date, f.key, f.level, f.label,
                                               f.scheduled_at, now, f.roles, f.recipients, f.reason)
                           for f in done)
            notices.extend(outbox.new_row(o, action.case_id, now) for o in items)
            next_checks[action.action_id] = when
        ledger.record_many(s, entries)
        outbox.add_many(s, notices)
        learning_store.set_action_next_checks(s, next_checks)
        report.actions += len(due)
        return (due[-1].next_check_at, due[-1].action_id) if due else None

    def sweep(self, dry_run: bool = False, batch: int | None = None,
              should_stop: Callable[[], bool] = lambda: False) -> SweepReport:
        """Fire every reminder and ladder level due by the service's `now` (stages, then overdue actions),
        each exactly once."""
        now = self.ctx.clock()
        size = batch or self.ctx.settings.batch_size
        report = SweepReport(now, dry_run)
        self._defs = self.ctx.all_definitions()
        self._late, self._possible, self._stages = {}, {}, {}
        with self.ctx.transaction() as s:
            if not dry_run:  # a preview writes nothing: it may look at any time
                self.ctx.write_time(s, now)
            directory = outbox.directory(s)
        for step in (self._case_batch, self._action_batch, ReturnBatch(self), PauseEnds(self)):
            after: Any = None
            while not should_stop():
                with self.ctx.transaction() as s:
                    after = step(s, now, size, after, report, directory)
                if after is None:
                    break
                report.batches += 1
                log.info("sweep.batch", batch=report.batches, cases=report.cases, actions=report.actions,
                         fired=len(report.fired), dry_run=dry_run)
                if self.progress:
                    self.progress(report)
        return report
