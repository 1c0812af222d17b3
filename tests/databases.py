"""Test databases: a new PostgreSQL schema per test, and initialised databases copied from a template.

This module holds the state (the schemas made, the templates built) for the whole process. It is imported
as `tests.databases` only, whereas conftest.py is loaded twice (by pytest as `conftest`, and by the test
modules as `tests.conftest`): state kept in conftest.py would be split in two, so that two schemas could get
one name and the schemas made through one copy would never be dropped.

Each pytest-xdist worker is a process of its own: it makes its own database on the test server, named after
its worker id and process id, with a schema per test in it; builds its own templates under its own temporary
folder; and drops its database when its session ends.
"""

from __future__ import annotations

import atexit
import itertools
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator, Mapping
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.pool import NullPool

PG_URL = os.environ.get("REVIEWFLOW_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
REQUIRE_PG = os.environ.get("REVIEWFLOW_REQUIRE_PG") == "1"
WORKER = os.environ.get("PYTEST_XDIST_WORKER", "main")
"""gw0, gw1, ... in a pytest-xdist worker; `main` in a run without workers."""


def _pg_problem() -> str | None:
    """None when PostgreSQL answers, else why not."""
    try:
        import psycopg
    except ImportError as exc:  # pragma: no cover - psycopg is a dependency
        return f"psycopg not installed: {exc}"
    conninfo = PG_URL.replace("postgresql+psycopg://", "postgresql://")
    try:
        with psycopg.connect(conninfo, connect_timeout=3) as conn:
            conn.execute("select 1")
    except psycopg.Error as exc:
        return f"PostgreSQL not reachable at {PG_URL}: {str(exc).strip().splitlines()[0]}"
    return None


_PG_PROBLEM: str | None | bool = False
_DATABASE: str | None = None
_OWN = True
"""Whether _DATABASE is this process's own database (else the configured one)."""
_SCHEMAS: list[str] = []
_NUMBERS = itertools.count()


def _admin_dsn() -> str:
    return PG_URL.replace("postgresql+psycopg://", "postgresql://")


def admin() -> Any:
    import psycopg

    return psycopg.connect(_admin_dsn(), autocommit=True)


def pg_url_or_skip() -> str:
    """A URL of the test PostgreSQL whose search_path is a new, empty schema of this test's own.

    Skips when the server is unreachable (fails instead under REVIEWFLOW_REQUIRE_PG=1). Separate
    schemas let several test runs, and the workers of one run, share one server; they are dropped at
    the end of the session.
    """
    global _PG_PROBLEM
    if _PG_PROBLEM is False:
        _PG_PROBLEM = _pg_problem()
    if _PG_PROBLEM:
        if REQUIRE_PG:
            pytest.fail(f"{_PG_PROBLEM} (REVIEWFLOW_REQUIRE_PG=1)")
        pytest.skip(f"{_PG_PROBLEM}; set REVIEWFLOW_TEST_PG_URL to run the PostgreSQL tests")
    database = _own_database()
    schema = f"rf_test_{WORKER}_{os.getpid()}_{next(_NUMBERS)}"
    with _connect(database) as conn:  # a stale schema of a process that had this id goes
        conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema}")
    _SCHEMAS.append(schema)
    joiner = "&" if "?" in database else "?"
    return f"{database}{joiner}options=-csearch_path%3D{schema}"


def _connect(url: str) -> Any:
    import psycopg

    return psycopg.connect(make_url(url).set(drivername="postgresql").render_as_string(hide_password=False),
                           autocommit=True)


def _own_database() -> str:
    """The URL of this process's own database on the test server, made at its first PostgreSQL test.

    Each test's schema is made in it, and the whole database is dropped at the end of the session: dropping
    one database takes a moment, where dropping hundreds of schemas one table at a time took seconds.
    An account that may not create databases gets its schemas in the configured database, as they were before.
    """
    import psycopg

    global _DATABASE, _OWN
    if _DATABASE is None:
        name = f"rf_test_{WORKER}_{os.getpid()}"
        try:
            with admin() as conn:  # a stale database of a process that had this id goes
                conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
                conn.execute(f"CREATE DATABASE {name} TEMPLATE template0")
        except psycopg.errors.InsufficientPrivilege:
            _DATABASE, _OWN = PG_URL, False
        else:
            _DATABASE, _OWN = make_url(PG_URL).set(database=name).render_as_string(hide_password=False), True
    return _DATABASE


_DROP = """
import os, sys, psycopg
with psycopg.connect(os.environ["REVIEWFLOW_TEST_DROP_DSN"], autocommit=True) as conn:
    conn.execute(f"DROP DATABASE IF EXISTS {sys.argv[1]} WITH (FORCE)")
"""
"""Dropping a database made by a whole run: PostgreSQL removes its thousands of files and checkpoints, which took
3-5 s at the end of each test process."""


def drop_schemas() -> None:
    """Drop this process's own database, with every schema made in it (connections still open are closed), in a
    process of its own that finishes after this one, so the run does not wait for it; or, in the configured
    database, the schemas this process made there, a few to a transaction."""
    global _DATABASE
    if _DATABASE is None:
        return
    if _OWN:
        subprocess.Popen([sys.executable, "-c", _DROP, str(make_url(_DATABASE).database)],
                         env={**os.environ, "REVIEWFLOW_TEST_DROP_DSN": _admin_dsn()},  # not on a command line
                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                         start_new_session=True)
    else:
        with admin() as conn:
            for at in range(0, len(_SCHEMAS), 10):
                conn.execute(f"DROP SCHEMA IF EXISTS {', '.join(_SCHEMAS[at:at + 10])} CASCADE")
    _SCHEMAS.clear()
    _DATABASE = None


