"""The learning loop's rules: action statuses, who may move them, and a case's learning summary. Pure."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from reviewflow.engine.core.errors import InvalidValue, NotPermitted, TransitionNotAllowed

AGREED = "agreed"
IN_PROGRESS = "in_progress"
EVIDENCE_SUBMITTED = "evidence_submitted"
VERIFIED = "verified"
IMPACT_EVALUATED = "impact_evaluated"
EMBEDDED = "embedded"
SUPERSEDED = "superseded"
NOT_IMPLEMENTED = "not_implemented"

STATUSES = (AGREED, IN_PROGRESS, EVIDENCE_SUBMITTED, VERIFIED, IMPACT_EVALUATED, EMBEDDED, SUPERSEDED,
            NOT_IMPLEMENTED)
CLOSED_WITH_REASON = (SUPERSEDED, NOT_IMPLEMENTED)
WORKING = (AGREED, IN_PROGRESS)
"""Statuses in which the owner still owes work: only these can be overdue."""
VERIFIED_OR_BEYOND = (VERIFIED, IMPACT_EVALUATED, EMBEDDED)
FINISHED = (EMBEDDED, *CLOSED_WITH_REASON)

EVIDENCE_KINDS = ("audit_result", "training_record", "policy_change", "practitioner_feedback", "data")
IMPACT_METHODS = ("re_audit", "survey", "data", "practitioner_feedback", "case_file_review")
DISSEMINATION_KINDS = ("briefing", "seven_minute_briefing", "training_session", "newsletter", "conference",
                       "learning_summary")
DISSEMINATION_LABELS = {"briefing": "Briefing", "seven_minute_briefing": "7-minute briefing",
                        "training_session": "Training session", "newsletter": "Newsletter", "conference": "Conference",
                        "learning_summary": "Learning summary"}
TRAINING = "training_session"
"""Training attendance (`case training`) is a dissemination of this kind with a learning theme; its reach is how
many attended."""


def dissemination_kind(text: str) -> str:
    """'7-minute briefing' (a label) -> 'seven_minute_briefing'; anything else as typed, for the caller to check."""
    labels = {label.lower(): key for key, label in DISSEMINATION_LABELS.items()}
    return labels.get(" ".join(text.lower().split()), text)


def kind_label(kind: str) -> str:
    return DISSEMINATION_LABELS.get(kind, kind.replace("_", " "))
EVIDENCE_STATUSES = ("submitted", "accepted", "rejected")


@dataclass(frozen=True)
class LearningRules:
    """Who may do what in a workflow's learning loop, and the ladder for overdue actions."""

    manage: tuple[str, ...]
    """Record recommendations and actions, change any action, record dissemination."""
    contribute: tuple[str, ...]
    """Update actions and submit evidence (an action's named owner always may)."""
    verify: tuple[str, ...]
    """Accept or reject evidence, verify, evaluate impact, mark embedded."""
    themes: tuple[str, ...] = ()
    """When set, the only learning themes allowed."""
    open_after: tuple[str, ...] = ()
    """End states in which a case still takes learning records (a rapid review closed as no further action keeps
    following its immediate actions to embedding)."""


@dataclass(frozen=True)
class ActionFacts:
    """What the rules need to know about one action."""

    number: str
    status: str
    due: date
    owner: str | None
    recommendation: str
    accepted_evidence: int = 0
    pending_evidence: int = 0


