"""`reviewflow import tracker`: a board's spreadsheet of reviews and action plans brought in as cases.

A mapping file (YAML, see docs/import-export.md) says which column holds what. Every row is checked
before anything is written; each bad row is reported as `row N: reason` (spreadsheet numbering, the
header is row 1). Cases are placed straight into their current stage, with the stage's due time
computed from the date it was entered, so they remind and escalate like any other case afterwards.
A case spanning several rows (one per action) is imported whole or not at all.

This service reads the files, plans the rows with the core's rules (`engine/core/tracker/`) and
commits the plan in transactions; the spreadsheet is read by `sheets.py`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import structlog

from reviewflow.engine.core.agencies import Register
from reviewflow.engine.core.durations import local_date, start_of_day
from reviewflow.engine.core.errors import InvalidValue, ReviewflowError, UserNotFound
from reviewflow.engine.core.escalation import action_checkpoints, checkpoints, next_check
from reviewflow.engine.core.learning import WORKING
from reviewflow.engine.core.records import NewAction, User
from reviewflow.engine.core.statutory import stage_due
from reviewflow.engine.core.tracker.cells import Sheet, cell_text
from reviewflow.engine.core.tracker.changes import CaseUpdate, compare
from reviewflow.engine.core.tracker.mapping import (
    InvalidMapping,
    TrackerMapping,
    Workflows,
    check_agencies,
    check_columns,
    check_mapping,
    load_mapping,
)
from reviewflow.engine.core.tracker.planning import BadCell, PlannedCase, Planner
from reviewflow.engine.core.tracker.report import RowProblem, TrackerReport
from reviewflow.engine.render.progress import Progress, ProgressFactory, TextProgress
from reviewflow.engine.services.cases import check_ref
from reviewflow.engine.services.sheets import read_sheet
from reviewflow.engine.services.themes import add_imported
from reviewflow.engine.services.tracker_update import Writer, current_case, write_update
from reviewflow.store import agencies, importing, repo
from reviewflow.store import themes as theme_store

if TYPE_CHECKING:
    from reviewflow.engine.services.context import ServiceContext

__all__ = [
    "PROGRESS_FROM_ROWS",
    "Progress",
    "ProgressFactory",
    "RowProblem",
    "TextProgress",
    "TrackerReport",
    "import_tracker",
]

log = structlog.get_logger("reviewflow.tracker")

OwnerMaker = Callable[[Any, str, str], None]
"""Registers a missing action owner (session, name, agency) in the import's transaction."""

PROGRESS_FROM_ROWS = 200
"""Files with at least this many rows show a progress bar when standard error is a terminal."""


@dataclass
class _Job:
    ctx: ServiceContext
    path: Path
    actor: str
    now: datetime
    progress: ProgressFactory
    recorded: str
    """Who the imported rows say brought them in ('ADMIN for USER' when an administrator acts for someone)."""
    update: bool = False
    make_owner: OwnerMaker | None = None
    updates: dict[str, CaseUpdate] = field(default_factory=dict)
    new_themes: dict[str, str] = field(default_factory=dict)
    """Learning themes the sheet names that are not on the list (key: label): added as their cases are written."""

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
        due = stage_due(d, case.state, case.fields, entered)
    when = None if state.terminal else next_check(checkpoints(d, state, entered, due), ())
    if not state.terminal and (d.milestones or d.progress_checks):
        when = entered  # the next sweep works out its milestones and progress checks (services/clocks.py)
    return importing.NewCase(case.ref, d.name, d.version, case.state, state.terminal, case.fields, job.recorded,
                             start_of_day(case.opened), entered, due, when, job.note(case), d.subgroup)


def _write(job: _Job, s: Any, case: PlannedCase) -> tuple[int, int]:
    """One case with its recommendations and actions; returns (recommendations, actions) written."""
    themes = {t: job.new_themes[t] for r in case.recommendations.values() for t in r.themes if t in job.new_themes}
    add_imported(s, themes, job.ctx.clock(), job.recorded, job.path.name)
    if case.existing:
        found = job.updates[case.ref]
        record = repo.get_case_record(s, case.ref)
        own = job.ctx.definition_in(s, record.workflow, record.version)
        write_update(s, Writer(job.recorded, job.now, job.path.name), own, case, found)
        return len(found.recommendations), len(found.actions)
    d = case.definition
    assert d is not None
    case_id = importing.insert_case(s, _new_case(job, case))
    count = 0
    for r, rec in enumerate(case.recommendations.values(), 1):
        rec_id = importing.insert_recommendation(s, case_id, f"R{r}", rec.text, rec.themes, rec.agencies,
                                                 job.recorded, job.now)
        actions = []
        for a in rec.actions:
            count += 1
            number = f"A{count}"
            when = next_check(action_checkpoints(d, number, a.due), ()) if a.status in WORKING else None
            actions.append(NewAction(number, a.description, a.agency, a.owner, a.due, a.measure, a.status,
                                               a.reason, when))
        importing.insert_actions(s, case_id, rec_id, actions, job.recorded, job.now)
    return len(case.recommendations), count


def _plan(mapping: TrackerMapping, flows: Workflows, sheet: Sheet, job: _Job,
          existing: set[str], register: Register) -> tuple[list[PlannedCase], Planner]:
    users = {u.name: frozenset(u.roles) for u in _users(job.ctx)}
    planner = Planner(mapping, flows, existing, users, job.actor, local_date(job.now), check_ref, register,
                      update=job.update, create_owners=job.make_owner is not None)
    with job.ctx.read() as s:  # a theme a cell names is matched to the partnership's list, or added to it
        planner.themes = theme_store.theme_list(s)
    job.new_themes = planner.new_themes
    bar = job.progress("checking rows", len(sheet.rows))
    cases = planner.plan(sheet, bar.advance if bar else lambda _rows: None)
    if bar:
        bar.close()
    return cases, planner


