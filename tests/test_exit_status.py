"""The exit status tells the kinds of refusal apart (docs/cli.md#exit-status), each with one line on stderr."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from reviewflow.cli import main
from reviewflow.engine.core.errors import EXIT_STATUS

ROOT = Path(__file__).resolve().parent.parent
MINIMAL = ROOT / "tests" / "fixtures" / "minimal.yaml"
NOW = "2026-01-05T09:00"


class Run:
    """`reviewflow --db URL --now NOW ARGS` through the console script's entry point, in this process."""

    def __init__(self, url: str, capsys: pytest.CaptureFixture[str]) -> None:
        self.url = url
        self.capsys = capsys

    def __call__(self, *args: str) -> tuple[int, str, str]:
        status = main(["--db", self.url, "--now", NOW, *args])
        out, err = self.capsys.readouterr()
        assert "Traceback" not in out + err
        return status, out, err

    def ok(self, *args: str) -> str:
        status, out, err = self(*args)
        assert status == 0, err
        return out

    def refused(self, status: int, *args: str) -> str:
        """The one line on stderr of a refusal with this exit status (nothing on stdout)."""
        got, out, err = self(*args)
        assert got == status, err
        assert out == ""
        assert err.endswith("\n")
        lines = err.splitlines()
        assert len(lines) == 1, err
        assert lines[0].startswith("Error: ")
        return lines[0]


@pytest.fixture
def run(tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Run:
    """A fresh SQLite database set up through the CLI: the minimal workflow, two users and case M-1."""
    for name in ("REVIEWFLOW_USER", "REVIEWFLOW_NOW", "REVIEWFLOW_DB", "REVIEWFLOW_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    r = Run(f"sqlite:///{tmp_path / 'reviewflow.db'}", capsys)
    assert "database ready" in r.ok("init", "--workflows", str(MINIMAL))
    r.ok("user", "add", "bm", "--role", "business_manager")
    r.ok("user", "add", "chair", "--role", "subgroup_chair")
    r.ok("case", "open", "minimal", "--ref", "M-1", "--as", "bm", "--field", "notifying_agency=Police")
    return r


def test_0_done(run: Run) -> None:
    assert "M-1" in run.ok("case", "list")


def test_1_refused_by_a_rule(run: Run) -> None:
    assert run.refused(1, "case", "fire", "M-1", "publish", "--as", "chair") == (
        "Error: minimal has no trigger `publish`; possible from `referral`: accept, withdraw")


def test_1_a_value_that_cannot_be_used(run: Run) -> None:
    assert run.refused(1, "case", "fire", "M-1", "accept", "--as", "chair", "--field", "decision=maybe").startswith(
        "Error: field 'decision'")


def test_2_the_command_was_not_given_what_it_needs(run: Run) -> None:
    assert run.refused(2, "serve", "--host", "0.0.0.0") == (
        "Error: refusing to serve on 0.0.0.0 without TLS: configure [web] tls_cert and tls_key, or run behind a "
        "reverse proxy that terminates TLS and pass --behind-proxy (see docs/deploy.md)")


def test_7_nobody_is_signed_in(run: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REVIEWFLOW_TOKEN", "rf_not-a-token")
    assert run.refused(7, "case", "show", "M-1") == (
        "Error: the API token is not valid (unknown, revoked or expired): ask an administrator for a new one "
        "('reviewflow token create')")


def test_2_clicks_own_usage_errors(run: Run) -> None:
    status, out, err = run("case", "open")
    assert (status, out) == (2, "")
    assert err.splitlines()[0] == "Usage: reviewflow case open [OPTIONS] WORKFLOW"
    assert err.splitlines()[-1] == "Error: Missing argument 'WORKFLOW'."


def test_3_not_found(run: Run) -> None:
    assert run.refused(3, "case", "show", "M-404") == (
        "Error: no case with reference 'M-404': check it with 'reviewflow case list'")
    assert run.refused(3, "case", "fire", "M-1", "accept", "--as", "nobody", "--field", "decision=yes").startswith(
        "Error: no user named 'nobody'")
    assert run.refused(3, "workflow", "show", "no_such").startswith("Error: no workflow named 'no_such'")


def test_4_the_database_cannot_be_used(run: Run, tmp_path: Path) -> None:
    missing = tmp_path / "missing.db"
    elsewhere = Run(f"sqlite:///{missing}", run.capsys)
    assert elsewhere.refused(4, "case", "list") == (
        f"Error: no database at {missing}: run 'reviewflow init' first, or pass --db")
    assert not missing.exists()


def test_5_not_permitted(run: Run) -> None:
    line = run.refused(5, "case", "fire", "M-1", "accept", "--as", "bm", "--field", "decision=yes")
    assert line.startswith("Error: `accept` needs one of the roles subgroup_chair; bm has business_manager")


def test_6_conflict(run: Run) -> None:
    assert run.refused(6, "case", "open", "minimal", "--ref", "M-1", "--as", "bm",
                       "--field", "notifying_agency=Police").startswith(
        "Error: a case with reference 'M-1' already exists")
    assert run.refused(6, "user", "add", "bm", "--role", "business_manager") == (
        "Error: user 'bm' already exists: see 'reviewflow user list'")


def test_refusals_change_nothing(run: Run) -> None:
    before = run.ok("case", "show", "M-1", "--json")
    run.refused(5, "case", "fire", "M-1", "accept", "--as", "bm", "--field", "decision=yes")
    run.refused(5, "case", "fire", "M-1", "accept", "--field", "decision=yes")
    assert run.ok("case", "show", "M-1", "--json") == before


def test_a_real_process_exits_with_the_status(run: Run, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("REVIEWFLOW_") or k == "REVIEWFLOW_AUDIT_KEY_FILE"}
    done = subprocess.run([sys.executable, "-m", "reviewflow.cli", "--db", run.url, "case", "show", "M-404"],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert (done.returncode, done.stdout) == (3, "")
    assert done.stderr == "Error: no case with reference 'M-404': check it with 'reviewflow case list'\n"


CLI_KINDS = ("refused", "usage", "not_found", "unavailable", "forbidden", "conflict", "unauthenticated")
"""The kinds of refusal a command can meet (too many sign-ins belongs to the web front end)."""


def test_the_documented_table_is_the_one_the_errors_use() -> None:
    text = (ROOT / "docs" / "cli.md").read_text("utf-8")
    section = text.split("\n## Exit status\n", 1)[1].split("\n## ", 1)[0]
    documented = [int(n) for n in re.findall(r"^\| `(\d)` \|", section, re.MULTILINE)]
    assert documented == [0, *(EXIT_STATUS[kind] for kind in CLI_KINDS)]