@dataclass(frozen=True)
class LearningSummary:
    """Counts of a case's learning records, with the numbers behind each gap (for guard messages)."""

    recommendations: tuple[str, ...] = ()
    without_actions: tuple[str, ...] = ()
    actions_by_status: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    overdue: tuple[str, ...] = ()
    evidence: Mapping[str, int] = field(default_factory=dict)
    dissemination: int = 0
    themes: tuple[str, ...] = ()

    def actions_in(self, statuses: Iterable[str]) -> tuple[str, ...]:
        return tuple(n for s in statuses for n in self.actions_by_status.get(s, ()))

    @property
    def actions(self) -> tuple[str, ...]:
        return self.actions_in(STATUSES)

    def view(self) -> dict[str, Any]:
        """The counts part of the read-only view that expression guards see."""
        counts = {s: len(self.actions_by_status.get(s, ())) for s in STATUSES}
        return {
            "recommendations": {"count": len(self.recommendations),
                                "with_actions": len(self.recommendations) - len(self.without_actions),
                                "without_actions": len(self.without_actions)},
            "actions": {"count": len(self.actions), "open": len(self.actions) - len(self.actions_in(FINISHED)),
                        "overdue": len(self.overdue), **counts},
            "evidence": {k: self.evidence.get(k, 0) for k in ("count", *EVIDENCE_STATUSES)},
            "dissemination": {"count": self.dissemination},
            "themes": list(self.themes),
        }


def summarise(recommendations: Iterable[str], actions: Iterable[ActionFacts], evidence: Mapping[str, int],
              dissemination: int, themes: Iterable[str], today: date) -> LearningSummary:
    """Build the summary from plain facts; an action is overdue once `today` is past its due date."""
    recs = tuple(recommendations)
    acts = list(actions)
    by_status: dict[str, list[str]] = {}
    for a in acts:
        by_status.setdefault(a.status, []).append(a.number)
    covered = {a.recommendation for a in acts if a.status not in CLOSED_WITH_REASON}
    return LearningSummary(
        recommendations=recs,
        without_actions=tuple(r for r in recs if r not in covered),
        actions_by_status={k: tuple(v) for k, v in by_status.items()},
        overdue=tuple(a.number for a in acts if is_overdue(a, today)),
        evidence={"count": sum(evidence.values()), **evidence},
        dissemination=dissemination,
        themes=tuple(sorted(set(themes))),
    )


def is_overdue(action: ActionFacts, today: date) -> bool:
    return action.status in WORKING and today > action.due


# --- who may do what -------------------------------------------------------------------------

def _refuse(what: str, roles: tuple[str, ...], actor: str, held: frozenset[str], owner_ok: bool) -> NotPermitted:
    extra = " or be the action's owner" if owner_ok else ""
    return NotPermitted(f"{what} needs one of the roles {', '.join(roles)}{extra}; {actor} has "
                        f"{', '.join(sorted(held)) or 'no roles'}: ask someone who does", allowed=roles, user=actor)


def check_manage(rules: LearningRules, actor: str, held: frozenset[str], what: str) -> None:
    if not held & set(rules.manage):
        raise _refuse(what, rules.manage, actor, held, False)


def check_contribute(rules: LearningRules, actor: str, held: frozenset[str], action: ActionFacts,
                     what: str) -> None:
    allowed = set(rules.manage) | set(rules.contribute) | set(rules.verify)
    if action.owner != actor and not held & allowed:
        raise _refuse(what, tuple(dict.fromkeys([*rules.contribute, *rules.manage])), actor, held, True)


def check_verify(rules: LearningRules, actor: str, held: frozenset[str], what: str) -> None:
    if not held & set(rules.verify):
        raise _refuse(what, rules.verify, actor, held, False)


# --- the action lifecycle ----------------------------------------------------------------------

def _not_from(action: ActionFacts, verb: str, allowed_from: tuple[str, ...]) -> TransitionNotAllowed:
    return TransitionNotAllowed(f"action {action.number} is {action.status}: it can be {verb} only when "
                                f"{' or '.join(allowed_from)}", state=action.status, allowed=allowed_from,
                                action=action.number)


def after_evidence_submitted(action: ActionFacts) -> str:
    """Submitting evidence moves a working action on; later statuses keep theirs."""
    if action.status in CLOSED_WITH_REASON or action.status == EMBEDDED:
        raise TransitionNotAllowed(f"action {action.number} is {action.status}: no more evidence is taken",
                                   state=action.status, action=action.number)
    return EVIDENCE_SUBMITTED if action.status in WORKING else action.status


