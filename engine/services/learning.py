"""The learning-loop use cases of the service: recommendations, actions, evidence, dissemination.

Each method is one transaction: the records, a history row on the case (bumping its revision, so a
stage move that read the old records is refused) and any notifications.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Any

import structlog

from reviewflow.engine.core import learning as rules
from reviewflow.engine.core import limits
from reviewflow.engine.core.access import Identity, may_see_action
from reviewflow.engine.core.clock import parse_date
from reviewflow.engine.core.definition import WorkflowDefinition
from reviewflow.engine.core.durations import local_date
from reviewflow.engine.core.errors import InvalidValue, NotFound, TransitionNotAllowed, UsageError
from reviewflow.engine.core.escalation import action_checkpoints, next_check
from reviewflow.engine.core.measures import MeasureInput
from reviewflow.engine.core.notices import expand, for_agency
from reviewflow.engine.core.records import Action, CaseRecord, Dissemination, Recommendation
from reviewflow.engine.core.subgroups import narrow
from reviewflow.engine.services.agencies import filtered, registered, registered_all
from reviewflow.engine.services.cases import check_revision, not_before
from reviewflow.engine.services.context import ServiceContext
from reviewflow.engine.services.measures import (
    MEASURE_COLUMNS,
    check_due,
    current_measure,
    measure_changes,
    measured_value,
)
from reviewflow.engine.services.subgroups import on_case
from reviewflow.engine.services.themes import for_filter as themes_for_filter
from reviewflow.engine.services.themes import for_new as themes_for_new
from reviewflow.engine.services.visibility import note_agencies, require_visible
from reviewflow.store import learning as store
from reviewflow.store import ledger, outbox, repo
from reviewflow.store import measures as measure_store
from reviewflow.store import subgroups as subgroup_store

log = structlog.get_logger("reviewflow")

def _text(value: str | None, what: str, required: bool = True, limit: int = limits.DESCRIPTION,
          field: str | None = None) -> str:
    text = (value or "").strip()
    if required and not text:
        raise InvalidValue(f"give the {what}", field=field)
    return limits.check(text, field or "text", limit, what)


def _choice(value: str, allowed: Sequence[str], what: str, field: str | None = None) -> str:
    key = value.strip().lower().replace(" ", "_").replace("-", "_")
    if key not in allowed:
        raise InvalidValue(f"unknown {what} {value!r}; use one of: {', '.join(allowed)}", field=field,
                           value=value, allowed=allowed)
    return key


@dataclass(frozen=True)
class Learning:
    """A case's learning records, for `case show` and `action list`."""

    ref: str
    recommendations: list[Recommendation]
    dissemination: list[Dissemination]
    summary: rules.LearningSummary


@dataclass
class _Work:
    """What one learning operation has in hand inside its transaction."""

    s: Any
    record: CaseRecord
    definition: WorkflowDefinition
    actor: str
    """The name of the person whose rights apply."""
    held: frozenset[str]
    now: datetime
    recorded: str
    """Who the records say did it ('ADMIN for USER' when an administrator acts for someone)."""
    who: Identity | None = None
    """The person acting, when a front end established them (then only what they may see is found)."""

    @property
    def case_id(self) -> int:
        return self.record.case_id

    @property
    def ref(self) -> str:
        return self.record.case.ref


