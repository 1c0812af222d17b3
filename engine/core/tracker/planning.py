"""Tracker rows planned into cases: each case with its stage, dates and fields, its recommendations and their
actions, and every reason a row cannot be imported, as `row N: reason` (spreadsheet numbering, the header is
row 1).

A case spanning several rows (one per action) takes its details from its first row; later rows may leave
them empty or repeat them, not contradict them. Nothing here writes: the service commits the plan.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from reviewflow.engine.core.agencies import Register, agency_key, normalise
from reviewflow.engine.core.definition import FieldSpec, WorkflowDefinition
from reviewflow.engine.core.errors import FieldError, InvalidValue, ReviewflowError
from reviewflow.engine.core.fields import MAX_TEXT, parse_value
from reviewflow.engine.core.learning import CLOSED_WITH_REASON, STATUSES, themes_problem
from reviewflow.engine.core.themes import ThemeList, check_key
from reviewflow.engine.core.tracker.cells import Sheet, cell_text, norm
from reviewflow.engine.core.tracker.mapping import Source, TrackerMapping, Workflows, action_status, find_state

_AGENCY_LIMIT = 120
_LIST_SEPARATORS = (";", ",", "\n")


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
    existing: bool = False
    """Already in the database: brought up to date from the sheet (`--update`), not created."""


@dataclass
class MissingOwner:
    """An action owner the sheet names who is not a registered user: `--create-owners` registers them as an
    action owner of the agency their first row names."""

    name: str
    agency: str
    rows: list[int] = field(default_factory=list)


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
        i = self.index[norm(source.column)]
        return self.cells[i] if i < len(self.cells) else None

    def text(self, source: Source | None) -> str:
        return cell_text(self.raw(source))

    def given(self, source: Source | None) -> bool:
        """The row has its own value in this column (a fixed value does not count)."""
        return source is not None and source.column is not None and bool(self.text(source))


class Planner:
    """Checks rows against the mapping, the loaded workflows and what is already in the database.

    `existing` holds the references already in the database, `users` each registered user's roles, and
    `check_ref` is how a case reference is checked (it raises InvalidValue for one that is not usable).
    """

    def __init__(self, mapping: TrackerMapping, flows: Workflows, existing: set[str], users: Mapping[str, frozenset],
                 actor: str, today: date, check_ref: Callable[[str], object],
                 register: Register | None = None, update: bool = False, create_owners: bool = False) -> None:
        self.m = mapping
        self.update = update
        self.create_owners = create_owners
        self.missing_owners: dict[str, MissingOwner] = {}
        """Action owners the sheet names who are not registered users, in the order first met."""
        self.register = register
        self.check_ref = check_ref
        self.flows = flows
        self.existing = existing
        self.users = users
        self.actor = actor
        self.today = today
        self.themes: ThemeList | None = None
        """The partnership's learning themes (None: themes as written)."""
        self.new_themes: dict[str, str] = {}
        """Themes the sheet names that are not on the list, by key, with their label as first written: the
        import adds them to the list (a tracker's themes are what was recorded at the time)."""
        self.problems: dict[int, list[str]] = {}

    def bad(self, row: Row, reason: str) -> None:
        self.problems.setdefault(row.number, []).append(reason)

    def date(self, row: Row, source: Source | None, what: str) -> date | None:
        raw = row.raw(source)
        if isinstance(raw, datetime):
            return raw.date()
        if isinstance(raw, date):
            return raw
        text = cell_text(raw)
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
        return source.values.get(norm(text), text)

    def agency(self, text: str, source: Source | None) -> str:
        """The registered agency a cell names, directly or through the mapping's `agencies:` (no register: as
        written)."""
        if self.register is None:
            return text
        mapped = self.m.agencies.get(agency_key(text))
        found = self.register.find(mapped[1] if mapped else text)
        if found is not None:
            return found
        near = self.register.suggestions(text)
        hint = f" (did you mean {' or '.join(repr(n) for n in near)}?)" if near else ""
        where = f" (column {source.column!r})" if source is not None and source.column else ""
        raise BadCell(f"agency {normalise(text)!r}{where} is not a registered agency{hint}: map the tracker's "
                      "spelling under `agencies:` in the mapping, or an administrator can add it with "
                      "'reviewflow agency add'")

    def plan(self, sheet: Sheet, advance: Callable[[int], object] = lambda _rows: None) -> list[PlannedCase]:
        """Every row of `sheet` checked and grouped into cases by reference; each reason a row cannot be
        imported is noted in `problems`, by row. `advance` is told how many more rows are done as they are."""
        index = {norm(h): i for i, h in reversed(list(enumerate(sheet.header)))}
        groups: dict[str, list[Row]] = {}
        ref_source = self.m.case["ref"]
        for number, cells in sheet.rows:
            row = Row(number, cells, index)
            ref = row.text(ref_source)
            if ref:
                groups.setdefault(ref, []).append(row)
            else:
                self.bad(row, f"no case reference in column {ref_source.column!r}")
        advance(len(self.problems))
        cases = []
        for ref, rows in groups.items():
            case = self.case(ref, rows[0])
            for row in rows:
                if row is not rows[0]:
                    case.rows.append(row.number)
                    self.same_case(rows[0], row, ref)
                self.learning(case, row)
            cases.append(case)
            advance(len(rows))
        return cases

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
        try:
            self.check_ref(case.ref)
        except InvalidValue as exc:
            raise BadCell(str(exc)) from None
        if case.ref in self.existing:
            if self.update:
                case.existing = True
                return
            raise BadCell("a case with this reference is already in the database: pass --update to bring in what "
                          "the sheet changes on it, or leave the row out")

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
        names = (norm(d.name), norm(d.title))
        own = next((v for k, v in source.values.items() if isinstance(v, dict) and k in names), {})
        flat = source.values.get(norm(text))
        state = find_state(d, own.get(norm(text)) or (flat if isinstance(flat, str) else None) or text)
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
            if not row.given(source) or norm(row.text(source)) == norm(first.text(source)):
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
        key = norm(row.text(rec.get("number"))) or norm(text)
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
        elif text and norm(text) != norm(found.text):
            raise BadCell(f"recommendation {row.text(rec.get('number'))!r} has other text on an earlier row: "
                          "give its text once, or the same on each of its rows")
        case.last_recommendation = key
        self._add_list(found.themes, [self.theme(t, rec.get("themes")) for t in _split(row.text(rec.get("themes")))])
        named = _split(row.text(rec.get("agencies")))
        self._add_list(found.agencies, [self.agency(a, rec.get("agencies")) for a in named])
        if case.definition is not None:
            problem = themes_problem(found.themes, case.definition.learning)
            if problem:
                raise BadCell(problem)
        return found

    def theme(self, text: str, source: Source | None) -> str:
        """The key of the learning theme a cell names (through the mapping's values for its column): one of the
        list, retired ones too (a tracker records the past), or a new one the import adds (`new_themes`)."""
        text = self.translate(source, text)
        found = self.themes.find(text) if self.themes is not None else None
        if found is not None:
            return found.key
        try:
            key = check_key(text)
        except ReviewflowError as exc:
            raise BadCell(exc.message) from None
        if self.themes is not None:
            self.new_themes.setdefault(key, " ".join(text.split()))
        return key

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
        agency = self.agency(agency, act.get("agency"))
        due = self.date(row, act["due"], "action due date")
        if due is None:
            raise BadCell(f"the action has no due date (column {act['due'].column!r})")
        owner = row.text(act.get("owner")) or None
        if owner is not None and owner not in self.users:
            person = self.missing_owners.setdefault(owner, MissingOwner(owner, agency))
            person.rows.append(row.number)
            if not self.create_owners:
                raise BadCell(f"action owner {owner!r} is not a registered user (see the list of people to "
                              "register below)")
        status, reason = self._status(row)
        return PlannedAction(row.number, description, agency, owner, due,
                             _limited(row.text(act.get("measure")), "success measure", MAX_TEXT), status, reason)

    def _status(self, row: Row) -> tuple[str, str | None]:
        source = self.m.action.get("status")
        text = row.text(source)
        status = action_status(self.translate(source, text)) if text else "agreed"
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
