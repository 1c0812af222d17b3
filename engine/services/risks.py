"""Risks on a case's risk register: adding them, reviewing their scores, closing them with a reason, listing them.

Each change is one transaction: the risk rows and an event in the case's sealed history (bumping its revision),
from which `audit verify` rebuilds the risks (store/risks_audit.py). Adding and closing a risk needs one of the
workflow's learning `manage` roles; a review needs one of them too, or to be the risk's own owner.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import structlog

from reviewflow.engine.core import risks as rules
from reviewflow.engine.core.access import Identity
from reviewflow.engine.core.definition import WorkflowDefinition
from reviewflow.engine.core.durations import local_date
from reviewflow.engine.core.errors import InvalidValue, UserNotFound
from reviewflow.engine.core.records import CaseRecord
from reviewflow.engine.core.risks import Risk
from reviewflow.engine.core.subgroups import narrow
from reviewflow.engine.services.agencies import registered
from reviewflow.engine.services.case_records import find_case, ready_to_change, seen_by
from reviewflow.engine.services.context import ServiceContext
from reviewflow.engine.services.visibility import may_see, note_agencies
from reviewflow.store import repo
from reviewflow.store import risks as store

log = structlog.get_logger("reviewflow")


@dataclass
class _Work:
    s: Any
    record: CaseRecord
    definition: WorkflowDefinition
    who: Identity
    now: datetime

    @property
    def ref(self) -> str:
        return self.record.ref

    @property
    def manage(self) -> tuple[str, ...]:
        return self.definition.learning.manage

    def find(self, number: str) -> Risk:
        return rules.find(store.for_case(self.s, self.record.case_id), rules.check_number(number, self.ref), self.ref)


class RiskService:
    """The risks of a case's register: one transaction each."""

    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx

    @contextmanager
    def _work(self, ref: str, actor: str | Identity, revision: int | None) -> Iterator[_Work]:
        now = self.ctx.clock()
        with self.ctx.transaction() as s:
            record, d = find_case(self.ctx, s, ref)
            who = seen_by(self.ctx, s, record, d, actor)
            ready_to_change(self.ctx, s, record, revision, now, "risks")
            yield _Work(s, record, d, narrow(who, record.subgroup), now)

    @staticmethod
    def _history(w: _Work, trigger: str, fields: dict[str, Any], note: str | None = None) -> None:
        repo.record_event(w.s, w.record.case, trigger, w.now, w.who.recorded, note, fields)

    @staticmethod
    def _owner(s: Any, name: str, agency: str | None) -> tuple[str, str]:
        """The registered person owning a risk and their agency (given, or theirs on the register of users)."""
        try:
            user = repo.get_user(s, name.strip())
        except UserNotFound:
            raise InvalidValue(f"no user named {name.strip()!r} to own the risk: register them with 'reviewflow user "
                           "add NAME --role ROLE --agency AGENCY' or give a registered --owner", field="owner",
                           value=name) from None
        chosen = agency if agency and agency.strip() else user.agency
        if not chosen:
            raise InvalidValue(f"{user.name} belongs to no agency: give the risk owner's agency with --agency",
                               field="agency", value=user.name)
        return user.name, registered(s, chosen)

    def add(self, ref: str, actor: str | Identity, title: str, owner: str, likelihood: Any, impact: Any,
            controls: str, agency: str | None = None, revision: int | None = None) -> Risk:
        """Add a risk to case REF's register, numbered after the last, with its first scoring."""
        text = rules.check_text(title, "title", rules.TITLE_LIMIT, "'Too few reviewers for the LCSPR programme'")
        control = rules.check_text(controls, "controls", rules.CONTROLS_LIMIT, "'Reviewer pool shared with the "
                                                                                "next authority'")
        score = rules.check_score(likelihood, "likelihood"), rules.check_score(impact, "impact")
        with self._work(ref, actor, revision) as w:
            rules.check_manage(w.manage, w.who.name, w.who.roles, f"adding a risk to {w.ref}")
            name, agency_name = self._owner(w.s, owner, agency)
            number = rules.next_number(store.numbers(w.s, w.record.case_id))
            today = local_date(w.now)
            store.add(w.s, w.record.case_id, number, {"title": text, "owner": name, "owner_agency": agency_name,
                                                      "controls": control}, score, today, w.who.recorded, w.now)
            note_agencies(w.s, w.definition, w.record.case_id, named=[agency_name])  # its people see the register
            self._history(w, rules.ADD, {"risk": number, "title": text, "owner": name, "owner_agency": agency_name,
                                         "likelihood": score[0], "impact": score[1]})
            found = w.find(number)
        log.info("risks.added", ref=w.ref, risk=number, actor=w.who.recorded)
        return found

    def review(self, ref: str, actor: str | Identity, number: str, likelihood: Any, impact: Any,
               note: str | None = None, revision: int | None = None) -> Risk:
        """Score a risk again at a review; its trend compares the new score with the last."""
        score = rules.check_score(likelihood, "likelihood"), rules.check_score(impact, "impact")
        remark = rules.check_text(note, "note", rules.NOTE_LIMIT, "TEXT") if note and note.strip() else None
        with self._work(ref, actor, revision) as w:
            risk = w.find(number)
            rules.check_review(w.manage, w.who.name, w.who.roles, risk, f"reviewing risk {risk.number} on {w.ref}")
            rules.check_open(risk, "reviewed")
            store.rescore(w.s, w.record.case_id, risk.number, score, local_date(w.now), w.who.recorded, remark, w.now)
            self._history(w, rules.REVIEW, {"risk": risk.number, "likelihood": score[0], "impact": score[1]},
                          remark)
            found = w.find(risk.number)
        log.info("risks.reviewed", ref=w.ref, risk=found.number, trend=found.trend, actor=w.who.recorded)
        return found

    def close(self, ref: str, actor: str | Identity, number: str, reason: str,
              revision: int | None = None) -> Risk:
        """Close a risk with a reason; its scores stay on the register."""
        text = rules.check_text(reason, "reason", rules.REASON_LIMIT, "'Controls in place; risk no longer live'")
        with self._work(ref, actor, revision) as w:
            risk = w.find(number)
            rules.check_manage(w.manage, w.who.name, w.who.roles, f"closing risk {risk.number} on {w.ref}")
            rules.check_open(risk, "closed")
            store.close(w.s, w.record.case_id, risk.number, text, local_date(w.now), w.now)
            self._history(w, rules.CLOSE, {"risk": risk.number, "reason": text}, text)
            found = w.find(risk.number)
        log.info("risks.closed", ref=w.ref, risk=found.number, actor=w.who.recorded)
        return found

    def of_case(self, ref: str, actor: str | Identity | None = None) -> list[Risk]:
        """A case's risks (anyone who may see the case)."""
        with self.ctx.read() as s:
            record, d = find_case(self.ctx, s, ref)
            if actor is not None:
                seen_by(self.ctx, s, record, d, actor, write=False)
            return store.for_case(s, record.case_id)

    def everywhere(self, actor: str | Identity | None = None, only_open: bool = True) -> list[Risk]:
        """The risks of every case the person may see (open risks only unless `only_open` is False)."""
        with self.ctx.read() as s:
            found = store.for_cases(s, None, only_open)
            if actor is None or not isinstance(actor, Identity):
                return found
            who = self.ctx.who(s, actor, write=False)
            seen: dict[str, bool] = {}
            for ref in {r.ref for r in found}:
                record = repo.get_case_record(s, ref)
                seen[ref] = who.admin or may_see(s, who, self.ctx.definition_in(s, record.workflow, record.version),
                                                 record)
            return [r for r in found if seen[r.ref]]
