"""Semantic rules for statutory clocks: a time limit `from` (or `before`) a date field, `milestones:` and
`progress_checks:`.

Each rule reports every offender with its path, which the parser turns into file and line.
"""

from __future__ import annotations

from collections.abc import Iterator

from reviewflow.engine.core.definition import OWNER, EscalationLevel, WorkflowDefinition
from reviewflow.engine.core.milestones import CHECK_EVENT
from reviewflow.engine.core.yamlsource import Path

Found = Iterator[tuple[Path, str]]


def recorded_on_entry(d: WorkflowDefinition) -> dict[str, frozenset[str]]:
    """For each state, the fields recorded on every way into it (by the open or the transitions before it)."""
    everything = frozenset(d.field_specs)
    known: dict[str, frozenset[str]] = {name: everything for name in d.states}
    opening = frozenset(f.name for f in d.open.requires)
    changed = True
    while changed:
        changed = False
        for name in d.states:
            ways = [opening] if name == d.initial else []
            ways += [known[source] | {f.name for f in t.requires}
                     for t in d.transitions if t.dest == name for source in t.sources if source in known]
            found = frozenset.intersection(*ways) if ways else frozenset()
            if found != known[name]:
                known[name], changed = found, True
    return known


def _date_field(d: WorkflowDefinition, name: str) -> str | None:
    """What is wrong with `name` as a date to count from, or None."""
    spec = d.field_specs.get(name)
    if spec is None:
        dates = sorted(n for n, s in d.field_specs.items() if s.type == "date")
        return (f"unknown field {name!r}: name a date field asked for by `open` or a transition "
                f"({', '.join(dates) or 'there is none'})")
    if spec.type != "date":
        return f"field {name!r} is a {spec.type} field: a clock counts from a date field"
    return None


def _recorded_by(d: WorkflowDefinition, known: dict[str, frozenset[str]], name: str, state: str) -> str | None:
    if state in known and name not in known[state]:
        return (f"field {name!r} is not recorded on every way into state {state!r}: ask for it on the transition "
                "into the state or earlier (or on the open)")
    return None


def check_limits_from(d: WorkflowDefinition) -> Found:
    known = recorded_on_entry(d)
    for name, s in d.states.items():
        for key, field in (("from", s.time_limit_from), ("before", s.time_limit_before)):
            if field is None:
                continue
            problem = _date_field(d, field) or _recorded_by(d, known, field, name)
            if problem:
                yield ("states", name, "time_limit", key), problem


def _states(d: WorkflowDefinition, during: tuple[str, ...], path: Path) -> Found:
    for j, state in enumerate(during):
        if state not in d.states:
            yield (*path, j), f"unknown state {state!r}; states are: {', '.join(sorted(d.states))}"
        elif d.states[state].terminal:
            yield (*path, j), f"state {state!r} is terminal: a clock cannot run in an end state; remove it"


def _roles(d: WorkflowDefinition, roles: tuple[str, ...], path: Path, owner_ok: bool = False) -> Found:
    for j, role in enumerate(roles):
        if role not in d.roles and not (owner_ok and role == OWNER):
            yield (*path, j), (f"role {role!r} is not declared under `roles`: declare it there or use one of: "
                               f"{', '.join(sorted(d.roles))}")


def _ladder(d: WorkflowDefinition, ladder: tuple[EscalationLevel, ...], path: Path, owner: str | None) -> Found:
    for i, level in enumerate(ladder):
        yield from _roles(d, level.notify, (*path, i, "notify"), owner_ok=True)
        if OWNER in level.notify and owner is None:
            yield (*path, i, "notify"), "`owner` here means the milestone's owner, and it has none: add `owner: ROLE`"
        if i and _days(level.after) <= _days(ladder[i - 1].after):
            yield (*path, i, "after"), (f"levels must climb: {level.after} is not later than the level before "
                                        f"({ladder[i - 1].after}); order the ladder from the earliest level")


def _days(duration: object) -> float:
    per = {"days": 1.0, "working_days": 7 / 5, "weeks": 7.0, "months": 30.4}
    return duration.amount * per[duration.unit]  # type: ignore[attr-defined]


def check_milestones(d: WorkflowDefinition) -> Found:
    known = recorded_on_entry(d)
    for m in d.milestones:
        path: Path = ("milestones", m.name)
        yield from _states(d, m.during, (*path, "during"))
        problem = _date_field(d, m.start_field) or next(
            (p for s in m.during if (p := _recorded_by(d, known, m.start_field, s))), None)
        if problem:
            yield (*path, "from"), problem
        if m.owner is not None and m.owner not in d.roles:
            yield (*path, "owner"), (f"role {m.owner!r} is not declared under `roles`: declare it there or use one "
                                     f"of: {', '.join(sorted(d.roles))}")
        if m.remind is not None:
            if m.owner is None:
                yield (*path, "remind"), ("the reminder goes to the milestone's owner, and it has none: "
                                          "add `owner: ROLE`")
            elif _days(m.remind) >= _days(m.due):
                yield (*path, "remind"), (f"the reminder ({m.remind} before) is not shorter than the time allowed "
                                          f"({m.due}), so it would never be sent: shorten it")
        yield from _ladder(d, m.escalation, (*path, "escalation"), m.owner)


def check_progress_checks(d: WorkflowDefinition) -> Found:
    known = recorded_on_entry(d)
    for c in d.progress_checks:
        path: Path = ("progress_checks", c.name)
        yield from _states(d, c.during, (*path, "during"))
        if c.start_field is not None:
            problem = _date_field(d, c.start_field) or next(
                (p for s in c.during if (p := _recorded_by(d, known, c.start_field, s))), None)
            if problem:
                yield (*path, "from"), problem
        for key, roles in (("notify", c.notify), ("recorded_by", c.recorded_by), ("escalate", c.escalate)):
            yield from _roles(d, roles, (*path, key))
        if c.missed_after is not None and not c.escalate:
            yield (*path, "missed_after"), "a missed check escalates to someone: add `escalate: [ROLE, ...]`"
        if c.escalate and c.missed_after is None:
            yield (*path, "escalate"), ("say when a check with no outcome escalates: add `missed_after`, "
                                        "e.g. '10 working days'")
    for i, t in enumerate(d.transitions):
        if t.trigger == CHECK_EVENT and d.progress_checks:
            yield ("transitions", i, "trigger"), (f"{CHECK_EVENT!r} names a recorded progress check in the history: "
                                                  "give this trigger another name")


RULES = [check_limits_from, check_milestones, check_progress_checks]
