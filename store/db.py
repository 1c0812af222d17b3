"""Connecting to SQLite or PostgreSQL, transactions, and database errors in plain words."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event, inspect
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError, OperationalError
from sqlmodel import Session, SQLModel, create_engine

from engine.errors import StoreError
from store import models  # noqa: F401  (registers the tables)

DEFAULT_URL = "sqlite:///reviewflow.db"
SQLITE_BUSY_MS = 5000


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.isolation_level = None  # we issue BEGIN ourselves (see _sqlite_begin)
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_MS}")
    cursor.close()


def _sqlite_begin(connection: Any) -> None:
    """Take the write lock at BEGIN: concurrent writers queue (busy_timeout) instead of failing
    later on a stale snapshot, and a sweep's claim is exclusive on SQLite too."""
    connection.exec_driver_sql("BEGIN IMMEDIATE")


def _explain(url: str, exc: Exception) -> StoreError:
    text = str(getattr(exc, "orig", exc)).strip().splitlines()[0] if str(exc) else type(exc).__name__
    lowered = text.lower()
    if "locked" in lowered or "busy" in lowered:
        return StoreError(f"the database {url} is locked by another process: try again in a moment")
    if "no such table" in lowered or ("relation" in lowered and "does not exist" in lowered):
        return StoreError(f"the database {url} is not initialised: run 'reviewflow init'")
    if "unable to open database file" in lowered:
        return StoreError(f"cannot open the database {url}: check the folder exists and is writable")
    if "readonly" in lowered or "read-only" in lowered:
        return StoreError(f"the database {url} is read-only: check the file's permissions")
    if "connection" in lowered or "could not connect" in lowered or "server" in lowered:
        return StoreError(f"cannot reach the database {url} ({text}): check the server is running "
                          "and the URL given by --db or REVIEWFLOW_DB")
    return StoreError(f"database error on {url}: {text}")


class Database:
    """One database URL and its SQLAlchemy engine."""

    def __init__(self, url: str = DEFAULT_URL) -> None:
        self.url = url
        try:
            parsed = make_url(url)
        except ArgumentError:
            raise StoreError(f"{url!r} is not a database URL: use e.g. sqlite:///reviewflow.db or "
                             "postgresql+psycopg://user@host/dbname") from None
        self.is_sqlite = parsed.get_backend_name() == "sqlite"
        self.path = parsed.database if self.is_sqlite else None
        self.shown = parsed.render_as_string(hide_password=True)
        try:
            if self.is_sqlite:
                self.engine: Engine = create_engine(url, connect_args={"timeout": SQLITE_BUSY_MS / 1000})
                event.listen(self.engine, "connect", _sqlite_pragmas)
                event.listen(self.engine, "begin", _sqlite_begin)
            else:
                self.engine = create_engine(url, pool_pre_ping=True)
        except (NoSuchModuleError, ImportError) as exc:
            raise StoreError(f"no driver for {self.shown} ({exc}): use sqlite:/// or postgresql+psycopg://") from None

    def require_existing(self) -> None:
        """Refuse a SQLite path that does not exist instead of creating an empty file."""
        if self.is_sqlite and self.path and self.path != ":memory:" and not os.path.exists(self.path):
            raise StoreError(f"no database at {self.path}: run 'reviewflow init' first, or pass --db")

    def create_schema(self) -> None:
        with self.guard():
            SQLModel.metadata.create_all(self.engine)

    def is_initialised(self) -> bool:
        with self.guard():
            return inspect(self.engine).has_table("cases")

    @contextmanager
    def guard(self) -> Iterator[None]:
        """Translate database exceptions into StoreError with advice."""
        try:
            yield
        except (OperationalError, DBAPIError) as exc:
            raise _explain(self.shown, exc) from None

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """One session, one transaction: committed when the block ends, rolled back on any error."""
        with self.guard(), Session(self.engine, expire_on_commit=False) as session, session.begin():
            yield session

    def dispose(self) -> None:
        self.engine.dispose()
