"""A tracker's mapping file: which column holds what, parsed from its text and checked.

`load_mapping` takes the file's text (the service reads the file) and checks its structure;
`check_mapping` checks that the workflows, stages, fields and statuses it names exist, and
`check_columns` that the columns it names are headings of the spreadsheet. Every problem is
located by file, line and key. See docs/import-export.md.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Any

from reviewflow.engine.core.agencies import Register, agency_key
from reviewflow.engine.core.definition import FieldSpec, WorkflowDefinition
from reviewflow.engine.core.errors import InvalidDefinition, Problem
from reviewflow.engine.core.learning import STATUSES
from reviewflow.engine.core.tracker.cells import Sheet, cell_text, norm
from reviewflow.engine.core.yamlsource import format_path, load_yaml

_TOP = ("sheet", "delimiter", "date_format", "case", "recommendation", "action", "agencies")
_SECTIONS: dict[str, dict[str, bool]] = {
    "case": {"ref": True, "workflow": True, "stage": True, "opened": True, "entered": False, "due": False,
             "fields": False},
    "recommendation": {"text": True, "number": False, "themes": False, "agencies": False},
    "action": {"description": True, "agency": True, "due": True, "owner": False, "measure": False,
               "status": False, "reason": False},
}


class InvalidMapping(InvalidDefinition):
    """A tracker mapping file has problems, each located by file, line and key."""


# --- the mapping ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class Source:
    """Where one value comes from: a column, its cells translated by `values`; or a `fixed` value."""

    key: str
    line: int | None
    column: str | None = None
    fixed: Any = None
    values: Mapping[str, Any] = field(default_factory=dict)
    value_lines: Mapping[str, int] = field(default_factory=dict)
    """Line of each `values` entry, by its key as compared ('workflow/key' for a stage nested under a workflow)."""


@dataclass(frozen=True)
class TrackerMapping:
    file: str
    sheet: str | None
    delimiter: str
    date_format: str | None
    case: dict[str, Source]
    fields: dict[str, Source]
    recommendation: dict[str, Source]
    action: dict[str, Source]
    lines: dict[tuple[str | int, ...], int]
    agencies: dict[str, tuple[str, str]] = field(default_factory=dict)
    """`agencies:` — the tracker's spelling of an agency, by its key (engine/core/agencies.py), to (that
    spelling, the registered agency it means)."""

    def sources(self) -> Iterable[Source]:
        yield from self.case.values()
        yield from self.fields.values()
        yield from self.recommendation.values()
        yield from self.action.values()


class _MappingReader:
    def __init__(self, file: str, lines: dict[tuple[str | int, ...], int]) -> None:
        self.file = file
        self.lines = lines
        self.problems: list[Problem] = []

    def line(self, path: tuple[str | int, ...]) -> int:
        probe = path
        while probe and probe not in self.lines:
            probe = probe[:-1]
        return self.lines.get(probe, 1)

    def problem(self, path: tuple[str | int, ...], message: str) -> None:
        self.problems.append(Problem(self.file, format_path(path), message, self.line(path)))

    def keys(self, data: dict[str, Any], path: tuple[str, ...], known: Iterable[str]) -> None:
        allowed = list(known)
        for key in data:
            if key not in allowed:
                self.problem((*path, key), f"unknown key {key!r}: use {', '.join(allowed)}")

    def text(self, data: dict[str, Any], key: str) -> str | None:
        value = data.get(key)
        if value is None:
            return None
        if not isinstance(value, str) or not value.strip():
            self.problem((key,), "give text here")
            return None
        return value

    def values(self, raw: Any, path: tuple[str, ...], nested: bool, lines: dict[str, int],
               prefix: str = "") -> dict[str, Any]:
        if not isinstance(raw, dict):
            self.problem(path, "give the spreadsheet values and what each means, one per line: "
                               "`Spreadsheet value: name`")
            return {}
        out: dict[str, Any] = {}
        for key, target in raw.items():
            lines[prefix + norm(key)] = self.line((*path, key))
            if isinstance(target, dict) and nested:
                out[norm(key)] = self.values(target, (*path, key), False, lines, f"{norm(key)}/")
                continue
            if isinstance(target, dict | list) or target is None:
                self.problem((*path, key), "give one value here")
                continue
            if norm(key) in out:
                self.problem((*path, key), f"{key!r} is listed twice (case and spaces are ignored): keep one")
            out[norm(key)] = cell_text(target)
        return out

    def source(self, raw: Any, path: tuple[str, ...], fixed_ok: bool = True) -> Source | None:
        key = format_path(path)
        if isinstance(raw, str) and raw.strip():
            return Source(key, self.line(path), column=raw)
        if not isinstance(raw, dict):
            self.problem(path, "give the column's heading, or `{column: HEADING, values: {...}}`"
                         + (", or `{fixed: VALUE}`" if fixed_ok else ""))
            return None
        self.keys(raw, path, ("column", "values", "fixed") if fixed_ok else ("column", "values"))
        column, fixed = raw.get("column"), raw.get("fixed")
        if (column is None) == (fixed is None):
            self.problem(path, "give either `column:` (a heading of the spreadsheet) or `fixed:` (one value "
                               "for every row)" if fixed_ok else "give `column:`, a heading of the spreadsheet")
            return None
        if column is not None and (not isinstance(column, str) or not column.strip()):
            self.problem((*path, "column"), "give a heading of the spreadsheet")
            return None
        if fixed is not None and isinstance(fixed, dict | list):
            self.problem((*path, "fixed"), "give one value")
            return None
        lines: dict[str, int] = {}
        values = self.values(raw["values"], (*path, "values"), path == ("case", "stage"), lines) \
            if "values" in raw else {}
        if fixed is not None and values:
            self.problem((*path, "values"), "`values` translates a column's cells: it does not go with `fixed`")
        return Source(key, self.line(path), column=column, fixed=None if fixed is None else cell_text(fixed),
                      values=values, value_lines=lines)

    def section(self, data: dict[str, Any], name: str) -> dict[str, Source]:
        raw = data.get(name)
        if raw is None:
            if name == "case":
                self.problem(("case",), "missing: say which columns hold the case reference, workflow, stage "
                                        "and dates under `case:`")
            return {}
        if not isinstance(raw, dict):
            self.problem((name,), f"give the keys of `{name}` indented under it")
            return {}
        spec = _SECTIONS[name]
        self.keys(raw, (name,), spec)
        for key, required in spec.items():
            if required and key not in raw:
                self.problem((name,), f"missing key `{key}` (which column holds it)")
        out: dict[str, Source] = {}
        for key in spec:
            if key in raw and key != "fields":
                found = self.source(raw[key], (name, key), fixed_ok=(name, key) != ("case", "ref"))
                if found is not None:
                    out[key] = found
        return out

    def fields(self, data: dict[str, Any]) -> dict[str, Source]:
        case = data.get("case")
        raw = case.get("fields") if isinstance(case, dict) else None
        if raw is None:
            return {}
        if not isinstance(raw, dict):
            self.problem(("case", "fields"), "give one `field_name: Column heading` per line")
            return {}
        out = {}
        for name, spec in raw.items():
            found = self.source(spec, ("case", "fields", name))
            if found is not None:
                out[name] = found
        return out

    def agencies(self, raw: Any) -> dict[str, tuple[str, str]]:
        if raw is None:
            return {}
        if not isinstance(raw, dict):
            self.problem(("agencies",), "give the tracker's spelling and the registered agency it means, one per "
                                        "line: `CSC: Children's social care`")
            return {}
        out: dict[str, tuple[str, str]] = {}
        for spelling, target in raw.items():
            if not isinstance(target, str) or not target.strip():
                self.problem(("agencies", spelling), "give the registered agency's name")
                continue
            if agency_key(cell_text(spelling)) in out:
                self.problem(("agencies", spelling), f"{spelling!r} is listed twice (case, quotes and spaces are "
                                                     "ignored): keep one")
            out[agency_key(cell_text(spelling))] = (cell_text(spelling), target)
        return out

    def date_format(self, data: dict[str, Any]) -> str | None:
        fmt = self.text(data, "date_format")
        if fmt is None:
            return None
        sample = date(2026, 1, 31)
        try:
            if datetime.strptime(sample.strftime(fmt), fmt).date() == sample:
                return fmt
        except ValueError:
            pass
        self.problem(("date_format",), f"{fmt!r} does not read back a whole date: write e.g. '%d %b %Y' for "
                                       "31 Jan 2026, or '%d.%m.%Y' for 31.01.2026")
        return None


def load_mapping(text: str, file: str) -> TrackerMapping:
    """Parse and check the structure of a mapping file; InvalidMapping lists every problem with its line."""
    data, lines = load_yaml(text, file)
    reader = _MappingReader(file, lines)
    if not isinstance(data, dict):
        raise InvalidMapping([Problem(file, "", "expected keys (case:, recommendation:, action:) at the top of the "
                                                "file: see docs/import-export.md", 1)])
    reader.keys(data, (), _TOP)
    delimiter = reader.text(data, "delimiter") or ","
    if len(delimiter) != 1:
        reader.problem(("delimiter",), "give one character, e.g. ',' or ';'")
    mapping = TrackerMapping(file, reader.text(data, "sheet"), delimiter, reader.date_format(data),
                             reader.section(data, "case"), reader.fields(data),
                             reader.section(data, "recommendation"), reader.section(data, "action"), lines)
    mapping = replace(mapping, agencies=reader.agencies(data.get("agencies")))
    if mapping.action and "recommendation" not in data:
        reader.problem(("action",), "actions belong to recommendations: add a `recommendation:` section "
                                    "saying which column holds the recommendation's text")
    if reader.problems:
        raise InvalidMapping(sorted(reader.problems, key=lambda p: p.line or 0))
    return mapping


# --- what the mapping names must exist ---------------------------------------------------------------

@dataclass(frozen=True)
class Workflows:
    """The loaded workflows (newest versions), and how a spreadsheet may name them."""

    by_name: dict[str, WorkflowDefinition]

    def find(self, value: str) -> WorkflowDefinition | None:
        key = norm(value)
        return next((d for d in self.by_name.values() if key in (norm(d.name), norm(d.title))), None)

    def fields(self, d: WorkflowDefinition) -> dict[str, FieldSpec]:
        found = {f.name: f for t in reversed(d.transitions) for f in t.requires}
        found.update({f.name: f for f in d.open.requires})
        return found


def find_state(d: WorkflowDefinition, value: str) -> str | None:
    """The stage of `d` that a spreadsheet names by its name or label, if any."""
    key = norm(value)
    return next((s.name for s in d.states.values() if key in (norm(s.name), norm(s.label))), None)


def action_status(value: str) -> str | None:
    """The action status a spreadsheet's value names ('In progress' is in_progress), if any."""
    key = value.strip().lower().replace(" ", "_").replace("-", "_")
    return key if key in STATUSES else None


