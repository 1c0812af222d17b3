"""What every service shares: the database, the clock, the settings and the parsed definitions.

Only services open transactions, and they open them here: `transaction()` for a change, `read()` for
a read that on SQLite neither waits for nor holds up writers. The first one checks once that the
database exists, is initialised and is at this version's schema.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from reviewflow.engine.core.access import Identity
from reviewflow.engine.core.clock import Clock
from reviewflow.engine.core.definition import WorkflowDefinition
from reviewflow.engine.core.errors import NotPermitted, NotSignedIn, StoreError, UserNotFound, WorkflowNotFound
from reviewflow.engine.core.parse import parse_stored
from reviewflow.engine.core.records import StoredDefinition
from reviewflow.engine.core.time_limits import check_write_time
from reviewflow.engine.services.settings import Settings
from reviewflow.store import accounts, repo, time_settings
from reviewflow.store.db import Database
from reviewflow.store.schema import UNINITIALISED


def running_clock(start: datetime) -> Clock:
    """A clock that says `start` now and then runs on with the system clock: the served demo, set on its last
    simulated day, in which sessions still time out and sign-in locks still lift."""
    offset = start - system_clock()
    return lambda: system_clock() + offset


def system_clock() -> datetime:
    """The current instant, aware UTC: the one place reviewflow reads the wall clock."""
    return datetime.now(UTC)  # the system clock: every other reading goes through ctx.clock


SERVER_CLOCK: Clock | None = system_clock
"""The server's own time of a context not given one. None makes it the context's clock: a simulation, in which
changes are recorded at the time they are dated (the tests made in one process set this)."""


class ServiceContext:
    """The database, clock, settings and definition cache one façade's services share."""

    def __init__(self, db: Database, clock: Clock = system_clock, settings: Settings | None = None,
                 wall: Clock | None = None) -> None:
        self.db = db
        self.clock = clock
        self.wall: Clock = wall or SERVER_CLOCK or clock
        """The server's own time, recorded beside every change (never --now): see core/time_limits.py."""
        self.settings = settings or Settings()
        self._versions: dict[tuple[str, int], WorkflowDefinition] = {}
        """Parsed definitions by (name, stored version): a stored version never changes."""
        self._ready = False

    # --- transactions ------------------------------------------------------------------------

    @contextmanager
    def transaction(self) -> Iterator[Any]:
        """A read-write transaction (a context manager yielding the store's session); the rows it writes
        record the server's time (`wall`) as their `recorded_at`."""
        self.ensure_ready()
        with self.db.transaction() as s:
            time_settings.mark(s, self.wall())
            yield s

    def write_time(self, s: Any, now: datetime | None = None) -> datetime:
        """The time a change in transaction `s` is dated (`now`, else the clock, which --now may set), refused
        when it is further from the server's time than the database's time settings allow
        (core/time_limits.py). Nothing has been written when it is refused."""
        now = self.clock() if now is None else now
        if self.clock is not self.wall:  # a clock that is the server's own is always within the limits
            check_write_time(now, time_settings.recorded_at(s) or self.wall(), time_settings.limits(s))
        return now

    def read(self) -> Any:
        """A read-only transaction (on SQLite it neither waits for nor holds up writers)."""
        self.ensure_ready()
        return self.db.transaction(write=False)

    def ensure_ready(self) -> None:
        """Refuse a missing, uninitialised or outdated database with advice (checked once)."""
        if self._ready:
            return
        self.db.require_existing()
        old = self.db.readiness()
        if old == UNINITIALISED:
            raise StoreError(f"the database {self.db.shown} is not initialised: run 'reviewflow init'")
        if old:
            raise StoreError(f"the database {self.db.shown} has schema {old}, older than this reviewflow's: "
                             "back it up, then run 'reviewflow db upgrade'")
        self._ready = True

    def forget_database(self) -> None:
        """Drop every connection and what was read from the database (readiness, definitions by name): its file
        was replaced, and the next transaction opens the new one."""
        self.db.engine.dispose()
        key = self.db.audit_key  # read again: a restored file comes with its own key file beside it
        self.db.audit_key = type(key)(key.file if key.configured else None, None if key.configured else key.file)
        self._versions.clear()
        self._ready = False

    @contextmanager
    def unchecked(self) -> Iterator[Any]:
        """A transaction without the readiness check, for setting the database up."""
        with self.db.transaction() as s:
            time_settings.mark(s, self.wall())
            yield s

    # --- who is acting ------------------------------------------------------------------------------

    def who(self, s: Any, actor: str | Identity, write: bool = True) -> Identity:
        """The person acting, as the database knows them now, within the caller's transaction.

        A name (`str`) comes from code in this process (the demo, the worker, tests) and is trusted as
        that registered user; an `Identity` comes from a front end, which established it from credentials.
        Either way the user must be registered and not disabled, and a change needs a write scope.
        """
        name = actor.name if isinstance(actor, Identity) else actor
        found = accounts.person(s, name)
        if found is None:
            raise UserNotFound(name)
        row, held = found
        if row.disabled_at is not None:
            raise NotSignedIn(f"user {name} is disabled: ask an administrator", user=name)
        roles = frozenset(held)
        if not isinstance(actor, Identity):
            return Identity(name, roles, row.agency, bool(row.is_admin), None, "system")
        if write and not actor.may_write:
            raise NotPermitted("this API token is read-only: use a read-write token to change anything",
                               user=name)
        admin = bool(row.is_admin) and actor.acting_admin is None
        return Identity(name, roles, row.agency, admin, actor.acting_admin, actor.via, actor.scope)

    # --- definitions ---------------------------------------------------------------------------

    def parsed(self, stored: StoredDefinition) -> WorkflowDefinition:
        """A stored definition, parsed once per process (engine/core/parse.py; it was validated when it was
        loaded)."""
        found = parse_stored(stored.source, stored.source_name, stored.version)
        self._versions[(stored.name, stored.version)] = found
        return found

    def definition(self, name: str, version: int | None = None) -> WorkflowDefinition:
        """A loaded definition: the newest version, or the one asked for."""
        if version is not None and (name, version) in self._versions:
            return self._versions[(name, version)]
        with self.read() as s:
            return self.definition_in(s, name, version)

    def definition_in(self, s: Any, name: str, version: int | None = None) -> WorkflowDefinition:
        """`definition()` within the caller's transaction."""
        if version is not None and (name, version) in self._versions:
            return self._versions[(name, version)]
        stored = repo.find_definition(s, name, version)
        if stored is None:
            versions = repo.definition_versions(s, name)
            if versions:
                raise WorkflowNotFound.version(name, version or 0, versions)
            raise WorkflowNotFound(name, [d.name for d in repo.latest_definitions(s)])
        return self.parsed(stored)

    def all_definitions(self) -> dict[tuple[str, int], WorkflowDefinition]:
        """Every loaded version of every workflow, parsed (for sweeps and reports over many cases)."""
        with self.read() as s:
            stored = repo.all_definitions(s)
        return {(d.name, d.version): self.parsed(d) for d in stored}
