"""The learning-loop use cases of the service: recommendations, actions, evidence, dissemination.

Each method is one transaction: the records, a history row on the case (bumping its revision, so a
stage move that read the old records is refused) and any notifications.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

import structlog

from reviewflow.engine.core import learning as rules
from reviewflow.engine.core.clock import parse_date
from reviewflow.engine.core.definition import WorkflowDefinition
from reviewflow.engine.core.durations import local_date
from reviewflow.engine.core.errors import InvalidValue, TransitionNotAllowed
from reviewflow.engine.core.escalation import action_checkpoints, next_check
from reviewflow.engine.core.notices import expand, for_agency
from reviewflow.store import learning as store
from reviewflow.store import ledger, outbox, repo

if TYPE_CHECKING:
    from sqlmodel import Session

    from reviewflow.engine.core.clock import Clock
    from reviewflow.engine.services.settings import Settings

log = structlog.get_logger("reviewflow")

_TEXT_LIMIT = 4000


def _text(value: str | None, what: str, required: bool = True, limit: int = _TEXT_LIMIT) -> str:
    text = (value or "").strip()
    if required and not text:
        raise InvalidValue(f"give the {what}")
    if len(text) > limit:
        raise InvalidValue(f"the {what} is {len(text)} characters long; the limit is {limit}")
    return text


def _choice(value: str, allowed: Sequence[str], what: str) -> str:
    key = value.strip().lower().replace(" ", "_").replace("-", "_")
    if key not in allowed:
        raise InvalidValue(f"unknown {what} {value!r}; use one of: {', '.join(allowed)}")
    return key


@dataclass(frozen=True)
class Learning:
    """A case's learning records, for `case show` and `action list`."""

    ref: str
    recommendations: list[store.Recommendation]
    dissemination: list[store.Dissemination]
    summary: rules.LearningSummary


@dataclass
class _Work:
    """What one learning operation has in hand inside its transaction."""

    s: Session
    record: repo.CaseRecord
    definition: WorkflowDefinition
    actor: str
    held: frozenset[str]
    now: datetime

    @property
    def case_id(self) -> int:
        return self.record.case_id

    @property
    def ref(self) -> str:
        return self.record.case.ref