def _problem(mapping: TrackerMapping, source: Source, entry: str | None, message: str) -> Problem:
    """A problem with one source, at the line of its `values` entry `entry`, its `fixed` value (entry "fixed")
    or the source itself (None)."""
    path = tuple(source.key.split("."))
    if entry == "fixed":
        return Problem(mapping.file, format_path((*path, "fixed")), message,
                       mapping.lines.get((*path, "fixed"), source.line))
    if entry is None:
        return Problem(mapping.file, source.key, message, source.line)
    return Problem(mapping.file, format_path((*path, "values")), message, source.value_lines.get(entry, source.line))


def _targets(source: Source) -> list[tuple[str, str]]:
    """(entry, value) of a source's `fixed` value or of each of its `values`."""
    if source.fixed is not None:
        return [("fixed", source.fixed)]
    return [(k, v) for k, v in source.values.items() if not isinstance(v, dict)]


def check_mapping(mapping: TrackerMapping, flows: Workflows) -> list[Problem]:
    """Workflows, stages, fields and statuses named in the mapping must exist."""
    problems: list[Problem] = []
    known = ", ".join(flows.by_name) or "none (run 'reviewflow init')"
    workflow = mapping.case.get("workflow")
    if workflow is not None:
        problems += [_problem(mapping, workflow, entry, f"no workflow named {target!r}; loaded workflows: {known}")
                     for entry, target in _targets(workflow) if flows.find(target) is None]
    stage = mapping.case.get("stage")
    if stage is not None:
        problems += _stage_problems(mapping, stage, flows)
    problems += [_problem(mapping, source, None, f"no loaded workflow has a field {name!r}: use a field name from a "
                          "workflow's `requires` (see 'reviewflow workflow show NAME')")
                 for name, source in mapping.fields.items()
                 if not any(name in flows.fields(d) for d in flows.by_name.values())]
    status = mapping.action.get("status")
    if status is not None:
        problems += [_problem(mapping, status, entry, f"{target!r} is not an action status; use {', '.join(STATUSES)}")
                     for entry, target in _targets(status) if action_status(target) is None]
    return problems