def after_evidence_rejected(action: ActionFacts) -> str:
    """With no evidence left standing, a submitted action goes back to in progress."""
    if action.status == EVIDENCE_SUBMITTED and action.accepted_evidence == 0 and action.pending_evidence == 0:
        return IN_PROGRESS
    return action.status


def check_verifiable(action: ActionFacts) -> None:
    if action.status not in (IN_PROGRESS, EVIDENCE_SUBMITTED):
        raise _not_from(action, "verified", (IN_PROGRESS, EVIDENCE_SUBMITTED))
    if action.accepted_evidence == 0:
        hint = ("accept a piece first with 'reviewflow action accept'" if action.pending_evidence
                else "the owner submits it with 'reviewflow action evidence'")
        raise TransitionNotAllowed(f"action {action.number} has no accepted evidence, so it cannot be verified: "
                                   f"{hint}", state=action.status, action=action.number)
    if action.pending_evidence:
        raise TransitionNotAllowed(f"action {action.number} has {action.pending_evidence} piece(s) of evidence "
                                   "not yet accepted or rejected: decide them first", state=action.status,
                                   action=action.number)


def check_evaluable(action: ActionFacts, verified_on: date | None, measured_on: date, today: date) -> None:
    if action.status != VERIFIED:
        raise _not_from(action, "evaluated for impact", (VERIFIED,))
    if measured_on > today:
        raise InvalidValue(f"impact measured on {measured_on} is in the future: give the date it was measured",
                           field="date", value=measured_on.isoformat())
    if verified_on is not None and measured_on < verified_on:
        raise InvalidValue(f"impact measured on {measured_on} is before action {action.number} was verified "
                           f"({verified_on}): impact is measured after verification, typically 3 to 6 months on",
                           field="date", value=measured_on.isoformat())


def check_status_change(action: ActionFacts, new: str, reason: str | None) -> None:
    """`action update --status`: the moves not made by evidence, verify or evaluate."""
    if new == action.status:
        raise TransitionNotAllowed(f"action {action.number} is already {new}", state=action.status,
                                   action=action.number)
    if new in CLOSED_WITH_REASON:
        if action.status in FINISHED:
            raise TransitionNotAllowed(f"action {action.number} is {action.status} and cannot be closed again",
                                       state=action.status, action=action.number)
        if not (reason or "").strip():
            raise InvalidValue(f"marking action {action.number} {new} needs a reason: add --reason", field="reason",
                               action=action.number)
        return
    moves = {IN_PROGRESS: (AGREED,), EMBEDDED: (IMPACT_EVALUATED,), AGREED: ()}
    if new not in moves:
        howto = {EVIDENCE_SUBMITTED: "submit evidence with 'reviewflow action evidence'",
                 VERIFIED: "use 'reviewflow action verify'",
                 IMPACT_EVALUATED: "use 'reviewflow action evaluate'"}
        if new in howto:
            raise TransitionNotAllowed(f"an action becomes {new} through its own step: {howto[new]}", field="status",
                                       value=new)
        raise InvalidValue(f"unknown action status {new!r}; statuses: {', '.join(STATUSES)}", field="status",
                           value=new, allowed=STATUSES)
    if action.status not in moves[new]:
        raise _not_from(action, f"marked {new}", moves[new] or ("never (an action starts agreed)",))


def themes_problem(themes: Iterable[str], rules: LearningRules) -> str | None:
    chosen = list(themes)
    if rules.themes:
        unknown = [t for t in chosen if t not in rules.themes]
        if unknown:
            return (f"theme(s) {', '.join(map(repr, unknown))} are not in this workflow's list: "
                    f"use {', '.join(rules.themes)}")
    return None


def normalise_theme(text: str) -> str:
    """'Voice of the Child ' -> 'voice of the child'."""
    return " ".join(text.lower().split())
