"""Definition text -> plain data -> schema check -> WorkflowDefinition -> graph checks."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import replace
from datetime import date
from functools import lru_cache
from importlib.resources import files
from typing import Any

from reviewflow.engine.core import parse_clocks as clocks
from reviewflow.engine.core.cautions import definition_warnings, unknown_key
from reviewflow.engine.core.definition import (
    EXPRESSION,
    Access,
    Condition,
    EscalationLevel,
    FieldSpec,
    OpenRule,
    Schedule,
    StateDef,
    TransitionDef,
    WorkflowDefinition,
)
from reviewflow.engine.core.durations import DEFAULT_CALENDAR, Duration, parse_duration
from reviewflow.engine.core.errors import InvalidDefinition, InvalidDuration, Problem
from reviewflow.engine.core.grading import parse_grading
from reviewflow.engine.core.learning import LearningRules, normalise_theme
from reviewflow.engine.core.legacy import Catalogue, Legacy, check_legacy, parse_legacy, since_problem
from reviewflow.engine.core.links import parse_opens
from reviewflow.engine.core.recurring import read_dates
from reviewflow.engine.core.returns import ReturnsRules
from reviewflow.engine.core.validate import check_definition
from reviewflow.engine.core.yamlsource import Path, format_path, load_yaml

_BARE_NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
_IDENTIFIER_HINT = "use lower-case letters, digits and underscores, starting with a letter"


@lru_cache(maxsize=1)
def workflow_schema() -> dict[str, Any]:
    """The JSON Schema of the definition format (also published as docs/workflow.schema.json)."""
    return json.loads(files("reviewflow.engine").joinpath("workflow.schema.json").read_text("utf-8"))


def _kind(value: object) -> str:
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, int):
        return "a whole number"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, str):
        return f"text {value!r}"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, date):
        return "a date"
    return "nothing" if value is None else type(value).__name__


_EXPECTED = {"string": "text", "object": "a mapping of keys to values", "array": "a list",
             "integer": "a whole number", "boolean": "true or false"}


def _sentence(text: str) -> str:
    """'Human title shown.' -> 'human title shown' (for use inside a message)."""
    return text[:1].lower() + text[1:].rstrip(".") if text else ""


def _describe(error: Any) -> str:
    path = tuple(error.absolute_path)
    text = ""
    if len(path) == 1:  # a top-level key: its own description, which may sit beside a $ref
        text = workflow_schema()["properties"].get(path[0], {}).get("description", "")
    if not text and isinstance(error.schema, dict):
        text = error.schema.get("description", "")
    return _sentence(text)


def _hint(error: Any) -> str:
    return f" ({_describe(error)})" if _describe(error) else ""


def _missing(error: Any) -> str:
    missing = error.message.split("'")[1]
    sub = error.schema.get("properties", {}).get(missing, {})
    what = f" ({_sentence(sub['description'])})" if "description" in sub else ""
    return f"missing key {missing!r}: add it{what}"


def _wrong_type(error: Any) -> str:
    if tuple(error.absolute_path) == ("initial",) and isinstance(error.instance, list):
        names = ", ".join(map(str, error.instance))
        return f"several initial states ({names}): a case starts in exactly one state; name one"
    if error.validator_value == "integer" and isinstance(error.instance, float):
        example = max(int(error.instance) + 1, 1)
        where = f"{error.absolute_path[-1]} " if error.absolute_path else ""
        return f"{where}must be a whole number such as {example}, not {error.instance}"
    expected = _EXPECTED.get(error.validator_value, error.validator_value)
    return f"expected {expected}, got {_kind(error.instance)}{_hint(error)}"


_SIMPLE: dict[str, Any] = {
    "required": _missing,
    "type": _wrong_type,
    "enum": lambda e: f"{e.instance!r} is not allowed; use one of: {', '.join(map(str, e.validator_value))}",
    "pattern": lambda e: f"{e.instance!r} is not a valid name: {_IDENTIFIER_HINT}",
    "minItems": lambda e: f"must not be empty{_hint(e)}",
    "minProperties": lambda e: f"must not be empty{_hint(e)}",
    "minLength": lambda e: f"must not be empty{_hint(e)}",
    "minimum": lambda e: f"must be at least {e.validator_value}, got {e.instance!r}",
    "maximum": lambda e: f"must be at most {e.validator_value}, got {e.instance!r}",
    "maxProperties": lambda e: "a condition written as a mapping has exactly one key, the condition's name",
    "oneOf": lambda e: f"expected {_describe(e) or 'another form'}; got {_kind(e.instance)}",
}


def _schema_messages(error: Any) -> Iterator[tuple[Path, str]]:
    """Turn one jsonschema error into (path, message-with-fix) pairs."""
    path: Path = tuple(error.absolute_path)
    if "propertyNames" in error.schema_path:
        path = (*path, error.instance)
    if error.validator == "additionalProperties":
        allowed = sorted(error.schema.get("properties", {}))
        for key in sorted(set(error.instance) - set(allowed)):
            yield (*path, key), unknown_key(key, allowed)
    elif error.validator == "oneOf" and isinstance(error.instance, list):
        yield from _list_items(error, path)
    elif error.validator == "oneOf" and any(e.validator != "type" for e in error.context):
        yield from _schema_messages(next(e for e in error.context if e.validator != "type"))
    else:
        handler = _SIMPLE.get(error.validator)
        yield path, handler(error) if handler else error.message


def _list_items(error: Any, path: Path) -> Iterator[tuple[Path, str]]:
    """A list where one item is of the wrong kind: blame the item, not the list."""
    item_schema = next((o.get("items") for o in error.schema.get("oneOf", []) if o.get("type") == "array"), None)
    if not item_schema:
        yield path, f"expected {_describe(error) or 'another form'}; got a list"
        return
    from jsonschema import Draft202012Validator

    validator = Draft202012Validator({"$defs": workflow_schema()["$defs"], **item_schema})
    found = [((*path, i, *sub_path), message)
             for i, item in enumerate(error.instance)
             for sub in validator.iter_errors(item)
             for sub_path, message in _schema_messages(sub)]
    if not found:  # the items are fine; the list itself is wrong (e.g. empty)
        failed = [e for e in error.context if e.validator != "type"]
        found = [item for e in failed[:1] for item in _schema_messages(e)]
    yield from found


def _schema_problems(data: Any) -> list[tuple[Path, str]]:
    from jsonschema import Draft202012Validator

    validator = Draft202012Validator(workflow_schema())
    found: list[tuple[Path, str]] = []
    for error in sorted(validator.iter_errors(data), key=lambda e: [str(p) for p in e.absolute_path]):
        for item in _schema_messages(error):
            if item not in found:
                found.append(item)
    return found


def _fields(specs: dict[str, Any] | None) -> tuple[FieldSpec, ...]:
    return tuple(
        FieldSpec(name, spec["type"], spec.get("label", ""), tuple(spec.get("options", ())),
                  bool(spec.get("sensitive", False)),
                  tuple(spec["sensitive"]) if isinstance(spec.get("sensitive"), list) else (),
                  bool(spec.get("reason_if_no", False)))
        for name, spec in (specs or {}).items()
    )


def _access(raw: dict[str, Any] | None) -> Access:
    raw = raw or {}

    def roles(key: str) -> tuple[str, ...] | None:
        return tuple(raw[key]) if key in raw else None

    return Access(partnership=roles("partnership"), sensitive=roles("sensitive"), agency_fields=roles("agency_fields"))


def _conditions(raw: Any) -> tuple[Condition, ...]:
    items = raw if isinstance(raw, list) else ([] if raw is None else [raw])
    out = []
    for item in items:
        if isinstance(item, dict):
            (name, arg), = item.items()
            out.append(Condition(name, arg))
        elif _BARE_NAME.match(item):
            out.append(Condition(item))
        else:
            out.append(Condition(EXPRESSION, item))
    return tuple(out)


class _Builder:
    """Builds the definition from schema-valid data, collecting duration problems."""

    def __init__(self) -> None:
        self.problems: list[tuple[Path, str]] = []
        self.bad_levels: set[int] = set()

    def keep(self, path: Path) -> bool:
        """False for a 'levels must climb' problem caused by a level whose duration was unreadable."""
        if len(path) == 3 and path[0] == "escalation" and path[2] == "after":
            i = int(path[1])
            return i not in self.bad_levels and i - 1 not in self.bad_levels
        return True

    def reminder(self, raw: str | None, path: Path) -> Duration | None:
        """'10 working days before' -> 10 working days."""
        if raw is None:
            return None
        text = raw.strip()
        try:
            if not text.lower().endswith(" before"):
                raise InvalidDuration(text)
            return parse_duration(text[: -len(" before")])
        except InvalidDuration:
            self.problems.append((path, f"bad reminder {raw!r}: write a whole number, a unit and 'before', "
                                        "e.g. '10 working days before' or '2 weeks before'"))
            return None

    def duration(self, raw: str | None, path: Path) -> Duration | None:
        if raw is None:
            return None
        try:
            return parse_duration(raw)
        except InvalidDuration as exc:
            self.problems.append((path, str(exc)))
            return None

    def build(self, data: dict[str, Any]) -> WorkflowDefinition:
        states = {
            name: StateDef(
                name=name, label=s["label"], description=s.get("description", ""),
                terminal=s.get("terminal", False),
                time_limit=self.duration(clocks.limit_text(s.get("time_limit")),
                                         clocks.limit_path(s.get("time_limit"), name)),
                time_limit_from=clocks.limit_from(s.get("time_limit")),
                time_limit_before=clocks.limit_before(s.get("time_limit")),
                owner=s.get("owner"), requires=tuple(s.get("requires", ())),
                remind=self.reminder(s.get("remind"), ("states", name, "remind")),
            )
            for name, s in data["states"].items()
        }
        transitions = tuple(
            TransitionDef(
                trigger=t["trigger"], dest=t["to"], roles=tuple(t["roles"]), label=t.get("label", ""),
                sources=tuple(t["from"]) if isinstance(t["from"], list) else (t["from"],),
                requires=_fields(t.get("requires")), when=_conditions(t.get("when")),
                opens=parse_opens(t.get("opens")),
            )
            for t in data["transitions"]
        )
        ladder = self.ladder(data.get("escalation", []), ("escalation",))
        learning = data.get("learning")
        opening = data.get("open", {})
        return WorkflowDefinition(
            name=data["name"], title=data["title"], version=data["version"],
            description=data.get("description", ""), calendar=data.get("calendar", DEFAULT_CALENDAR),
            subgroup=data.get("subgroup"), legacy=parse_legacy(data.get("legacy")),
            sources=tuple(data.get("sources", ())),
            roles=dict(data["roles"]), states=states, initial=data["initial"], transitions=transitions,
            open=OpenRule(tuple(opening.get("roles", ())), _fields(opening.get("requires"))),
            escalation=tuple(ladder), notify={k: tuple(v) for k, v in data.get("notify", {}).items()},
            remind=self.reminder(data.get("remind"), ("remind",)),
            pause_roles=tuple(data.get("pause_roles", ())),
            pause_reasons=tuple(data.get("pause_reasons", ())),
            learning_rules=self.learning(learning, opening) if learning else None,
            learning_escalation=(self.ladder(learning["escalation"], ("learning", "escalation"))
                                 if learning and "escalation" in learning else None),
            schedule=self.schedule(data.get("schedule")),
            access=_access(data.get("access")),
            milestones=clocks.milestones(self, data.get("milestones")),
            progress_checks=clocks.progress_checks(self, data.get("progress_checks")),
            returns=self.returns(data.get("returns")),
            grading=parse_grading(data.get("grading")),
        )

    def ladder(self, levels: list[dict[str, Any]], path: Path) -> tuple[EscalationLevel, ...]:
        ladder: list[EscalationLevel] = []
        for i, level in enumerate(levels):
            after = self.duration(level["after"], (*path, i, "after"))
            if after is None:  # keep the level's position so later problems name the right level
                if path == ("escalation",):
                    self.bad_levels.add(i)
                after = ladder[-1].after if ladder else Duration(0, "days")
            ladder.append(EscalationLevel(after, tuple(level["notify"]), level.get("label", "")))
        return tuple(ladder)

    def returns(self, raw: dict[str, Any] | None) -> ReturnsRules | None:
        if raw is None:
            return None
        roles = {k: tuple(raw[k]) if k in raw else None for k in ("manage", "contribute")}
        return ReturnsRules(due=self.duration(raw.get("due"), ("returns", "due")), **roles,
                            escalation=self.ladder(raw.get("escalation", []), ("returns", "escalation")))

    @staticmethod
    def learning(raw: dict[str, Any], opening: dict[str, Any]) -> LearningRules:
        manage = tuple(raw.get("manage", opening.get("roles", ())))
        return LearningRules(manage=manage, contribute=tuple(raw.get("contribute", ())),
                             verify=tuple(raw.get("verify", manage)),
                             themes=tuple(dict.fromkeys(normalise_theme(t) for t in raw.get("themes", ()))),
                             open_after=tuple(raw.get("open_after", ())))

    def schedule(self, raw: dict[str, Any] | None) -> Schedule | None:
        if raw is None:
            return None
        starting = None
        if "starting" in raw:
            try:
                starting = date.fromisoformat(raw["starting"])
            except ValueError:
                self.problems.append((("schedule", "starting"), f"{raw['starting']!r} is not a date: "
                                                                "write YYYY-MM-DD, e.g. 2026-04-01"))
        fields = {k: (("yes" if v else "no") if isinstance(v, bool) else str(v))
                  for k, v in raw.get("fields", {}).items()}
        return Schedule(ref=raw["ref"], every=self.duration(raw.get("every"), ("schedule", "every")),
                        starting=starting, cron=raw.get("cron"), fields=fields, note=raw.get("note", ""),
                        dates=read_dates(raw.get("dates", []), self.problems),
                        open_before=self.duration(raw.get("open_before"), ("schedule", "open_before")))


def _locate(file: str, lines: dict[Path, int], path: Path, message: str) -> Problem:
    probe = path
    while probe and probe not in lines:
        probe = probe[:-1]
    return Problem(file, format_path(path), message, lines.get(probe, 1))


def _normalised(data: Any) -> Any:
    schedule = data.get("schedule")
    if isinstance(schedule, dict) and isinstance(schedule.get("starting"), date):
        schedule["starting"] = schedule["starting"].isoformat()  # an unquoted YAML date is fine here
    if isinstance(schedule, dict) and isinstance(schedule.get("dates"), list):
        schedule["dates"] = [d.isoformat() if isinstance(d, date) else d for d in schedule["dates"]]
    legacy = data.get("legacy")
    if isinstance(legacy, dict) and isinstance(legacy.get("since"), date):
        legacy["since"] = legacy["since"].isoformat()
    return data


STORED_PARSES_KEPT = 256
"""How many stored definition texts a process keeps parsed (a few versions of each workflow)."""


@lru_cache(maxsize=STORED_PARSES_KEPT)
def parse_stored(text: str, file: str, version: int) -> WorkflowDefinition:
    """A stored definition (validated when it was loaded) as `version`: parsed once per process.

    The same text always parses to the same definition, which is frozen, so every service context, web
    request and command in one process shares one object per text and version instead of parsing the
    YAML again each time it opens.
    """
    parsed = parse_definition(text, file, validate=False)
    return parsed if parsed.version == version else replace(parsed, version=version)


def parse_definition(text: str, file: str = "<definition>", validate: bool = True,
                     warnings: list[Problem] | None = None, known: Catalogue | None = None) -> WorkflowDefinition:
    """Parse and validate definition text; raise InvalidDefinition listing every problem. A `warnings`
    list is given the definition's warnings (engine/core/cautions.py): it loads, but part cannot work.
    `known` (the shipped and loaded workflows, engine/core/legacy.py) checks `legacy.replaced_by` and routings
    against the other workflows; without it only against this one.

    `validate=False` is for a stored definition, validated when it was loaded: it skips the schema
    and the rules (and with them importing jsonschema and compiling every CEL guard), and falls back
    to the full check if the text does not build.
    """
    if not validate:
        try:
            data, _ = load_yaml(text, file, stored=True)
            builder = _Builder()
            definition = builder.build(_normalised(data))
            if not builder.problems:
                return definition
        except Exception:  # noqa: BLE001 - anything odd: the full check below explains it
            pass
    definition, cautions = _checked(text, file, None if known is None else tuple(sorted(known.items())))
    if warnings is not None:
        warnings.extend(cautions)
    return definition


CHECKED_KEPT = 64
"""How many definition texts a process keeps fully checked (the shipped files and an administrator's drafts)."""


@lru_cache(maxsize=CHECKED_KEPT)
def _checked(text: str, file: str, known_items: tuple[tuple[str, Legacy | None], ...] | None,
             ) -> tuple[WorkflowDefinition, tuple[Problem, ...]]:
    """The full check of `parse_definition`, once per text, file and catalogue in a process (a definition that
    passes is frozen, so `init` and every load of the same files share it); a refusal is raised each time."""
    known = None if known_items is None else dict(known_items)
    data, lines = load_yaml(text, file)
    if not isinstance(data, dict):
        raise InvalidDefinition([Problem(file, "", f"expected a mapping of keys (name, title, states, "
                                         f"...) at the top of the file, got {_kind(data)}", 1)])
    data = _normalised(data)
    found = _schema_problems(data)
    if found:
        raise InvalidDefinition(_sorted([_locate(file, lines, p, m) for p, m in found]))
    builder = _Builder()
    definition = builder.build(data)
    found = builder.problems + [(p, m) for p, m in check_definition(definition) if builder.keep(p)]
    found += [*filter(None, [since_problem(data.get("legacy"))]), *check_legacy(definition, known)]
    if found:
        raise InvalidDefinition(_sorted([_locate(file, lines, p, m) for p, m in found]))
    return definition, tuple(definition_warnings(definition, lines, file))


def _sorted(problems: list[Problem]) -> list[Problem]:
    """Problems in file order (stable, so one line's problems keep the rules' order)."""
    return sorted(problems, key=lambda p: p.line or 0)
