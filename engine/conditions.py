"""Built-in `when` conditions: an allowlist. Definitions name them; they never name code."""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Any

from engine.definition import Condition, StateDef

_NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")


@dataclass(frozen=True)
class GuardContext:
    """What a condition may look at: the case's fields (after the move) and the target state."""

    fields: Mapping[str, Any]
    target: StateDef


@dataclass(frozen=True)
class BuiltinCondition:
    name: str
    summary: str
    check_argument: Callable[[Any], str | None]
    evaluate: Callable[[GuardContext, Any], str | None]
    takes_fields: bool = False


def _field_list_argument(arg: Any) -> str | None:
    if arg is None:
        return None
    if not isinstance(arg, list) or not arg or not all(isinstance(a, str) and _NAME.match(a) for a in arg):
        return "takes a list of field names, e.g. {fields_present: [decision_rationale]}"
    return None


def _fields_present(ctx: GuardContext, arg: Any) -> str | None:
    wanted = arg if arg is not None else list(ctx.target.requires)
    missing = [f for f in wanted if ctx.fields.get(f) in (None, "")]
    return f"fields not set yet: {', '.join(missing)}" if missing else None


BUILTINS: dict[str, BuiltinCondition] = {
    c.name: c
    for c in [
        BuiltinCondition(
            "fields_present",
            "the named fields (default: those the target state requires) are set on the case",
            _field_list_argument,
            _fields_present,
            takes_fields=True,
        ),
    ]
}


def condition_problem(condition: Condition, fields: Collection[str] = ()) -> str | None:
    """Why `condition` cannot be used in a definition whose declared fields are `fields`."""
    builtin = BUILTINS.get(condition.name)
    if builtin is None:
        return f"unknown condition {condition.name!r}; built-in conditions: {', '.join(sorted(BUILTINS))}"
    problem = builtin.check_argument(condition.argument)
    if problem:
        return f"condition {condition.name!r} {problem}"
    if builtin.takes_fields and isinstance(condition.argument, list):
        unknown = [f for f in condition.argument if f not in fields]
        if unknown:
            known = ", ".join(sorted(fields)) or "none"
            return (f"condition {condition.name!r} names field(s) {', '.join(map(repr, unknown))} that neither "
                    f"`open` nor any transition asks for: fix the name (declared fields: {known}) or add "
                    "the field to a transition's `requires`")
    return None


def unmet(conditions: tuple[Condition, ...], ctx: GuardContext) -> list[str]:
    """Reasons for every condition that does not hold (empty when all hold)."""
    reasons = []
    for condition in conditions:
        reason = BUILTINS[condition.name].evaluate(ctx, condition.argument)
        if reason:
            reasons.append(f"{condition.name}: {reason}")
    return reasons
