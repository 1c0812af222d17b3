"""`Reviewflow`: the one façade every front end calls (the CLI, the HTTP API, the web pages, the demo).

It holds nothing of its own: each method hands over to the service for that family of use cases,
all sharing one `ServiceContext` (database, clock, settings, parsed definitions). A rule and its
refusal live in the services, so every front end enforces the same thing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import date, datetime
from pathlib import Path

from reviewflow.engine.core import migration as migrating
from reviewflow.engine.core.clock import Clock
from reviewflow.engine.core.definition import WorkflowDefinition
from reviewflow.engine.core.diff import DefinitionDiff
from reviewflow.engine.core.records import (
    Action,
    AuditReport,
    CaseView,
    Fired,
    OutboxEntry,
    ScheduleRun,
    StoredDefinition,
    User,
)
from reviewflow.engine.core.reports.annual import AnnualReport
from reviewflow.engine.core.reports.board import BoardReport
from reviewflow.engine.core.reports.data import ReportData
from reviewflow.engine.services.audit import AuditService
from reviewflow.engine.services.cases import CaseService
from reviewflow.engine.services.context import ServiceContext, system_clock
from reviewflow.engine.services.definitions import DefinitionService, LoadResult
from reviewflow.engine.services.delivery import Deliverer, DeliveryReport, OutboxService, Sender
from reviewflow.engine.services.escalation import Sweeper, SweepReport
from reviewflow.engine.services.learning import Learning, LearningService
from reviewflow.engine.services.reports import ReportService
from reviewflow.engine.services.schedules import ScheduleReport, ScheduleRunner, Upcoming
from reviewflow.engine.services.settings import Settings
from reviewflow.engine.services.tracker import ProgressFactory, TrackerReport, import_tracker
from reviewflow.engine.services.transfer import ImportResult, export_dump, import_dump
from reviewflow.engine.services.users import UserService
from reviewflow.engine.services.worker import Worker, run_worker
from reviewflow.store.db import Database


class Reviewflow:
    """Every use case, one method each; each is one transaction (or a run of them) with time from `clock`."""

    def __init__(self, db: Database, clock: Clock = system_clock, settings: Settings | None = None) -> None:
        self.ctx = ServiceContext(db, clock, settings)
        self.definitions = DefinitionService(self.ctx)
        self.user_service = UserService(self.ctx, self.definitions)
        self.case_service = CaseService(self.ctx)
        self.learning_service = LearningService(self.ctx)
        self.outbox_service = OutboxService(self.ctx)
        self.report_service = ReportService(self.ctx)
        self.audit_service = AuditService(self.ctx)
        self.schedules = ScheduleRunner(self.ctx, self.case_service)

    @property
    def db(self) -> Database:
        return self.ctx.db

    @property
    def clock(self) -> Clock:
        return self.ctx.clock

    @property
    def settings(self) -> Settings:
        return self.ctx.settings

    def ensure_ready(self) -> None:
        """Refuse a missing, uninitialised or outdated database with advice."""
        self.ctx.ensure_ready()

    # --- the database and workflow definitions ---------------------------------------------------

    def init(self, extra: Iterable[Path] = ()) -> list[LoadResult]:
        """Create the tables (if missing) and load the shipped workflows plus `extra` files."""
        return self.definitions.init(extra)

    def upgrade_schema(self) -> tuple[str | None, str]:
        return self.definitions.upgrade_schema()

    def load_workflow_file(self, path: Path) -> LoadResult:
        return self.definitions.load_file(path)

    def load_workflow_text(self, text: str, source_name: str) -> LoadResult:
        return self.definitions.load_text(text, source_name)

    def workflows(self) -> list[StoredDefinition]:
        return self.definitions.workflows()

    def definition(self, name: str, version: int | None = None) -> WorkflowDefinition:
        return self.ctx.definition(name, version)

    def all_definitions(self) -> dict[tuple[str, int], WorkflowDefinition]:
        return self.ctx.all_definitions()

    def diff(self, name: str, old: int, new: int) -> DefinitionDiff:
        return self.definitions.diff(name, old, new)

    def migrate(self, name: str, to_version: int, mapping: Mapping[str, str], actor: str | None,
                dry_run: bool = False) -> migrating.MigrationPlan:
        return self.definitions.migrate(name, to_version, mapping, actor, dry_run)

    # --- users -----------------------------------------------------------------------------------

    def add_user(self, name: str, roles: Sequence[str], email: str | None = None,
                 agency: str | None = None) -> User:
        return self.user_service.add(name, roles, email, agency)

    def grant(self, name: str, roles: Sequence[str]) -> User:
        return self.user_service.grant(name, roles)

    def users(self) -> list[User]:
        return self.user_service.list()

    # --- cases -----------------------------------------------------------------------------------

    def open_case(self, workflow: str, ref: str, actor: str, fields: Mapping[str, str],
                  note: str | None = None) -> CaseView:
        return self.case_service.open(workflow, ref, actor, fields, note)

    def fire(self, ref: str, trigger: str, actor: str, fields: Mapping[str, str], note: str | None = None) -> Fired:
        return self.case_service.fire(ref, trigger, actor, fields, note)

    def open_scheduled(self, workflow: str, ref: str, period: str, scheduled_for: datetime,
                       note: str | None = None, fields: Mapping[str, str] | None = None) -> CaseView | None:
        return self.case_service.open_scheduled(workflow, ref, period, scheduled_for, note, fields)

    def pause(self, ref: str, actor: str, reason: str) -> CaseView:
        return self.case_service.pause(ref, actor, reason)

    def resume(self, ref: str, actor: str, note: str | None = None) -> CaseView:
        return self.case_service.resume(ref, actor, note)

    def case(self, ref: str, actor: str | None = None) -> CaseView:
        return self.case_service.show(ref, actor)

    def cases(self, workflow: str | None = None, state: str | None = None, overdue: bool = False,
              include_closed: bool = True) -> list[CaseView]:
        return self.case_service.list(workflow, state, overdue, include_closed)

    def working_days_overdue(self, view: CaseView) -> int:
        return view.working_days_overdue

    # --- the learning loop ------------------------------------------------------------------------

    def recommend(self, ref: str, actor: str, text: str, themes: Sequence[str] = (),
                  agencies: Sequence[str] = ()) -> str:
        return self.learning_service.recommend(ref, actor, text, themes, agencies)

    def add_action(self, ref: str, actor: str, recommendation: str, description: str, agency: str,
                   due: str, owner: str | None = None, measure: str = "") -> str:
        return self.learning_service.add_action(ref, actor, recommendation, description, agency, due, owner, measure)

    def update_action(self, ref: str, number: str, actor: str, status: str | None = None,
                      reason: str | None = None, due: str | None = None, owner: str | None = None,
                      agency: str | None = None, measure: str | None = None) -> Action:
        return self.learning_service.update_action(ref, number, actor, status, reason, due, owner, agency, measure)

    def submit_evidence(self, ref: str, number: str, actor: str, kind: str, description: str,
                        reference: str) -> str:
        return self.learning_service.submit_evidence(ref, number, actor, kind, description, reference)

    def decide_evidence(self, ref: str, evidence: str, actor: str, accept: bool, reason: str | None = None) -> str:
        return self.learning_service.decide_evidence(ref, evidence, actor, accept, reason)

    def verify_action(self, ref: str, number: str, actor: str, note: str | None = None) -> Action:
        return self.learning_service.verify_action(ref, number, actor, note)

    def evaluate_action(self, ref: str, number: str, actor: str, method: str, measured_on: str,
                        finding: str) -> Action:
        return self.learning_service.evaluate_action(ref, number, actor, method, measured_on, finding)

    def record_dissemination(self, ref: str, actor: str, kind: str, audience: str, held_on: str,
                             reference: str | None = None) -> None:
        self.learning_service.record_dissemination(ref, actor, kind, audience, held_on, reference)

    def learning(self, ref: str) -> Learning:
        return self.learning_service.learning(ref)

    def actions(self, agency: str | None = None, overdue: bool = False, theme: str | None = None,
                ref: str | None = None, status: str | None = None) -> list[Action]:
        return self.learning_service.actions(agency, overdue, theme, ref, status)

    def action(self, ref: str, number: str) -> Action:
        """One action of a case, with its evidence."""
        return self.learning_service.action(ref, number)

    # --- escalation, schedules, delivery and the worker ---------------------------------------------

    def sweep(self, dry_run: bool = False, batch: int | None = None,
              progress: Callable[[SweepReport], None] | None = None) -> SweepReport:
        """Fire every reminder and ladder level due now, each exactly once."""
        return Sweeper(self.ctx, progress).sweep(dry_run=dry_run, batch=batch)

    def open_due_periods(self, dry_run: bool = False) -> ScheduleReport:
        """Open the case of every period of a recurring workflow that is due and not yet open."""
        return self.schedules.open_due(dry_run)

    def upcoming_periods(self) -> list[Upcoming]:
        return self.schedules.upcoming()

    def schedule_runs(self, workflow: str | None = None) -> list[ScheduleRun]:
        return self.schedules.runs(workflow)

    def deliver(self, limit: int | None = None, send: Sender | None = None) -> DeliveryReport:
        """Deliver every notification due now; return what happened."""
        return Deliverer(self.ctx, send).run(limit)

    def outbox(self, status: str | None = None, ref: str | None = None) -> list[OutboxEntry]:
        return self.outbox_service.list(status, ref)

    def retry_outbox(self, ids: list[int]) -> int:
        return self.outbox_service.retry(ids)

    def worker(self, send: Sender | None = None) -> Worker:
        """A worker over this façade's services (`reviewflow run`)."""
        return Worker(self.ctx, self.schedules, Sweeper(self.ctx), Deliverer(self.ctx, send))

    def run_worker(self, interval: float | None = None, once: bool = False) -> int:
        """Tick until stopped (or once); the exit status."""
        return run_worker(self.worker(), interval or self.settings.interval_seconds, once)

    # --- reports, audit, export and import ----------------------------------------------------------

    def report_data(self) -> ReportData:
        return self.report_service.data()

    def board_report(self, start: date | None = None, end: date | None = None) -> BoardReport:
        return self.report_service.board(start, end)

    def annual_report(self, year: str) -> AnnualReport:
        return self.report_service.annual(year)

    def verify_audit(self, ref: str | None = None,
                     progress: Callable[[int, int], None] | None = None) -> AuditReport:
        return self.audit_service.verify(ref, progress)

    def export_dump(self) -> tuple[str, dict[str, int]]:
        return export_dump(self.ctx)

    def import_dump(self, text: str, source: str, dry_run: bool = False) -> ImportResult:
        return import_dump(self.ctx, text, source, dry_run)

    def import_tracker(self, path: Path, mapping_path: Path, actor: str, all_or_nothing: bool = True,
                       dry_run: bool = False, progress: ProgressFactory | None = None) -> TrackerReport:
        """Bring in a board's spreadsheet of reviews and action plans, checked row by row."""
        return import_tracker(self.ctx, path, mapping_path, actor, all_or_nothing, dry_run,
                              progress or (lambda _label, _total: None))
