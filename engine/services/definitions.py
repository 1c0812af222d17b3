"""Workflow definitions: setting the database up, loading versions, comparing them, and moving open
cases from one version to another (`workflow migrate`)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path

import structlog

from reviewflow.engine.core import migration as migrating
from reviewflow.engine.core.access import Identity
from reviewflow.engine.core.cautions import decode_definition
from reviewflow.engine.core.definition import WorkflowDefinition
from reviewflow.engine.core.diff import DefinitionDiff, Placement, diff_definitions, meaning_hash, place_version
from reviewflow.engine.core.errors import InvalidDefinition, InvalidValue, Problem, StoreError
from reviewflow.engine.core.legacy import Legacy
from reviewflow.engine.core.parse import parse_definition
from reviewflow.engine.core.records import StoredDefinition
from reviewflow.engine.services.accounts import SYSTEM, AccountService
from reviewflow.engine.services.agencies import seed as seed_agencies
from reviewflow.engine.services.context import ServiceContext
from reviewflow.engine.services.subgroups import register_named
from reviewflow.store import migration as migration_store
from reviewflow.store import repo
from reviewflow.store.schema import UNINITIALISED
from reviewflow.store.themes import seed as seed_themes

log = structlog.get_logger("reviewflow")


@dataclass(frozen=True)
class LoadResult:
    name: str
    version: int
    status: str  # "added" or "unchanged"
    source: str
    note: str = ""
    """Why the version differs from the file's `version`, e.g. 'the file says version 2; v2 is already
    loaded with other content'; empty when they agree."""
    warnings: tuple[Problem, ...] = ()
    """What loads but cannot work as written (engine/core/cautions.py): a guard no move can satisfy..."""


@dataclass(frozen=True)
class WorkflowPreview:
    """What loading a definition would do, worked out without loading it: every problem found (then nothing
    else), or the version it would become and what differs from the newest loaded version."""

    source: str
    problems: tuple[Problem, ...] = ()
    name: str | None = None
    title: str | None = None
    version: int | None = None
    """The version it would be stored as (an existing one when `status` is `unchanged`)."""
    status: str | None = None
    """`added` (a new workflow or a new version) or `unchanged` (that meaning is loaded already)."""
    note: str = ""
    loaded: int | None = None
    """The newest loaded version of the workflow, compared in `diff`; None for a workflow not yet loaded."""
    diff: DefinitionDiff | None = None

    @property
    def valid(self) -> bool:
        return not self.problems


def read_definition_file(path: Path) -> str:
    """The text of a definition file, or one line saying why it cannot be read (a file that is not UTF-8
    text is named with its first bad line)."""
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        raise InvalidValue(f"cannot read {path}: there is no such file; check the path", value=str(path)) from None
    except OSError as exc:
        raise InvalidValue(f"cannot read {path}: {exc.strerror or exc}; check the path and its permissions",
                           value=str(path)) from None
    return decode_definition(data, str(path))