def _compare(job: _Job, cases: list[PlannedCase], problems: dict[int, list[str]]) -> dict[str, CaseUpdate]:
    """What the sheet changes on each case already in the database (`--update`); a change a tracker may not make
    is a problem on the case's first row."""
    updates: dict[str, CaseUpdate] = {}
    with job.ctx.read() as s:
        for case in cases:
            if not case.existing or any(r in problems for r in case.rows):
                continue
            record = repo.get_case_record(s, case.ref)
            d = job.ctx.definition_in(s, record.workflow, record.version)
            try:
                updates[case.ref] = compare(case, current_case(s, case.ref, d))
            except BadCell as exc:
                problems.setdefault(case.rows[0], []).append(f"{case.ref}: {exc}")
    return updates


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
        register = agencies.register(s)
    flows = Workflows({w.name: ctx.parsed(w) for w in newest})
    problems = check_mapping(mapping, flows) + check_agencies(mapping, register)
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
                _create_owners(job, s, report)
                for case in cases:
                    _count(report, _write(job, s, case), case.existing)
                    if bar:
                        bar.advance(len(case.rows))
            return
        with job.ctx.transaction() as s:
            _create_owners(job, s, report)
        for case in cases:
            try:
                with job.ctx.transaction() as s:
                    _count(report, _write(job, s, case), case.existing)
            except ReviewflowError as exc:
                report.problems.append(RowProblem(case.rows[0], f"{case.ref}: not imported: {exc}"))
            if bar:
                bar.advance(len(case.rows))
    finally:
        if bar:
            bar.close()


def _create_owners(job: _Job, s: Any, report: TrackerReport) -> None:
    """Register each missing action owner (`--create-owners`), in the import's transaction."""
    if job.make_owner is None:
        return
    for missing in report.missing_owners:
        job.make_owner(s, missing.name, missing.agency)
        report.created_owners.append(missing.name)


def _count(report: TrackerReport, written: tuple[int, int], existing: bool = False) -> None:
    if existing:
        report.updated += 1
        report.recommendations += written[0]
        report.actions += written[1]
        return
    report.cases += 1
    report.recommendations += written[0]
    report.actions += written[1]


def _no_progress(_label: str, _total: int) -> Progress | None:
    return None


def import_tracker(ctx: ServiceContext, path: Path, mapping_path: Path, actor: str, all_or_nothing: bool = True,
                   dry_run: bool = False, progress: ProgressFactory = _no_progress,
                   recorded: str | None = None, update: bool = False,
                   make_owner: OwnerMaker | None = None) -> TrackerReport:
    """Check every row of the spreadsheet at `path`; import its cases unless told not to (see the module).

    With `update`, cases already in the database are brought up to date from the sheet
    (`engine/core/tracker/changes.py`); with `make_owner`, action owners who are not registered users are
    registered by it (in the import's transaction) instead of refusing their rows."""
    mapping, flows, sheet = _prepare(ctx, path, mapping_path)
    if actor not in {u.name for u in _users(ctx)}:
        raise UserNotFound(actor)
    job = _Job(ctx, path, actor, ctx.clock(), progress, recorded or actor, update, make_owner)
    ref_column = mapping.case["ref"].column
    assert ref_column is not None
    column = sheet.column(ref_column)
    with ctx.read() as s:
        existing = importing.existing_refs(s, [cell_text(cells[column]) for _, cells in sheet.rows
                                               if column < len(cells)])
        register = agencies.register(s)
    cases, planner = _plan(mapping, flows, sheet, job, existing, register)
    problems = planner.problems
    job.updates = _compare(job, cases, problems) if update else {}
    found = [RowProblem(row, reason) for row in sorted(problems) for reason in problems[row]]
    good = [c for c in cases if not any(r in problems for r in c.rows)]
    skipped = sorted(r for c in cases if any(r in problems for r in c.rows) for r in c.rows if r not in problems)
    report = TrackerReport(path.name, len(sheet.rows), found, skipped, dry_run=dry_run, all_or_nothing=all_or_nothing,
                           missing_owners=list(planner.missing_owners.values()), new_themes=list(job.new_themes))
    chosen = [] if (all_or_nothing and found) else good
    for case in good:
        change = job.updates.get(case.ref)
        if change is not None:
            report.changes += change.lines()
            report.unchanged += change.empty
    chosen = [c for c in chosen if not (c.existing and job.updates[c.ref].empty)]
    if dry_run:
        for case in chosen:
            change = job.updates.get(case.ref)
            written = (len(change.recommendations), len(change.actions)) if change else \
                (len(case.recommendations), sum(len(r.actions) for r in case.recommendations.values()))
            _count(report, written, case.existing)
        report.created_owners = [m.name for m in report.missing_owners] if make_owner and not found else []
    elif chosen or (make_owner and report.missing_owners and not (all_or_nothing and found)):
        _commit(job, chosen, all_or_nothing, report)
    log.info("tracker.imported", file=path.name, rows=report.rows, cases=report.cases, updated=report.updated,
             recommendations=report.recommendations, actions=report.actions, bad_rows=len(report.bad_rows),
             skipped_rows=len(skipped), all_or_nothing=all_or_nothing, dry_run=dry_run)
    return report
