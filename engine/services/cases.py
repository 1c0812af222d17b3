"""The one service API the CLI (and the demo, and the worker) call: one use case per method."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import structlog

from reviewflow.engine.core import migration as migrating
from reviewflow.engine.core.clock import Clock, system_clock
from reviewflow.engine.core.decide import Actor, CaseState, Move, TriggerOption, options, plan_fire, plan_open
from reviewflow.engine.core.definition import WorkflowDefinition
from reviewflow.engine.core.diff import DefinitionDiff, Placement, diff_definitions, meaning_hash, place_version
from reviewflow.engine.core.durations import LOCAL_ZONE, due_date_of, local_date, working_days_between
from reviewflow.engine.core.errors import (
    CaseExists,
    InvalidValue,
    NotPermitted,
    StoreError,
    TransitionNotAllowed,
    WorkflowNotFound,
)
from reviewflow.engine.core.escalation import checkpoints, next_check, shift_for_pause
from reviewflow.engine.core.notices import expand
from reviewflow.engine.core.parse import parse_definition
from reviewflow.engine.services.learning import LearningOps
from reviewflow.engine.services.settings import Settings
from reviewflow.store import audit, ledger, outbox, repo, schedule_runs
from reviewflow.store import learning as learning_store
from reviewflow.store import migration as migration_store
from reviewflow.store.db import Database

log = structlog.get_logger("reviewflow")

_REF = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,63}$")
_USER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")
_parsed: dict[tuple[str, int | None], WorkflowDefinition] = {}
SCHEDULE_ACTOR = "schedule"
"""The actor recorded when a workflow's schedule opens a case."""


@dataclass(frozen=True)
class LoadResult:
    name: str
    version: int
    status: str  # "added" or "unchanged"
    source: str
    note: str = ""
    """Why the version differs from the file's `version`, e.g. 'the file says version 2; v2 is already
    loaded with other content'; empty when they agree."""


@dataclass(frozen=True)
class CaseView:
    """Everything `case show` prints about one case."""

    ref: str
    workflow: str
    workflow_title: str
    version: int
    state: str
    state_label: str
    is_open: bool
    fields: Mapping[str, Any]
    opened_by: str
    opened_at: datetime
    entered_at: datetime
    due_at: datetime | None
    closed_at: datetime | None
    now: datetime
    time_limit: str | None = None
    owner: str | None = None
    paused_at: datetime | None = None
    pause_reason: str | None = None
    history: list[repo.HistoryEntry] = field(default_factory=list)
    escalations: list[ledger.LedgerEntry] = field(default_factory=list)
    options: list[TriggerOption] = field(default_factory=list)
    recommendations: list[learning_store.Recommendation] = field(default_factory=list)
    dissemination: list[learning_store.Dissemination] = field(default_factory=list)

    @property
    def overdue(self) -> bool:
        """Past the stage's time limit (a paused clock is never overdue)."""
        return self.is_open and self.paused_at is None and self.due_at is not None and self.now >= self.due_at

    @property
    def due_date(self) -> str | None:
        return due_date_of(self.due_at).isoformat() if self.due_at else None

    @property
    def days_in_stage(self) -> int:
        return (local_date(self.now) - local_date(self.entered_at)).days


def definition_from_source(source: str, source_name: str, version: int | None = None) -> WorkflowDefinition:
    """Parse a stored definition once per text and stored version.

    `version` is the version it was stored as, which the file's own `version` may not say (a changed
    file loaded under a version already taken is stored as the next one); None keeps the file's.
    """
    key = (repo.content_hash(source), version)
    if key not in _parsed:
        parsed = parse_definition(source, source_name, validate=False)
        _parsed[key] = parsed if version in (None, parsed.version) else replace(parsed, version=version)
    return _parsed[key]


def check_ref(ref: str) -> str:
    if not _REF.match(ref):
        raise InvalidValue(f"case reference {ref!r} is not usable: use letters, digits and . _ / - "
                           "with no spaces, e.g. SCR-2026-001 (a reference, never a child's name)")
    return ref


