"""Expression guards in the Common Expression Language (CEL, via `cel-python`): checked when a
definition is validated, evaluated over a read-only view of the case. Never Python `eval`."""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping
from datetime import date
from functools import lru_cache
from typing import Any

from reviewflow.engine.core.durations import DEFAULT_CALENDAR, working_days_between

VIEW: dict[str, str] = {
    "state": "the case's current state (text)",
    "days_in_stage": "whole calendar days since the case entered its current state",
    "fields": "the case's field values by name, including those given with this move",
    "recommendations": "counts: count, with_actions, without_actions",
    "actions": "counts: count, open, overdue, and one per status (agreed, in_progress, evidence_submitted, "
               "verified, impact_evaluated, embedded, superseded, not_implemented)",
    "evidence": "counts: count, submitted, accepted, rejected",
    "dissemination": "counts: count",
    "themes": "the learning themes of the case's recommendations (a list of text)",
    "returns": "counts of the agencies' returns: count (requested), outstanding (neither in nor excused), late",
}
"""Top-level names of the view, documented; the built-in conditions are also true/false names."""

_MEMBERS: dict[str, tuple[str, ...]] = {
    "recommendations": ("count", "with_actions", "without_actions"),
    "actions": ("count", "open", "overdue", "agreed", "in_progress", "evidence_submitted", "verified",
                "impact_evaluated", "embedded", "superseded", "not_implemented"),
    "evidence": ("count", "submitted", "accepted", "rejected"),
    "dissemination": ("count",),
    "returns": ("count", "outstanding", "late"),
}
_MACROS = {"all", "exists", "exists_one", "map", "filter"}
_FUNCTIONS = {"size", "contains", "startsWith", "endsWith", "matches", "int", "string", "double", "bool",
              "has", "timestamp", "duration", "type", "getFullYear", "getMonth", "getDayOfMonth",
              "working_days_between"}
WORKING_DAYS_BETWEEN = "working_days_between"
"""`working_days_between(a, b)`: the working days (England and Wales: weekends and bank holidays
excluded) after date `a` up to and including date `b`; negative when `b` is before `a`, so
`working_days_between(a, b) == -working_days_between(b, a)`, and it is 0 when they are the same
day. Both arguments are date fields, `fields.x`."""
MAX_LENGTH = 1000


class ExpressionProblem(Exception):
    """Why an expression cannot be used; the message says where and what to do."""


def _tokens(tree: Any) -> Iterator[tuple[str, Any]]:
    """(rule name, tree) for every subtree, depth first."""
    from lark import Tree

    stack = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, Tree):
            yield node.data, node
            stack.extend(reversed(node.children))


def _ident(node: Any) -> str | None:
    """The bare name of a `member` subtree that is just a name, else None."""
    from lark import Token, Tree

    while isinstance(node, Tree) and len(node.children) == 1:
        if node.data == "literal":
            return None
        node = node.children[0]
    return str(node) if isinstance(node, Token) and node.type == "IDENT" else None


def _bound_names(tree: Any) -> set[str]:
    """Variables introduced by macros such as `themes.exists(t, t == "neglect")`."""
    bound = set()
    for rule, node in _tokens(tree):
        if rule == "member_dot_arg" and len(node.children) >= 3 and str(node.children[1]) in _MACROS:
            args = node.children[2]
            first = args.children[0] if getattr(args, "children", None) else None
            name = _ident(first)
            if name:
                bound.add(name)
    return bound


def _check_names(tree: Any, names: Collection[str], fields: Collection[str]) -> None:
    bound = _bound_names(tree)
    for rule, node in _tokens(tree):
        if rule == "ident":
            name = str(node.children[0])
            if name not in names and name not in bound:
                raise ExpressionProblem(f"unknown name {name!r}; the case view has: {', '.join(sorted(names))}")
        elif rule == "ident_arg":
            name = str(node.children[0])
            if name not in _FUNCTIONS:
                raise ExpressionProblem(f"unknown function {name!r}; functions: {', '.join(sorted(_FUNCTIONS))}")
            if name == WORKING_DAYS_BETWEEN:
                _check_working_days_arguments(node, fields)
        elif rule == "member_dot":
            _check_member(node, fields)


