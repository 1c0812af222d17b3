"""Shell completion through the real `reviewflow` command: `completion bash` prints the script; case references,
triggers, workflows and users complete from the database, only what the person completing may see; a missing
database completes nothing, with nothing printed into the shell."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from reviewflow.engine.core.access import Identity
from reviewflow.engine.core.clock import SteppingClock
from reviewflow.engine.services.facade import Reviewflow
from reviewflow.store.db import Database

from tests.conftest import ADMIN

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
EXE = [sys.executable, "-m", "reviewflow.cli"]


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = f"sqlite:///{tmp_path_factory.mktemp('completion') / 'rf.db'}"
    rf = Reviewflow(Database(url), SteppingClock(T0))
    try:
        rf.init()
        rf.first_admin(ADMIN, ADMIN)
        rf.add_user("a.khan", ["business_manager"])
        rf.add_user("m.patel", ["action_owner"], None, "Health")
        rf.open_case("thematic_review", "TR-2026-001", "a.khan", {"theme": "Neglect", "theme_source": "audits"})
        rf.open_case("thematic_review", "TR-2026-002", "a.khan", {"theme": "Neglect", "theme_source": "audits"})
    finally:
        rf.db.dispose()
    return url


def _complete(db: str, words: str, token: str | None = None) -> list[str]:
    env = {**os.environ, "REVIEWFLOW_DB": db, "_REVIEWFLOW_COMPLETE": "bash_complete", "COMP_WORDS": words,
           "COMP_CWORD": str(len(words.split(" ")) - 1)}
    env.pop("REVIEWFLOW_TOKEN", None)
    if token:
        env["REVIEWFLOW_TOKEN"] = token
    done = subprocess.run(EXE, env=env, capture_output=True, text=True, check=False)
    assert done.returncode == 0
    assert done.stderr == ""
    return [line.split(",", 1)[1] for line in done.stdout.splitlines() if line]


def test_the_script_is_printed_for_each_shell() -> None:
    for shell, marker in (("bash", "complete -o nosort -F"), ("zsh", "compdef"), ("fish", "complete --no-files")):
        done = subprocess.run([*EXE, "completion", shell], capture_output=True, text=True, check=True)
        assert marker in done.stdout
        assert "_REVIEWFLOW_COMPLETE" in done.stdout


def test_references_triggers_workflows_and_users_complete(db: str) -> None:
    assert _complete(db, "reviewflow case show TR") == ["TR-2026-001", "TR-2026-002"]
    assert _complete(db, "reviewflow case fire TR-2026-001 ") == ["refer_to_chair", "withdraw"]
    assert _complete(db, "reviewflow case fire TR-2026-001 w") == ["withdraw"]
    assert _complete(db, "reviewflow workflow show thematic") == ["thematic_review"]
    assert _complete(db, "reviewflow case open thema") == ["thematic_review"]
    assert _complete(db, "reviewflow user grant m.") == ["m.patel"]
    assert _complete(db, "reviewflow case show --as a.") == ["a.khan"]
    # a new reference is not completed from the old ones
    assert _complete(db, "reviewflow case open thematic_review --ref TR") == []


def test_someone_sees_only_what_they_may(db: str) -> None:
    rf = Reviewflow(Database(db), SteppingClock(T0))
    try:
        token = rf.create_token(Identity("m.patel"), "m.patel", "completion", "read").secret
    finally:
        rf.db.dispose()
    assert _complete(db, "reviewflow case show TR", token) == []  # no case of theirs
    assert _complete(db, "reviewflow user grant ", token) == []  # `user list` is for administrators


def test_a_missing_database_completes_nothing(tmp_path: Path) -> None:
    assert _complete(f"sqlite:///{tmp_path / 'none.db'}", "reviewflow case show TR") == []
    assert not (tmp_path / "none.db").exists()