def _not_before_last_change(s: Any, ref: str, now: datetime) -> None:
    """History stays in order: a change cannot be dated before the case's last one."""
    _not_before(ref, repo.last_change(s, ref), now)


def _not_before(ref: str, last: datetime | None, now: datetime) -> None:
    if last is not None and now < last:
        raise InvalidValue(f"{ref} last changed at {last.astimezone(LOCAL_ZONE):%Y-%m-%d %H:%M}; a change cannot "
                           "be dated earlier: check --now (or REVIEWFLOW_NOW)")


def _guards_read_learning(d: WorkflowDefinition, state: str, trigger: str) -> bool:
    """Whether firing `trigger` from `state` has conditions that look at the learning records
    (anything but `fields_present`); only then are they loaded."""
    t = d.transition(state, trigger)
    return t is not None and any(c.name != "fields_present" for c in t.when)


@dataclass(frozen=True)
class Fired:
    """What one `fire` changed: the case's new stage and the history entry it wrote."""

    ref: str
    workflow: str
    version: int
    state: str
    state_label: str
    is_open: bool
    fields: Mapping[str, Any]
    entered_at: datetime
    due_at: datetime | None
    entry: repo.HistoryEntry

    @property
    def due_date(self) -> str | None:
        return due_date_of(self.due_at).isoformat() if self.due_at else None


