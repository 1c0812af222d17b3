"""Versions of a definition: the hash of its meaning, the version a changed file gets, and what changed
between two versions (states, transitions, roles and the rules around them). Pure: no I/O."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from reviewflow.engine.core.definition import (
    EXPRESSION,
    Condition,
    EscalationLevel,
    FieldSpec,
    StateDef,
    TransitionDef,
    WorkflowDefinition,
)
from reviewflow.engine.core.yamlsource import load_yaml

Kind = Literal["added", "removed", "changed"]
ADDED: Kind = "added"
REMOVED: Kind = "removed"
CHANGED: Kind = "changed"


# --- versions ----------------------------------------------------------------------------------

_MEANINGS: dict[str, str] = {}
"""Meaning hash by text hash: stored versions are hashed again at each load, so remember them."""


def meaning_hash(text: str, file: str = "<definition>") -> str:
    """SHA-256 of what a definition says: its YAML data without `version`, as canonical JSON.

    Comments, blank lines, key order, quoting and anchors do not change it; any value does.
    """
    key = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()
    if key not in _MEANINGS:
        data, _ = load_yaml(text, file)
        if isinstance(data, dict):
            data = {k: v for k, v in data.items() if k != "version"}
        body = json.dumps(data, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)
        if len(_MEANINGS) >= 4096:
            _MEANINGS.clear()
        _MEANINGS[key] = hashlib.sha256(body.encode("utf-8", "surrogatepass")).hexdigest()
    return _MEANINGS[key]


@dataclass(frozen=True)
class Placement:
    """Where a loaded file goes: an existing version with the same meaning, or a new version."""

    version: int
    status: Literal["added", "unchanged"]
    note: str = ""


def place_version(file_version: int, stored: Mapping[int, str], digest: str) -> Placement:
    """The version of a definition whose meaning hashes to `digest`, given the stored versions' hashes.

    Same meaning as a stored version: that version, unchanged. Otherwise a new version: the file's
    own `version` when it is higher than every stored one, else one above the highest.
    """
    same = sorted(v for v, h in stored.items() if h == digest)
    if same:
        note = "" if file_version == same[-1] else f"the file says version {file_version}; its content is v{same[-1]}"
        return Placement(same[-1], "unchanged", note)
    newest = max(stored, default=0)
    if file_version > newest:
        return Placement(file_version, "added")
    taken = (f"v{file_version} is already loaded with other content" if file_version in stored
             else f"v{newest} is the newest loaded")
    return Placement(newest + 1, "added", f"the file says version {file_version}; {taken}")


# --- differences -------------------------------------------------------------------------------

@dataclass(frozen=True)
class Change:
    """One difference: a state, transition, role, ladder level or rule added, removed or changed."""

    change: Kind
    kind: str
    name: str
    details: tuple[str, ...] = ()


@dataclass(frozen=True)
class DefinitionDiff:
    workflow: str
    from_version: int
    to_version: int
    changes: tuple[Change, ...]

    def of(self, kind: str, change: Kind | None = None) -> list[str]:
        """Names of the changes of one kind ('state', 'transition', ...), optionally of one sort."""
        return [c.name for c in self.changes if c.kind == kind and change in (None, c.change)]


def _show(value: Any) -> str:
    if value is None or value == () or value == "":
        return "none"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, FieldSpec):
        return value.describe()
    if isinstance(value, Condition):
        if value.name == EXPRESSION:
            return repr(value.argument)
        return value.name if value.argument is None else f"{value.name}: {_show(value.argument)}"
    if isinstance(value, tuple | list):
        return ", ".join(_show(v) for v in value)
    if isinstance(value, Mapping):
        return ", ".join(f"{k}={_show(v)}" for k, v in value.items()) or "none"
    return str(value)


def _differences(pairs: Iterable[tuple[str, Any, Any]]) -> tuple[str, ...]:
    """'time_limit: 1 month -> 2 months' for each (name, old, new) that differs."""
    return tuple(f"{name}: {_show(old)} -> {_show(new)}" for name, old, new in pairs if old != new)


def _keyed(kind: str, old: Mapping[str, Any], new: Mapping[str, Any], describe: Callable[[Any], tuple[str, ...]],
           compare: Callable[[Any, Any], tuple[str, ...]]) -> list[Change]:
    """Added, removed and changed items of two mappings, in the new (then old) definition's order."""
    found: list[Change] = []
    for name in [*new, *(n for n in old if n not in new)]:
        if name not in old:
            found.append(Change(ADDED, kind, name, describe(new[name])))
        elif name not in new:
            found.append(Change(REMOVED, kind, name, describe(old[name])))
        elif details := compare(old[name], new[name]):
            found.append(Change(CHANGED, kind, name, details))
    return found


def _time_limit(s: StateDef) -> str | None:
    """A stage's time limit with the date it counts from or back from: '10 working days before meeting_date'."""
    if s.time_limit is None:
        return None
    if s.time_limit_before:
        return f"{s.time_limit} before {s.time_limit_before}"
    if s.time_limit_from:
        return f"{s.time_limit} from {s.time_limit_from}"
    return str(s.time_limit)


def _state_facts(s: StateDef) -> list[tuple[str, Any]]:
    return [("label", s.label), ("description", s.description), ("time_limit", _time_limit(s)),
            ("owner", s.owner), ("terminal", s.terminal), ("requires", s.requires), ("remind", s.remind)]


def _describe_state(s: StateDef) -> tuple[str, ...]:
    return tuple(f"{k}: {_show(v)}" for k, v in _state_facts(s) if k != "description" and v not in (None, (), False))


