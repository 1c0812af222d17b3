"""The sweep's pause step: a paused case whose expected end has come gets one reminder, to the business manager and
whoever paused it, recorded once in the escalation ledger (key `pause-<history seq of the pause>-end`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from reviewflow.engine.core.durations import local_date, start_of_day
from reviewflow.engine.core.links import pause_label
from reviewflow.engine.core.notices import Outgoing, Recipient, expand, within_subgroup
from reviewflow.engine.core.records import LedgerEntry
from reviewflow.store import ledger, outbox
from reviewflow.store import links as links_store

if TYPE_CHECKING:
    from datetime import datetime

    from reviewflow.engine.services.escalation import Sweeper, SweepReport

PAUSED_BY = "paused_by"
"""The role a pause reminder names for the person who paused the clock."""
ROLES = ("business_manager", PAUSED_BY)
LABEL = "Pause expected to end"


def pause_key(seq: int) -> str:
    return f"pause-{seq}-end"


def _person(actor: str) -> str:
    """The person an actor recorded as 'ADMIN for USER' stands for."""
    return actor.split(" for ", 1)[1] if " for " in actor else actor


class PauseEnds:
    """One sweep step (see `Sweeper.sweep`): claim paused cases whose expected end has come, fire once."""

    def __init__(self, sweeper: Sweeper) -> None:
        self.sweeper = sweeper

    def __call__(self, s: Any, now: datetime, size: int, after: Any, report: SweepReport,
              directory: dict[str, list[Recipient]]) -> Any:
        from reviewflow.engine.services.escalation import Fired

        due = links_store.pause_ends_due(s, local_date(now), size, after)
        entries: list[LedgerEntry] = []
        notices: list[dict[str, Any]] = []
        settings = self.sweeper.ctx.settings
        for case in due:
            case_id, ref = case.case_id, case.ref
            key = pause_key(case.pause_seq)
            if key in ledger.fired_keys(s, case_id, case.entry_seq):
                continue
            person = outbox.person(s, _person(case.paused_by)) if case.paused_by else None
            d = self.sweeper.ctx.definition_in(s, case.workflow, case.version)
            state_label = d.states[case.state].label if case.state in d.states else case.state
            within = within_subgroup(directory, case.subgroup)  # a role held for another sub-group hears nothing
            managers = {r.name for r in within.get("business_manager", [])}
            also = person is not None and person.name not in managers
            people = {**within, PAUSED_BY: [person]} if person is not None and also else within
            roles = ROLES if also else ROLES[:1]
            label = pause_label(case.pause_reason) + (f": {case.pause_note}" if case.pause_note else "")
            reason = (f"{ref}'s clock was paused ({pause_label(case.pause_reason)}) until "
                      f"{case.pause_until.isoformat()}: resume it or pause it again with a new expected end")
            timing = f"{ref}'s clock was paused until {case.pause_until.isoformat()}"
            payload = {"ref": ref, "workflow": case.workflow, "state": case.state, "state_label": state_label,
                       "headline": f"pause expected to end {case.pause_until.isoformat()}", "timing": timing,
                       "needed": f"resume {ref} ('reviewflow case resume {ref}') or give a new expected end",
                       "due_date": case.pause_until.isoformat(), "link": settings.link(ref)}
            items: list[Outgoing] = expand(f"{ref}:{key}", "reminder", roles, payload, people, webhook=True)
            recipients = tuple(dict.fromkeys(o.recipient for o in items if o.channel != "webhook"))
            at = start_of_day(case.pause_until)
            report.fired.append(Fired(ref, case.workflow, case.state, key, None, LABEL, at, roles, recipients,
                                      reason))
            if report.dry_run:
                continue
            entries.append(LedgerEntry(case_id, case.entry_seq, key, None, LABEL, case.state, at, at, now, roles,
                                       recipients, f"{reason} ({label})"[:1000], ref))
            notices.extend(outbox.new_row(o, case_id, now) for o in items)
        ledger.record_many(s, entries)
        outbox.add_many(s, notices)
        return due[-1].case_id if due else None
