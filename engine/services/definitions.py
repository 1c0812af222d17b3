"""Workflow definitions: setting the database up, loading versions, comparing them, and moving open
cases from one version to another (`workflow migrate`)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import structlog

from reviewflow.engine.core import migration as migrating
from reviewflow.engine.core.definition import WorkflowDefinition
from reviewflow.engine.core.diff import DefinitionDiff, Placement, diff_definitions, meaning_hash, place_version
from reviewflow.engine.core.errors import InvalidValue, StoreError
from reviewflow.engine.core.parse import parse_definition
from reviewflow.engine.core.records import StoredDefinition
from reviewflow.engine.services.context import ServiceContext
from reviewflow.store import migration as migration_store
from reviewflow.store import repo

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


def read_definition_file(path: Path) -> str:
    """The text of a definition file, or one line saying why it cannot be read."""
    try:
        return Path(path).read_text("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidValue(f"cannot read {path}: {exc}", value=str(path)) from None


class DefinitionService:
    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx

    def upgrade_schema(self) -> tuple[str | None, str]:
        """Migrate an existing database to this version's schema (`reviewflow db upgrade`)."""
        db = self.ctx.db
        db.require_existing()
        if not db.is_initialised():
            raise StoreError(f"the database {db.shown} is not initialised: run 'reviewflow init'")
        before, after = db.create_schema()
        log.info("db.upgraded", before=before, after=after)
        return before, after

    def init(self, extra: Iterable[Path] = ()) -> list[LoadResult]:
        """Create the tables (if missing) and load the shipped workflows plus `extra` files.

        Safe to repeat: a file whose meaning is already loaded is `unchanged`, a changed one a new version.
        """
        from reviewflow.workflows import shipped_files

        self.ctx.db.create_schema()
        return [self.load_file(p) for p in [*shipped_files(), *extra]]

    def load_file(self, path: Path) -> LoadResult:
        return self.load_text(read_definition_file(path), str(path))

    def load_text(self, text: str, source_name: str) -> LoadResult:
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
        with self.ctx.transaction() as s:
            stored = migration_store.stored_versions(s, definition.name)
            hashes = {d.version: (digest if d.content_hash == digest else meaning_hash(d.source, d.source_name))
                      for d in stored}
            placed = place_version(definition.version, hashes, digest)
            if placed.status == "added":
                migration_store.add_version(s, definition.name, placed.version, definition.title, text,
                                            source_name, digest, self.ctx.clock())
        return placed

    def workflows(self) -> list[StoredDefinition]:
        """The newest version of every loaded workflow."""
        with self.ctx.read() as s:
            return repo.latest_definitions(s)

    def known_roles(self) -> set[str]:
        """Every role any loaded workflow (newest version) uses."""
        roles: set[str] = set()
        for stored in self.workflows():
            roles |= set(self.ctx.parsed(stored).roles)
        return roles

    def diff(self, name: str, old: int, new: int) -> DefinitionDiff:
        """What changed from version `old` of workflow `name` to version `new`."""
        return diff_definitions(self.ctx.definition(name, old), self.ctx.definition(name, new))

    def migrate(self, name: str, to_version: int, mapping: Mapping[str, str], actor: str | None,
                dry_run: bool = False) -> migrating.MigrationPlan:
        """Move every open case of `name` on another version to `to_version`, all or none.

        `mapping` gives the new state of a current state (a state the target has maps to itself by default).
        Each case gets a `migrate` history row; its due time and next escalation check follow the target.
        A dry run plans and writes nothing (and needs no actor).
        """
        target = self.ctx.definition(name, to_version)
        now = self.ctx.clock()
        with self.ctx.transaction() as s:
            if actor is not None or not dry_run:
                who = repo.get_actor(s, migrating.check_actor(actor))
                migrating.check_may_migrate(target, who.name, who.roles)
            stored = migration_store.stored_versions(s, name)
            cases = migration_store.open_cases(s, name, target.version)
        versions = {d.version: self.ctx.parsed(d) for d in stored}
        plan = migrating.plan_migration(target, versions, cases, mapping, now)
        if dry_run or not plan.moves:
            return plan
        with self.ctx.transaction() as s:
            migration_store.apply(s, plan, actor or "")
        log.info("workflow.migrated", workflow=name, to_version=target.version, cases=len(plan.moves), actor=actor)
        return plan