def _compare_state(a: StateDef, b: StateDef) -> tuple[str, ...]:
    return _differences((k, old, new) for (k, old), (_, new) in zip(_state_facts(a), _state_facts(b), strict=True))


def _transition_facts(t: TransitionDef) -> list[tuple[str, Any]]:
    return [("to", t.dest), ("roles", t.roles), ("requires", t.requires), ("when", t.when), ("label", t.label)]


def _describe_transition(t: TransitionDef) -> tuple[str, ...]:
    return tuple(f"{k}: {_show(v)}" for k, v in _transition_facts(t) if v not in ("", ()))


def _compare_transition(a: TransitionDef, b: TransitionDef) -> tuple[str, ...]:
    return _differences((k, old, new) for (k, old), (_, new)
                        in zip(_transition_facts(a), _transition_facts(b), strict=True))


def _transitions(d: WorkflowDefinition) -> dict[str, TransitionDef]:
    """Transitions keyed by trigger and source state ('accept from referral')."""
    return {f"{t.trigger} from {source}": t for t in d.transitions for source in t.sources}


def _ladder(kind: str, old: Collection[EscalationLevel], new: Collection[EscalationLevel]) -> list[Change]:
    def facts(level: EscalationLevel) -> list[tuple[str, Any]]:
        return [("after", level.after), ("notify", level.notify), ("label", level.label)]

    def numbered(levels: Collection[EscalationLevel]) -> dict[str, EscalationLevel]:
        return {f"level {i + 1}": level for i, level in enumerate(levels)}

    return _keyed(kind, numbered(old), numbered(new),
                  lambda lv: tuple(f"{k}: {_show(v)}" for k, v in facts(lv)),
                  lambda a, b: _differences((k, x, y) for (k, x), (_, y) in zip(facts(a), facts(b), strict=True)))


def _optional(kind: str, old: Any, new: Any, facts: Callable[[Any], list[tuple[str, Any]]]) -> list[Change]:
    """A part a definition may or may not have (a schedule, learning rules)."""
    old_map = {kind: old} if old is not None else {}
    new_map = {kind: new} if new is not None else {}
    return _keyed(kind, old_map, new_map,
                  lambda x: tuple(f"{k}: {_show(v)}" for k, v in facts(x)),
                  lambda a, b: _differences((k, x, y) for (k, x), (_, y) in zip(facts(a), facts(b), strict=True)))


def _rules(a: WorkflowDefinition, b: WorkflowDefinition) -> list[Change]:
    """Workflow-wide settings: title, calendar, start state, who opens, reminders, pausing, notices."""
    found = []
    for name, old, new in [("title", a.title, b.title), ("description", a.description, b.description),
                           ("calendar", a.calendar, b.calendar), ("initial", a.initial, b.initial),
                           ("open.roles", a.open.roles, b.open.roles),
                           ("open.requires", a.open.requires, b.open.requires),
                           ("remind", a.remind, b.remind), ("pause_roles", a.pause_roles, b.pause_roles)]:
        if old != new:
            found.append(Change(CHANGED, "setting", name, (f"{_show(old)} -> {_show(new)}",)))
    return found + _keyed("notify", a.notify, b.notify, lambda roles: (f"notify: {_show(roles)}",),
                          lambda x, y: _differences([("notify", x, y)]))


def diff_definitions(a: WorkflowDefinition, b: WorkflowDefinition) -> DefinitionDiff:
    """Everything that differs from `a` to `b` (normally two versions of one workflow)."""
    changes = [
        *_keyed("state", a.states, b.states, _describe_state, _compare_state),
        *_keyed("transition", _transitions(a), _transitions(b), _describe_transition, _compare_transition),
        *_keyed("role", a.roles, b.roles, lambda text: (text,), lambda x, y: _differences([("description", x, y)])),
        *_ladder("escalation", a.escalation, b.escalation),
        *_optional("learning", a.learning_rules, b.learning_rules,
                   lambda r: [("manage", r.manage), ("contribute", r.contribute), ("verify", r.verify),
                              ("themes", r.themes)]),
        *_ladder("learning escalation", a.learning_escalation or (), b.learning_escalation or ()),
        *_optional("schedule", a.schedule, b.schedule,
                   lambda s: [("when", s.describe()), ("ref", s.ref), ("fields", dict(s.fields)),
                              ("note", s.note)]),
        *_rules(a, b),
    ]
    return DefinitionDiff(b.name, a.version, b.version, tuple(changes))


_GROUPS = [("state", "states"), ("transition", "transitions"), ("role", "roles"), ("escalation", "escalation ladder"),
           ("learning", "learning"), ("learning escalation", "learning escalation ladder"), ("schedule", "schedule"),
           ("setting", "settings"), ("notify", "notify")]


def diff_text(diff: DefinitionDiff) -> str:
    """The difference as a person reads it, grouped: states, transitions, roles, then the rest."""
    head = f"{diff.workflow} v{diff.from_version} -> v{diff.to_version}"
    if not diff.changes:
        return f"{head}: no differences"
    lines = [f"{head}: {len(diff.changes)} difference(s)"]
    for kind, title in _GROUPS:
        items = [c for c in diff.changes if c.kind == kind]
        if items:
            lines.append(f"{title}:")
        for c in items:
            details = "; ".join(c.details)
            name = c.name if kind not in ("learning", "schedule") else ""
            lines.append(f"  {c.change:<8} {name}{': ' if name and details else ''}{details}".rstrip())
    return "\n".join(lines)
