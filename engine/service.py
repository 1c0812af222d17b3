"""The one service API the CLI (and the demo, and the worker) call: one use case per method."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import structlog

from engine.clock import Clock, system_clock
from engine.decide import Actor, CaseState, Move, TriggerOption, options, plan_fire, plan_open
from engine.definition import WorkflowDefinition
from engine.durations import due_date_of, local_date, working_days_between
from engine.errors import (
    CaseExists,
    InvalidValue,
    ReviewflowError,
    StoreError,
    WorkflowNotFound,
)
from engine.parse import parse_definition
from store import repo
from store.db import Database

log = structlog.get_logger("reviewflow")

_REF = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,63}$")
_USER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")
_parsed: dict[str, WorkflowDefinition] = {}


class DefinitionConflict(ReviewflowError):
    """A definition with the same name and version but other content is already loaded."""


@dataclass(frozen=True)
class LoadResult:
    name: str
    version: int
    status: str  # "added" or "unchanged"
    source: str


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
    history: list[repo.HistoryEntry] = field(default_factory=list)
    options: list[TriggerOption] = field(default_factory=list)

    @property
    def overdue(self) -> bool:
        return self.is_open and self.due_at is not None and self.now >= self.due_at

    @property
    def due_date(self) -> str | None:
        return due_date_of(self.due_at).isoformat() if self.due_at else None

    @property
    def days_in_stage(self) -> int:
        return (local_date(self.now) - local_date(self.entered_at)).days


def definition_from_source(source: str, source_name: str) -> WorkflowDefinition:
    """Parse a stored definition once per content hash."""
    key = repo.content_hash(source)
    if key not in _parsed:
        _parsed[key] = parse_definition(source, source_name)
    return _parsed[key]


def check_ref(ref: str) -> str:
    if not _REF.match(ref):
        raise InvalidValue(f"case reference {ref!r} is not usable: use letters, digits and . _ / - "
                           "with no spaces, e.g. SCR-2026-001 (a reference, never a child's name)")
    return ref


class Reviewflow:
    """The service: every operation is one transaction against the store, with time from `clock`."""

    def __init__(self, db: Database, clock: Clock = system_clock) -> None:
        self.db = db
        self.clock = clock

    # --- set-up and definitions ----------------------------------------------------------

    def init(self, extra: Iterable[Path] = ()) -> list[LoadResult]:
        """Create the tables (if missing) and load the shipped workflows plus `extra` files."""
        from workflows import shipped_files

        self.db.create_schema()
        return [self.load_workflow_file(p) for p in [*shipped_files(), *extra]]

    def load_workflow_file(self, path: Path) -> LoadResult:
        try:
            text = Path(path).read_text("utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise InvalidValue(f"cannot read {path}: {exc}") from None
        return self.load_workflow_text(text, str(path))

    def load_workflow_text(self, text: str, source_name: str) -> LoadResult:
        """Validate and store a definition; unchanged content is a no-op."""
        definition = parse_definition(text, source_name)
        digest = repo.content_hash(text)
        with self._tx() as s:
            existing = repo.find_definition(s, definition.name, definition.version)
            if existing is None:
                repo.add_definition(s, definition.name, definition.version, definition.title, text,
                                    source_name, self.clock())
                status = "added"
            elif existing.content_hash == digest:
                status = "unchanged"
            else:
                newest = max(repo.definition_versions(s, definition.name))
                raise DefinitionConflict(
                    f"{source_name}: workflow {definition.name} version {definition.version} is already "
                    f"loaded with different content: set `version: {newest + 1}` to load it as a new "
                    f"version (open cases stay on the version they started on)")
        log.info("workflow.loaded", workflow=definition.name, version=definition.version, status=status)
        return LoadResult(definition.name, definition.version, status, source_name)

    def workflows(self) -> list[repo.StoredDefinition]:
        with self._tx() as s:
            return repo.latest_definitions(s)

    def definition(self, name: str, version: int | None = None) -> WorkflowDefinition:
        with self._tx() as s:
            stored = repo.find_definition(s, name, version)
            if stored is None:
                known = [d.name for d in repo.latest_definitions(s)]
                label = f"{name} version {version}" if version else name
                raise WorkflowNotFound(label, known)
        return definition_from_source(stored.source, stored.source_name)

    # --- users ---------------------------------------------------------------------------

    def add_user(self, name: str, roles: Sequence[str], email: str | None = None) -> repo.User:
        if not _USER.match(name):
            raise InvalidValue(f"user name {name!r} is not usable: use letters, digits and . _ @ - "
                               "with no spaces, e.g. a.khan")
        if not roles:
            raise InvalidValue("give the user at least one --role")
        known = self._known_roles()
        unknown = [r for r in roles if r not in known]
        if unknown:
            raise InvalidValue(f"role(s) {', '.join(unknown)} are not used by any loaded workflow; "
                               f"known roles: {', '.join(sorted(known)) or 'none (run reviewflow init)'}")
        with self._tx() as s:
            user = repo.add_user(s, name, roles, email, self.clock())
        log.info("user.added", user=name, roles=",".join(user.roles))
        return user

    def users(self) -> list[repo.User]:
        with self._tx() as s:
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
            case_id = repo.insert_case(s, ref, definition.name, definition.version, move, actor, terminal, note)
            self._queue(s, definition, ref, case_id, 1, move)
        log.info("case.opened", ref=ref, workflow=definition.name, version=definition.version,
                 state=move.dest, actor=actor)
        return self.case(ref, actor)

    def fire(self, ref: str, trigger: str, actor: str, fields: Mapping[str, str],
             note: str | None = None) -> CaseView:
        """Fire `trigger` on case `ref` as `actor`; all checks, one transaction."""
        with self._tx() as s:
            case = repo.get_case(s, ref)
            who = repo.get_actor(s, actor)
        definition = self.definition(case.workflow, case.version)
        move = plan_fire(definition, case, trigger, who, fields, self.clock())
        with self._tx() as s:
            case_id = repo.apply_move(s, case, move, actor, definition.states[move.dest].terminal, note)
            self._queue(s, definition, ref, case_id, case.revision + 1, move)
        log.info("case.moved", ref=ref, workflow=case.workflow, trigger=trigger,
                 from_state=move.source, to_state=move.dest, actor=actor)
        return self.case(ref, actor)

    def _queue(self, s: Any, d: WorkflowDefinition, ref: str, case_id: int, revision: int, move: Move) -> None:
        state = d.states[move.dest]
        for role in move.notify:
            payload = {"ref": ref, "workflow": d.name, "workflow_title": d.title, "state": move.dest,
                       "state_label": state.label, "trigger": move.trigger,
                       "due_date": due_date_of(move.due_at).isoformat() if move.due_at else None,
                       "needed": f"{state.label}: {state.description}".strip(": ")[:200]}
            repo.queue_notification(s, f"{ref}:{revision}:entered:{role}", case_id, "entered_state",
                                    role, payload, move.at)

    def case(self, ref: str, actor: str | None = None) -> CaseView:
        with self._tx() as s:
            record = repo.get_case_record(s, ref)
            entries = repo.history(s, ref)
            who: Actor | None = repo.get_actor(s, actor) if actor else None
        return self._view(record, entries, who)

    def _view(self, record: repo.CaseRecord, entries: list[repo.HistoryEntry], who: Actor | None) -> CaseView:
        c: CaseState = record.case
        d = self.definition(c.workflow, c.version)
        state = d.states[c.state]
        return CaseView(
            ref=c.ref, workflow=c.workflow, workflow_title=d.title, version=c.version, state=c.state,
            state_label=state.label, is_open=record.is_open, fields=c.fields, opened_by=record.opened_by,
            opened_at=record.opened_at, entered_at=c.entered_at, due_at=c.due_at, closed_at=record.closed_at,
            now=self.clock(), time_limit=str(state.time_limit) if state.time_limit else None,
            owner=state.owner, history=entries, options=options(d, c.state, who),
        )

    def cases(self, workflow: str | None = None, state: str | None = None,
              overdue: bool = False, include_closed: bool = True) -> list[CaseView]:
        """Cases in opening order; `overdue` keeps open cases past their stage's time limit."""
        if workflow:
            self.definition(workflow)
        with self._tx() as s:
            records = repo.list_cases(s, workflow, state, self.clock() if overdue else None, include_closed)
        return [self._view(r, [], None) for r in records]

    def working_days_overdue(self, view: CaseView) -> int:
        if not view.overdue or view.due_at is None:
            return 0
        d = self.definition(view.workflow, view.version)
        return working_days_between(due_date_of(view.due_at), local_date(view.now), d.calendar)

    def _tx(self) -> Any:
        if not getattr(self, "_checked", False):
            self.db.require_existing()
            if not self.db.is_initialised():
                raise StoreError(f"the database {self.db.shown} is not initialised: run 'reviewflow init'")
            self._checked = True
        return self.db.transaction()

