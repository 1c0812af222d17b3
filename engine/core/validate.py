"""Semantic rules for a workflow definition: one function per rule, each reporting all offenders."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from reviewflow.engine.core.conditions import condition_problem
from reviewflow.engine.core.definition import OWNER, EscalationLevel, FieldSpec, WorkflowDefinition
from reviewflow.engine.core.durations import Duration
from reviewflow.engine.core.grading import check_grading
from reviewflow.engine.core.links import check_links_and_pauses
from reviewflow.engine.core.recurring import check_schedule
from reviewflow.engine.core.returns_checks import check_returns
from reviewflow.engine.core.validate_clocks import RULES as CLOCK_RULES
from reviewflow.engine.core.yamlsource import Path

Found = Iterator[tuple[Path, str]]


def _known(names: object) -> str:
    return ", ".join(sorted(names))  # type: ignore[call-overload]


def _unknown_state(d: WorkflowDefinition, name: str) -> str:
    return f"unknown state {name!r}; states are: {_known(d.states)}"


def check_state_references(d: WorkflowDefinition) -> Found:
    if d.initial not in d.states:
        yield ("initial",), _unknown_state(d, d.initial)
    elif d.states[d.initial].terminal:
        yield ("initial",), f"the initial state {d.initial!r} is terminal: a case could never move; start elsewhere"
    for i, t in enumerate(d.transitions):
        for j, source in enumerate(t.sources):
            if source not in d.states:
                path: Path = ("transitions", i, "from", j) if len(t.sources) > 1 else ("transitions", i, "from")
                yield path, _unknown_state(d, source)
        if t.dest not in d.states:
            yield ("transitions", i, "to"), _unknown_state(d, t.dest)
    for state in d.notify:
        if state not in d.states:
            yield ("notify", state), _unknown_state(d, state)


def check_terminal_states(d: WorkflowDefinition) -> Found:
    if not any(s.terminal for s in d.states.values()):
        yield ("states",), "no state is marked `terminal: true`: mark the end states (e.g. closed, withdrawn)"
    for name, s in d.states.items():
        if s.terminal and s.time_limit is not None:
            yield ("states", name, "time_limit"), "a terminal state has no time limit: remove `time_limit`"

    for i, t in enumerate(d.transitions):
        for source in t.sources:
            if source in d.states and d.states[source].terminal:
                yield ("transitions", i, "from"), (
                    f"state {source!r} is terminal, so no transition may leave it: "
                    "remove it from `from` or drop its `terminal: true`")


def _edges(d: WorkflowDefinition) -> dict[str, set[str]]:
    edges: dict[str, set[str]] = {name: set() for name in d.states}
    for t in d.transitions:
        for source in t.sources:
            if source in edges and t.dest in d.states:
                edges[source].add(t.dest)
    return edges


def _closure(start: set[str], edges: dict[str, set[str]]) -> set[str]:
    seen, todo = set(start), list(start)
    while todo:
        for nxt in edges[todo.pop()]:
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen


def check_reachability(d: WorkflowDefinition) -> Found:
    if d.initial not in d.states:
        return
    edges = _edges(d)
    reachable = _closure({d.initial}, edges)
    for name in d.states:
        if name not in reachable:
            yield ("states", name), (
                f"state {name!r} cannot be reached from the initial state {d.initial!r}: "
                "add a transition into it or remove it")
    reverse: dict[str, set[str]] = {name: set() for name in d.states}
    for source, dests in edges.items():
        for dest in dests:
            reverse[dest].add(source)
    finishing = _closure({n for n, s in d.states.items() if s.terminal}, reverse)
    for name in d.states:
        if name in reachable and name not in finishing:
            yield ("states", name), (
                f"no path from state {name!r} to a terminal state: a case there could never close; "
                "mark it `terminal: true` if it is an end state, or add a transition towards one")


def check_duplicate_triggers(d: WorkflowDefinition) -> Found:
    first: dict[tuple[str, str], int] = {}
    for i, t in enumerate(d.transitions):
        for source in t.sources:
            key = (source, t.trigger)
            if key in first:
                yield ("transitions", i, "trigger"), (
                    f"trigger {t.trigger!r} already leaves state {source!r} (transitions[{first[key]}]): "
                    "give one of them another trigger name")
            else:
                first[key] = i


def _role_uses(d: WorkflowDefinition) -> Iterator[tuple[Path, str]]:
    for j, role in enumerate(d.open.roles):
        yield ("open", "roles", j), role
    for j, role in enumerate(d.pause_roles):
        yield ("pause_roles", j), role
    for i, t in enumerate(d.transitions):
        for j, role in enumerate(t.roles):
            yield ("transitions", i, "roles", j), role
    for name, s in d.states.items():
        if s.owner:
            yield ("states", name, "owner"), s.owner
    for state, roles in d.notify.items():
        yield from ((("notify", state, j), role) for j, role in enumerate(roles))
    for i, level in enumerate(d.escalation):
        yield from ((("escalation", i, "notify", j), role) for j, role in enumerate(level.notify) if role != OWNER)
    yield from _learning_role_uses(d)
    yield from _access_role_uses(d)


def _access_role_uses(d: WorkflowDefinition) -> Iterator[tuple[Path, str]]:
    for key in ("partnership", "sensitive"):
        for j, role in enumerate(getattr(d.access, key) or ()):
            yield ("access", key, j), role
    for path, spec in _field_specs(d):
        for j, role in enumerate(spec.readers):
            yield (*path, "sensitive", j), role


def _learning_role_uses(d: WorkflowDefinition) -> Iterator[tuple[Path, str]]:
    if d.learning_rules is not None:
        for key in ("manage", "contribute", "verify"):
            for j, role in enumerate(getattr(d.learning_rules, key)):
                yield ("learning", key, j), role
    for i, level in enumerate(d.learning_escalation or ()):
        for j, role in enumerate(level.notify):
            if role != OWNER:
                yield ("learning", "escalation", i, "notify", j), role


def check_roles(d: WorkflowDefinition) -> Found:
    for path, role in _role_uses(d):
        if role not in d.roles:
            yield path, (f"role {role!r} is not declared under `roles`: "
                         f"declare it there or use one of: {_known(d.roles)}")
    if OWNER in d.roles:
        yield ("roles", OWNER), "'owner' is reserved for 'the stage's owner' in escalation ladders: rename this role"
    ladder_uses_owner = any(OWNER in level.notify for level in d.escalation)
    for name, s in d.states.items():
        if s.terminal or s.time_limit is None or s.owner is not None:
            continue
        if ladder_uses_owner:
            yield ("states", name), (
                f"state {name!r} has a time limit and the escalation ladder notifies `owner`, "
                "but the state has no owner: add `owner: ROLE`")
        elif s.remind or d.remind:
            yield ("states", name), (
                f"state {name!r} has a time limit and a reminder, which goes to the stage's owner, "
                "but the state has no owner: add `owner: ROLE`")


def _approx_days(duration: Duration) -> float:
    per = {"days": 1.0, "working_days": 7 / 5, "weeks": 7.0, "months": 30.4}
    return duration.amount * per[duration.unit]


def _climb(ladder: tuple[EscalationLevel, ...], path: Path) -> Found:
    for i in range(1, len(ladder)):
        if _approx_days(ladder[i].after) <= _approx_days(ladder[i - 1].after):
            yield (*path, i, "after"), (
                f"levels must climb: {ladder[i].after} is not later than the level before "
                f"({ladder[i - 1].after}); order the ladder from the earliest level")


def check_escalation(d: WorkflowDefinition) -> Found:
    yield from _climb(d.escalation, ("escalation",))
    if d.learning_escalation is not None:
        yield from _climb(d.learning_escalation, ("learning", "escalation"))


def check_reminders(d: WorkflowDefinition) -> Found:
    for name, s in d.states.items():
        if s.remind is None:
            continue
        if s.terminal:
            yield ("states", name, "remind"), "a terminal state has no time limit, so no reminder: remove `remind`"
        elif s.time_limit is None:
            yield ("states", name, "remind"), "a reminder needs a `time_limit` to count back from: add one or remove it"
        elif s.time_limit_before is None and _approx_days(s.remind) >= _approx_days(s.time_limit):
            yield ("states", name, "remind"), (
                f"the reminder ({s.remind} before) is not shorter than the time limit ({s.time_limit}), "
                "so it would never be sent: shorten it")


def _field_specs(d: WorkflowDefinition) -> Iterator[tuple[Path, FieldSpec]]:
    for spec in d.open.requires:
        yield ("open", "requires", spec.name), spec
    for i, t in enumerate(d.transitions):
        for spec in t.requires:
            yield ("transitions", i, "requires", spec.name), spec


def check_reasons(d: WorkflowDefinition) -> Found:
    """`reason_if_no` only on yes/no fields, and its `<name>_reason` not also a declared field."""
    names = {spec.name for _, spec in _field_specs(d)}
    for path, spec in _field_specs(d):
        if spec.reason_if_no and spec.type != "yesno":
            yield (*path, "reason_if_no"), f"only yesno fields take `reason_if_no`; this field is {spec.type}"
        elif spec.reason_if_no and spec.reason_name in names:
            yield (*path, "reason_if_no"), (
                f"the reason for a no is kept as {spec.reason_name!r}, which is also a declared field: rename one")


def check_fields(d: WorkflowDefinition) -> Found:
    declared: set[str] = set()
    for path, spec in _field_specs(d):
        declared.add(spec.name)
        if spec.type == "choice" and not spec.options:
            yield path, "a choice field needs `options`: list the allowed values"
        if spec.type != "choice" and spec.options:
            yield (*path, "options"), f"only choice fields take `options`; this field is {spec.type}"

    for j, name in enumerate(d.access.agency_fields or ()):
        if name not in declared:
            yield ("access", "agency_fields", j), (
                f"field {name!r} is not asked for by `open` or any transition: name a declared field")
    for name, s in d.states.items():
        for j, field in enumerate(s.requires):
            if field not in declared:
                yield ("states", name, "requires", j), (
                    f"field {field!r} is required in state {name!r} but neither `open` nor any "
                    "transition asks for it: add it to the `requires` of the transition into the state")


def check_conditions(d: WorkflowDefinition) -> Found:
    declared = {spec.name: str(spec.type) for _, spec in _field_specs(d)}  # names to types, for date rules
    for i, t in enumerate(d.transitions):
        for j, condition in enumerate(t.when):
            path: Path = ("transitions", i, "when", j) if len(t.when) > 1 else ("transitions", i, "when")
            problem = condition_problem(condition, declared)
            if problem:
                yield path, problem


RULES: list[Callable[[WorkflowDefinition], Found]] = [
    check_state_references,
    check_terminal_states,
    check_reachability,
    check_duplicate_triggers,
    check_roles,
    check_escalation,
    check_reminders,
    check_fields,
    check_reasons,
    check_conditions,
    check_schedule,
    *CLOCK_RULES,
    check_links_and_pauses,
    check_returns,
    check_grading,
]


def check_definition(d: WorkflowDefinition) -> list[tuple[Path, str]]:
    """Every problem found by every rule, in rule order."""
    return [problem for rule in RULES for problem in rule(d)]