def _field_named(node: Any) -> str | None:
    """The field name of an argument that is just `fields.x`, else None."""
    from lark import Tree

    while isinstance(node, Tree) and len(node.children) == 1:
        node = node.children[0]
    if isinstance(node, Tree) and node.data == "member_dot" and _ident(node.children[0]) == "fields":
        return str(node.children[1])
    return None


def _check_working_days_arguments(node: Any, fields: Collection[str]) -> None:
    """Two arguments, each a declared date field (`fields` maps names to types when types are known)."""
    usage = f"write {WORKING_DAYS_BETWEEN}(fields.start_date, fields.end_date) with two date fields"
    args = node.children[1].children if len(node.children) > 1 else []
    if len(args) != 2:
        raise ExpressionProblem(f"{WORKING_DAYS_BETWEEN} takes 2 arguments, got {len(args)}: {usage}")
    types = fields if isinstance(fields, Mapping) else {}
    for arg in args:
        name = _field_named(arg)
        if name is None:
            raise ExpressionProblem(f"{WORKING_DAYS_BETWEEN} takes date fields as arguments: {usage}")
        kind = types.get(name, "date")
        if name in fields and kind != "date":
            raise ExpressionProblem(f"{WORKING_DAYS_BETWEEN} needs date fields, but fields.{name} is {kind}: "
                                    f"{usage}")


def _working_days_between(start: Any, end: Any) -> Any:
    """The CEL function: text dates (as the case view holds them) in, a whole number out."""
    import celpy
    from celpy.celtypes import IntType

    try:
        first, last = date.fromisoformat(str(start)), date.fromisoformat(str(end))
    except ValueError:
        return celpy.CELEvalError(f"{WORKING_DAYS_BETWEEN} needs two dates (YYYY-MM-DD), got {start!r}, {end!r}",
                                  TypeError, None)
    return IntType(working_days_between(first, last, DEFAULT_CALENDAR))


def _check_member(node: Any, fields: Collection[str]) -> None:
    owner, member = _ident(node.children[0]), str(node.children[1])
    if owner == "fields" and member not in fields:
        known = ", ".join(sorted(fields)) or "none"
        raise ExpressionProblem(f"unknown field {member!r} in fields.{member}; declared fields: {known}")
    if owner in _MEMBERS and member not in _MEMBERS[owner]:
        raise ExpressionProblem(f"{owner} has no {member!r}; use one of: {', '.join(_MEMBERS[owner])}")


@lru_cache(maxsize=1)
def _environment() -> Any:
    """One CEL environment per process: building its parser is the slow part."""
    import celpy

    return celpy.Environment()


@lru_cache(maxsize=512)
def _compiled(text: str) -> Any:
    import celpy

    env = _environment()
    try:
        tree = env.compile(text)
    except celpy.CELParseError as exc:
        column = getattr(exc, "column", None)
        where = f" at column {column}" if column else ""
        raise ExpressionProblem(f"syntax error{where} in expression {text!r}: write it in CEL, "
                                "e.g. 'actions.overdue == 0 && has_recommendations'") from None
    return tree, env.program(tree, functions={WORKING_DAYS_BETWEEN: _working_days_between})


def check(text: str, names: Collection[str], fields: Collection[str]) -> None:
    """Raise ExpressionProblem when `text` is not valid CEL or names something the view lacks."""
    if len(text) > MAX_LENGTH:
        raise ExpressionProblem(f"expression is {len(text)} characters long; the limit is {MAX_LENGTH}")
    tree, _ = _compiled(text)
    _check_names(tree, {*VIEW, *names}, fields)


def evaluate(text: str, view: Mapping[str, Any]) -> bool | str:
    """True when the expression holds; False when not; a text when it could not be evaluated."""
    import celpy

    _, program = _compiled(text)
    try:
        result = program.evaluate(celpy.json_to_cel(dict(view)))
    except celpy.CELEvalError as exc:
        return f"could not be evaluated ({exc.args[0] if exc.args else exc})"
    if isinstance(result, celpy.CELEvalError):
        return f"could not be evaluated ({result.args[0] if result.args else result})"
    if not isinstance(result, bool):  # celpy's BoolType subclasses int, not bool
        from celpy.celtypes import BoolType

        if isinstance(result, BoolType):
            return bool(result)
        return f"gave {result!r}, not true or false: compare with ==, <, > to make a true/false test"
    return result