class DefinitionService:
    def __init__(self, ctx: ServiceContext, accounts: AccountService) -> None:
        self.ctx = ctx
        self.accounts = accounts

    def upgrade_schema(self, by: Identity | None = None) -> tuple[str | None, str]:
        """Migrate an existing database to this version's schema (`reviewflow db upgrade`).

        `by` must be an administrator once the database has accounts; before that, whoever can reach the
        database file or server is its operator."""
        db = self.ctx.db
        db.require_existing()
        old = db.readiness()
        if old == UNINITIALISED:
            raise StoreError(f"the database {db.shown} is not initialised: run 'reviewflow init'")
        has_accounts = old is None
        who = self.accounts.require_admin(by, "upgrading the database") if has_accounts else SYSTEM
        before, after = db.create_schema()
        if before != after:
            with self.ctx.unchecked() as s:
                self.accounts.audit(s, who, "db.upgrade", db.shown, {"from": before, "to": after})
        log.info("db.upgraded", before=before, after=after)
        return before, after

    def init(self, extra: Iterable[Path] = (), by: Identity | None = None) -> list[LoadResult]:
        """Create the tables (if missing), load the shipped workflows plus `extra` files and, when the register of
        agencies is empty, register the usual partners (engine/core/agencies.py SEED).

        Safe to repeat: a file whose meaning is already loaded is `unchanged`, a changed one a new version.
        """
        from reviewflow.workflows import shipped_files

        self.ctx.db.create_schema()
        loaded = [self.load_file(p, by) for p in [*shipped_files(), *extra]]
        with self.ctx.unchecked() as s:  # the usual partners, in an empty register of agencies
            seed_agencies(s)
            seed_themes(s.connection())  # shipped learning themes the list lacks (none is ever removed)
        return loaded

    def load_file(self, path: Path, by: Identity | None = None) -> LoadResult:
        return self.load_text(read_definition_file(path), str(path), by)

    def load_text(self, text: str, source_name: str, by: Identity | None = None) -> LoadResult:
        """Validate and store a definition: a new version when its meaning differs from every stored
        version of its name, else a no-op. Comments and layout are not meaning; `version` is not either.
        An administrator's change, sealed in the audit chain."""
        who = self.accounts.require_admin(by, "loading workflows")
        warnings: list[Problem] = []
        definition = parse_definition(text, source_name, warnings=warnings, known=self.catalogue())
        digest = meaning_hash(text, source_name)
        try:
            placed = self._store_version(definition, text, source_name, digest, who)
        except migration_store.VersionTaken:  # a simultaneous load took the number: place it again
            placed = self._store_version(definition, text, source_name, digest, who)
        log.info("workflow.loaded", workflow=definition.name, version=placed.version, status=placed.status,
                 file_version=definition.version)
        return LoadResult(definition.name, placed.version, placed.status, source_name, placed.note,
                          tuple(warnings))

    def preview_text(self, text: str, source_name: str, by: Identity | None = None) -> WorkflowPreview:
        """Check a definition as `load_text` would and say what loading it would change; writes nothing."""
        self.accounts.require_admin(by, "loading workflows")
        try:
            definition = parse_definition(text, source_name, known=self.catalogue())
        except InvalidDefinition as exc:
            return WorkflowPreview(source_name, tuple(exc.problems))
        digest = meaning_hash(text, source_name)
        with self.ctx.read() as s:
            stored = migration_store.stored_versions(s, definition.name)
        hashes = {d.version: meaning_hash(d.source, d.source_name) for d in stored}
        placed = place_version(definition.version, hashes, digest)
        newest = stored[-1] if stored else None
        diff = None
        if newest is not None:
            parsed = definition if definition.version == placed.version else replace(definition, version=placed.version)
            diff = diff_definitions(self.ctx.parsed(newest), parsed)
        return WorkflowPreview(source_name, (), definition.name, definition.title, placed.version, placed.status,
                               placed.note, newest.version if newest else None, diff)

    def _store_version(self, definition: WorkflowDefinition, text: str, source_name: str,
                       digest: str, who: Identity) -> Placement:
        with self.ctx.transaction() as s:
            stored = migration_store.stored_versions(s, definition.name)
            hashes = {d.version: (digest if d.content_hash == digest else meaning_hash(d.source, d.source_name))
                      for d in stored}
            placed = place_version(definition.version, hashes, digest)
            if placed.status == "added":
                migration_store.add_version(s, definition.name, placed.version, definition.title, text,
                                            source_name, digest, self.ctx.clock())
                self.accounts.audit(s, who, "workflow.load", definition.name,
                                    {"version": placed.version, "file": source_name, "meaning": digest})
            register_named(s, self.accounts, who, definition, self.ctx.clock())
        return placed

    def workflows(self) -> list[StoredDefinition]:
        """The newest version of every loaded workflow."""
        with self.ctx.read() as s:
            return repo.latest_definitions(s)

    def catalogue(self) -> dict[str, Legacy | None]:
        """The shipped and loaded workflows by name, each with its `legacy:` (legacy when either marks it so):
        what a definition's `legacy.replaced_by` and routings are checked against."""
        from reviewflow.workflows import shipped_catalogue

        found = dict(shipped_catalogue())
        if self.ctx.db.is_initialised():
            for stored in self.workflows():
                found[stored.name] = self.ctx.parsed(stored).legacy or found.get(stored.name)
        return found

    def known_roles(self) -> set[str]:
        """Every role any loaded workflow (newest version) uses."""
        roles: set[str] = set()
        for stored in self.workflows():
            roles |= set(self.ctx.parsed(stored).roles)
        return roles

    def diff(self, name: str, old: int, new: int) -> DefinitionDiff:
        """What changed from version `old` of workflow `name` to version `new`."""
        return diff_definitions(self.ctx.definition(name, old), self.ctx.definition(name, new))

    def migrate(self, name: str, to_version: int, mapping: Mapping[str, str], actor: str | Identity | None,
                dry_run: bool = False) -> migrating.MigrationPlan:
        """Move every open case of `name` on another version to `to_version`, all or none.

        `mapping` gives the new state of a current state (a state the target has maps to itself by default).
        Each case gets a `migrate` history row; its due time and next escalation check follow the target.
        A dry run plans and writes nothing (and needs no actor).
        """
        target = self.ctx.definition(name, to_version)
        now = self.ctx.clock()
        if isinstance(actor, Identity):
            actor = self.accounts.require_admin(actor, "migrating cases to another version")
        with self.ctx.transaction() as s:
            recorded = None
            if actor is not None or not dry_run:
                who = self.ctx.who(s, migrating.check_actor(actor))
                if not who.admin:
                    migrating.check_may_migrate(target, who.name, who.roles)
                recorded = who.recorded
            stored = migration_store.stored_versions(s, name)
            cases = migration_store.open_cases(s, name, target.version)
        versions = {d.version: self.ctx.parsed(d) for d in stored}
        plan = migrating.plan_migration(target, versions, cases, mapping, now)
        if dry_run or not plan.moves:
            return plan
        with self.ctx.transaction() as s:
            migration_store.apply(s, plan, recorded or "")
            self.accounts.audit(s, actor if isinstance(actor, Identity) else None, "workflow.migrate", name,
                                {"to_version": target.version, "cases": [m.ref for m in plan.moves],
                                 "by": recorded})
        log.info("workflow.migrated", workflow=name, to_version=target.version, cases=len(plan.moves), actor=recorded)
        return plan