# --- templates ------------------------------------------------------------------------------------------

Statement = tuple[str, Any, bool]
"""(SQL, DB-API parameters, executed without parameters) as the driver was given it."""


def _own_copy(parameters: Any) -> Any:
    if isinstance(parameters, list):
        return [_own_copy(p) for p in parameters]
    if isinstance(parameters, Mapping):
        return dict(parameters)
    return parameters


@contextmanager
def _recording(url: str) -> Iterator[list[Statement]]:
    """Every statement sent to the PostgreSQL schema of `url` (by any engine) while the block runs."""
    options = make_url(url).query.get("options")
    statements: list[Statement] = []

    def record(conn: Any, _cursor: Any, statement: str, parameters: Any, context: Any, _many: bool) -> None:
        if conn.engine.url.query.get("options") == options:
            statements.append((statement, _own_copy(parameters), bool(getattr(context, "no_parameters", False))))

    event.listen(Engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(Engine, "before_cursor_execute", record)


def _only_reads(statement: str) -> bool:
    """A statement that changes nothing (the build's checks and look-ups), which a replay can leave out."""
    head = statement.lstrip()[:7].upper()
    lowered = statement.lower()
    return head.startswith("SELECT") and "nextval" not in lowered and "setval" not in lowered


def _script(raw: Any, statements: list[Statement]) -> str:
    """`statements` as one SQL text with their parameters written in as literals (psycopg's own quoting), leaving
    out the reads: a replay is then one round trip instead of hundreds."""
    import psycopg

    writer = psycopg.ClientCursor(raw.driver_connection)
    parts: list[str] = []
    for statement, parameters, no_parameters in statements:
        if _only_reads(statement):
            continue
        if isinstance(parameters, list):
            parts += [writer.mogrify(statement, each) for each in parameters]
        elif no_parameters and not parameters:
            parts.append(statement)
        else:
            parts.append(writer.mogrify(statement, parameters))
    return ";\n".join(parts)


def _replay_into_empty(url: str, template: Template) -> bool:
    """Send the template's statements to the schema of `url` as one script, in one transaction; False (and
    nothing sent) when the schema is not empty."""
    engine = create_engine(url, poolclass=NullPool)
    try:
        raw = engine.raw_connection()
        try:
            cursor = raw.cursor()
            cursor.execute("SELECT 1 FROM pg_catalog.pg_tables WHERE schemaname = current_schema() LIMIT 1")
            if cursor.fetchone():
                return False
            if template.script is None:
                template.script = _script(raw, template.statements)
            cursor.execute(template.script)
            raw.commit()
            return True
        finally:
            raw.close()
    finally:
        engine.dispose()


@dataclass
class Template:
    """The statements a PostgreSQL template's build sent, and (from its first replay) the same as one script."""

    statements: list[Statement]
    script: str | None = None


class Templates:
    """Databases built once per process and key, copied into each test's new database.

    A SQLite template is a file, copied with SQLite's backup API; a PostgreSQL template is the list of
    statements its build sent, replayed in the test's own schema. Either way the test gets the rows (and
    on PostgreSQL the sequences) the build made, without paying for the build again. A database that is
    not new and empty gets the build itself.
    """

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.sqlite: dict[str, Path] = {}
        self.postgres: dict[str, Template] = {}

    def copy(self, url: str, key: str, build: Callable[[str], object]) -> None:
        """Make the database at `url` what `build(url)` would make of it; `key` names what `build` makes."""
        if url.startswith("sqlite"):
            self._copy_sqlite(url, key, build)
        else:
            self._copy_postgres(url, key, build)

    def _copy_sqlite(self, url: str, key: str, build: Callable[[str], object]) -> None:
        path = make_url(url).database
        if not path or path == ":memory:" or (os.path.exists(path) and os.path.getsize(path) > 0):
            build(url)
            return
        if key not in self.sqlite:
            template = self.folder / f"template-{len(self.sqlite)}.db"
            build(f"sqlite:///{template}")
            self.sqlite[key] = template
        with closing(sqlite3.connect(self.sqlite[key])) as source, closing(sqlite3.connect(path)) as target:
            source.backup(target)

    def _copy_postgres(self, url: str, key: str, build: Callable[[str], object]) -> None:
        if key not in self.postgres:
            template = pg_url_or_skip()
            with _recording(template) as statements:
                build(template)
            self.postgres[key] = Template(statements)
        if not _replay_into_empty(url, self.postgres[key]):
            build(url)


_TEMPLATES: Templates | None = None


def templates() -> Templates:
    """This process's templates (their files in a temporary folder removed when the process ends)."""
    global _TEMPLATES
    if _TEMPLATES is None:
        folder = Path(tempfile.mkdtemp(prefix=f"reviewflow-templates-{WORKER}-"))
        atexit.register(shutil.rmtree, folder, ignore_errors=True)
        _TEMPLATES = Templates(folder)
    return _TEMPLATES
