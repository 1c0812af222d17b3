"""The sweep's step for late returns: claim requested returns whose next ladder level is due, in batches, fire
each level once (the escalation ledger, entry 0 of the case, key `return-<agency key>-level-N`) and queue its
notices, which carry the reference, the agency, the due date and the link only."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

import structlog

from reviewflow.engine.core.definition import WorkflowDefinition
from reviewflow.engine.core.durations import local_date, working_days_between
from reviewflow.engine.core.escalation import due_now, next_check
from reviewflow.engine.core.notices import Outgoing, Recipient, expand, within_subgroup
from reviewflow.engine.core.records import DueReturn, LedgerEntry
from reviewflow.engine.core.return_ladder import for_return, return_checkpoints
from reviewflow.engine.core.returns import rules_of
from reviewflow.store import ledger, outbox
from reviewflow.store import returns as store
from reviewflow.store import subgroups as subgroup_store

if TYPE_CHECKING:
    from reviewflow.engine.services.escalation import Fired, Sweeper, SweepReport

log = structlog.get_logger("reviewflow.sweep")

EVENT = "return_late"


class ReturnBatch:
    """One batch of late returns, as a step of `Sweeper.sweep`."""

    def __init__(self, sweeper: Sweeper) -> None:
        self.sweeper = sweeper

    def _fire(self, d: WorkflowDefinition, due: DueReturn, fired: set[str], now: datetime,
              directory: dict[str, list[Recipient]]) -> tuple[list[Fired], list[Outgoing], datetime | None]:
        from reviewflow.engine.services.escalation import Fired

        points = return_checkpoints(d, due.agency, due.due_date)
        late = working_days_between(due.due_date, local_date(now), d.calendar)
        people = for_return(directory, due.agency, rules_of(d).contribute)
        what = f"return of {due.agency}"
        done: list[Fired] = []
        items: list[Outgoing] = []
        for p in due_now(points, fired, now):
            reason = (f"{due.agency}'s return is late by {late} working day{'s' if late != 1 else ''} "
                      f"(due {due.due_date.isoformat()}); escalated to {p.label}")
            payload = {"ref": due.ref, "workflow": d.name, "workflow_title": d.title, "state": what,
                       "state_label": what, "agency": due.agency, "due_date": due.due_date.isoformat(),
                       "level": p.level, "level_label": p.label, "headline": reason, "timing": reason,
                       "working_days_overdue": max(late, 0),
                       "needed": f"send {due.agency}'s return for {due.ref}, or ask for it to be excused",
                       "link": self.sweeper.ctx.settings.link(due.ref)}
            new = expand(f"{due.ref}:{p.key}", EVENT, p.roles, payload, people, webhook=True)
            items.extend(new)
            recipients = tuple(dict.fromkeys(o.recipient for o in new if o.channel != "webhook"))
            done.append(Fired(due.ref, d.name, what, p.key, p.level, p.label, p.at, p.roles, recipients, reason))
            fired = fired | {p.key}
        return done, items, next_check(points, fired)

    def __call__(self, s: Any, now: datetime, size: int, after: Any, report: SweepReport,
                 directory: dict[str, list[Recipient]]) -> Any:
        due = store.claim_due(s, now, size, after=after if report.dry_run else None, lock=not report.dry_run)
        already = ledger.fired_keys_for(s, [(r.case_id, 0) for r in due])
        groups = subgroup_store.of_cases(s, [r.case_id for r in due])  # a chair of the case's sub-group
        entries: list[LedgerEntry] = []
        notices: list[dict[str, Any]] = []
        next_checks: dict[int, datetime | None] = {}
        for item in due:
            d = self.sweeper._defs[(item.workflow, item.version)]
            fired = already[(item.case_id, 0)]
            done, items, when = self._fire(d, item, fired, now, within_subgroup(directory, groups[item.case_id]))
            already[(item.case_id, 0)] = fired | {f.key for f in done}
            report.fired.extend(done)
            if report.dry_run:
                continue
            entries.extend(ledger.action_entry(item.case_id, f.state, item.due_date, f.key, f.level, f.label,
                                               f.scheduled_at, now, f.roles, f.recipients, f.reason) for f in done)
            notices.extend(outbox.new_row(o, item.case_id, now) for o in items)
            next_checks[item.return_id] = when
        ledger.record_many(s, entries)
        outbox.add_many(s, notices)
        store.set_next_checks(s, next_checks)
        report.returns += len(due)
        if due:
            log.info("sweep.returns", returns=report.returns, fired=len(report.fired), dry_run=report.dry_run)
        return (due[-1].next_check_at, due[-1].return_id) if due else None
