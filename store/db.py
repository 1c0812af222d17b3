"""Connecting to SQLite or PostgreSQL, transactions, and database errors in plain words."""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import structlog
from sqlalchemy import event, inspect
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.engine.url import URL
from sqlalchemy.exc import ArgumentError, DBAPIError, DisconnectionError, NoSuchModuleError, OperationalError
from sqlmodel import Session, create_engine

from reviewflow.engine.core.errors import InvalidValue, ReviewflowError, StoreError
from reviewflow.store import (
    chain,  # noqa: F401  (registers the tables and the sealing of audit rows)
    )
from reviewflow.store.chain import AUDIT_KEY, KEY_ENV, AuditKey
from reviewflow.store.compiled import COMPILED

DEFAULT_URL = "sqlite:///reviewflow.db"
SQLITE_WAIT_SECONDS = 5.0
"""How long a SQLite writer waits for another process's write lock; `?timeout=SECONDS` in the URL changes it."""
PG_CONNECT_TIMEOUT = 10
"""Seconds to wait for a PostgreSQL server to answer a connection (`?connect_timeout=` changes it)."""
APPLICATION_NAME = "reviewflow"
"""How reviewflow's connections are named in pg_stat_activity (`?application_name=` changes it)."""

log = structlog.get_logger("reviewflow.db")


def _sqlite_wait(url: URL) -> float:
    raw = url.query.get("timeout")
    if raw is None:
        return SQLITE_WAIT_SECONDS
    try:
        seconds = float(raw if isinstance(raw, str) else raw[-1])
    except ValueError:
        seconds = math.nan
    if not math.isfinite(seconds) or seconds < 0:
        raise StoreError(f"timeout={raw!r} in the database URL is not a number of seconds: write e.g. "
                         "sqlite:///reviewflow.db?timeout=10 (how long to wait for another writer)")
    return seconds


def _sqlite_pragmas(wait_ms: int) -> Any:
    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we issue BEGIN ourselves (see _sqlite_begin)
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout={wait_ms}")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    return on_connect


def _private_sqlite_file(path: str) -> Any:
    """Before SQLite opens a database file that does not exist yet, make it empty with mode 0600 (whatever the
    umask): SQLite keeps the file's mode and gives its -wal and -shm files the same one, so the cases are
    readable by the account running reviewflow only. An existing file keeps its mode."""
    def on_connect(*_args: Any) -> None:
        try:
            handle = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except OSError:  # it exists, or its folder does not: SQLite opens it or says why it cannot
            return
        os.close(handle)

    return on_connect


READ_ONLY = "reviewflow_read_only"


def _sqlite_begin(connection: Any) -> None:
    """Take the write lock at BEGIN: concurrent writers queue (busy_timeout) instead of failing
    later on a stale snapshot, and a sweep's claim is exclusive on SQLite too. In WAL mode COMMIT
    takes no further lock, so the wait at BEGIN is the only one."""
    read_only = connection.get_execution_options().get(READ_ONLY, False)
    connection.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")


def _connection_lost(shown: str) -> Any:
    def on_invalidate(_dbapi_connection: Any, _record: Any, exc: BaseException | None) -> None:
        # A connection found dead when taken from the pool (pre-ping): the server restarted or
        # dropped it while idle. A connection lost mid-query raises instead, and is reported there.
        if isinstance(exc, DisconnectionError):
            log.warning("db.connection_lost", db=shown, found="dead in the pool", action="reconnecting")

    return on_invalidate


def _first_line(exc: Exception) -> str:
    text = str(getattr(exc, "orig", None) or exc).strip()
    return text.splitlines()[0].strip() if text else type(exc).__name__


_LOST = ("terminating connection", "server closed the connection", "connection is closed",
         "consuming input failed", "connection is lost", "ssl syscall error")


def _explain_server(url: str, text: str, lowered: str) -> StoreError | None:
    """PostgreSQL's refusals, most specific first."""
    if any(marker in lowered for marker in _LOST):
        return StoreError(f"lost the connection to the database {url} ({text}): nothing half-done was kept; "
                          "run the command again, and check the server if it keeps happening")
    if "does not exist" in lowered and ("database" in lowered or "role" in lowered):
        detail = text.split("FATAL:", 1)[-1].strip()
        return StoreError(f"cannot use the database {url}: {detail}: check the URL given by --db or "
                          "REVIEWFLOW_DB, or create it")
    if "password authentication failed" in lowered or "no pg_hba.conf entry" in lowered:
        return StoreError(f"the database server refused the login for {url}: check the user and password "
                          "in the URL given by --db or REVIEWFLOW_DB")
    if ("connection" in lowered or "could not connect" in lowered or "server" in lowered
            or "resolve host" in lowered or "translate host name" in lowered or "timeout expired" in lowered):
        return StoreError(f"cannot reach the database {url} ({text}): check the server is running "
                          "and the URL given by --db or REVIEWFLOW_DB")
    return None


