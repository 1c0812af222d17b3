"""`when` conditions: built-ins from an allowlist, or CEL expressions over a read-only case view.

Definitions name conditions or write expressions; they never name code.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Any

from reviewflow.engine.core import expressions
from reviewflow.engine.core.definition import EXPRESSION, Condition, StateDef
from reviewflow.engine.core.learning import CLOSED_WITH_REASON, FINISHED, VERIFIED_OR_BEYOND, LearningSummary
from reviewflow.engine.core.returns import ReturnsSummary, all_in_problem

_NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")


@dataclass(frozen=True)
class GuardContext:
    """What a condition may look at: the case's fields (after the move), the target state, the case's
    learning records, its current state and the days it has spent there."""

    fields: Mapping[str, Any]
    target: StateDef
    learning: LearningSummary = LearningSummary()
    state: str = ""
    days_in_stage: int = 0
    returns: ReturnsSummary = ReturnsSummary()
    """The agencies' returns on the case (engine/core/returns.py)."""

    def view(self) -> dict[str, Any]:
        """The read-only view expression guards see (documented in docs/workflow-format.md)."""
        flags = {name: c.evaluate(self, None) is None for name, c in BUILTINS.items() if not c.takes_fields}
        fields = {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in self.fields.items()}
        return {"state": self.state, "days_in_stage": self.days_in_stage, "fields": fields,
                **self.learning.view(), "returns": self.returns.view(), **flags}


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


def _no_argument(arg: Any) -> str | None:
    return None if arg is None else "takes no argument: write just its name"


def _listed(numbers: tuple[str, ...], what: str) -> str | None:
    return f"{', '.join(numbers)} {what}" if numbers else None


_NO_RECOMMENDATIONS = "no recommendations recorded: add them with 'reviewflow case recommend'"


def _has_recommendations(ctx: GuardContext, _arg: Any) -> str | None:
    return None if ctx.learning.recommendations else _NO_RECOMMENDATIONS


def _every_recommendation_has_actions(ctx: GuardContext, _arg: Any) -> str | None:
    if not ctx.learning.recommendations:
        return _NO_RECOMMENDATIONS
    return _listed(ctx.learning.without_actions, "without actions: add them with 'reviewflow action add'")


def _all_actions(ctx: GuardContext, done: tuple[str, ...], what: str) -> str | None:
    if not ctx.learning.actions:
        return "no actions recorded: add them with 'reviewflow action add'"
    waiting = tuple(n for n in ctx.learning.actions if n not in ctx.learning.actions_in(done))
    return _listed(waiting, what)


def _all_actions_verified(ctx: GuardContext, _arg: Any) -> str | None:
    return _all_actions(ctx, (*VERIFIED_OR_BEYOND, *CLOSED_WITH_REASON),
                        "not verified yet (nor closed with a reason)")


def _all_actions_embedded(ctx: GuardContext, _arg: Any) -> str | None:
    return _all_actions(ctx, FINISHED, "not embedded yet (nor closed with a reason)")


def _no_overdue_actions(ctx: GuardContext, _arg: Any) -> str | None:
    return _listed(ctx.learning.overdue, "overdue")


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
        BuiltinCondition("has_recommendations", "the case has at least one recommendation",
                         _no_argument, _has_recommendations),
        BuiltinCondition("every_recommendation_has_actions",
                         "there are recommendations and each has at least one action (not counting closed ones)",
                         _no_argument, _every_recommendation_has_actions),
        BuiltinCondition("all_actions_verified",
                         "there are actions and each is verified (or beyond) or closed with a reason",
                         _no_argument, _all_actions_verified),
        BuiltinCondition("all_actions_embedded",
                         "there are actions and each is embedded or closed with a reason",
                         _no_argument, _all_actions_embedded),
        BuiltinCondition("no_overdue_actions", "no action is past its due date while agreed or in progress",
                         _no_argument, _no_overdue_actions),
        BuiltinCondition("all_returns_in",
                         "agencies' returns were requested and each is returned or excused with a reason",
                         _no_argument, lambda ctx, _arg: all_in_problem(ctx.returns)),
    ]
}


def condition_problem(condition: Condition, fields: Collection[str] = ()) -> str | None:
    """Why `condition` cannot be used in a definition whose declared fields are `fields`."""
    if condition.name == EXPRESSION:
        try:
            expressions.check(condition.argument, BUILTINS, fields)
        except expressions.ExpressionProblem as exc:
            return str(exc)
        return None
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
    view: dict[str, Any] | None = None
    for condition in conditions:
        if condition.name == EXPRESSION:
            view = view if view is not None else ctx.view()
            result = expressions.evaluate(condition.argument, view)
            if result is not True:
                reasons.append(f"condition {condition.argument!r} "
                               f"{'does not hold' if result is False else result}")
            continue
        reason = BUILTINS[condition.name].evaluate(ctx, condition.argument)
        if reason:
            reasons.append(f"{condition.name}: {reason}")
    return reasons