class Reviewflow(LearningOps):
    """The service: every operation is one transaction against the store, with time from `clock`."""

    def __init__(self, db: Database, clock: Clock = system_clock, settings: Settings | None = None) -> None:
        self.db = db
        self.clock = clock
        self.settings = settings or Settings()
        self._versions: dict[tuple[str, int], WorkflowDefinition] = {}
        """Parsed definitions by (name, version): a stored version never changes."""

    # --- set-up and definitions ----------------------------------------------------------

    def upgrade_schema(self) -> tuple[str | None, str]:
        """Migrate an existing database to this version's schema (`reviewflow db upgrade`)."""
        self.db.require_existing()
        if not self.db.is_initialised():
            raise StoreError(f"the database {self.db.shown} is not initialised: run 'reviewflow init'")
        before, after = self.db.create_schema()
        log.info("db.upgraded", before=before, after=after)
        return before, after

    def init(self, extra: Iterable[Path] = ()) -> list[LoadResult]:
        """Create the tables (if missing) and load the shipped workflows plus `extra` files.

        Safe to repeat: a file whose meaning is already loaded is `unchanged`, a changed one a new version.
        """
        from reviewflow.workflows import shipped_files

        self.db.create_schema()
        return [self.load_workflow_file(p) for p in [*shipped_files(), *extra]]

    def load_workflow_file(self, path: Path) -> LoadResult:
        try:
            text = Path(path).read_text("utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise InvalidValue(f"cannot read {path}: {exc}") from None
        return self.load_workflow_text(text, str(path))

    def load_workflow_text(self, text: str, source_name: str) -> LoadResult:
        """Validate and store a definition: a new version when its meaning differs from every stored
        version of its name, else a no-op. Comments and layout are not meaning; `version` is not either."""
        definition = parse_definition(text, source_name)
        digest = meaning_hash(text, source_name)
        try:
            placed = self._store_version(definition, text, source_name, digest)
        except migration_store.VersionTaken:  # a simultaneous load took the number: place it again
            placed = self._store_version(definition, text, source_name, digest)
        log.info("workflow.loaded", workflow=definition.name, version=placed.version, status=placed.status,
                 file_version=definition.version)
        return LoadResult(definition.name, placed.version, placed.status, source_name, placed.note)

    def _store_version(self, definition: WorkflowDefinition, text: str, source_name: str,
                       digest: str) -> Placement:
        with self._tx() as s:
            stored = migration_store.stored_versions(s, definition.name)
            hashes = {d.version: (digest if d.content_hash == digest else meaning_hash(d.source, d.source_name))
                      for d in stored}
            placed = place_version(definition.version, hashes, digest)
            if placed.status == "added":
                migration_store.add_version(s, definition.name, placed.version, definition.title, text,
                                            source_name, digest, self.clock())
        return placed

    def workflows(self) -> list[repo.StoredDefinition]:
        with self._read() as s:
            return repo.latest_definitions(s)

    def definition(self, name: str, version: int | None = None) -> WorkflowDefinition:
        """A loaded definition: the newest version, or the one asked for (a stored version never changes,
        so those are kept for the life of the service)."""
        if version is not None and (name, version) in self._versions:
            return self._versions[(name, version)]
        with self._read() as s:
            return self._definition_in(s, name, version)

    def _definition_in(self, s: Any, name: str, version: int | None) -> WorkflowDefinition:
        """`definition()` within the caller's transaction."""
        if version is not None and (name, version) in self._versions:
            return self._versions[(name, version)]
        stored = repo.find_definition(s, name, version)
        if stored is None:
            versions = repo.definition_versions(s, name)
            if versions:
                raise WorkflowNotFound.version(name, version or 0, versions)
            raise WorkflowNotFound(name, [d.name for d in repo.latest_definitions(s)])
        found = definition_from_source(stored.source, stored.source_name, stored.version)
        self._versions[(name, stored.version)] = found
        return found

    def all_definitions(self) -> dict[tuple[str, int], WorkflowDefinition]:
        """Every loaded version of every workflow, parsed (for sweeps over many cases)."""
        with self._read() as s:
            stored = repo.all_definitions(s)
        return {(d.name, d.version): definition_from_source(d.source, d.source_name, d.version) for d in stored}

    # --- versions: differences and migration -------------------------------------------------

    def diff(self, name: str, old: int, new: int) -> DefinitionDiff:
        """What changed from version `old` of workflow `name` to version `new`."""
        return diff_definitions(self.definition(name, old), self.definition(name, new))

    def migrate(self, name: str, to_version: int, mapping: Mapping[str, str], actor: str | None,
                dry_run: bool = False) -> migrating.MigrationPlan:
        """Move every open case of `name` on another version to `to_version`, all or none.

        `mapping` gives the new state of a current state (a state the target has maps to itself by default).
        Each case gets a `migrate` history row; its due time and next escalation check follow the target.
        A dry run plans and writes nothing (and needs no actor).
        """
        target = self.definition(name, to_version)
        now = self.clock()
        with self._tx() as s:
            if actor is not None or not dry_run:
                who = repo.get_actor(s, migrating.check_actor(actor))
                migrating.check_may_migrate(target, who.name, who.roles)
            stored = migration_store.stored_versions(s, name)
            cases = migration_store.open_cases(s, name, target.version)
        versions = {d.version: definition_from_source(d.source, d.source_name, d.version) for d in stored}
        plan = migrating.plan_migration(target, versions, cases, mapping, now)
        if dry_run or not plan.moves:
            return plan
        with self._tx() as s:
            migration_store.apply(s, plan, actor or "")
        log.info("workflow.migrated", workflow=name, to_version=target.version, cases=len(plan.moves), actor=actor)
        return plan

    # --- users ---------------------------------------------------------------------------

    def add_user(self, name: str, roles: Sequence[str], email: str | None = None,
                 agency: str | None = None) -> repo.User:
        if not _USER.match(name):
            raise InvalidValue(f"user name {name!r} is not usable: use letters, digits and . _ @ - "
                               "with no spaces, e.g. a.khan")
        self._check_roles(roles)
        with self._tx() as s:
            user = repo.add_user(s, name, roles, email, self.clock(), (agency or "").strip() or None)
        log.info("user.added", user=name, roles=",".join(user.roles))
        return user

    def grant(self, name: str, roles: Sequence[str]) -> repo.User:
        """Give an existing user more roles."""
        self._check_roles(roles)
        with self._tx() as s:
            user = repo.grant_roles(s, name, roles)
        log.info("user.granted", user=name, roles=",".join(user.roles))
        return user

    def _check_roles(self, roles: Sequence[str]) -> None:
        if not roles:
            raise InvalidValue("give at least one --role")
        known = self._known_roles()
        unknown = [r for r in roles if r not in known]
        if unknown:
            raise InvalidValue(f"role(s) {', '.join(unknown)} are not used by any loaded workflow; "
                               f"known roles: {', '.join(sorted(known)) or 'none (run reviewflow init)'}")

    def users(self) -> list[repo.User]:
        with self._read() as s:
            return repo.list_users(s)

    def _known_roles(self) -> set[str]:
        roles: set[str] = set()
        for stored in self.workflows():
            roles |= set(definition_from_source(stored.source, stored.source_name).roles)
        return roles

    # --- cases ---------------------------------------------------------------------------

    def open_case(self, workflow: str, ref: str, actor: str, fields: Mapping[str, str],
                  note: str | None = None) -> CaseView:
        """Open a new case in the newest version of `workflow`."""
        check_ref(ref)
        definition = self.definition(workflow)
        now = self.clock()
        with self._tx() as s:
            who = repo.get_actor(s, actor)
            if repo.case_exists(s, ref):
                raise CaseExists(ref)
            move = plan_open(definition, who, fields, now)
            terminal = definition.states[move.dest].terminal
            case_id = repo.insert_case(s, ref, definition.name, definition.version, move, actor, terminal, note,
                                       self._first_check(definition, move))
            self._queue(s, definition, ref, case_id, 1, move)
        log.info("case.opened", ref=ref, workflow=definition.name, version=definition.version,
                 state=move.dest, actor=actor)
        return self.case(ref, actor)

    def fire(self, ref: str, trigger: str, actor: str, fields: Mapping[str, str],
             note: str | None = None) -> Fired:
        """Fire `trigger` on case `ref` as `actor`: read, check, decide and write in one transaction.

        Returns what changed; `case(ref)` gives the whole case.
        """
        now = self.clock()
        with self._tx() as s:
            read = repo.case_to_move(s, ref)
            record, case = read.record, read.record.case
            who = repo.get_actor(s, actor)
            _not_before(ref, read.last_at, now)
            definition = self._definition_in(s, case.workflow, case.version)
            summary = None
            if _guards_read_learning(definition, case.state, trigger):
                summary = learning_store.summary(s, record.case_id, local_date(now))
            move = plan_fire(definition, case, trigger, who, fields, now, summary)
            state = definition.states[move.dest]
            _, seq = repo.apply_move(s, read, move, actor, state.terminal, note, self._first_check(definition, move))
            self._queue(s, definition, ref, record.case_id, seq, move)
        log.info("case.moved", ref=ref, workflow=case.workflow, trigger=trigger,
                 from_state=move.source, to_state=move.dest, actor=actor)
        entry = repo.HistoryEntry(seq, move.at, actor, trigger, move.source, move.dest, dict(move.supplied), note)
        return Fired(ref, case.workflow, case.version, move.dest, state.label, not state.terminal, move.fields,
                     move.at, move.due_at, entry)

    def open_scheduled(self, workflow: str, ref: str, period: str, scheduled_for: datetime,
                       note: str | None = None, fields: Mapping[str, str] | None = None) -> CaseView | None:
        """Open the case of one period of a recurring workflow, exactly once across every worker.

        Returns None when the period already has its case. The case is opened by the schedule itself
        (actor `schedule`) with the schedule's fields; a period opened after its time says so in the history.
        """
        check_ref(ref)
        definition = self.definition(workflow)
        if definition.schedule is None:
            raise InvalidValue(f"workflow {workflow} has no `schedule`")
        now = self.clock()
        late = now - scheduled_for > timedelta(hours=1)
        text = "; ".join(filter(None, [
            note or definition.schedule.note,
            f"opened late: period {period} was due {scheduled_for.astimezone(LOCAL_ZONE):%Y-%m-%d %H:%M}, "
            "when no worker was running" if late else None]))
        who = Actor(SCHEDULE_ACTOR, frozenset(definition.open.roles))
        with self._tx() as s:
            if not schedule_runs.claim(s, workflow, period, ref, scheduled_for, now, late):
                return None
            if repo.case_exists(s, ref):
                raise CaseExists(ref)
            move = plan_open(definition, who, definition.schedule.fields if fields is None else fields, now)
            terminal = definition.states[move.dest].terminal
            case_id = repo.insert_case(s, ref, definition.name, definition.version, move, SCHEDULE_ACTOR, terminal,
                                       text or None, self._first_check(definition, move))
            self._queue(s, definition, ref, case_id, 1, move)
        log.info("case.opened", ref=ref, workflow=definition.name, version=definition.version, state=move.dest,
                 actor=SCHEDULE_ACTOR, period=period, late=late)
        return self.case(ref)

    def schedule_runs(self, workflow: str | None = None) -> list[schedule_runs.ScheduleRun]:
        with self._read() as s:
            return schedule_runs.runs(s, workflow)

    @staticmethod
    def _first_check(d: WorkflowDefinition, move: Move) -> datetime | None:
        return next_check(checkpoints(d, d.states[move.dest], move.at, move.due_at), ())

    def _queue(self, s: Any, d: WorkflowDefinition, ref: str, case_id: int, seq: int, move: Move) -> None:
        if not move.notify:
            return
        state = d.states[move.dest]
        payload = {"ref": ref, "workflow": d.name, "workflow_title": d.title, "state": move.dest,
                   "state_label": state.label, "trigger": move.trigger, "headline": f"now at {state.label}",
                   "timing": f"due {due_date_of(move.due_at).isoformat()}" if move.due_at else None,
                   "needed": (state.description or state.label)[:200], "link": self.settings.link(ref)}
        items = expand(f"{ref}:{seq}:entered", "entered_state", move.notify, payload,
                       outbox.directory(s, set(move.notify) | {"business_manager"}), self.settings.webhooks)
        outbox.add_many(s, [outbox.new_row(o, case_id, move.at) for o in items])

    # --- pausing the clock -----------------------------------------------------------------

    def _clock_change(self, ref: str, actor: str) -> tuple[repo.CaseRecord, WorkflowDefinition]:
        with self._read() as s:
            record = repo.get_case_record(s, ref)
            who = repo.get_actor(s, actor)
            _not_before_last_change(s, ref, self.clock())
        d = self.definition(record.case.workflow, record.case.version)
        if not record.is_open:
            raise TransitionNotAllowed(f"case {ref} is closed: its clock cannot be paused or resumed")
        allowed = d.may_pause(record.case.state)
        if not who.roles & set(allowed):
            raise NotPermitted(f"pausing or resuming {ref} needs one of the roles {', '.join(allowed)}; "
                               f"{actor} has {', '.join(sorted(who.roles)) or 'no roles'}")
        return record, d

    def pause(self, ref: str, actor: str, reason: str) -> CaseView:
        """Stop the stage's clock (and its escalation climb) with a recorded reason."""
        if not reason.strip():
            raise InvalidValue("give the reason for pausing with --reason, e.g. 'awaiting criminal proceedings'")
        record, _ = self._clock_change(ref, actor)
        if record.paused_at is not None:
            raise TransitionNotAllowed(f"case {ref} is already paused since {local_date(record.paused_at)} "
                                       f"({record.pause_reason!r}): resume it with 'reviewflow case resume {ref}'")
        now = self.clock()
        with self._tx() as s:
            repo.record_event(s, record.case, "pause", now, actor, reason.strip(), {"reason": reason.strip()},
                                     paused_at=now, pause_reason=reason.strip(), next_check_at=None)
        log.info("case.paused", ref=ref, actor=actor)
        return self.case(ref, actor)

    def resume(self, ref: str, actor: str, note: str | None = None) -> CaseView:
        """Restart a paused clock: the due time moves on by the time spent paused."""
        record, d = self._clock_change(ref, actor)
        if record.paused_at is None:
            raise TransitionNotAllowed(f"case {ref} is not paused")
        now = self.clock()
        case = record.case
        due = shift_for_pause(case.due_at, record.paused_at, now)
        paused_for = now - record.paused_at
        with self._tx() as s:
            fired = ledger.fired_keys(s, record.case_id, record.entry_seq)
            when = next_check(checkpoints(d, d.states[case.state], case.entered_at, due), fired)
            repo.record_event(s, case, "resume", now, actor, note,
                                     {"paused_days": round(paused_for.total_seconds() / 86400, 2),
                                      "reason": record.pause_reason},
                                     paused_at=None, pause_reason=None, due_at=due, next_check_at=when)
        log.info("case.resumed", ref=ref, actor=actor, paused_days=paused_for.days)
        return self.case(ref, actor)

    def case(self, ref: str, actor: str | None = None) -> CaseView:
        with self._read() as s:
            record = repo.get_case_record(s, ref)
            entries = repo.history(s, ref)
            escalations = ledger.entries(s, record.case_id, ref)
            who: Actor | None = repo.get_actor(s, actor) if actor else None
            recommendations = learning_store.recommendations(s, record.case_id)
            shared = learning_store.dissemination(s, record.case_id)
        view = self._view(record, entries, who, escalations)
        view.recommendations.extend(recommendations)
        view.dissemination.extend(shared)
        return view

    def _view(self, record: repo.CaseRecord, entries: list[repo.HistoryEntry], who: Actor | None,
              escalations: list[ledger.LedgerEntry] | None = None) -> CaseView:
        c: CaseState = record.case
        d = self.definition(c.workflow, c.version)
        state = d.states[c.state]
        return CaseView(
            ref=c.ref, workflow=c.workflow, workflow_title=d.title, version=c.version, state=c.state,
            state_label=state.label, is_open=record.is_open, fields=c.fields, opened_by=record.opened_by,
            opened_at=record.opened_at, entered_at=c.entered_at, due_at=c.due_at, closed_at=record.closed_at,
            now=self.clock(), time_limit=str(state.time_limit) if state.time_limit else None,
            owner=state.owner, paused_at=record.paused_at, pause_reason=record.pause_reason,
            history=entries, escalations=escalations or [], options=options(d, c.state, who),
        )

    def cases(self, workflow: str | None = None, state: str | None = None,
              overdue: bool = False, include_closed: bool = True) -> list[CaseView]:
        """Cases in opening order; `overdue` keeps open cases past their stage's time limit."""
        if workflow:
            self.definition(workflow)
        with self._read() as s:
            records = repo.list_cases(s, workflow, state, self.clock() if overdue else None, include_closed)
        return [self._view(r, [], None) for r in records]

    def outbox(self, status: str | None = None, ref: str | None = None) -> list[outbox.OutboxEntry]:
        with self._read() as s:
            case_id = repo.get_case_record(s, ref).case_id if ref else None
            return outbox.listing(s, status, case_id)

    def retry_outbox(self, ids: list[int]) -> int:
        with self._tx() as s:
            count = outbox.retry(s, ids or None, self.clock())
        log.info("outbox.retry", count=count)
        return count

    def working_days_overdue(self, view: CaseView) -> int:
        if not view.overdue or view.due_at is None:
            return 0
        d = self.definition(view.workflow, view.version)
        return working_days_between(due_date_of(view.due_at), local_date(view.now), d.calendar)

    def verify_audit(self, ref: str | None = None,
                     progress: Callable[[int, int], None] | None = None) -> audit.AuditReport:
        """Recompute the seals of every history and ledger row (or one case's) and the chain head."""
        with self._read() as s:
            if ref:
                repo.get_case_record(s, ref)
            report = audit.verify(s, ref, progress)
        log.info("audit.verified", ref=ref or "all", cases=report.cases, rows=report.rows, ok=report.ok,
                 findings=len(report.findings))
        return report

    def _tx(self) -> Any:
        self.ensure_ready()
        return self.db.transaction()

    def _read(self) -> Any:
        """A read-only transaction (on SQLite it neither waits for nor holds up writers)."""
        self.ensure_ready()
        return self.db.transaction(write=False)

    def ensure_ready(self) -> None:
        """Refuse a missing or uninitialised database with advice (checked once per service)."""
        if not getattr(self, "_checked", False):
            self.db.require_existing()
            if not self.db.is_initialised():
                raise StoreError(f"the database {self.db.shown} is not initialised: run 'reviewflow init'")
            old = self.db.schema_behind()
            if old:
                raise StoreError(f"the database {self.db.shown} has schema {old}, older than this reviewflow's: "
                                 "back it up, then run 'reviewflow db upgrade'")
            self._checked = True

