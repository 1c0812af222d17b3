"""`reviewflow import tracker`: a board's spreadsheet of reviews and action plans brought in as cases.

A mapping file (YAML, see docs/import-export.md) says which column holds what. Every row is checked
before anything is written; each bad row is reported as `row N: reason` (spreadsheet numbering, the
header is row 1). Cases are placed straight into their current stage, with the stage's due time
computed from the date it was entered, so they remind and escalate like any other case afterwards.
A case spanning several rows (one per action) is imported whole or not at all.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TextIO

import structlog

from reviewflow.engine.core.definition import FieldSpec, WorkflowDefinition
from reviewflow.engine.core.durations import due_at, local_date, start_of_day
from reviewflow.engine.core.errors import (
    FieldError,
    InvalidDefinition,
    InvalidValue,
    Problem,
    ReviewflowError,
    UserNotFound,
)
from reviewflow.engine.core.escalation import action_checkpoints, checkpoints, next_check
from reviewflow.engine.core.fields import MAX_TEXT, parse_value
from reviewflow.engine.core.learning import CLOSED_WITH_REASON, STATUSES, WORKING, normalise_theme, themes_problem
from reviewflow.engine.core.records import User
from reviewflow.engine.core.yamlsource import format_path, load_yaml
from reviewflow.store import importing, repo

if TYPE_CHECKING:
    from reviewflow.engine.services.context import ServiceContext

log = structlog.get_logger("reviewflow.tracker")

PROGRESS_FROM_ROWS = 200
"""Files with at least this many rows show a progress bar when standard error is a terminal."""
_AGENCY_LIMIT = 120
_TOP = ("sheet", "delimiter", "date_format", "case", "recommendation", "action")
_SECTIONS: dict[str, dict[str, bool]] = {
    "case": {"ref": True, "workflow": True, "stage": True, "opened": True, "entered": False, "due": False,
             "fields": False},
    "recommendation": {"text": True, "number": False, "themes": False, "agencies": False},
    "action": {"description": True, "agency": True, "due": True, "owner": False, "measure": False,
               "status": False, "reason": False},
}
_LIST_SEPARATORS = (";", ",", "\n")


class InvalidMapping(InvalidDefinition):
    """A tracker mapping file has problems, each located by file, line and key."""


def _norm(value: Any) -> str:
    """How cells and mapping keys are compared: trimmed, spaces collapsed, case ignored."""
    return " ".join(_text(value).split()).casefold()


def _text(value: Any) -> str:
    """A cell as text: spreadsheets give numbers, dates and booleans as well as text."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == time(0) else value.isoformat(sep=" ")
    if isinstance(value, date):
        return value.isoformat()
    return str(value).strip()


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
            lines[prefix + _norm(key)] = self.line((*path, key))
            if isinstance(target, dict) and nested:
                out[_norm(key)] = self.values(target, (*path, key), False, lines, f"{_norm(key)}/")
                continue
            if isinstance(target, dict | list) or target is None:
                self.problem((*path, key), "give one value here")
                continue
            if _norm(key) in out:
                self.problem((*path, key), f"{key!r} is listed twice (case and spaces are ignored): keep one")
            out[_norm(key)] = _text(target)
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
        return Source(key, self.line(path), column=column, fixed=None if fixed is None else _text(fixed),
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
        key = _norm(value)
        return next((d for d in self.by_name.values() if key in (_norm(d.name), _norm(d.title))), None)

    def fields(self, d: WorkflowDefinition) -> dict[str, FieldSpec]:
        found = {f.name: f for t in reversed(d.transitions) for f in t.requires}
        found.update({f.name: f for f in d.open.requires})
        return found


def _find_state(d: WorkflowDefinition, value: str) -> str | None:
    key = _norm(value)
    return next((s.name for s in d.states.values() if key in (_norm(s.name), _norm(s.label))), None)


def _status(value: str) -> str | None:
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
                     for entry, target in _targets(status) if _status(target) is None]
    return problems


