"""The SQLite worker and its database file, as real `reviewflow run` processes: a file replaced under a running
worker (a restore) is noticed and the worker carries on with the new file; a second worker reaching the same
file by another path (a symlink, a relative path, a hard link) is refused."""

from __future__ import annotations

import os
import shutil
import signal
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.seeding import OPENED, _one_case
from tests.test_worker import LATE, Proc, _ledger_rows, _run, _sqlite_url, _wait_for, spawn

__all__ = ["spawn"]


KEY = {k: v for k, v in os.environ.items() if k == "REVIEWFLOW_AUDIT_KEY_FILE"}
"""The audit key file the tests' databases are sealed with, when one is set for them: the workers use it too."""


def _database(url: str) -> None:
    """A database of its own (with its own audit key beside it) holding one case whose every ladder level is due
    at LATE."""
    _one_case(OPENED)(url)


def _move_database(source: Path, target: Path) -> None:
    """Put the database at `source` (and its audit key) in place of the one at `target`, as a restore by
    renaming does (docs/operations.md): the file at `target` is a new one (another inode), and the old file's
    write-ahead log and shared-memory files beside it are removed; the old file lives on while it is open."""
    for suffix in ("-wal", "-shm"):
        assert not Path(f"{source}{suffix}").exists()  # the copy was closed cleanly: all of it is in the file
    key = Path(f"{source}.audit-key")
    if key.exists():
        os.replace(key, f"{target}.audit-key")
    os.replace(source, target)
    for suffix in ("-wal", "-shm"):
        Path(f"{target}{suffix}").unlink(missing_ok=True)


def test_a_database_file_replaced_under_the_worker_is_taken_over(tmp_path: Path,
                                                                 spawn: Callable[..., Proc]) -> None:
    url = _sqlite_url(tmp_path)
    _database(url)
    worker = spawn(url, "-v", "--now", LATE, "run", "--interval", "1", **KEY)
    _wait_for("the first tick on the first file", lambda: _ledger_rows(url) > 0, 30, worker)

    restored = tmp_path / "restored"
    restored.mkdir()
    _database(_sqlite_url(restored))  # its case's levels are due too, and none has fired in it yet
    assert _ledger_rows(_sqlite_url(restored)) == 0
    _move_database(restored / "reviewflow.db", tmp_path / "reviewflow.db")
    _wait_for("the worker to sweep the new file", lambda: _ledger_rows(url) > 0, 30, worker)
    err = worker.stderr
    assert "db.file_replaced" in err
    assert err.count("db.file_replaced") == 1  # once: afterwards the new file is the one it holds
    worker.signal(signal.SIGTERM)
    assert worker.wait(timeout=15) == 0, worker.stderr
    assert "Traceback" not in worker.stderr


def test_a_deleted_database_file_is_not_made_anew(tmp_path: Path, spawn: Callable[..., Proc]) -> None:
    url = _sqlite_url(tmp_path)
    _database(url)
    path = tmp_path / "reviewflow.db"
    worker = spawn(url, "-v", "--now", LATE, "run", "--interval", "1", **KEY)
    _wait_for("the first tick", lambda: "worker.tick " in worker.stderr, 30, worker)
    kept = tmp_path / "kept.db"
    os.replace(path, kept)
    _wait_for("the missing file to be noticed", lambda: "db.file_missing" in worker.stderr, 30, worker)
    assert not path.exists()
    worker.signal(signal.SIGTERM)
    assert worker.wait(timeout=15) == 0, worker.stderr


@pytest.mark.parametrize("other_path", ["symlink", "relative", "hard link"])
def test_a_second_worker_on_the_same_file_by_another_path_is_refused(tmp_path: Path, spawn: Callable[..., Proc],
                                                                     other_path: str) -> None:
    url = _sqlite_url(tmp_path)
    _database(url)
    path = tmp_path / "reviewflow.db"
    first = spawn(url, "-v", "--now", LATE, "run", "--interval", "1", name="first", **KEY)
    _wait_for("the first worker's first tick", lambda: "worker.tick " in first.stderr, 30, first)

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    if other_path == "symlink":
        (elsewhere / "link.db").symlink_to(path)
        second_url = f"sqlite:///{elsewhere / 'link.db'}"
    elif other_path == "hard link":
        os.link(path, elsewhere / "same.db")
        if Path(f"{path}.audit-key").exists():
            shutil.copy(f"{path}.audit-key", elsewhere / "same.db.audit-key")
        second_url = f"sqlite:///{elsewhere / 'same.db'}"
    else:
        second_url = f"sqlite:///{os.path.relpath(path, Path.cwd())}"
    second = _run(second_url, "--now", LATE, "run", "--interval", "1", timeout=30, **KEY)
    assert second.returncode == 1, second.stderr
    assert "SQLite supports one worker" in second.stderr
    assert "\n" not in second.stderr.strip()
    assert first.alive()
    first.signal(signal.SIGTERM)
    assert first.wait(timeout=15) == 0, first.stderr
