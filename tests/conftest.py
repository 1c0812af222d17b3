"""Shared fixtures: the same store tests run on a real SQLite file and a real PostgreSQL."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from reviewflow.cli import os_account
from reviewflow.engine.core.clock import SteppingClock
from reviewflow.engine.services.facade import Reviewflow
from reviewflow.store.db import Database

from tests.browser import browser_page, chromium
from tests.databases import PG_URL, REQUIRE_PG, Templates, drop_schemas, pg_url_or_skip
from tests.databases import templates as process_templates
from tests.servers import SmtpServer, WebhookServer

__all__ = ["ADMIN", "FIXTURES", "PG_URL", "REQUIRE_PG", "acting_for", "administer", "init_with_minimal",
           "pg_url_or_skip", "same_definition"]

FIXTURES = Path(__file__).parent / "fixtures"

CEL_RECURSION_LIMIT = 2500
"""The recursion limit celpy sets as it builds its CEL parser (once per process, in whichever test first checks
an expression). Set now, it is not changed inside a Hypothesis test, which would warn that it was."""
sys.setrecursionlimit(CEL_RECURSION_LIMIT)
BROWSER_FIXTURES = (browser_page, chromium)
"""The browser fixtures (tests/browser.py), shared from here so that a test process starts Playwright once."""
def _test_audit_key() -> str:
    """One audit key file for the test process and the commands it starts (PostgreSQL needs one; a SQLite
    database copied from a template must verify with the key it was sealed with); removed at exit."""
    import atexit
    import shutil
    import tempfile

    from reviewflow.store.chain import create_key_file

    folder = tempfile.mkdtemp(prefix="reviewflow-audit-key-")
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    path = os.path.join(folder, "audit-key")
    create_key_file(path)
    return path


if "REVIEWFLOW_AUDIT_KEY_FILE" not in os.environ:
    os.environ["REVIEWFLOW_AUDIT_KEY_FILE"] = _test_audit_key()
ADMIN = os_account()
"""The operating-system account running the tests: `reviewflow init` on a new database makes it the first
administrator, so the command line acts as it, and `--as NAME` is recorded as 'ADMIN for NAME'."""


def administer(url: str) -> str:
    """Make the operating-system account running the tests the administrator of the database at `url` (as
    `reviewflow init` does for a new database), so the command line acts as it there; returns `url`."""
    svc = Reviewflow(Database(url), SteppingClock(datetime(2026, 1, 5, 9, 0, tzinfo=UTC)))
    try:
        svc.first_admin(ADMIN, ADMIN)
    finally:
        svc.db.dispose()
    return url


def acting_for(name: str) -> str:
    """How the history records a command the tests' administrator ran with `--as name`."""
    return f"{ADMIN} for {name}"


def same_definition(a: Any, b: Any) -> bool:
    """Two parsed definitions hold the same values (definitions compare by identity)."""
    from dataclasses import fields

    return type(a) is type(b) and all(getattr(a, f.name) == getattr(b, f.name) for f in fields(a))


def pytest_xdist_auto_num_workers(config: pytest.Config) -> int | None:
    """`-n auto` (see addopts in pyproject.toml) runs no workers when every argument names a single test:
    starting them would take longer than the tests. Otherwise pytest-xdist's own count (one per core)."""
    if config.args and all("::" in arg for arg in config.args):
        return 0
    return None


RUN_FIRST = (
    "tests/test_import_export.py::test_round_trip_is_exact",
    "tests/test_recurring.py::test_two_processes_then_a_restart_open_each_period_once",
    "tests/test_recurring.py::test_two_workers_on_postgres_open_each_period_once",
    "tests/test_worker.py::test_concurrent_sweeps_on_postgres_fire_each_level_once",
    "tests/test_faults.py::test_conflicting_triggers_on_the_same_cases_serialise",
    "tests/test_sweep_batches.py::test_a_sweep_in_many_batches_fires_each_level_once",
    "tests/test_worker.py::test_sigkill_mid_sweep_then_finish_fires_everything_once",
    "tests/test_faults.py::test_worker_logs_a_dropped_connection_reconnects_and_carries_on",
    "tests/test_learning.py::test_scr_learning_loop_end_to_end",
    "tests/test_tracker.py::test_a_5000_row_tracker_imports_with_a_progress_bar",
    "tests/test_bench.py::test_quick_run_prints_one_line_per_figure",
    "tests/test_cli.py::test_console_script_runs_as_a_subprocess",
    "tests/test_demo.py::test_demo_walks_cases_and_leaves_an_explorable_database",
    "tests/test_report_annual.py",
    "tests/test_hostile.py",
)
"""The longest tests (a function with all its parameters, or a whole module where they share a module fixture),
collected first: so they start first, and no worker is left running one of them after the others are done."""


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    rank = {name: at for at, name in enumerate(RUN_FIRST)}

    def place(item: pytest.Item) -> int:
        function = item.nodeid.split("[")[0]
        return rank.get(function, rank.get(function.split("::")[0], len(rank)))

    items.sort(key=place)  # stable: every other test keeps its place


@pytest.fixture(scope="session", autouse=True)
def _no_time_limits() -> Iterator[None]:
    """Databases made in this process hold changes to no time limits, and the services in it take the time a
    change is dated (tests date them in 2026 and 2027) as the server's own, as the demo does: a simulation.
    tests/test_trusted_time.py sets real limits and the real server's time."""
    from reviewflow.engine.core import time_limits
    from reviewflow.engine.services import context

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(time_limits, "NEW_DATABASE_LIMITS", time_limits.NO_LIMITS)
        patch.setattr(context, "SERVER_CLOCK", None)
        yield


@pytest.fixture(scope="session", autouse=True)
def _drop_test_schemas() -> Iterator[None]:
    yield
    drop_schemas()


@pytest.fixture(scope="session")
def templates() -> Templates:
    """Initialised databases built once per process, copied into each test's new database."""
    return process_templates()


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


def init_with_minimal(at: datetime) -> Callable[[str], None]:
    """What `init` with tests/fixtures/minimal.yaml at `at` does to a new database (for Templates.copy)."""

    def build(url: str) -> None:
        svc = Reviewflow(Database(url), SteppingClock(at))
        try:
            svc.init([FIXTURES / "minimal.yaml"])
        finally:
            svc.db.dispose()

    return build


@pytest.fixture
def service(database: Database, clock: SteppingClock, templates: Templates) -> Reviewflow:
    """An initialised service with the shipped workflows and the minimal test workflow.

    The database is a copy of one `init` made at the clock's time, built once per process."""
    templates.copy(database.url, f"init with minimal.yaml at {clock().isoformat()}", init_with_minimal(clock()))
    return Reviewflow(database, clock)


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
