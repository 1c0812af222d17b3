"""Validation of a definition's `returns:` key and of the conditions that need it (one rule, every offender)."""

from __future__ import annotations

from collections.abc import Iterator

from reviewflow.engine.core.definition import EXPRESSION, OWNER, EscalationLevel, WorkflowDefinition
from reviewflow.engine.core.durations import Duration
from reviewflow.engine.core.yamlsource import Path

ALL_RETURNS_IN = "all_returns_in"
"""The built-in condition that needs every requested return in or excused (engine/core/conditions.py)."""

Found = Iterator[tuple[Path, str]]

_DAYS = {"days": 1.0, "working_days": 7 / 5, "weeks": 7.0, "months": 30.4}


def _days(after: Duration) -> float:
    return _DAYS[after.unit] * after.amount


def _undeclared(d: WorkflowDefinition, role: str) -> str:
    known = ", ".join(sorted(d.roles)) or "none"
    return f"role {role!r} is not declared under `roles`: declare it there or use one of: {known}"


def _ladder(d: WorkflowDefinition, ladder: tuple[EscalationLevel, ...]) -> Found:
    for i, level in enumerate(ladder):
        for j, role in enumerate(level.notify):
            if role == OWNER:
                yield ("returns", "escalation", i, "notify", j), (
                    "a return has no owner: name the roles to tell, e.g. the agency's safeguarding lead "
                    "(one of the `contribute` roles, told only of their own agency's return)")
            elif role not in d.roles:
                yield ("returns", "escalation", i, "notify", j), _undeclared(d, role)
        if i and _days(level.after) <= _days(ladder[i - 1].after):
            yield ("returns", "escalation", i, "after"), (
                f"levels must climb: {level.after} is not later than the level before "
                f"({ladder[i - 1].after}); order the ladder from the earliest level")


def _needs_returns(d: WorkflowDefinition) -> Found:
    for i, t in enumerate(d.transitions):
        for j, condition in enumerate(t.when):
            if condition.name == ALL_RETURNS_IN or (
                    condition.name == EXPRESSION and ALL_RETURNS_IN in str(condition.argument)):
                path: Path = ("transitions", i, "when", j) if len(t.when) > 1 else ("transitions", i, "when")
                yield path, (f"condition {ALL_RETURNS_IN!r} needs the workflow to ask agencies for returns: add a "
                             "`returns:` key (e.g. `returns: {due: 20 working days}`) or remove the condition")


def check_returns(d: WorkflowDefinition) -> Found:
    """Roles of `returns:` declared, its ladder climbing, and `all_returns_in` used only with `returns:`."""
    if d.returns is None:
        yield from _needs_returns(d)
        return
    for key in ("manage", "contribute"):
        for j, role in enumerate(getattr(d.returns, key) or ()):
            if role not in d.roles:
                yield ("returns", key, j), _undeclared(d, role)
    yield from _ladder(d, d.returns.escalation)