def _stage_problems(mapping: TrackerMapping, stage: Source, flows: Workflows) -> list[Problem]:
    problems = [_problem(mapping, stage, entry, f"no loaded workflow has a stage {target!r}")
                for entry, target in _targets(stage) if not any(_find_state(d, target) for d in flows.by_name.values())]
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
                     if _find_state(d, value) is None]
    return problems


# --- reading the spreadsheet ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Sheet:
    name: str
    header: list[str]
    rows: list[tuple[int, tuple[Any, ...]]]
    """(spreadsheet row number, cells) of every row that is not blank."""


def _decode(data: bytes, name: str) -> str:
    if data.startswith(b"\xef\xbb\xbf"):
        return data.decode("utf-8-sig")
    for encoding in ("utf-8", "cp1252"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise InvalidValue(f"{name} is not readable as UTF-8 or Windows-1252 text: save it again as "
                       "'CSV UTF-8 (comma delimited)'")


def _csv_rows(path: Path, delimiter: str) -> list[tuple[Any, ...]]:
    try:
        text = _decode(path.read_bytes(), path.name)
    except OSError as exc:
        raise InvalidValue(f"cannot read {path}: {exc.strerror or exc}") from None
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    rows: list[tuple[Any, ...]] = []
    try:
        rows.extend(tuple(r) for r in reader)
    except csv.Error as exc:
        raise InvalidValue(f"{path.name} row {len(rows) + 1} is not readable as CSV ({exc}): check its quotes, "
                           "or save the file again from the spreadsheet") from None
    return rows


def _xlsx_rows(path: Path, mapping: TrackerMapping) -> list[tuple[Any, ...]]:
    from zipfile import BadZipFile

    import openpyxl
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except OSError as exc:
        raise InvalidValue(f"cannot read {path}: {exc.strerror or exc}") from None
    except (BadZipFile, InvalidFileException, KeyError, ValueError) as exc:
        raise InvalidValue(f"{path.name} is not a readable .xlsx workbook ({exc}): save it from the spreadsheet as "
                           ".xlsx, or as CSV") from None
    try:
        if mapping.sheet is not None and mapping.sheet not in book.sheetnames:
            raise InvalidMapping([Problem(mapping.file, "sheet", f"{path.name} has no sheet {mapping.sheet!r}; its "
                                          f"sheets: {', '.join(book.sheetnames)}", mapping.lines.get(("sheet",)))])
        sheet = book[mapping.sheet] if mapping.sheet else book.worksheets[0]
        return [tuple(r) for r in sheet.iter_rows(min_row=1, values_only=True)]
    finally:
        book.close()


def read_sheet(path: Path, mapping: TrackerMapping) -> Sheet:
    """The header and non-blank rows of a .csv or .xlsx file."""
    suffix = path.suffix.lower()
    if suffix == ".csv":
        rows = _csv_rows(path, mapping.delimiter)
    elif suffix in (".xlsx", ".xlsm"):
        rows = _xlsx_rows(path, mapping)
    else:
        raise InvalidValue(f"{path.name}: give a .csv or .xlsx file (save a .xls or .ods file as .xlsx first)")
    if not rows or not any(_text(c) for c in rows[0]):
        raise InvalidValue(f"{path.name} has no header: row 1 must hold the column headings")
    header = [_text(c) for c in rows[0]]
    body = [(number, r) for number, r in enumerate(rows[1:], 2) if any(_text(c) for c in r)]
    return Sheet(path.name, header, body)


def check_columns(mapping: TrackerMapping, sheet: Sheet) -> list[Problem]:
    """Every column the mapping names must be a heading of row 1, once."""
    positions: dict[str, list[int]] = {}
    for i, heading in enumerate(sheet.header):
        positions.setdefault(_norm(heading), []).append(i + 1)
    problems = []
    headings = ", ".join(repr(h) for h in sheet.header if h)
    for source in mapping.sources():
        if source.column is None:
            continue
        found = positions.get(_norm(source.column), [])
        path = tuple(source.key.split("."))
        if not found:
            problems.append(Problem(mapping.file, source.key, f"column {source.column!r} is not a heading in row 1 "
                                    f"of {sheet.name}; its headings: {headings}", source.line))
        elif len(found) > 1:
            problems.append(Problem(mapping.file, format_path(path), f"{sheet.name} has the heading "
                                    f"{source.column!r} in columns {', '.join(map(str, found))}: rename one",
                                    source.line))
    return problems


# --- checking rows ---------------------------------------------------------------------------------------

@dataclass
class PlannedAction:
    row: int
    description: str
    agency: str
    owner: str | None
    due: date
    measure: str
    status: str
    reason: str | None


@dataclass
class PlannedRecommendation:
    text: str
    themes: list[str] = field(default_factory=list)
    agencies: list[str] = field(default_factory=list)
    actions: list[PlannedAction] = field(default_factory=list)


@dataclass
class PlannedCase:
    ref: str
    rows: list[int]
    definition: WorkflowDefinition | None = None
    state: str = ""
    fields: dict[str, Any] = field(default_factory=dict)
    opened: date | None = None
    entered: date | None = None
    due: date | None = None
    recommendations: dict[str, PlannedRecommendation] = field(default_factory=dict)
    last_recommendation: str | None = None


class BadCell(Exception):
    """One reason a row cannot be imported."""


@dataclass(frozen=True)
class Row:
    number: int
    cells: tuple[Any, ...]
    index: Mapping[str, int]

    def raw(self, source: Source | None) -> Any:
        if source is None:
            return None
        if source.column is None:
            return source.fixed
        i = self.index[_norm(source.column)]
        return self.cells[i] if i < len(self.cells) else None

    def text(self, source: Source | None) -> str:
        return _text(self.raw(source))

    def given(self, source: Source | None) -> bool:
        """The row has its own value in this column (a fixed value does not count)."""
        return source is not None and source.column is not None and bool(self.text(source))


class _Planner:
    """Checks rows against the mapping, the loaded workflows and what is already in the database."""

    def __init__(self, mapping: TrackerMapping, flows: Workflows, existing: set[str], users: Mapping[str, frozenset],
                 actor: str, today: date) -> None:
        self.m = mapping
        self.flows = flows
        self.existing = existing
        self.users = users
        self.actor = actor
        self.today = today
        self.problems: dict[int, list[str]] = {}

    def bad(self, row: Row, reason: str) -> None:
        self.problems.setdefault(row.number, []).append(reason)

    def date(self, row: Row, source: Source | None, what: str) -> date | None:
        raw = row.raw(source)
        if isinstance(raw, datetime):
            return raw.date()
        if isinstance(raw, date):
            return raw
        text = _text(raw)
        if not text:
            return None
        formats = ["%Y-%m-%d", "%d/%m/%Y", "%Y-%m-%d %H:%M:%S", *([self.m.date_format] if self.m.date_format else [])]
        for fmt in formats:
            try:
                return datetime.strptime(text, fmt).date()
            except ValueError:
                continue
        extra = f", or as {self.m.date_format}" if self.m.date_format else ""
        raise BadCell(f"{what} {text!r} (column {source.column if source else '?'!r}) is not a date: write it as "
                      f"2026-03-31 or 31/03/2026{extra}, or set `date_format` in the mapping")

    def translate(self, source: Source | None, text: str) -> str:
        if source is None or not text:
            return text
        return source.values.get(_norm(text), text)

    # --- one case ---------------------------------------------------------------------------------------

    def case(self, ref: str, row: Row) -> PlannedCase:
        """The case as its first row gives it; each reason it cannot be imported is noted against the row."""
        case = PlannedCase(ref, [row.number])
        for check in (self._ref, self._workflow, self._stage, self._dates, self._fields):
            try:
                check(case, row)
            except BadCell as exc:
                self.bad(row, f"{ref}: {exc}")
            if case.definition is None and check == self._workflow:
                break
        return case

    def _ref(self, case: PlannedCase, row: Row) -> None:
        from reviewflow.engine.services.cases import check_ref

        try:
            check_ref(case.ref)
        except InvalidValue as exc:
            raise BadCell(str(exc)) from None
        if case.ref in self.existing:
            raise BadCell("a case with this reference is already in the database: leave the row out, "
                          "or see it with 'reviewflow case show " + case.ref + "'")

    def _workflow(self, case: PlannedCase, row: Row) -> None:
        source = self.m.case["workflow"]
        text = self.translate(source, row.text(source))
        if not text:
            raise BadCell(f"no review type in column {source.column!r}")
        d = self.flows.find(text)
        if d is None:
            raise BadCell(f"unknown review type {row.text(source)!r} in column {source.column!r}: map it under "
                          f"case.workflow.values to one of: {', '.join(self.flows.by_name)}")
        if not self.users.get(self.actor, frozenset()) & set(d.open.roles):
            raise BadCell(f"{self.actor} may not open {d.name} cases: that needs one of the roles "
                          f"{', '.join(d.open.roles)}")
        case.definition = d

    def _stage(self, case: PlannedCase, row: Row) -> None:
        d = case.definition
        assert d is not None
        source = self.m.case["stage"]
        text = row.text(source)
        if not text:
            raise BadCell(f"no stage in column {source.column!r}")
        names = (_norm(d.name), _norm(d.title))
        own = next((v for k, v in source.values.items() if isinstance(v, dict) and k in names), {})
        flat = source.values.get(_norm(text))
        state = _find_state(d, own.get(_norm(text)) or (flat if isinstance(flat, str) else None) or text)
        if state is None:
            raise BadCell(f"unknown stage {text!r} for {d.name}: map it under case.stage.values to one of its "
                          f"stages: {', '.join(d.states)}")
        case.state = state

    def _dates(self, case: PlannedCase, row: Row) -> None:
        d = case.definition
        assert d is not None
        opened = self.date(row, self.m.case["opened"], "opening date")
        if opened is None:
            raise BadCell(f"no opening date in column {self.m.case['opened'].column!r}")
        entered = self.date(row, self.m.case.get("entered"), "stage start date") or opened
        due = self.date(row, self.m.case.get("due"), "stage due date")
        if opened > self.today or entered > self.today:
            raise BadCell(f"{max(opened, entered)} is in the future: a tracker records what has happened")
        if entered < opened:
            raise BadCell(f"the stage started on {entered}, before the case was opened on {opened}")
        state = d.states[case.state] if case.state else None
        if due is not None and state is not None and state.time_limit is None:
            raise BadCell(f"stage {state.name} of {d.name} has no time limit, so it has no due date: "
                          "leave the due date empty")
        if due is not None and due < entered:
            raise BadCell(f"the stage is due on {due}, before it started on {entered}")
        case.opened, case.entered, case.due = opened, entered, due

    def _fields(self, case: PlannedCase, row: Row) -> None:
        d = case.definition
        assert d is not None
        case.fields = field_values(row, self.m, self.flows.fields(d), d.name, self.translate)
        if case.state:
            missing = [f for f in d.states[case.state].requires if case.fields.get(f) in (None, "")]
            if missing:
                raise BadCell(f"stage {case.state} needs {', '.join(missing)}: map a column to it under "
                              "case.fields and fill it in")

    def same_case(self, first: Row, row: Row, ref: str) -> None:
        """A case's later rows may leave its columns empty, or repeat them; not contradict them. Field
        values are compared without being quoted (see `field_values`)."""
        sources = [(s, True) for k, s in self.m.case.items() if k != "ref"]
        sources += [(s, False) for s in self.m.fields.values()]
        for source, shown in sources:
            if not row.given(source) or _norm(row.text(source)) == _norm(first.text(source)):
                continue
            says = f"says {row.text(source)!r} here but {first.text(source)!r}" if shown else \
                "differs from what it says"
            self.bad(row, f"{ref}: column {source.column!r} {says} on row {first.number}, the case's first row: give "
                          "a case's details once, or the same on each of its rows")

    # --- recommendations and actions -----------------------------------------------------------------

    def learning(self, case: PlannedCase, row: Row) -> None:
        rec, act = self.m.recommendation, self.m.action
        has_rec = any(row.given(s) for s in rec.values())
        has_action = any(row.given(s) for s in act.values())
        if not (has_rec or has_action):
            return
        try:
            if case.definition is not None and not case.recommendations:
                self._may_manage(case.definition)
            recommendation = self._recommendation(case, row)
            if has_action:
                recommendation.actions.append(self._action(row))
        except BadCell as exc:
            self.bad(row, f"{case.ref}: {exc}")

    def _may_manage(self, d: WorkflowDefinition) -> None:
        if not self.users.get(self.actor, frozenset()) & set(d.learning.manage):
            raise BadCell(f"{self.actor} may not record recommendations on {d.name} cases: that needs one of "
                          f"the roles {', '.join(d.learning.manage)}")

    def _recommendation(self, case: PlannedCase, row: Row) -> PlannedRecommendation:
        rec = self.m.recommendation
        text = row.text(rec.get("text"))
        key = _norm(row.text(rec.get("number"))) or _norm(text)
        if not key:
            if case.last_recommendation is None:
                raise BadCell(f"an action with no recommendation: give the recommendation's text in column "
                              f"{rec['text'].column!r}")
            return case.recommendations[case.last_recommendation]
        found = case.recommendations.get(key)
        if found is None:
            if not text:
                raise BadCell(f"recommendation {row.text(rec.get('number'))!r} has no text in column "
                              f"{rec['text'].column!r}")
            found = case.recommendations[key] = PlannedRecommendation(_limited(text, "recommendation", MAX_TEXT))
        elif text and _norm(text) != _norm(found.text):
            raise BadCell(f"recommendation {row.text(rec.get('number'))!r} has other text on an earlier row: "
                          "give its text once, or the same on each of its rows")
        case.last_recommendation = key
        self._add_list(found.themes, [normalise_theme(t) for t in _split(row.text(rec.get("themes")))])
        self._add_list(found.agencies, _split(row.text(rec.get("agencies"))))
        if case.definition is not None:
            problem = themes_problem(found.themes, case.definition.learning)
            if problem:
                raise BadCell(problem)
        return found

    @staticmethod
    def _add_list(target: list[str], items: list[str]) -> None:
        target.extend(i for i in items if i not in target)

    def _action(self, row: Row) -> PlannedAction:
        act = self.m.action
        description = _limited(row.text(act.get("description")), "action's description", MAX_TEXT)
        agency = _limited(self.translate(act.get("agency"), row.text(act.get("agency"))), "agency", _AGENCY_LIMIT)
        if not description or not agency:
            missing = "description" if not description else "agency"
            raise BadCell(f"the action has no {missing} (column {act[missing].column!r})")
        due = self.date(row, act["due"], "action due date")
        if due is None:
            raise BadCell(f"the action has no due date (column {act['due'].column!r})")
        owner = row.text(act.get("owner")) or None
        if owner is not None and owner not in self.users:
            raise BadCell(f"action owner {owner!r} is not a registered user: register them with "
                          f"'reviewflow user add {owner} --role action_owner', or leave the cell empty")
        status, reason = self._status(row)
        return PlannedAction(row.number, description, agency, owner, due,
                             _limited(row.text(act.get("measure")), "success measure", MAX_TEXT), status, reason)

    def _status(self, row: Row) -> tuple[str, str | None]:
        source = self.m.action.get("status")
        text = row.text(source)
        status = _status(self.translate(source, text)) if text else "agreed"
        if status is None:
            raise BadCell(f"unknown action status {text!r}: map it under action.status.values to one of: "
                          f"{', '.join(STATUSES)}")
        reason = _limited(row.text(self.m.action.get("reason")), "status reason", MAX_TEXT) or None
        if status in CLOSED_WITH_REASON and reason is None:
            column = self.m.action.get("reason")
            where = f"in column {column.column!r}" if column and column.column else "(map `action.reason` to a column)"
            raise BadCell(f"{'a superseded action' if status == 'superseded' else 'an action not implemented'} "
                          f"needs its reason {where}")
        return status, reason if status in CLOSED_WITH_REASON else None


def field_values(row: Row, mapping: TrackerMapping, specs: Mapping[str, FieldSpec], workflow: str,
                 translate: Callable[[Source | None, str], str]) -> dict[str, Any]:
    """The case's field values from one row: every field value is read here and only here. A sensitive
    field's value is never repeated in a message."""
    values: dict[str, Any] = {}
    for name, source in mapping.fields.items():
        text = row.text(source)
        if not text:
            continue
        spec = specs.get(name)
        if spec is None:
            raise BadCell(f"{workflow} has no field {name} (column {source.column!r}): leave the cell empty "
                          "for this review type")
        try:
            values[name] = parse_value(spec, translate(source, text))
        except FieldError as exc:
            if spec.sensitive:
                raise BadCell(f"field {name!r} (column {source.column!r}) holds a value it does not take; it is "
                              f"sensitive, so the value is not repeated here: it takes {spec.describe()}") from None
            raise BadCell(f"{exc} (column {source.column!r})") from None
    return values


def _limited(text: str, what: str, limit: int) -> str:
    if len(text) > limit:
        raise BadCell(f"the {what} is {len(text)} characters long; the limit is {limit}")
    return text


def _split(text: str) -> list[str]:
    for separator in _LIST_SEPARATORS[1:]:
        text = text.replace(separator, _LIST_SEPARATORS[0])
    return [part.strip() for part in text.split(_LIST_SEPARATORS[0]) if part.strip()]


# --- the import ------------------------------------------------------------------------------------------

class Progress(Protocol):
    def advance(self, rows: int) -> None: ...
    def close(self) -> None: ...


ProgressFactory = Callable[[str, int], "Progress | None"]


class TextProgress:
    """A progress bar on a text stream: redrawn in place on a terminal, a line at each tenth otherwise."""

    WIDTH = 30

    def __init__(self, stream: TextIO, label: str, total: int, tty: bool | None = None) -> None:
        self.stream = stream
        self.label = label
        self.total = total
        self.done = 0
        self.tty = stream.isatty() if tty is None else tty
        self.shown = -1
        self._draw()

    def advance(self, rows: int) -> None:
        self.done = min(self.total, self.done + rows)
        self._draw()

    def close(self) -> None:
        if self.tty:
            self.stream.write("\n")
            self.stream.flush()

    def _draw(self) -> None:
        pct = 100 * self.done // self.total if self.total else 100
        step = pct if self.tty else pct // 10 * 10
        if step == self.shown:
            return
        self.shown = step
        filled = self.WIDTH * pct // 100
        line = f"{self.label} [{'#' * filled}{'-' * (self.WIDTH - filled)}] {self.done}/{self.total} rows {pct:3d}%"
        self.stream.write(f"\r{line}" if self.tty else f"{line}\n")
        self.stream.flush()


@dataclass(frozen=True)
class RowProblem:
    row: int
    reason: str

    def __str__(self) -> str:
        return f"row {self.row}: {self.reason}"


@dataclass
class TrackerReport:
    file: str
    rows: int
    problems: list[RowProblem]
    skipped: list[int]
    """Good rows left out because another row of the same case is bad (--per-row)."""
    cases: int = 0
    recommendations: int = 0
    actions: int = 0
    dry_run: bool = False
    all_or_nothing: bool = True

    @property
    def bad_rows(self) -> list[int]:
        return sorted({p.row for p in self.problems})


@dataclass
class _Job:
    ctx: ServiceContext
    path: Path
    actor: str
    now: datetime
    progress: ProgressFactory

    def note(self, case: PlannedCase) -> str:
        rows = case.rows
        where = f"row {rows[0]}" if len(rows) == 1 else f"rows {', '.join(map(str, rows))}"
        return f"imported from {self.path.name} {where}"


def _new_case(job: _Job, case: PlannedCase) -> importing.NewCase:
    d = case.definition
    assert d is not None
    assert case.opened is not None
    assert case.entered is not None
    state = d.states[case.state]
    entered = start_of_day(case.entered)
    due: datetime | None = None
    if not state.terminal and case.due is not None:
        due = start_of_day(case.due + timedelta(days=1))
    elif not state.terminal and state.time_limit is not None:
        due = due_at(entered, state.time_limit, d.calendar)
    when = None if state.terminal else next_check(checkpoints(d, state, entered, due), ())
    return importing.NewCase(case.ref, d.name, d.version, case.state, state.terminal, case.fields, job.actor,
                             start_of_day(case.opened), entered, due, when, job.note(case))


def _write(job: _Job, s: Any, case: PlannedCase) -> tuple[int, int]:
    """One case with its recommendations and actions; returns (recommendations, actions) written."""
    d = case.definition
    assert d is not None
    case_id = importing.insert_case(s, _new_case(job, case))
    count = 0
    for r, rec in enumerate(case.recommendations.values(), 1):
        rec_id = importing.insert_recommendation(s, case_id, f"R{r}", rec.text, rec.themes, rec.agencies,
                                                 job.actor, job.now)
        actions = []
        for a in rec.actions:
            count += 1
            number = f"A{count}"
            when = next_check(action_checkpoints(d, number, a.due), ()) if a.status in WORKING else None
            actions.append(importing.NewAction(number, a.description, a.agency, a.owner, a.due, a.measure, a.status,
                                               a.reason, when))
        importing.insert_actions(s, case_id, rec_id, actions, job.actor, job.now)
    return len(case.recommendations), count


def _plan(mapping: TrackerMapping, flows: Workflows, sheet: Sheet, job: _Job,
          existing: set[str]) -> tuple[list[PlannedCase], dict[int, list[str]]]:
    users = {u.name: frozenset(u.roles) for u in _users(job.ctx)}
    planner = _Planner(mapping, flows, existing, users, job.actor, local_date(job.now))
    index = {_norm(h): i for i, h in reversed(list(enumerate(sheet.header)))}
    groups: dict[str, list[Row]] = {}
    ref_source = mapping.case["ref"]
    bar = job.progress("checking rows", len(sheet.rows))
    for number, cells in sheet.rows:
        row = Row(number, cells, index)
        ref = row.text(ref_source)
        if ref:
            groups.setdefault(ref, []).append(row)
        else:
            planner.bad(row, f"no case reference in column {ref_source.column!r}")
    if bar:
        bar.advance(len(planner.problems))
    cases = []
    for ref, rows in groups.items():
        case = planner.case(ref, rows[0])
        for row in rows:
            if row is not rows[0]:
                case.rows.append(row.number)
                planner.same_case(rows[0], row, ref)
            planner.learning(case, row)
        cases.append(case)
        if bar:
            bar.advance(len(rows))
    if bar:
        bar.close()
    return cases, planner.problems


def _users(ctx: ServiceContext) -> list[User]:
    with ctx.read() as s:
        return repo.list_users(s)


def _prepare(ctx: ServiceContext, path: Path, mapping_path: Path) -> tuple[TrackerMapping, Workflows, Sheet]:
    try:
        text = mapping_path.read_text("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidValue(f"cannot read the mapping {mapping_path}: {exc}") from None
    mapping = load_mapping(text, str(mapping_path))
    with ctx.read() as s:
        newest = repo.latest_definitions(s)
    flows = Workflows({w.name: ctx.parsed(w) for w in newest})
    problems = check_mapping(mapping, flows)
    try:
        sheet = read_sheet(path, mapping)
    except InvalidMapping as exc:
        raise InvalidMapping(sorted(problems + exc.problems, key=lambda p: p.line or 0)) from None
    problems += check_columns(mapping, sheet)
    if problems:
        raise InvalidMapping(sorted(problems, key=lambda p: p.line or 0))
    return mapping, flows, sheet


def _commit(job: _Job, cases: list[PlannedCase], all_or_nothing: bool, report: TrackerReport) -> None:
    bar = job.progress("importing cases", sum(len(c.rows) for c in cases))
    try:
        if all_or_nothing:
            with job.ctx.transaction() as s, s.no_autoflush:  # history rows are sealed in one flush
                for case in cases:
                    _count(report, _write(job, s, case))
                    if bar:
                        bar.advance(len(case.rows))
            return
        for case in cases:
            try:
                with job.ctx.transaction() as s:
                    _count(report, _write(job, s, case))
            except ReviewflowError as exc:
                report.problems.append(RowProblem(case.rows[0], f"{case.ref}: not imported: {exc}"))
            if bar:
                bar.advance(len(case.rows))
    finally:
        if bar:
            bar.close()


def _count(report: TrackerReport, written: tuple[int, int]) -> None:
    report.cases += 1
    report.recommendations += written[0]
    report.actions += written[1]


def _no_progress(_label: str, _total: int) -> Progress | None:
    return None


def import_tracker(ctx: ServiceContext, path: Path, mapping_path: Path, actor: str, all_or_nothing: bool = True,
                   dry_run: bool = False, progress: ProgressFactory = _no_progress) -> TrackerReport:
    """Check every row of the spreadsheet at `path`; import its cases unless told not to (see the module)."""
    mapping, flows, sheet = _prepare(ctx, path, mapping_path)
    if actor not in {u.name for u in _users(ctx)}:
        raise UserNotFound(actor)
    job = _Job(ctx, path, actor, ctx.clock(), progress)
    column = _column(sheet, mapping.case["ref"])
    with ctx.read() as s:
        existing = importing.existing_refs(s, [_text(cells[column]) for _, cells in sheet.rows if column < len(cells)])
    cases, problems = _plan(mapping, flows, sheet, job, existing)
    found = [RowProblem(row, reason) for row in sorted(problems) for reason in problems[row]]
    good = [c for c in cases if not any(r in problems for r in c.rows)]
    skipped = sorted(r for c in cases if any(r in problems for r in c.rows) for r in c.rows if r not in problems)
    report = TrackerReport(path.name, len(sheet.rows), found, skipped, dry_run=dry_run, all_or_nothing=all_or_nothing)
    chosen = [] if (all_or_nothing and found) else good
    if dry_run:
        for case in chosen:
            _count(report, (len(case.recommendations), sum(len(r.actions) for r in case.recommendations.values())))
    elif chosen:
        _commit(job, chosen, all_or_nothing, report)
    log.info("tracker.imported", file=path.name, rows=report.rows, cases=report.cases,
             recommendations=report.recommendations, actions=report.actions, bad_rows=len(report.bad_rows),
             skipped_rows=len(skipped), all_or_nothing=all_or_nothing, dry_run=dry_run)
    return report


def _column(sheet: Sheet, source: Source) -> int:
    assert source.column is not None
    return next(i for i, h in enumerate(sheet.header) if _norm(h) == _norm(source.column))