def _explain(url: str, exc: Exception) -> ReviewflowError:
    text = _first_line(exc)
    lowered = text.lower()
    if "nul (0x00)" in lowered:
        return InvalidValue("text cannot contain NUL (\\x00) characters: remove them from the value and try again")
    if "locked" in lowered or "busy" in lowered:
        return StoreError(f"the database {url} is locked by another process: try again in a moment")
    if "no such table" in lowered or ("relation" in lowered and "does not exist" in lowered):
        return StoreError(f"the database {url} is not initialised: run 'reviewflow init'")
    if "unable to open database file" in lowered:
        return StoreError(f"cannot open the database {url}: check the folder exists and is writable")
    if "readonly" in lowered or "read-only" in lowered:
        return StoreError(f"the database {url} is read-only: check the file's permissions")
    if "file is not a database" in lowered or "database disk image is malformed" in lowered:
        return StoreError(f"{url} is not a usable reviewflow database ({text}): check --db or REVIEWFLOW_DB "
                          "names the right file, or restore it from a backup")
    return _explain_server(url, text, lowered) or StoreError(f"database error on {url}: {text}")


class Database:
    """One database URL and its SQLAlchemy engine."""

    def __init__(self, url: str = DEFAULT_URL, audit_key_file: str | None = None) -> None:
        """`audit_key_file` names the file holding the audit key; by default REVIEWFLOW_AUDIT_KEY_FILE, else
        (SQLite) `<database file>.audit-key`, made on the first write to a new database."""
        self.url = url
        try:
            parsed = make_url(url)
        except ArgumentError:
            raise StoreError(f"{url!r} is not a database URL: use e.g. sqlite:///reviewflow.db or "
                             "postgresql+psycopg://user@host/dbname") from None
        self.is_sqlite = parsed.get_backend_name() == "sqlite"
        self.path = parsed.database if self.is_sqlite else None
        self.shown = parsed.render_as_string(hide_password=True)
        self.wait_seconds = _sqlite_wait(parsed) if self.is_sqlite else None
        beside = f"{self.path}.audit-key" if self.path and self.path != ":memory:" and not \
            self.path.startswith("file:") else None
        self.audit_key = AuditKey(audit_key_file or os.environ.get(KEY_ENV), beside)
        try:
            self.engine: Engine = self._create(url, parsed)
            self.engine.update_execution_options(compiled_cache=COMPILED)  # compiled once per process
        except (NoSuchModuleError, ImportError) as exc:
            raise StoreError(f"no driver for {self.shown} ({exc}): use sqlite:/// or postgresql+psycopg://") from None
        except ArgumentError as exc:
            raise StoreError(f"{self.shown!r} is not a usable database URL ({_first_line(exc)}): use e.g. "
                             "sqlite:///reviewflow.db or postgresql+psycopg://user@host/dbname") from None

    def _create(self, url: str, parsed: URL) -> Engine:
        if self.is_sqlite:
            assert self.wait_seconds is not None
            engine = create_engine(url, connect_args={"timeout": self.wait_seconds})
            if self.path and self.path != ":memory:" and not self.path.startswith("file:"):
                event.listen(engine, "do_connect", _private_sqlite_file(self.path))
            event.listen(engine, "connect", _sqlite_pragmas(round(self.wait_seconds * 1000)))
            event.listen(engine, "begin", _sqlite_begin)
            return engine
        defaults = {"application_name": APPLICATION_NAME, "connect_timeout": PG_CONNECT_TIMEOUT}
        added = {k: v for k, v in defaults.items() if k not in parsed.query}
        engine = create_engine(url, pool_pre_ping=True,
                               connect_args=added if parsed.get_driver_name() == "psycopg" else {})
        event.listen(engine, "invalidate", _connection_lost(self.shown))
        return engine

    def require_existing(self) -> None:
        """Refuse a SQLite path that does not exist instead of creating an empty file."""
        if self.is_sqlite and self.path and self.path != ":memory:" and not os.path.exists(self.path):
            raise StoreError(f"no database at {self.path}: run 'reviewflow init' first, or pass --db")

    def create_schema(self) -> tuple[str | None, str]:
        """Create the tables, or migrate them to this version's schema: (revision before, after)."""
        from reviewflow.store.schema import upgrade

        with self.guard():
            return upgrade(self.engine)

    def schema_behind(self) -> str | None:
        """The schema revision when the database was made by an older reviewflow (else None)."""
        from reviewflow.store.schema import behind

        with self.guard():
            return behind(self.engine)

    def readiness(self) -> str | None:
        """None when the database is ready for this reviewflow; else why not (store/schema.py `readiness`):
        read without taking SQLite's write lock."""
        from reviewflow.store.schema import readiness

        with self.guard():
            return readiness(self._reader)

    def is_initialised(self) -> bool:
        with self.guard():
            return inspect(self.engine).has_table("cases")

    @contextmanager
    def guard(self) -> Iterator[None]:
        """Translate database exceptions into StoreError with advice (InvalidValue for text it cannot store)."""
        try:
            yield
        except (OperationalError, DBAPIError) as exc:
            raise _explain(self.shown, exc) from None

    @contextmanager
    def transaction(self, write: bool = True) -> Iterator[Session]:
        """One session, one transaction: committed when the block ends, rolled back on any error.

        `write=False` is for reads: on SQLite it starts with a plain BEGIN, so it never waits for (or
        holds up) a writer; it sees the database as it was when its first query ran.
        """
        bind = self.engine if write else self._reader
        with (self.guard(), Session(bind, expire_on_commit=False, info={AUDIT_KEY: self.audit_key}) as session,
              session.begin()):
            yield session

    def use_audit_key_file(self, path: str) -> None:
        """Seal and verify with the key in `path` (`[audit] key_file` in reviewflow.toml)."""
        self.audit_key = AuditKey(path, None)

    @property
    def _reader(self) -> Engine:
        return self.engine.execution_options(**{READ_ONLY: True})

    def dispose(self) -> None:
        self.engine.dispose()