class LearningOps:
    """Mixed into the service (engine.service.Reviewflow), which provides the clock, store and definitions."""

    clock: Clock
    settings: Settings

    def _tx(self) -> Any: ...  # provided by the service
    def _read(self) -> Any: ...  # noqa: E704
    def definition(self, name: str, version: int | None = None) -> WorkflowDefinition: ...  # noqa: E704

    @contextmanager
    def _learning_work(self, ref: str, actor: str) -> Iterator[_Work]:
        from reviewflow.engine.services.cases import _not_before_last_change

        now = self.clock()
        with self._read() as s:
            first = repo.get_case_record(s, ref)
        d = self.definition(first.case.workflow, first.case.version)  # its own (read) transaction
        with self._tx() as s:
            record = repo.get_case_record(s, ref)
            who = repo.get_actor(s, actor)
            if not record.is_open:
                raise TransitionNotAllowed(f"case {ref} is closed: its learning records can no longer change")
            _not_before_last_change(s, ref, now)
            yield _Work(s, record, d, actor, who.roles, now)

    @staticmethod
    def _history(w: _Work, trigger: str, fields: dict[str, Any], note: str | None = None) -> None:
        repo.record_event(w.s, w.record.case, trigger, w.now, w.actor, note, fields)

    # --- recommendations ---------------------------------------------------------------------

    def recommend(self, ref: str, actor: str, text: str, themes: Sequence[str] = (),
                  agencies: Sequence[str] = ()) -> str:
        """Record a recommendation (R1, R2, ...) with its learning themes and the agencies it applies to."""
        body = _text(text, "recommendation's text (--text)")
        chosen = list(dict.fromkeys(rules.normalise_theme(t) for t in themes if t.strip()))
        named = list(dict.fromkeys(a.strip() for a in agencies if a.strip()))
        with self._learning_work(ref, actor) as w:
            rules.check_manage(w.definition.learning, actor, w.held, f"recording a recommendation on {ref}")
            problem = rules.themes_problem(chosen, w.definition.learning)
            if problem:
                raise InvalidValue(problem)
            number = store.add_recommendation(w.s, w.case_id, body, chosen, named, actor, w.now)
            self._history(w, "recommend", {"recommendation": number, "themes": chosen})
        log.info("learning.recommended", ref=ref, recommendation=number, actor=actor)
        return number

    # --- actions -----------------------------------------------------------------------------

    def add_action(self, ref: str, actor: str, recommendation: str, description: str, agency: str,
                   due: str, owner: str | None = None, measure: str = "") -> str:
        """Agree an action (A1, A2, ...) for a recommendation: owner agency and person, due date, success measure."""
        values = {"description": _text(description, "action's description (--description)"),
                  "owner_agency": _text(agency, "owning agency (--agency)", limit=120),
                  "success_measure": _text(measure, "success measure", required=False),
                  "due_date": parse_date(due, "--due")}
        with self._learning_work(ref, actor) as w:
            rules.check_manage(w.definition.learning, actor, w.held, f"adding an action to {ref}")
            if owner:
                repo.get_user(w.s, owner)
            values["owner"] = owner
            number = store.add_action(w.s, w.case_id, ref, recommendation, values, actor, w.now)
            row = store.action_row(w.s, w.case_id, ref, number)
            self._reschedule(w, row)
            self._history(w, "action_add", {"action": number, "recommendation": recommendation.upper(),
                                            "agency": values["owner_agency"], "due": values["due_date"].isoformat()})
            self._tell(w, f"{number}:assigned", "action_assigned", ("owner",), number, row.owner_agency, owner,
                       f"action {number} of {ref} is yours, due {values['due_date'].isoformat()}")
        log.info("learning.action_added", ref=ref, action=number, actor=actor)
        return number

    def update_action(self, ref: str, number: str, actor: str, status: str | None = None,
                      reason: str | None = None, due: str | None = None, owner: str | None = None,
                      agency: str | None = None, measure: str | None = None) -> store.Action:
        """Change an action's status (in progress, embedded, superseded, not implemented), due date or owner."""
        with self._learning_work(ref, actor) as w:
            row = store.action_row(w.s, w.case_id, ref, number)
            facts = self._facts(w, row.number)
            changes: dict[str, Any] = {}
            self._status_change(w, facts, status, reason, changes)
            self._detail_changes(w, facts, due, owner, agency, measure, changes)
            if not changes:
                raise InvalidValue("nothing to change: give --status, --due, --owner, --agency or --measure")
            store.update_action(w.s, row, w.now, **changes)
            w.s.refresh(row)
            self._reschedule(w, row)
            shown = {k: (v.isoformat() if isinstance(v, date | datetime) else v) for k, v in changes.items()
                     if k in ("status", "due_date", "owner", "owner_agency")}
            self._history(w, "action_update", {"action": row.number, **shown}, reason)
        log.info("learning.action_updated", ref=ref, action=number, actor=actor, changed=",".join(sorted(shown)))
        return self._action(ref, number)

    def _status_change(self, w: _Work, facts: rules.ActionFacts, status: str | None, reason: str | None,
                       changes: dict[str, Any]) -> None:
        if status is None:
            return
        new = _choice(status, rules.STATUSES, "action status")
        what = f"marking action {facts.number} {new}"
        if new == rules.IN_PROGRESS:
            rules.check_contribute(w.definition.learning, w.actor, w.held, facts, what)
        elif new == rules.EMBEDDED:
            rules.check_verify(w.definition.learning, w.actor, w.held, what)
            changes["embedded_at"] = w.now
        else:
            rules.check_manage(w.definition.learning, w.actor, w.held, what)
        rules.check_status_change(facts, new, reason)
        changes["status"] = new
        if new in rules.CLOSED_WITH_REASON:
            changes["status_reason"] = _text(reason, "reason (--reason)")

    def _detail_changes(self, w: _Work, facts: rules.ActionFacts, due: str | None, owner: str | None,
                        agency: str | None, measure: str | None, changes: dict[str, Any]) -> None:
        if due is None and owner is None and agency is None and measure is None:
            return
        rules.check_manage(w.definition.learning, w.actor, w.held, f"changing action {facts.number}")
        if due is not None:
            changes["due_date"] = parse_date(due, "--due")
        if owner is not None:
            repo.get_user(w.s, owner)
            changes["owner"] = owner
        if agency is not None:
            changes["owner_agency"] = _text(agency, "owning agency (--agency)", limit=120)
        if measure is not None:
            changes["success_measure"] = _text(measure, "success measure", required=False)

    # --- evidence --------------------------------------------------------------------------------

    def submit_evidence(self, ref: str, number: str, actor: str, kind: str, description: str,
                        reference: str) -> str:
        """Submit evidence (E1, E2, ...) for an action: what it is and where it is kept (a reference or link)."""
        values = {"kind": _choice(kind, rules.EVIDENCE_KINDS, "evidence kind"),
                  "description": _text(description, "evidence's description (--description)"),
                  "reference": _text(reference, "reference or link where the evidence is kept (--link)", limit=500)}
        with self._learning_work(ref, actor) as w:
            row = store.action_row(w.s, w.case_id, ref, number)
            facts = self._facts(w, row.number)
            rules.check_contribute(w.definition.learning, actor, w.held, facts,
                                   f"submitting evidence for action {row.number}")
            status = rules.after_evidence_submitted(facts)
            assert row.id is not None
            evidence = store.add_evidence(w.s, w.case_id, row.id, values, actor, w.now)
            store.update_action(w.s, row, w.now, status=status)
            w.s.refresh(row)
            self._reschedule(w, row)
            self._history(w, "evidence_submit", {"action": row.number, "evidence": evidence, "kind": values["kind"]})
            self._tell(w, f"{evidence}:submitted", "evidence_submitted", w.definition.learning.verify, row.number,
                       row.owner_agency, row.owner, f"evidence {evidence} for action {row.number} awaits verification")
        log.info("learning.evidence_submitted", ref=ref, action=row.number, evidence=evidence, actor=actor)
        return evidence

    def decide_evidence(self, ref: str, evidence: str, actor: str, accept: bool, reason: str | None = None) -> str:
        """Accept a piece of evidence, or reject it with a reason; returns the action's status after."""
        why = _text(reason, "reason for rejecting (--reason)") if not accept else (reason or "").strip() or None
        with self._learning_work(ref, actor) as w:
            row, action = store.evidence_row(w.s, w.case_id, ref, evidence)
            rules.check_verify(w.definition.learning, actor, w.held,
                               f"{'accepting' if accept else 'rejecting'} evidence {row.number}")
            if row.status != "submitted":
                raise TransitionNotAllowed(f"evidence {row.number} was already {row.status} by {row.decided_by}")
            store.decide_evidence(w.s, row, "accepted" if accept else "rejected", actor, w.now, why)
            w.s.flush()
            status = action.status if accept else rules.after_evidence_rejected(self._facts(w, action.number))
            if status != action.status:
                store.update_action(w.s, action, w.now, status=status)
                w.s.refresh(action)
                self._reschedule(w, action)
            self._history(w, "evidence_accept" if accept else "evidence_reject",
                          {"action": action.number, "evidence": row.number}, why)
            if not accept:
                self._tell(w, f"{row.number}:rejected", "evidence_rejected", ("owner",), action.number,
                           action.owner_agency, action.owner,
                           f"evidence {row.number} for action {action.number} was not accepted: see the case")
        log.info("learning.evidence_decided", ref=ref, evidence=evidence, accepted=accept, actor=actor)
        return status

    def verify_action(self, ref: str, number: str, actor: str, note: str | None = None) -> store.Action:
        """Verify an action on its accepted evidence."""
        with self._learning_work(ref, actor) as w:
            row = store.action_row(w.s, w.case_id, ref, number)
            rules.check_verify(w.definition.learning, actor, w.held, f"verifying action {row.number}")
            rules.check_verifiable(self._facts(w, row.number))
            store.update_action(w.s, row, w.now, status=rules.VERIFIED, verified_by=actor, verified_at=w.now)
            w.s.refresh(row)
            self._reschedule(w, row)
            self._history(w, "action_verify", {"action": row.number}, note)
        log.info("learning.action_verified", ref=ref, action=number, actor=actor)
        return self._action(ref, number)

    def evaluate_action(self, ref: str, number: str, actor: str, method: str, measured_on: str,
                        finding: str) -> store.Action:
        """Record how the action's impact on practice was measured, when, and what it showed."""
        how = _choice(method, rules.IMPACT_METHODS, "impact method")
        when = parse_date(measured_on, "--date")
        summary = _text(finding, "finding (--finding)")
        with self._learning_work(ref, actor) as w:
            row = store.action_row(w.s, w.case_id, ref, number)
            rules.check_verify(w.definition.learning, actor, w.held, f"evaluating the impact of action {row.number}")
            rules.check_evaluable(self._facts(w, row.number), local_date(row.verified_at) if row.verified_at else None,
                                  when, local_date(w.now))
            store.update_action(w.s, row, w.now, status=rules.IMPACT_EVALUATED, impact_method=how,
                                impact_measured_on=when, impact_summary=summary, impact_by=actor)
            self._history(w, "action_evaluate", {"action": row.number, "method": how, "measured_on": when.isoformat()})
        log.info("learning.action_evaluated", ref=ref, action=number, actor=actor)
        return self._action(ref, number)

    # --- dissemination ---------------------------------------------------------------------------

    def record_dissemination(self, ref: str, actor: str, kind: str, audience: str, held_on: str,
                             reference: str | None = None) -> None:
        """Record that the review's learning was shared: how, with whom, when."""
        values = {"kind": _choice(kind, rules.DISSEMINATION_KINDS, "dissemination kind"),
                  "audience": _text(audience, "audience (--audience)", limit=300),
                  "held_on": parse_date(held_on, "--date"),
                  "reference": _text(reference, "reference", required=False, limit=500) or None}
        with self._learning_work(ref, actor) as w:
            rules.check_manage(w.definition.learning, actor, w.held, f"recording dissemination for {ref}")
            if values["held_on"] > local_date(w.now):
                raise InvalidValue(f"{values['held_on']} is in the future: record dissemination once it has happened")
            store.add_dissemination(w.s, w.case_id, values, actor, w.now)
            self._history(w, "disseminate", {"kind": values["kind"], "held_on": values["held_on"].isoformat()})
        log.info("learning.disseminated", ref=ref, kind=values["kind"], actor=actor)

    # --- reading ---------------------------------------------------------------------------------

    def learning(self, ref: str) -> Learning:
        with self._read() as s:
            record = repo.get_case_record(s, ref)
            return Learning(ref, store.recommendations(s, record.case_id), store.dissemination(s, record.case_id),
                            store.summary(s, record.case_id, local_date(self.clock())))

    def actions(self, agency: str | None = None, overdue: bool = False, theme: str | None = None,
                ref: str | None = None, status: str | None = None) -> list[store.Action]:
        """Actions across all cases (or one), filtered; `overdue` keeps working actions past their due date."""
        wanted = _choice(status, rules.STATUSES, "action status") if status else None
        with self._read() as s:
            if ref:
                repo.get_case_record(s, ref)
            return store.actions(s, agency, local_date(self.clock()) if overdue else None,
                                 rules.normalise_theme(theme) if theme else None, ref, wanted)

    def _action(self, ref: str, number: str) -> store.Action:
        found = [a for a in self.actions(ref=ref) if a.number == number.upper()]
        return found[0]

    # --- helpers ---------------------------------------------------------------------------------

    @staticmethod
    def _facts(w: _Work, number: str) -> rules.ActionFacts:
        found = [a for a in store.actions(w.s, ref=w.ref) if a.number == number.upper()]
        return found[0].facts()

    @staticmethod
    def _reschedule(w: _Work, row: Any) -> None:
        """Work out when the sweep must next look at this action (never once it is no longer being worked)."""
        when = None
        if row.status in rules.WORKING:
            points = action_checkpoints(w.definition, row.number, row.due_date)
            when = next_check(points, ledger.fired_keys(w.s, w.case_id, 0))
        store.set_action_next_check(w.s, row.id, when)

    def _tell(self, w: _Work, key: str, event: str, roles: Sequence[str], number: str, agency: str,
              owner: str | None, headline: str) -> None:
        if tuple(roles) == ("owner",) and owner is None:
            return
        payload: Mapping[str, Any] = {
            "ref": w.ref, "workflow": w.definition.name, "workflow_title": w.definition.title,
            "state": w.record.case.state, "state_label": w.definition.states[w.record.case.state].label,
            "action": number, "headline": headline, "timing": None, "needed": headline,
            "link": self.settings.link(w.ref)}
        directory = for_agency(outbox.directory(w.s, {*roles, "business_manager"}), agency,
                               outbox.person(w.s, owner))
        items = expand(f"{w.ref}:{key}", event, roles, dict(payload), directory, self.settings.webhooks)
        outbox.add(w.s, items, w.case_id, w.now)