def _stage_problems(mapping: TrackerMapping, stage: Source, flows: Workflows) -> list[Problem]:
    problems = [_problem(mapping, stage, entry, f"no loaded workflow has a stage {target!r}")
                for entry, target in _targets(stage) if not any(find_state(d, target) for d in flows.by_name.values())]
    for key, target in stage.values.items():
        if not isinstance(target, dict):
            continue
        d = flows.find(key)
        if d is None:
            problems.append(_problem(mapping, stage, key, f"{key!r} is not a loaded workflow: nest stage values "
                                     "under a workflow's name"))
            continue
        problems += [_problem(mapping, stage, f"{key}/{entry}", f"workflow {d.name} has no stage {value!r}; its "
                              f"stages: {', '.join(d.states)}") for entry, value in target.items()
                     if find_state(d, value) is None]
    return problems


def check_agencies(mapping: TrackerMapping, register: Register) -> list[Problem]:
    """Every agency `agencies:` maps a spelling to must be registered."""
    problems = []
    for spelling, target in mapping.agencies.values():
        if register.find(target) is None:
            near = register.suggestions(target)
            hint = f": did you mean {' or '.join(repr(n) for n in near)}?" if near else ""
            problems.append(Problem(mapping.file, format_path(("agencies", spelling)),
                                    f"{target!r} is not a registered agency{hint} (see 'reviewflow agency list'; "
                                    "an administrator can add one with 'reviewflow agency add')",
                                    mapping.lines.get(("agencies", spelling), 1)))
    return problems


# --- the columns it names -------------------------------------------------------------------------------

def check_columns(mapping: TrackerMapping, sheet: Sheet) -> list[Problem]:
    """Every column the mapping names must be a heading of row 1, once."""
    positions: dict[str, list[int]] = {}
    for i, heading in enumerate(sheet.header):
        positions.setdefault(norm(heading), []).append(i + 1)
    problems = []
    headings = ", ".join(repr(h) for h in sheet.header if h)
    for source in mapping.sources():
        if source.column is None:
            continue
        found = positions.get(norm(source.column), [])
        path = tuple(source.key.split("."))
        if not found:
            problems.append(Problem(mapping.file, source.key, f"column {source.column!r} is not a heading in row 1 "
                                    f"of {sheet.name}; its headings: {headings}", source.line))
        elif len(found) > 1:
            problems.append(Problem(mapping.file, format_path(path), f"{sheet.name} has the heading "
                                    f"{source.column!r} in columns {', '.join(map(str, found))}: rename one",
                                    source.line))
    return problems