class LearningService:
    """Recommendations, actions, evidence, impact and dissemination: one transaction each."""

    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx

    @contextmanager
    def _learning_work(self, ref: str, actor: str | Identity, revision: int | None = None) -> Iterator[_Work]:
        now = self.ctx.clock()
        with self.ctx.transaction() as s:
            record = repo.get_case_record(s, ref)
            d = self.ctx.definition_in(s, record.workflow, record.version)
            who = on_case(self.ctx.who(s, actor), record)
            limited = who if isinstance(actor, Identity) else None
            require_visible(s, limited, d, record)
            check_revision(record, revision)
            if not record.is_open and record.state not in d.learning.open_after:
                raise TransitionNotAllowed(f"case {ref} is closed: its learning records can no longer change",
                                           ref=ref, state=record.state)
            not_before(ref, repo.last_change(s, ref), now)
            self.ctx.write_time(s, now)
            yield _Work(s, record, d, who.name, who.roles, now, who.recorded, limited)

    @staticmethod
    def _history(w: _Work, trigger: str, fields: dict[str, Any], note: str | None = None) -> None:
        repo.record_event(w.s, w.record.case, trigger, w.now, w.recorded, note, fields)

    # --- recommendations ---------------------------------------------------------------------

    def recommend(self, ref: str, actor: str | Identity, text: str, themes: Sequence[str] = (),
                  agencies: Sequence[str] = (), revision: int | None = None) -> str:
        """Record a recommendation (R1, R2, ...) with its learning themes and the agencies it applies to."""
        body = _text(text, "recommendation's text (--text)", limit=limits.RECOMMENDATION, field="text")
        chosen = list(dict.fromkeys(rules.normalise_theme(limits.check(t.strip(), "theme", limits.THEME))
                                    for t in themes if t.strip()))
        named = list(dict.fromkeys(limits.check(a.strip(), "agency", limits.AGENCY) for a in agencies if a.strip()))
        with self._learning_work(ref, actor, revision) as w:
            rules.check_manage(w.definition.learning, w.actor, w.held, f"recording a recommendation on {ref}")
            named = registered_all(w.s, named)
            chosen = themes_for_new(w.s, chosen)
            problem = rules.themes_problem(chosen, w.definition.learning)
            if problem:
                raise InvalidValue(problem, ref=ref, field="theme")
            number = store.add_recommendation(w.s, w.case_id, body, chosen, named, w.recorded, w.now)
            note_agencies(w.s, w.definition, w.case_id, named=named)
            self._history(w, "recommend", {"recommendation": number, "themes": chosen})
        log.info("learning.recommended", ref=ref, recommendation=number, actor=w.recorded)
        return number

    # --- actions -----------------------------------------------------------------------------

    def add_action(self, ref: str, actor: str | Identity, recommendation: str, description: str, agency: str,
                   due: str, owner: str | None = None, measure: str = "", revision: int | None = None, *,
                   figures: MeasureInput | None = None, past_due_ok: bool = False) -> str:
        """Agree an action (A1, A2, ...) for a recommendation: owner agency and person, due date, success measure
        (with `figures`, a baseline and target); a due date already past needs `past_due_ok`."""
        values: dict[str, Any] = measure_changes(figures, None)
        values.update({
            "description": _text(description, "action's description (--description)", field="description"),
            "owner_agency": _text(agency, "owning agency (--agency)", limit=limits.AGENCY, field="agency"),
            "success_measure": _text(measure, "success measure", required=False, limit=limits.SUCCESS_MEASURE,
                                     field="measure"),
            "due_date": parse_date(due, "--due")})
        with self._learning_work(ref, actor, revision) as w:
            rules.check_manage(w.definition.learning, w.actor, w.held, f"adding an action to {ref}")
            values["owner_agency"] = registered(w.s, values["owner_agency"])
            if owner:
                repo.get_user(w.s, owner)
            check_due(values["due_date"], local_date(w.now), past_due_ok)
            values["owner"] = owner
            number = store.add_action(w.s, w.case_id, ref, recommendation, values, w.recorded, w.now)
            note_agencies(w.s, w.definition, w.case_id, named=[values["owner_agency"]])
            action = self._find(w, number)
            self._reschedule(w, action)
            self._history(w, "action_add", {"action": number, "recommendation": recommendation.upper(),
                                            "agency": values["owner_agency"], "due": values["due_date"].isoformat()})
            self._tell(w, f"{number}:assigned", "action_assigned", ("owner",), number, action.owner_agency, owner,
                       f"action {number} of {ref} is yours, due {values['due_date'].isoformat()}")
        log.info("learning.action_added", ref=ref, action=number, actor=w.recorded)
        return number

    def update_action(self, ref: str, number: str, actor: str | Identity, status: str | None = None,
                      reason: str | None = None, due: str | None = None, owner: str | None = None,
                      agency: str | None = None, measure: str | None = None,
                      revision: int | None = None, *, figures: MeasureInput | None = None,
                      past_due_ok: bool = False) -> Action:
        """Change an action's status (in progress, embedded, superseded, not implemented), due date, owner or
        measure; a new due date already past needs `past_due_ok`."""
        limits.check_optional(reason, "reason", limits.STATUS_REASON)
        with self._learning_work(ref, actor, revision) as w:
            action = self._find(w, number)
            facts = action.facts()
            changes: dict[str, Any] = {}
            self._status_change(w, facts, status, reason, changes)
            self._detail_changes(w, facts, due, owner, agency, measure, changes)
            if figures is not None and not figures.empty:
                rules.check_manage(w.definition.learning, w.actor, w.held, f"changing action {facts.number}")
                changes.update(measure_changes(figures, current_measure(action)))
            if "due_date" in changes and changes["due_date"] != action.due_date:
                check_due(changes["due_date"], local_date(w.now), past_due_ok, action.number)
            self._redate(action, reason, changes)
            if not changes:
                raise InvalidValue("nothing to change: give --status, --due, --owner, --agency, --measure, "
                                   "--baseline or --target", ref=ref)
            store.update_action(w.s, action.id, w.now, **changes)
            if "owner_agency" in changes:
                note_agencies(w.s, w.definition, w.case_id, named=[changes["owner_agency"]])
            action = self._reschedule(w, self._find(w, number))
            shown = {k: (v.isoformat() if isinstance(v, date | datetime) else v) for k, v in changes.items()
                     if k in ("status", "due_date", "owner", "owner_agency", "first_due_date", *MEASURE_COLUMNS)}
            self._history(w, "action_update", {"action": action.number, **shown}, reason)
        log.info("learning.action_updated", ref=ref, action=number, actor=w.recorded, changed=",".join(sorted(shown)))
        return action

    def _status_change(self, w: _Work, facts: rules.ActionFacts, status: str | None, reason: str | None,
                       changes: dict[str, Any]) -> None:
        if status is None:
            return
        new = _choice(status, rules.STATUSES, "action status", "status")
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
            changes["status_reason"] = _text(reason, "reason (--reason)", limit=limits.STATUS_REASON, field="reason")

    @staticmethod
    def _redate(action: Action, reason: str | None, changes: dict[str, Any]) -> None:
        """A changed due date needs a reason; the first due date is kept, and the ladder climbs from it."""
        new = changes.get("due_date")
        if new is None:
            return
        if new == action.due_date:
            del changes["due_date"]
            return
        changes["redate_reason"] = _text(reason, f"reason for re-dating action {action.number} (--reason)",
                                         limit=limits.STATUS_REASON, field="reason")
        changes["first_due_date"] = action.ladder_due

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
            changes["owner_agency"] = registered(w.s, _text(agency, "owning agency (--agency)", limit=limits.AGENCY,
                                                            field="agency"))
        if measure is not None:
            changes["success_measure"] = _text(measure, "success measure", required=False,
                                               limit=limits.SUCCESS_MEASURE, field="measure")

    # --- evidence --------------------------------------------------------------------------------

    def submit_evidence(self, ref: str, number: str, actor: str | Identity, kind: str, description: str,
                        reference: str, revision: int | None = None) -> str:
        """Submit evidence (E1, E2, ...) for an action: what it is and where it is kept (a reference or link)."""
        values = {"kind": _choice(kind, rules.EVIDENCE_KINDS, "evidence kind", "kind"),
                  "description": _text(description, "evidence's description (--description)",
                                       limit=limits.EVIDENCE_DESCRIPTION, field="description"),
                  "reference": _text(reference, "reference or link where the evidence is kept (--link)",
                                     limit=limits.EVIDENCE_LINK, field="link")}
        with self._learning_work(ref, actor, revision) as w:
            action = self._find(w, number)
            facts = action.facts()
            rules.check_contribute(w.definition.learning, w.actor, w.held, facts,
                                   f"submitting evidence for action {action.number}")
            status = rules.after_evidence_submitted(facts)
            evidence = store.add_evidence(w.s, w.case_id, action.id, values, w.recorded, w.now)
            store.update_action(w.s, action.id, w.now, status=status)
            self._reschedule(w, replace(action, status=status))
            self._history(w, "evidence_submit",
                          {"action": action.number, "evidence": evidence, "kind": values["kind"]})
            self._tell(w, f"{evidence}:submitted", "evidence_submitted", w.definition.learning.verify, action.number,
                       action.owner_agency, action.owner,
                       f"evidence {evidence} for action {action.number} awaits verification")
        log.info("learning.evidence_submitted", ref=ref, action=action.number, evidence=evidence, actor=w.recorded)
        return evidence

    def decide_evidence(self, ref: str, evidence: str, actor: str | Identity, accept: bool, reason: str | None = None,
                        revision: int | None = None) -> str:
        """Accept a piece of evidence, or reject it with a reason; returns the action's status after."""
        why = _text(reason, "reason for rejecting (--reason)", limit=limits.NOTE, field="reason") if not accept else \
            limits.check((reason or "").strip(), "reason", limits.NOTE) or None
        with self._learning_work(ref, actor, revision) as w:
            found, action = store.find_evidence(w.s, w.case_id, ref, evidence)
            rules.check_verify(w.definition.learning, w.actor, w.held,
                               f"{'accepting' if accept else 'rejecting'} evidence {found.number}")
            if found.status != "submitted":
                raise TransitionNotAllowed(f"evidence {found.number} was already {found.status} by {found.decided_by}",
                                           ref=ref, field="evidence", value=found.number)
            store.decide_evidence(w.s, found.id, "accepted" if accept else "rejected", w.recorded, w.now, why)
            status = action.status if accept else rules.after_evidence_rejected(
                self._find(w, action.number).facts())
            if status != action.status:
                store.update_action(w.s, action.id, w.now, status=status)
                self._reschedule(w, replace(action, status=status))
            self._history(w, "evidence_accept" if accept else "evidence_reject",
                          {"action": action.number, "evidence": found.number}, why)
            if not accept:
                self._tell(w, f"{found.number}:rejected", "evidence_rejected", ("owner",), action.number,
                           action.owner_agency, action.owner,
                           f"evidence {found.number} for action {action.number} was not accepted: see the case")
        log.info("learning.evidence_decided", ref=ref, evidence=evidence, accepted=accept, actor=w.recorded)
        return status

    def verify_action(self, ref: str, number: str, actor: str | Identity, note: str | None = None,
                      revision: int | None = None) -> Action:
        """Verify an action on its accepted evidence."""
        limits.check_optional(note, "note", limits.NOTE)
        with self._learning_work(ref, actor, revision) as w:
            action = self._find(w, number)
            rules.check_verify(w.definition.learning, w.actor, w.held, f"verifying action {action.number}")
            rules.check_verifiable(action.facts())
            store.update_action(w.s, action.id, w.now, status=rules.VERIFIED, verified_by=w.recorded, verified_at=w.now)
            action = self._reschedule(w, self._find(w, number))
            self._history(w, "action_verify", {"action": action.number}, note)
        log.info("learning.action_verified", ref=ref, action=number, actor=w.recorded)
        return action

    def evaluate_action(self, ref: str, number: str, actor: str | Identity, method: str, measured_on: str,
                        finding: str, revision: int | None = None, value: str | float | None = None) -> Action:
        """Record how the action's impact on practice was measured, when, and what it showed (with `value`, the
        measured value of its measure)."""
        how = _choice(method, rules.IMPACT_METHODS, "impact method", "method")
        when = parse_date(measured_on, "--date")
        summary = _text(finding, "finding (--finding)", limit=limits.FINDING, field="finding")
        with self._learning_work(ref, actor, revision) as w:
            action = self._find(w, number)
            rules.check_verify(w.definition.learning, w.actor, w.held,
                               f"evaluating the impact of action {action.number}")
            rules.check_evaluable(action.facts(), local_date(action.verified_at) if action.verified_at else None,
                                  when, local_date(w.now))
            figure = measured_value(action, value) if value is not None and str(value).strip() else None
            store.update_action(w.s, action.id, w.now, status=rules.IMPACT_EVALUATED, impact_method=how,
                                impact_measured_on=when, impact_summary=summary, impact_by=w.recorded)
            if figure is not None:
                measure_store.add_measurement(w.s, w.case_id, action.id, figure, when, None, "evaluation",
                                              w.recorded, w.now)
            self._history(w, "action_evaluate", {"action": action.number, "method": how,
                                                 "measured_on": when.isoformat(),
                                                 **({"value": figure} if figure is not None else {})})
            action = self._find(w, number)
        log.info("learning.action_evaluated", ref=ref, action=number, actor=w.recorded)
        return action

    # --- reading ---------------------------------------------------------------------------------

    def learning(self, ref: str) -> Learning:
        with self.ctx.read() as s:
            record = repo.get_case_record(s, ref)
            return Learning(ref, store.recommendations(s, record.case_id), store.dissemination(s, record.case_id),
                            store.summary(s, record.case_id, local_date(self.ctx.clock())))

    def actions(self, agency: str | None = None, overdue: bool = False, theme: str | None = None,
                ref: str | None = None, status: str | None = None, actor: Identity | None = None,
                owner: str | None = None, mine: bool = False) -> list[Action]:
        """Actions across all cases (or one), filtered; `overdue` keeps working actions past their due date;
        `owner` those owned by that person, `mine` those owned by the person acting. Given an `Identity`, only the
        actions that person may see."""
        wanted = _choice(status, rules.STATUSES, "action status", "status") if status else None
        if mine and actor is None:
            raise UsageError("--mine lists your actions: say who you are (sign in, or --as)", field="mine")
        with self.ctx.read() as s:
            who = self.ctx.who(s, actor, write=False) if actor is not None else None
            if owner:
                repo.get_user(s, owner)  # a name nobody holds is refused, not an empty list
            owner = who.name if mine and who is not None else owner
            if ref:
                record = repo.get_case_record(s, ref)
                if who is not None:
                    require_visible(s, who, self.ctx.definition_in(s, record.workflow, record.version), record)
            agency = filtered(s, agency)
            theme = themes_for_filter(s, theme)
            found = store.actions(s, agency, local_date(self.ctx.clock()) if overdue else None, theme, ref, wanted)
            if owner:
                found = [a for a in found if a.owner == owner]
            groups = subgroup_store.of_refs(s, [a.ref for a in found]) if who is not None else {}
        if who is None:
            return found
        newest: dict[str, WorkflowDefinition] = {}
        for _key, d in sorted(self.ctx.all_definitions().items()):
            newest[d.name] = d  # the newest version of each workflow says whose actions are whose
        return [a for a in found if a.workflow in newest
                and may_see_action(narrow(who, groups.get(a.ref)), newest[a.workflow], a.owner_agency, a.owner)]

    def action(self, ref: str, number: str, actor: Identity | None = None) -> Action:
        """One action of a case, with its evidence (given an `Identity`, only one that person may see)."""
        with self.ctx.read() as s:
            record = repo.get_case_record(s, ref)
            d = self.ctx.definition_in(s, record.workflow, record.version)
            who = on_case(self.ctx.who(s, actor, write=False), record) if actor is not None else None
            require_visible(s, who, d, record)
            found = store.find_action(s, record.case_id, ref, number)
            if who is not None and not may_see_action(who, d, found.owner_agency, found.owner):
                raise NotFound(f"case {ref} has no action {number} that you may see", ref=ref, field="action",
                               value=number)
            return found

    # --- helpers ----

    @staticmethod
    def _find(w: _Work, number: str) -> Action:
        """An action of the case, if the person acting may see it (else not found)."""
        action = store.find_action(w.s, w.case_id, w.ref, number)
        if w.who is not None and not may_see_action(w.who, w.definition, action.owner_agency, action.owner):
            raise NotFound(f"case {w.ref} has no action {number} that you may see", ref=w.ref, field="action",
                           value=number)
        return action

    @staticmethod
    def _reschedule(w: _Work, action: Action) -> Action:
        """Work out when the sweep must next look at this action (never once it is no longer being worked)."""
        when = None
        if action.status in rules.WORKING:
            points = action_checkpoints(w.definition, action.number, action.ladder_due)
            when = next_check(points, ledger.fired_keys(w.s, w.case_id, 0))
        store.set_action_next_check(w.s, action.id, when)
        return action

    def _tell(self, w: _Work, key: str, event: str, roles: Sequence[str], number: str, agency: str,
              owner: str | None, headline: str) -> None:
        if tuple(roles) == ("owner",) and owner is None:
            return
        payload: Mapping[str, Any] = {
            "ref": w.ref, "workflow": w.definition.name, "workflow_title": w.definition.title,
            "state": w.record.case.state, "state_label": w.definition.states[w.record.case.state].label,
            "action": number, "headline": headline, "timing": None, "needed": headline,
            "link": self.ctx.settings.link(w.ref, f"action-{number}")}
        directory = for_agency(subgroup_store.directory(w.s, {*roles, "business_manager"}, w.record.subgroup), agency,
                               outbox.person(w.s, owner))
        items = expand(f"{w.ref}:{key}", event, roles, dict(payload), directory, webhook=True)
        outbox.add(w.s, items, w.case_id, w.now)
