"""Agencies' returns on a case: requesting them, marking them in, excusing them with a reason, listing them.

Each change is one transaction: the return rows, the agencies made participants of the case (so their people
can see it), and an event in the case's sealed history (bumping its revision), from which `audit verify`
rebuilds the returns. Who may do what comes from the definition's `returns:` (engine/core/returns.py).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import structlog

from reviewflow.engine.core import limits
from reviewflow.engine.core import returns as rules
from reviewflow.engine.core.access import Identity
from reviewflow.engine.core.clock import parse_date
from reviewflow.engine.core.definition import WorkflowDefinition
from reviewflow.engine.core.durations import local_date
from reviewflow.engine.core.errors import InvalidValue, NotFound
from reviewflow.engine.core.escalation import next_check
from reviewflow.engine.core.records import AgencyReturn, CaseRecord
from reviewflow.engine.core.return_ladder import return_checkpoints
from reviewflow.engine.services.agencies import registered, registered_all
from reviewflow.engine.services.case_records import find_case, ready_to_change, seen_by
from reviewflow.engine.services.context import ServiceContext
from reviewflow.engine.services.visibility import note_agencies
from reviewflow.store import repo
from reviewflow.store import returns as store

log = structlog.get_logger("reviewflow")


@dataclass
class _Work:
    s: Any
    record: CaseRecord
    definition: WorkflowDefinition
    rules: rules.Rules
    who: Identity
    now: datetime

    @property
    def ref(self) -> str:
        return self.record.ref


class ReturnService:
    """Requests, returns and excuses of agencies on a case: one transaction each."""

    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx

    @contextmanager
    def _work(self, ref: str, actor: str | Identity, revision: int | None) -> Iterator[_Work]:
        now = self.ctx.clock()
        with self.ctx.transaction() as s:
            record, d = find_case(self.ctx, s, ref)
            who = seen_by(self.ctx, s, record, d, actor)
            if d.returns is None:
                raise InvalidValue(f"{record.workflow} cases take no agency returns (its definition has no "
                                   "`returns:`)", ref=record.ref, value=record.workflow)
            ready_to_change(self.ctx, s, record, revision, now, "returns")
            yield _Work(s, record, d, rules.rules_of(d), who, now)

    @staticmethod
    def _history(w: _Work, trigger: str, fields: dict[str, Any], note: str | None = None) -> None:
        repo.record_event(w.s, w.record.case, trigger, w.now, w.who.recorded, note, fields)

    @staticmethod
    def _find(w: _Work, agency: str) -> AgencyReturn:
        name = registered(w.s, agency)
        found = store.find(w.s, w.record.case_id, name)
        if found is None:
            raise NotFound(f"no return was requested of {name} on {w.ref}: request it with 'reviewflow case "
                           f"request {w.ref} --agency \"{name}\"'", ref=w.ref, field="agency", value=name)
        return found

    def request(self, ref: str, actor: str | Identity, agencies: Sequence[str], due: str | None = None,
                revision: int | None = None) -> list[AgencyReturn]:
        """Ask registered agencies for their returns, due on `due` (default: the definition's `returns: due`
        from today); they take part in the case from now on. Returns the returns requested."""
        typed = [limits.check(a.strip(), "agency", limits.AGENCY) for a in agencies if a.strip()]
        if not typed:
            raise InvalidValue("name the agencies asked with --agency (one or more)", ref=ref, field="agency")
        when = parse_date(due, "--due") if due else None
        with self._work(ref, actor, revision) as w:
            rules.check_manage(w.rules, w.who.name, w.who.roles, f"requesting returns on {w.ref}")
            names = registered_all(w.s, typed)
            today = local_date(w.now)
            day = when or rules.default_due(w.rules, today, w.definition.calendar)
            rules.check_due(day, today)
            for name in names:
                held = store.find(w.s, w.record.case_id, name)
                rules.check_request(name, held.status if held else None, held.due_date if held else None)
            first = next_check(return_checkpoints(w.definition, names[0], day), ())
            store.add(w.s, w.record.case_id, names, today, day, w.who.recorded, w.now, first)
            note_agencies(w.s, w.definition, w.record.case_id, named=names)
            self._history(w, rules.REQUEST, {"agencies": names, "due": day.isoformat(),
                                             "requested_on": today.isoformat()})
            found = [r for r in store.for_case(w.s, w.record.case_id) if r.agency in names]
        log.info("returns.requested", ref=w.ref, agencies=len(names), actor=w.who.recorded)
        return found

    def mark_in(self, ref: str, actor: str | Identity, agency: str, on: str | None = None,
                revision: int | None = None) -> AgencyReturn:
        """Record that an agency's return came in (on `on`, default today): a manager, or the agency's own
        people holding a `contribute` role."""
        day = parse_date(on, "--date") if on else None
        with self._work(ref, actor, revision) as w:
            found = self._find(w, agency)
            rules.check_mark_in(w.rules, w.who.name, w.who.roles, w.who.agency, found.agency,
                                f"marking {found.agency}'s return in on {w.ref}")
            rules.check_can_change(found.agency, found.status, rules.RETURNED)
            today = local_date(w.now)
            day = day or today
            if day > today or day < found.requested_on:
                raise InvalidValue(f"the return date {day.isoformat()} is not between the request "
                                   f"({found.requested_on.isoformat()}) and today ({today.isoformat()}): give "
                                   "another --date", ref=w.ref, field="date", value=day.isoformat())
            store.change(w.s, found.id, w.now, status=rules.RETURNED, returned_on=day)
            self._history(w, rules.RETURN, {"agency": found.agency, "returned_on": day.isoformat()})
            changed = store.find(w.s, w.record.case_id, found.agency)
        log.info("returns.returned", ref=w.ref, actor=w.who.recorded)
        assert changed is not None
        return changed

    def excuse(self, ref: str, actor: str | Identity, agency: str, reason: str,
               revision: int | None = None) -> AgencyReturn:
        """Excuse an agency's return with a reason (a manager's decision): it no longer holds the stage."""
        text = (reason or "").strip()
        if not text:
            raise InvalidValue("give the reason the return is excused with --reason", ref=ref, field="reason")
        limits.check(text, "reason", limits.STATUS_REASON, "reason")
        with self._work(ref, actor, revision) as w:
            found = self._find(w, agency)
            rules.check_manage(w.rules, w.who.name, w.who.roles, f"excusing {found.agency}'s return on {w.ref}")
            rules.check_can_change(found.agency, found.status, rules.EXCUSED)
            store.change(w.s, found.id, w.now, status=rules.EXCUSED, reason=text)
            self._history(w, rules.EXCUSE, {"agency": found.agency, "reason": text}, text)
            changed = store.find(w.s, w.record.case_id, found.agency)
        log.info("returns.excused", ref=w.ref, actor=w.who.recorded)
        assert changed is not None
        return changed

    def of_case(self, ref: str, actor: str | Identity | None = None) -> list[AgencyReturn]:
        """A case's returns (anyone who may see the case)."""
        with self.ctx.read() as s:
            record, d = find_case(self.ctx, s, ref)
            if actor is not None:
                seen_by(self.ctx, s, record, d, actor, write=False)
            return store.for_case(s, record.case_id)
