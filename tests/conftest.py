"""Shared fixtures: the same store tests run on a real SQLite file and a real PostgreSQL."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from reviewflow.engine.core.clock import SteppingClock
from reviewflow.engine.services.facade import Reviewflow
from reviewflow.store.db import Database

from tests.servers import SmtpServer, WebhookServer

FIXTURES = Path(__file__).parent / "fixtures"
PG_URL = os.environ.get("REVIEWFLOW_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
REQUIRE_PG = os.environ.get("REVIEWFLOW_REQUIRE_PG") == "1"


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
_SCHEMAS: list[str] = []


def _admin() -> Any:
    import psycopg

    return psycopg.connect(PG_URL.replace("postgresql+psycopg://", "postgresql://"), autocommit=True)


def same_definition(a: Any, b: Any) -> bool:
    """Two parsed definitions hold the same values (definitions compare by identity)."""
    from dataclasses import fields

    return type(a) is type(b) and all(getattr(a, f.name) == getattr(b, f.name) for f in fields(a))


def pg_url_or_skip() -> str:
    """A URL of the test PostgreSQL whose search_path is a new, empty schema of this test's own.

    Skips when the server is unreachable (fails instead under REVIEWFLOW_REQUIRE_PG=1). Separate
    schemas let several test runs share one server; they are dropped at the end of the session.
    """
    global _PG_PROBLEM
    if _PG_PROBLEM is False:
        _PG_PROBLEM = _pg_problem()
    if _PG_PROBLEM:
        if REQUIRE_PG:
            pytest.fail(f"{_PG_PROBLEM} (REVIEWFLOW_REQUIRE_PG=1)")
        pytest.skip(f"{_PG_PROBLEM}; set REVIEWFLOW_TEST_PG_URL to run the PostgreSQL tests")
    schema = f"rf_test_{os.getpid()}_{len(_SCHEMAS)}"
    with _admin() as conn:
        conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        conn.execute(f"CREATE SCHEMA {schema}")
    _SCHEMAS.append(schema)
    joiner = "&" if "?" in PG_URL else "?"
    return f"{PG_URL}{joiner}options=-csearch_path%3D{schema}"


@pytest.fixture(scope="session", autouse=True)
def _drop_test_schemas() -> Iterator[None]:
    yield
    if _SCHEMAS:
        with _admin() as conn:
            for schema in _SCHEMAS:
                conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, empty database URL: a SQLite file, or the test PostgreSQL schema."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'reviewflow.db'}"
    return pg_url_or_skip()


@pytest.fixture
def clock() -> SteppingClock:
    """Monday 5 January 2026, 09:00 UTC, moved by hand."""
    return SteppingClock(datetime(2026, 1, 5, 9, 0, tzinfo=UTC))


@pytest.fixture
def database(db_url: str) -> Iterator[Database]:
    db = Database(db_url)
    yield db
    db.dispose()


@pytest.fixture
def service(database: Database, clock: SteppingClock) -> Reviewflow:
    """An initialised service with the shipped workflows and the minimal test workflow."""
    svc = Reviewflow(database, clock)
    svc.init([FIXTURES / "minimal.yaml"])
    return svc


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    """A real SMTP server on 127.0.0.1 that is running."""
    server = SmtpServer().start()
    yield server
    server.stop()


@pytest.fixture
def hook() -> Iterator[WebhookServer]:
    """A real HTTP server on 127.0.0.1 recording webhook requests."""
    server = WebhookServer()
    yield server
    server.stop()
