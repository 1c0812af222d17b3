"""Pure decisions: may this actor open a case or fire this trigger now, and what follows."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from reviewflow.engine.core.conditions import GuardContext, unmet
from reviewflow.engine.core.definition import FieldSpec, StateDef, WorkflowDefinition
from reviewflow.engine.core.durations import local_date
from reviewflow.engine.core.errors import NotPermitted, TransitionNotAllowed
from reviewflow.engine.core.fields import parse_fields
from reviewflow.engine.core.learning import LearningSummary
from reviewflow.engine.core.machine import machine_for
from reviewflow.engine.core.returns import ReturnsSummary
from reviewflow.engine.core.statutory import stage_due


@dataclass(frozen=True)
class Actor:
    name: str
    roles: frozenset[str]


@dataclass(frozen=True)
class CaseState:
    """What the core needs to know about a case; built by the store, never a table row."""

    ref: str
    workflow: str
    version: int
    state: str
    fields: Mapping[str, Any]
    entered_at: datetime
    due_at: datetime | None
    revision: int


@dataclass(frozen=True)
class Move:
    """An accepted open or transition, ready to be written in one transaction."""

    trigger: str
    source: str | None
    dest: str
    supplied: Mapping[str, Any]
    fields: Mapping[str, Any]
    at: datetime
    due_at: datetime | None
    notify: tuple[str, ...] = field(default=())


@dataclass(frozen=True)
class TriggerOption:
    """A trigger available from a state, and what it needs."""

    trigger: str
    label: str
    dest: str
    roles: tuple[str, ...]
    requires: tuple[FieldSpec, ...]
    allowed: bool


def _quote(name: str) -> str:
    """`name` in backticks; a name with control characters is shown escaped, so the message stays one line."""
    return f"`{name}`" if name.isprintable() else repr(name)


def _check_roles(what: str, roles: tuple[str, ...], actor: Actor, ref: str | None = None, state: str | None = None,
                 trigger: str | None = None) -> None:
    if not actor.roles & set(roles):
        held = ", ".join(sorted(actor.roles)) or "no roles"
        raise NotPermitted(f"{what} needs one of the roles {', '.join(roles)}; {actor.name} has {held}: "
                           "ask someone who holds one, or give the role with "
                           f"'reviewflow user grant {actor.name} --role {roles[0]}'", ref=ref, state=state,
                           trigger=trigger, allowed=roles, user=actor.name)


def _missing_state_fields(state: StateDef, fields: Mapping[str, Any]) -> list[str]:
    return [f for f in state.requires if fields.get(f) in (None, "")]


def _entering(d: WorkflowDefinition, dest: str, now: datetime,
              fields: Mapping[str, Any]) -> tuple[datetime | None, tuple[str, ...]]:
    """The due time of `dest` entered at `now` (counted from its `from` date field when it has one) and whom
    to notify."""
    return stage_due(d, dest, fields, now), d.notify.get(dest, ())


def plan_open(d: WorkflowDefinition, actor: Actor, raw: Mapping[str, str], now: datetime) -> Move:
    """Check that `actor` may open a case with these fields; return the opening move."""
    what = f"opening a {d.name} case"
    _check_roles(what, d.open.roles, actor)
    supplied = parse_fields(what, d.open.requires, raw)
    missing = _missing_state_fields(d.states[d.initial], supplied)
    if missing:
        raise TransitionNotAllowed(f"{what} needs {', '.join(missing)} set: add --field NAME=VALUE",
                                   state=d.initial, trigger="open", field=missing[0], missing=missing)
    due, notify = _entering(d, d.initial, now, supplied)
    return Move("open", None, d.initial, supplied, dict(supplied), now, due, notify)


def _refuse_unknown(d: WorkflowDefinition, case: CaseState, trigger: str) -> TransitionNotAllowed:
    state = case.state
    names = [t.trigger for t in d.transitions_from(state)]
    possible = ", ".join(names) or "none (this is an end state)"
    if trigger in d.triggers:
        message = f"{_quote(trigger)} is not possible from {_quote(state)}; possible: {possible}"
    else:
        message = f"{d.name} has no trigger {_quote(trigger)}; possible from {_quote(state)}: {possible}"
    return TransitionNotAllowed(message, ref=case.ref, state=state, trigger=trigger, allowed=names)


def plan_fire(d: WorkflowDefinition, case: CaseState, trigger: str, actor: Actor,
              raw: Mapping[str, str], now: datetime, learning: LearningSummary | None = None,
              returns: ReturnsSummary | None = None) -> Move:
    """Check every rule for `trigger` on `case`; return the move or raise saying what failed."""
    t = d.transition(case.state, trigger)
    if t is None:
        raise _refuse_unknown(d, case, trigger)
    what = _quote(trigger)
    _check_roles(what, t.roles, actor, case.ref, case.state, trigger)
    supplied = parse_fields(what, t.requires, raw)
    merged = {**case.fields, **supplied}
    reasons: list[str] = []

    def guard() -> bool:
        target = d.states[t.dest]
        if t.when:  # no conditions, no reasons: the context is not needed
            context = GuardContext(merged, target, learning or LearningSummary(), case.state,
                                   (local_date(now) - local_date(case.entered_at)).days, returns or ReturnsSummary())
            reasons.extend(unmet(t.when, context))
        if target.requires:
            missing = _missing_state_fields(target, merged)
            if missing:
                reasons.append(f"state {_quote(t.dest)} requires {', '.join(missing)} to be set")
        return not reasons

    dest = machine_for(d).fire(case.state, trigger, guard)
    if dest is None:
        detail = "; ".join(reasons) or "the state machine refused it"
        raise TransitionNotAllowed(f"{what} is not possible yet: {detail}", ref=case.ref, state=case.state,
                                   trigger=trigger, reasons=reasons)
    due, notify = _entering(d, dest, now, merged)
    return Move(trigger, case.state, dest, supplied, merged, now, due, notify)


def options(d: WorkflowDefinition, state: str, actor: Actor | None = None) -> list[TriggerOption]:
    """Triggers leaving `state`, each marked allowed for `actor` (all allowed when None)."""
    return [
        TriggerOption(t.trigger, t.label, t.dest, t.roles, t.requires,
                      actor is None or bool(actor.roles & set(t.roles)))
        for t in d.transitions_from(state)
    ]


