"""`Reviewflow`: the one façade every front end calls (the CLI, the HTTP API, the web pages, the demo).

It holds nothing of its own: each method hands over to the service for that family of use cases,
all sharing one `ServiceContext` (database, clock, settings, parsed definitions). A rule and its
refusal live in the services, so every front end enforces the same thing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Any

from reviewflow.engine.core import migration as migrating
from reviewflow.engine.core.access import Identity
from reviewflow.engine.core.clock import Clock
from reviewflow.engine.core.definition import WorkflowDefinition
from reviewflow.engine.core.diff import DefinitionDiff
from reviewflow.engine.core.learning import TRAINING
from reviewflow.engine.core.measures import MeasureInput
from reviewflow.engine.core.records import (
    Account,
    Action,
    AdminEvent,
    AgencyReturn,
    ApiToken,
    AuditReport,
    CaseView,
    EvidenceFile,
    Fired,
    OutboxEntry,
    ScheduleRun,
    StoredDefinition,
    Subgroup,
    User,
)
from reviewflow.engine.core.reports.annual import AnnualReport
from reviewflow.engine.core.reports.board import BoardReport
from reviewflow.engine.core.reports.data import ReportData
from reviewflow.engine.core.risks import Risk
from reviewflow.engine.core.subgroups import scoped
from reviewflow.engine.core.themes import Theme
from reviewflow.engine.core.time_limits import TimeLimits
from reviewflow.engine.services.accounts import AccountService, NewToken, SignedIn
from reviewflow.engine.services.agencies import AgencyService
from reviewflow.engine.services.audit import AuditService
from reviewflow.engine.services.calendars import CalendarService
from reviewflow.engine.services.cases import CaseService
from reviewflow.engine.services.clocks import CheckRecorded, record_outcome
from reviewflow.engine.services.context import ServiceContext, system_clock
from reviewflow.engine.services.definitions import DefinitionService, LoadResult, WorkflowPreview
from reviewflow.engine.services.delivery import Deliverer, DeliveryReport, OutboxService, Sender
from reviewflow.engine.services.digest import DigestService
from reviewflow.engine.services.escalation import Sweeper, SweepReport
from reviewflow.engine.services.files import FileService
from reviewflow.engine.services.grading import Grade, GradeRequest, GradingService
from reviewflow.engine.services.learning import Learning, LearningService
from reviewflow.engine.services.links import LinkService
from reviewflow.engine.services.measures import MeasureService
from reviewflow.engine.services.reports import ReportService
from reviewflow.engine.services.returns import ReturnService
from reviewflow.engine.services.risks import RiskService
from reviewflow.engine.services.schedules import ScheduleReport, ScheduleRunner, Upcoming
from reviewflow.engine.services.settings import Settings
from reviewflow.engine.services.subgroups import SubgroupService
from reviewflow.engine.services.themes import ThemeService
from reviewflow.engine.services.time_settings import TimeSettingsService
from reviewflow.engine.services.tracker import ProgressFactory, TrackerReport, import_tracker
from reviewflow.engine.services.transfer import (
    ImportResult,
    PassphraseSource,
    check_passphrase,
    export_dump,
    import_dump,
    read_file,
    write_file,
)
from reviewflow.engine.services.user_import import UserImport, UserImportReport
from reviewflow.engine.services.users import UserService
from reviewflow.engine.services.work import MyWork, WorkService
from reviewflow.engine.services.worker import Worker, run_worker
from reviewflow.store.db import Database

Actor = str | Identity
"""Who acts: an `Identity` a front end established from credentials, or a registered user's name from code
in this process (the demo, the worker, tests), which is trusted as that user."""


class Reviewflow:
    """Every use case, one method each; each is one transaction (or a run of them) with time from `clock`."""

    def __init__(self, db: Database, clock: Clock = system_clock, settings: Settings | None = None,
                 wall: Clock | None = None) -> None:
        self.ctx = ServiceContext(db, clock, settings, wall)
        if self.ctx.settings.audit.key_file:
            db.use_audit_key_file(self.ctx.settings.audit.key_file)
        self.accounts = AccountService(self.ctx)
        self.definitions = DefinitionService(self.ctx, self.accounts)
        self.user_service = UserService(self.ctx, self.definitions, self.accounts)
        self.case_service = CaseService(self.ctx)
        self.links = LinkService(self.ctx)
        self.learning_service = LearningService(self.ctx)
        self.measure_service = MeasureService(self.learning_service)
        self.outbox_service = OutboxService(self.ctx)
        self.report_service = ReportService(self.ctx)
        self.audit_service = AuditService(self.ctx)
        self.schedules = ScheduleRunner(self.ctx, self.case_service, self.accounts)
        self.work = WorkService(self.ctx, self.case_service, self.learning_service)
        self.files = FileService(self.ctx)
        self.calendars = CalendarService(self.ctx, self.work)
        self.digests = DigestService(self.ctx, self.accounts)
        self.time_settings = TimeSettingsService(self.ctx, self.accounts)
        self.agency_service = AgencyService(self.ctx, self.accounts)
        self.return_service = ReturnService(self.ctx)
        self.risk_service = RiskService(self.ctx)
        self.grading_service = GradingService(self.ctx)
        self.subgroup_service = SubgroupService(self.ctx, self.accounts)
        self.theme_service = ThemeService(self.ctx, self.accounts)

    @classmethod
    def connect(cls, url: str, clock: Clock = system_clock, settings: Settings | None = None,
                wall: Clock | None = None) -> Reviewflow:
        """The façade over the database at `url` (sqlite:///FILE or postgresql+psycopg://...); `wall` is the
        server's own time, recorded beside every change (never --now; default: the system clock)."""
        return cls(Database(url), clock, settings, wall)

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

    def init(self, extra: Iterable[Path] = (), by: Identity | None = None) -> list[LoadResult]:
        """Create the tables (if missing) and load the shipped workflows plus `extra` files."""
        return self.definitions.init(extra, by)

    def has_admin(self) -> bool:
        """Whether the database exists, is at this version's schema and has an active administrator."""
        return self.accounts.has_admin()

    def first_admin(self, name: str, os_account: str | None, email: str | None = None) -> str | None:
        """When nobody administers the database yet: `name` becomes its first administrator; returns the
        one-time code with which they set their password (None when there is an administrator already)."""
        return self.accounts.first_admin(name, os_account, email)

    def upgrade_schema(self, by: Identity | None = None) -> tuple[str | None, str]:
        return self.definitions.upgrade_schema(by)

    def load_workflow_file(self, path: Path, by: Identity | None = None) -> LoadResult:
        return self.definitions.load_file(path, by)

    def load_workflow_text(self, text: str, source_name: str, by: Identity | None = None) -> LoadResult:
        return self.definitions.load_text(text, source_name, by)

    def preview_workflow_text(self, text: str, source_name: str, by: Identity | None = None) -> WorkflowPreview:
        """What `load_workflow_text` would do (every located problem, or the version and the differences from
        the newest loaded one), without loading anything (administrators only)."""
        return self.definitions.preview_text(text, source_name, by)

    def workflows(self) -> list[StoredDefinition]:
        return self.definitions.workflows()

    def known_roles(self) -> list[str]:
        """Every role a loaded workflow uses (the roles a person may be given), sorted."""
        return sorted(self.definitions.known_roles())

    def definition(self, name: str, version: int | None = None) -> WorkflowDefinition:
        return self.ctx.definition(name, version)

    def all_definitions(self) -> dict[tuple[str, int], WorkflowDefinition]:
        return self.ctx.all_definitions()

    def diff(self, name: str, old: int, new: int) -> DefinitionDiff:
        return self.definitions.diff(name, old, new)

    def migrate(self, name: str, to_version: int, mapping: Mapping[str, str], actor: Actor | None,
                dry_run: bool = False) -> migrating.MigrationPlan:
        return self.definitions.migrate(name, to_version, mapping, actor, dry_run)

    # --- the database's time settings -----------------------------------------------------------------

    def time_limits(self) -> TimeLimits:
        """How far a change may be dated (--now) from the server's own time (core/time_limits.py)."""
        return self.time_settings.show()

    def set_time_limit(self, by: Identity | None, name: str, value: str) -> TimeLimits:
        """Change `future-tolerance` or `backdate-window` ('10m', '90d', 'off'): administrators only, sealed in
        the administration log."""
        return self.time_settings.set(by, name, value)

    def switch_off_time_limits(self, by: Identity | None = None) -> TimeLimits:
        """No time limits: a training or demonstration database."""
        return self.time_settings.switch_off(by)

    # --- users -----------------------------------------------------------------------------------

    def agencies(self, by: Identity | None = None) -> list[str]:
        """The partnership's register of agencies, in its spelling."""
        return self.agency_service.list(by)

    def add_agency(self, name: str, by: Identity | None = None) -> str:
        return self.agency_service.add(name, by)

    def rename_agency(self, old: str, new: str, by: Identity | None = None) -> tuple[str, dict[str, int]]:
        """Rename a registered agency and every stored use of it; the new name and the rows changed by table."""
        return self.agency_service.rename(old, new, by)

    def add_user(self, name: str, roles: Sequence[str], email: str | None = None,
                 agency: str | None = None, by: Identity | None = None, os_account: str | None = None) -> User:
        return self.user_service.add(name, roles, email, agency, by, os_account)

    def grant(self, name: str, roles: Sequence[str], by: Identity | None = None, subgroup: str | None = None) -> User:
        """Give roles, partnership-wide or (`subgroup`) for one sub-group only."""
        return self.user_service.grant(name, roles, by, subgroup)

    def import_users(self, path: Path, by: Identity | None = None, dry_run: bool = False) -> UserImportReport:
        """Register the people of a CSV list (name, email, agency, roles, os_account): every row or none."""
        return UserImport(self.ctx, self.user_service, self.accounts).run(path, by, dry_run)

    # --- sub-groups (engine/services/subgroups.py) ---

    def subgroup_add(self, name: str, title: str, by: Identity | None = None) -> Subgroup:
        return self.subgroup_service.add(name, title, by)

    def subgroup_rename(self, name: str, title: str, by: Identity | None = None) -> Subgroup:
        return self.subgroup_service.rename(name, title, by)

    def subgroups(self, by: Identity | None = None) -> list[Subgroup]:
        return self.subgroup_service.list(by)

    # --- learning themes (engine/services/themes.py) ---

    def themes(self, by: Identity | None = None, include_retired: bool = True) -> list[Theme]:
        """The partnership's learning themes, in the list's order."""
        return self.theme_service.list(by, include_retired)

    def theme_add(self, key: str, label: str, description: str | None = None, by: Identity | None = None) -> Theme:
        return self.theme_service.add(key, label, description, by)

    def theme_rename(self, key: str, label: str, description: str | None = None,
                     by: Identity | None = None) -> Theme:
        return self.theme_service.rename(key, label, description, by)

    def theme_retire(self, key: str, by: Identity | None = None) -> Theme:
        return self.theme_service.retire(key, by)

    def users(self, active: bool = False) -> list[User]:
        """Every registered person, or (`active`) those who may sign in: the people an action can be given to."""
        return self.user_service.list(active)

    def change_user(self, by: Identity | None, name: str, *, disable: bool | None = None,
                    email: str | None = None, os_account: str | None = None, admin: bool | None = None,
                    revoke: Sequence[str] = (), subgroup: str | None = None) -> Account:
        """Disable or enable, change the e-mail address, map an operating-system account, give or take the
        administrator capability, or revoke roles (with `subgroup`: the roles held for that sub-group)."""
        return self.accounts.change(by, name, disable=disable, email=email, os_account=os_account, admin=admin,
                                    revoke=[scoped(r, subgroup) for r in revoke])

    def accounts_list(self, by: Identity | None = None) -> list[Account]:
        return self.accounts.accounts(by)

    def account(self, name: str, by: Identity | None = None) -> Account:
        """One account (administrators only, or the person themselves)."""
        return self.accounts.account(name, by)

    def check_admin(self, by: Identity, what: str) -> Identity:
        """`by` as an administrator now, else NotPermitted naming `what` (before offering an administrator's form)."""
        return self.accounts.require_admin(by, what)

    def admin_events(self, by: Identity | None = None, limit: int = 500) -> list[AdminEvent]:
        return self.accounts.events(by, limit)

    def set_password(self, by: Identity | None, name: str, password: str) -> None:
        self.accounts.set_password(by, name, password)

    def setup_code(self, by: Identity | None, name: str) -> str:
        return self.accounts.setup_code(by, name)

    def use_setup_code(self, code: str, password: str) -> str:
        return self.accounts.use_setup_code(code, password)

    # --- who is acting ------------------------------------------------------------------------------

    def identify_os(self, os_account: str) -> Identity | None:
        return self.accounts.identify_os(os_account)

    def identify_token(self, token: str) -> Identity:
        return self.accounts.identify_token(token)

    def identify_session(self, token: str) -> Identity:
        return self.accounts.identify_session(token)

    def act_as(self, by: Identity, name: str) -> Identity:
        return self.accounts.act_as(by, name)

    def sign_in(self, name: str, password: str, address: str) -> SignedIn:
        return self.accounts.sign_in(name, password, address)

    def sign_in_sso(self, claims: Mapping[str, object], address: str | None) -> SignedIn:
        return self.accounts.sign_in_sso(claims, address)

    def sign_out(self, token: str) -> None:
        self.accounts.sign_out(token)

    def create_token(self, by: Identity, name: str, label: str, scope: str, days: int | None = None) -> NewToken:
        return self.accounts.create_token(by, name, label, scope, days)

    def tokens(self, by: Identity, name: str | None = None) -> list[ApiToken]:
        return self.accounts.tokens(by, name)

    def revoke_token(self, by: Identity, token_id: int) -> ApiToken:
        return self.accounts.revoke_token(by, token_id)

    # --- cases -----------------------------------------------------------------------------------

    def open_case(self, workflow: str, ref: str, actor: Actor, fields: Mapping[str, str],
                  note: str | None = None, subgroup: str | None = None, legacy: bool = False) -> CaseView:
        """Open a case; a legacy workflow's (engine/core/legacy.py) only with `legacy`, for a historical case."""
        return self.case_service.open(workflow, ref, actor, fields, note, subgroup, legacy)

    def fire(self, ref: str, trigger: str, actor: Actor, fields: Mapping[str, str], note: str | None = None,
             revision: int | None = None) -> Fired:
        return self.case_service.fire(ref, trigger, actor, fields, note, revision)

    def open_scheduled(self, workflow: str, ref: str, period: str, scheduled_for: datetime,
                       note: str | None = None, fields: Mapping[str, str] | None = None) -> CaseView | None:
        return self.case_service.open_scheduled(workflow, ref, period, scheduled_for, note, fields)

    def pause(self, ref: str, actor: Actor, reason: str, revision: int | None = None,
              expected_end: str | date | None = None, note: str | None = None) -> CaseView:
        """Pause the stage's clock for one of the workflow's pause reasons, until an expected end."""
        return self.case_service.pause(ref, actor, reason, revision, expected_end, note)

    def pause_reasons(self, workflow: str, version: int | None = None) -> tuple[str, ...]:
        """The reasons a case of `workflow` may be paused for."""
        return self.ctx.definition(workflow, version).pause_reason_list

    def link_cases(self, ref: str, other: str, kind: str, reason: str, actor: Actor,
                   revision: int | None = None) -> CaseView:
        """Link two cases (a joint review, related cases): the link is in both cases' sealed history."""
        self.links.link(ref, other, kind, reason, actor, revision)
        return self.case_service.show(ref, actor)

    def unlink_cases(self, ref: str, other: str, reason: str, actor: Actor,
                     revision: int | None = None) -> CaseView:
        """Remove the link between two cases, with the reason."""
        self.links.unlink(ref, other, reason, actor, revision)
        return self.case_service.show(ref, actor)

    def resume(self, ref: str, actor: Actor, note: str | None = None, revision: int | None = None) -> CaseView:
        return self.case_service.resume(ref, actor, note, revision)

    def record_check(self, ref: str, actor: Actor, outcome: str, note: str | None = None,
                     check: str | None = None, revision: int | None = None) -> CheckRecorded:
        """Record the outcome of the latest progress check of `ref` waiting for one (services/clocks.py)."""
        return record_outcome(self.ctx, ref, actor, outcome, note, check, revision)

    def case(self, ref: str, actor: Actor | None = None) -> CaseView:
        """One case; given an `Identity`, as that person may see it (not found outside their view)."""
        return self.case_service.show(ref, actor)

    def case_diagram(self, ref: str, workflow: str | None, version: int | None = None,
                     actor: Actor | None = None) -> tuple[CaseView, WorkflowDefinition]:
        """Case `ref` and the definition to draw its path on; refused unless it is a case of `workflow` (when
        given; and of `version`, when given)."""
        return self.case_service.on_workflow(ref, workflow, version, actor)

    def cases(self, workflow: str | None = None, state: str | None = None, overdue: bool = False,
              include_closed: bool = True, actor: Identity | None = None, theme: str | None = None,
              agency: str | None = None, owner: str | None = None, mine: bool = False) -> list[CaseView]:
        """Cases (of a learning `theme`, with an `agency` taking part, whose stage role `owner` owns, whose stage
        the person acting owns (`mine`), when given); given an `Identity`, those that person may see."""
        return self.case_service.list(workflow, state, overdue, include_closed, actor, theme, agency, owner, mine)

    def working_days_overdue(self, view: CaseView) -> int:
        return view.working_days_overdue

    # --- the learning loop ------------------------------------------------------------------------

    def recommend(self, ref: str, actor: Actor, text: str, themes: Sequence[str] = (),
                  agencies: Sequence[str] = (), revision: int | None = None) -> str:
        return self.learning_service.recommend(ref, actor, text, themes, agencies, revision)

    def add_action(self, ref: str, actor: Actor, recommendation: str, description: str, agency: str,
                   due: str, owner: str | None = None, measure: str = "", revision: int | None = None, *,
                   figures: MeasureInput | None = None, past_due_ok: bool = False) -> str:
        """Agree an action; `figures` give its measure a baseline and target (engine/core/measures.py); a due date
        already past needs `past_due_ok`."""
        return self.learning_service.add_action(ref, actor, recommendation, description, agency, due, owner, measure,
                                                revision, figures=figures, past_due_ok=past_due_ok)

    def update_action(self, ref: str, number: str, actor: Actor, status: str | None = None,
                      reason: str | None = None, due: str | None = None, owner: str | None = None,
                      agency: str | None = None, measure: str | None = None, revision: int | None = None, *,
                      figures: MeasureInput | None = None, past_due_ok: bool = False) -> Action:
        return self.learning_service.update_action(ref, number, actor, status, reason, due, owner, agency, measure,
                                                   revision, figures=figures, past_due_ok=past_due_ok)

    def submit_evidence(self, ref: str, number: str, actor: Actor, kind: str, description: str,
                        reference: str, revision: int | None = None,
                        files: Sequence[tuple[str, bytes]] = ()) -> str:
        """Submit evidence (E1, E2, ...) for an action, with `files` ((name, content) pairs) attached to it: every file
        is checked before anything is written."""
        for name, content in files:
            self.files.check(name, content)
        if files:
            self.files.folder()
        number_given = self.learning_service.submit_evidence(ref, number, actor, kind, description, reference,
                                                             revision)
        for name, content in files:
            self.files.attach(ref, number_given, actor, name, content)
        return number_given

    def decide_evidence(self, ref: str, evidence: str, actor: Actor, accept: bool, reason: str | None = None,
                        revision: int | None = None) -> str:
        return self.learning_service.decide_evidence(ref, evidence, actor, accept, reason, revision)

    def verify_action(self, ref: str, number: str, actor: Actor, note: str | None = None,
                      revision: int | None = None) -> Action:
        return self.learning_service.verify_action(ref, number, actor, note, revision)

    def evaluate_action(self, ref: str, number: str, actor: Actor, method: str, measured_on: str,
                        finding: str, revision: int | None = None, value: str | float | None = None) -> Action:
        """Record an impact evaluation; `value` is the measured value of the action's measure, when it has one."""
        return self.learning_service.evaluate_action(ref, number, actor, method, measured_on, finding, revision,
                                                     value)

    def measure_action(self, ref: str, number: str, actor: Actor, value: str | float, measured_on: str,
                       note: str | None = None, revision: int | None = None) -> Action:
        """Record a measured value of an action's measure (engine/services/measures.py)."""
        return self.measure_service.record(ref, number, actor, value, measured_on, note, revision)

    # --- agencies' returns (engine/services/returns.py) ---

    def request_returns(self, ref: str, actor: Actor, agencies: Sequence[str], due: str | None = None,
                        revision: int | None = None) -> list[AgencyReturn]:
        return self.return_service.request(ref, actor, agencies, due, revision)

    def mark_return_in(self, ref: str, actor: Actor, agency: str, on: str | None = None,
                       revision: int | None = None) -> AgencyReturn:
        return self.return_service.mark_in(ref, actor, agency, on, revision)

    def excuse_return(self, ref: str, actor: Actor, agency: str, reason: str,
                      revision: int | None = None) -> AgencyReturn:
        return self.return_service.excuse(ref, actor, agency, reason, revision)

    def returns(self, ref: str, actor: Actor | None = None) -> list[AgencyReturn]:
        return self.return_service.of_case(ref, actor)

    # --- risk registers (engine/services/risks.py) ---

    def add_risk(self, ref: str, actor: Actor, title: str, owner: str, likelihood: Any, impact: Any, controls: str,
                 agency: str | None = None, revision: int | None = None) -> Risk:
        return self.risk_service.add(ref, actor, title, owner, likelihood, impact, controls, agency, revision)

    def review_risk(self, ref: str, actor: Actor, number: str, likelihood: Any, impact: Any,
                    note: str | None = None, revision: int | None = None) -> Risk:
        return self.risk_service.review(ref, actor, number, likelihood, impact, note, revision)

    def close_risk(self, ref: str, actor: Actor, number: str, reason: str, revision: int | None = None) -> Risk:
        return self.risk_service.close(ref, actor, number, reason, revision)

    def risks(self, ref: str | None = None, actor: Actor | None = None, only_open: bool = True) -> list[Risk]:
        """A case's risks (every one), or without `ref` the open risks (`only_open`) of every case `actor` may see."""
        if ref is not None:
            return self.risk_service.of_case(ref, actor)
        return self.risk_service.everywhere(actor, only_open)

    # --- grades (engine/services/grading.py) ---

    def record_grade(self, ref: str, actor: Actor, asked: GradeRequest, revision: int | None = None) -> Grade:
        return self.grading_service.record(ref, actor, asked, revision)

    def grades(self, ref: str, actor: Actor | None = None, earlier: bool = False) -> list[Grade]:
        return self.grading_service.of_case(ref, actor, earlier)

    def record_dissemination(self, ref: str, actor: Actor, kind: str, audience: str, held_on: str,
                             reference: str | None = None, revision: int | None = None,
                             reach: int | str | None = None) -> None:
        """Record a dissemination of a case's learning; `reach`: how many practitioners it reached."""
        self.measure_service.disseminate(ref, actor, kind, audience, held_on, reference, revision, reach=reach)

    def record_training(self, ref: str, actor: Actor, theme: str, attended: int | str, on: str,
                        course: str | None = None, revision: int | None = None) -> None:
        """Record training attendance against a learning theme: a training session of the case's learning, its
        reach the number who attended."""
        audience = (course or "").strip() or f"training on {' '.join(theme.split())}"
        self.measure_service.disseminate(ref, actor, TRAINING, audience, on, None, revision, reach=attended,
                                         theme=theme)

    def learning(self, ref: str) -> Learning:
        return self.learning_service.learning(ref)

    def actions(self, agency: str | None = None, overdue: bool = False, theme: str | None = None,
                ref: str | None = None, status: str | None = None, actor: Identity | None = None,
                owner: str | None = None, mine: bool = False) -> list[Action]:
        """Actions, filtered (`owner`: owned by that person; `mine`: by the person acting); given an `Identity`,
        those that person may see."""
        return self.learning_service.actions(agency, overdue, theme, ref, status, actor, owner, mine)

    def action(self, ref: str, number: str, actor: Identity | None = None) -> Action:
        """One action of a case, with its evidence."""
        return self.learning_service.action(ref, number, actor)

    def my_work(self, who: Actor) -> MyWork:
        """What waits on `who`: stages they own through their roles, their and their agency's actions, evidence
        awaiting their decision; overdue first."""
        return self.work.my_work(who if isinstance(who, Identity) else Identity(who))

    # --- evidence files, calendar feeds and daily digests -----------------------------------------

    def attach_evidence_file(self, ref: str, evidence: str, actor: Actor, filename: str | None, content: bytes,
                             revision: int | None = None) -> EvidenceFile:
        """Attach a file (PDF, Word, Excel or an image, told from its content) to evidence awaiting its decision;
        whoever may submit evidence for the action may."""
        return self.files.attach(ref, evidence, actor, filename, content, revision)

    def evidence_file(self, ref: str, file_id: int, actor: Actor) -> tuple[EvidenceFile, bytes]:
        """A file of a case's evidence and its bytes, for someone who may see it; the download is sealed in the
        case's history."""
        return self.files.download(ref, file_id, actor)

    def evidence_files(self, ref: str, actor: Actor) -> list[EvidenceFile]:
        """The files of a case's evidence that `actor` may see."""
        return self.files.listing(ref, actor)

    def calendar_url_secret(self, actor: Identity, reset: bool = False) -> str:
        """Make (or with `reset`, replace) `actor`'s private calendar feed: the secret of its address, shown once."""
        return self.calendars.url_secret(actor, reset)

    def calendar_url(self, secret: str) -> str:
        """The full address of the calendar feed with this secret (on `[web] base_url`, else where `serve` listens)."""
        web = self.settings.web
        return self.settings.page(f"/calendar/{secret}.ics") or f"http://{web.host}:{web.port}/calendar/{secret}.ics"

    def calendar_made_at(self, actor: Identity) -> datetime | None:
        """When `actor`'s calendar feed address was made (None when they have none)."""
        return self.calendars.made_at(actor)

    def calendar_feed(self, secret: str) -> bytes:
        """The iCalendar feed at the address holding `secret` (not found when unknown, reset or disabled)."""
        return self.calendars.feed(secret)

    def set_notification_preference(self, by: Identity | None, name: str, choice: str) -> Account:
        """`immediate` (an e-mail per notification) or `daily` (one digest a day) for `name`: set by themselves
        or by an administrator."""
        return self.digests.set_preference(by, name, choice)

    def send_digests(self) -> int:
        """Write the daily digests that are due into the outbox (the worker's job); how many."""
        return self.digests.run()

    # --- escalation, schedules, delivery and the worker ---------------------------------------------

    def sweep(self, dry_run: bool = False, batch: int | None = None,
              progress: Callable[[SweepReport], None] | None = None, by: Identity | None = None) -> SweepReport:
        """Fire every reminder and ladder level due now, each exactly once (the worker's job; by hand,
        administrators only)."""
        self.accounts.require_admin(by, "running an escalation sweep by hand")
        return Sweeper(self.ctx, progress).sweep(dry_run=dry_run, batch=batch)

    def open_due_periods(self, dry_run: bool = False, by: Identity | None = None) -> ScheduleReport:
        """Open the case of every period of a recurring workflow that is due and not yet open (the worker's job;
        by hand, administrators only)."""
        self.accounts.require_admin(by, "opening scheduled cases by hand")
        return self.schedules.open_due(dry_run)

    def upcoming_periods(self) -> list[Upcoming]:
        return self.schedules.upcoming()

    def cover_period(self, workflow: str, period: str, ref: str, by: Identity | None = None) -> ScheduleRun:
        """Record that case `ref`, opened by hand, is the case of a recurring workflow's period (administrators
        and business managers)."""
        return self.schedules.cover(workflow, period, ref, by)

    def schedule_runs(self, workflow: str | None = None) -> list[ScheduleRun]:
        return self.schedules.runs(workflow)

    def deliver(self, limit: int | None = None, send: Sender | None = None) -> DeliveryReport:
        """Deliver every notification due now; return what happened."""
        return Deliverer(self.ctx, send).run(limit)

    def outbox(self, status: str | None = None, ref: str | None = None,
               by: Identity | None = None) -> list[OutboxEntry]:
        """Notifications and how their delivery stands (administrators only: they name every recipient)."""
        self.accounts.require_admin(by, "reading the outbox")
        return self.outbox_service.list(status, ref)

    def retry_outbox(self, ids: list[int], by: Identity | None = None) -> int:
        """Put failed notifications back in the queue (administrators only)."""
        who = self.accounts.require_admin(by, "retrying deliveries")
        count = self.outbox_service.retry(ids)
        with self.ctx.transaction() as s:
            self.accounts.audit(s, who, "outbox.retry", "outbox", {"ids": ids or "all failed", "queued": count})
        return count

    def worker(self, send: Sender | None = None) -> Worker:
        """A worker over this façade's services (`reviewflow run`)."""
        return Worker(self.ctx, self.schedules, Sweeper(self.ctx), Deliverer(self.ctx, send), self.digests)

    def run_worker(self, interval: float | None = None, once: bool = False) -> int:
        """Tick until stopped (or once); the exit status."""
        return run_worker(self.worker(), interval or self.settings.interval_seconds, once)

    # --- reports, audit, export and import ----------------------------------------------------------

    def report_data(self, actor: Identity | None = None) -> ReportData:
        return self.report_service.data(actor)

    def board_report(self, start: date | None = None, end: date | None = None,
                     actor: Identity | None = None) -> BoardReport:
        """The Board report; given an `Identity`, over the cases and actions that person may see."""
        return self.report_service.board(start, end, actor)

    def annual_report(self, year: str, actor: Identity | None = None) -> AnnualReport:
        return self.report_service.annual(year, actor)

    def verify_audit(self, ref: str | None = None, progress: Callable[[int, int], None] | None = None,
                     by: Identity | None = None, checkpoint: Mapping[str, Any] | None = None) -> AuditReport:
        """Recompute every seal of the audit chain and check the records against it, and against a signed
        `checkpoint` when given (administrators only)."""
        self.accounts.require_admin(by, "verifying the audit chain")
        return self.audit_service.verify(ref, progress, checkpoint)

    def rekey_audit(self, by: Identity | None = None) -> int:
        """Reseal an unkeyed audit chain with the audit key, after verifying it (administrators only)."""
        return self.audit_service.rekey(self.accounts.require_admin(by, "resealing the audit chain"))

    def audit_checkpoint(self, by: Identity | None = None) -> dict[str, Any]:
        """The chain's head, counts and time, signed with the audit key (administrators only)."""
        self.accounts.require_admin(by, "writing an audit checkpoint")
        return self.audit_service.checkpoint()

    def export_dump(self, by: Identity | None = None) -> tuple[str, dict[str, int]]:
        """Everything, as one dump (administrators only)."""
        return export_dump(self.ctx, self.accounts, by)

    def export_dump_to(self, path: Path, by: Identity | None = None, passphrase: str | None = None) -> dict[str, int]:
        """Write the dump to `path` (mode 0600), whole or not at all, encrypted if a `passphrase` is given; the
        number of rows of each table."""
        if passphrase is not None:
            check_passphrase(passphrase)
        text, counts = export_dump(self.ctx, self.accounts, by)
        write_file(path, text, passphrase)
        return counts

    def import_dump(self, text: str, source: str, dry_run: bool = False, by: Identity | None = None) -> ImportResult:
        return import_dump(self.ctx, self.accounts, text, source, dry_run, by)

    def import_dump_file(self, path: Path, dry_run: bool = False, by: Identity | None = None,
                         passphrase: PassphraseSource | None = None) -> ImportResult:
        """Load the dump in file `path` (see `import_dump`); an encrypted one with the passphrase `passphrase`
        gives (asked for only then)."""
        return import_dump(self.ctx, self.accounts, read_file(path, passphrase), str(path), dry_run, by)

    def import_tracker(self, path: Path, mapping_path: Path, actor: Actor, all_or_nothing: bool = True,
                       dry_run: bool = False, progress: ProgressFactory | None = None, update: bool = False,
                       create_owners: bool = False) -> TrackerReport:
        """Bring in a board's spreadsheet of reviews and action plans, checked row by row (administrators only,
        when the person acting is given as an `Identity`). `update` brings cases already in the database up to
        date from the sheet; `create_owners` registers action owners it names who are not registered users."""
        name, recorded = (actor, actor) if isinstance(actor, str) else (actor.name, actor.recorded)
        identity = actor if isinstance(actor, Identity) else None
        if identity is not None:
            who = self.accounts.require_admin(identity, "importing a tracker")
            name, recorded = who.name, who.recorded
        maker = None
        if create_owners:
            admin = self.accounts.require_admin(identity, "registering action owners (--create-owners)")

            def maker(s: Any, owner: str, agency: str) -> None:
                self.user_service.add_in(s, admin, owner, ["action_owner"], agency=agency)

        report = import_tracker(self.ctx, path, mapping_path, name, all_or_nothing, dry_run,
                                progress or (lambda _label, _total: None), recorded, update, maker)
        if not dry_run and (report.cases or report.updated):
            with self.ctx.transaction() as s:
                self.accounts.audit(s, identity, "tracker.import", path.name,
                                    {"cases": report.cases, "updated": report.updated, "actions": report.actions,
                                     "rows": report.rows, "owners_registered": report.created_owners})
        return report
