"""One escalation sweep: claim due cases in batches, fire what is due once, queue the notifications."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import structlog

from engine.definition import StateDef, WorkflowDefinition
from engine.durations import due_date_of, local_date, working_days_between
from engine.escalation import REMINDER, Checkpoint, action_checkpoints, checkpoints, due_now, next_check
from engine.learning import WORKING
from engine.notices import Outgoing, Recipient, expand, for_agency
from engine.service import Reviewflow
from store import learning as learning_store
from store import ledger, outbox
from store.learning import DueAction

log = structlog.get_logger("reviewflow.sweep")


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
    batches: int = 0
    fired: list[Fired] = field(default_factory=list)


def _reason(state: StateDef, due: datetime, p: Checkpoint, late: int) -> str:
    due_date = due_date_of(due)
    if p.key == REMINDER:
        return f"{state.label} is due on {due_date.isoformat()} ({p.label})"
    return (f"{state.label} overdue by {late} working day{'s' if late != 1 else ''} "
            f"(limit {state.time_limit}, due {due_date.isoformat()}); escalated to {p.label}")


def _needed(d: WorkflowDefinition, case: ledger.DueCase) -> str:
    triggers = ", ".join(t.trigger for t in d.transitions_from(case.state) if t.dest != case.state) or "none"
    return (f"move {case.ref} on from {d.states[case.state].label} (possible: {triggers}), "
            f"or pause its clock with a reason")


class Sweeper:
    """Runs sweeps for a service, with every loaded definition parsed once per sweep."""

    def __init__(self, service: Reviewflow, progress: Callable[[SweepReport], None] | None = None) -> None:
        self.service = service
        self.progress = progress
        self._defs: dict[tuple[str, int], WorkflowDefinition] = {}

    def _definition(self, case: ledger.DueCase) -> WorkflowDefinition:
        return self._defs[(case.workflow, case.version)]

    def _fire_case(self, case: ledger.DueCase, fired: set[str], now: datetime,
                   directory: dict[str, list[Recipient]]) -> tuple[list[Fired], list[Outgoing], datetime | None]:
        d = self._definition(case)
        state = d.states[case.state]
        points = checkpoints(d, state, case.entered_at, case.due_at)
        done: list[Fired] = []
        items: list[Outgoing] = []
        assert case.due_at is not None
        late = working_days_between(due_date_of(case.due_at), local_date(now), d.calendar)
        for p in due_now(points, fired, now):
            reason = _reason(state, case.due_at, p, late)
            payload = {"ref": case.ref, "workflow": d.name, "workflow_title": d.title, "state": case.state,
                       "state_label": state.label, "level": p.level, "level_label": p.label,
                       "headline": reason, "timing": reason, "working_days_overdue": max(late, 0),
                       "due_date": due_date_of(case.due_at).isoformat(), "needed": _needed(d, case),
                       "link": self.service.settings.link(case.ref)}
            event = "reminder" if p.key == REMINDER else "escalation"
            new = expand(f"{case.ref}:{case.entry_seq}:{p.key}", event, p.roles, payload, directory,
                         self.service.settings.webhooks)
            items.extend(new)
            people = tuple(dict.fromkeys(o.recipient for o in new if o.channel != "webhook"))
            done.append(Fired(case.ref, d.name, case.state, p.key, p.level, p.label, p.at, p.roles, people, reason))
            fired = fired | {p.key}
        return done, items, next_check(points, fired)

    def _fire_action(self, action: DueAction, fired: set[str], now: datetime,
                     directory: dict[str, list[Recipient]],
                     owner: Recipient | None) -> tuple[list[Fired], list[Outgoing], datetime | None]:
        d = self._defs[(action.workflow, action.version)]
        points = action_checkpoints(d, action.number, action.due_date)
        if action.status not in WORKING:
            return [], [], None
        late = working_days_between(action.due_date, local_date(now), d.calendar)
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
                       "link": self.service.settings.link(action.ref)}
            new = expand(f"{action.ref}:{p.key}", "action_overdue", p.roles, payload, people,
                         self.service.settings.webhooks)
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
        next_checks: dict[int, datetime | None] = {}
        for case in due:
            fired = already[(case.case_id, case.entry_seq)]
            done, items, when = self._fire_case(case, fired, now, directory)
            report.fired.extend(done)
            if report.dry_run:
                continue
            for f in done:
                ledger.record(s, case, f.key, f.level, f.label, f.scheduled_at, now, list(f.roles),
                              list(f.recipients), f.reason)
            outbox.add(s, items, case.case_id, now)
            next_checks[case.case_id] = when
        ledger.set_next_checks(s, next_checks)  # after the loop: one flush (and one seal) per batch
        report.cases += len(due)
        return (due[-1].next_check_at, due[-1].case_id) if due else None

    def _action_batch(self, s: Any, now: datetime, size: int, after: Any, report: SweepReport,
                      directory: dict[str, list[Recipient]]) -> Any:
        due = learning_store.claim_due_actions(s, now, size, after=after if report.dry_run else None,
                                               lock=not report.dry_run)
        already = ledger.fired_keys_for(s, [(a.case_id, 0) for a in due])
        owners = {a.owner: outbox.person(s, a.owner) for a in due}
        next_checks: dict[int, datetime | None] = {}
        for action in due:
            fired = already[(action.case_id, 0)]
            done, items, when = self._fire_action(action, fired, now, directory, owners[action.owner])
            already[(action.case_id, 0)] = fired | {f.key for f in done}
            report.fired.extend(done)
            if report.dry_run:
                continue
            for f in done:
                ledger.record_action(s, action.case_id, f.state, action.due_date, f.key, f.level, f.label,
                                     f.scheduled_at, now, list(f.roles), list(f.recipients), f.reason)
            outbox.add(s, items, action.case_id, now)
            next_checks[action.action_id] = when
        learning_store.set_action_next_checks(s, next_checks)
        report.actions += len(due)
        return (due[-1].next_check_at, due[-1].action_id) if due else None

    def sweep(self, dry_run: bool = False, batch: int | None = None,
              should_stop: Callable[[], bool] = lambda: False) -> SweepReport:
        """Fire every reminder and ladder level due by the service's `now` (stages, then overdue actions),
        each exactly once."""
        now = self.service.clock()
        size = batch or self.service.settings.batch_size
        report = SweepReport(now, dry_run)
        self._defs = self.service.all_definitions()
        with self.service.db.transaction() as s:
            directory = outbox.directory(s)
        for step in (self._case_batch, self._action_batch):
            after: Any = None
            while not should_stop():
                with self.service.db.transaction() as s:
                    after = step(s, now, size, after, report, directory)
                if after is None:
                    break
                report.batches += 1
                log.info("sweep.batch", batch=report.batches, cases=report.cases, actions=report.actions,
                         fired=len(report.fired), dry_run=dry_run)
                if self.progress:
                    self.progress(report)
        return report
