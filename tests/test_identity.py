"""Who the command line acts as: the holder of REVIEWFLOW_TOKEN, else the user mapped to the operating-system
account; administration only by an administrator, and every refusal changes nothing.

The issue that brought accounts in was found this way: `user add mallory --role board_chair` succeeded with no
identity, and anyone could load a workflow without escalation and move the open cases onto it."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from reviewflow.cli import cli
from reviewflow.engine.core.access import Identity
from reviewflow.engine.core.clock import fixed_clock
from reviewflow.engine.services.facade import Reviewflow

from tests.conftest import ADMIN, FIXTURES

NOW = datetime(2026, 1, 6, 9, 0, tzinfo=UTC)
NO_TOKEN = "Error: the API token is not valid (unknown, revoked or expired): ask an administrator for a new one " \
           "('reviewflow token create')\n"


@pytest.fixture
def db(tmp_path: Path) -> tuple[str, dict[str, str]]:
    """A database whose administrator is the operating-system account running the tests, with a business
    manager `bm` holding a read-write and a read-only token, and one open case."""
    url = f"sqlite:///{tmp_path / 'reviewflow.db'}"
    rf = Reviewflow.connect(url, fixed_clock(NOW))
    try:
        rf.init([FIXTURES / "minimal.yaml"])
        rf.first_admin(ADMIN, ADMIN)
        rf.add_user("bm", ["business_manager", "subgroup_chair"], "bm@example.org")
        rf.open_case("minimal", "ID-1", "bm", {"notifying_agency": "Police"})
        tokens = {scope: rf.create_token(Identity("bm"), "bm", f"{scope} token", scope).secret
                  for scope in ("read", "write")}
    finally:
        rf.db.dispose()
    return url, tokens


def _run(url: str, *args: str, token: str | None = None) -> Any:
    env: Mapping[str, str | None] = {"REVIEWFLOW_USER": None, "REVIEWFLOW_NOW": None, "REVIEWFLOW_TOKEN": token}
    result = CliRunner().invoke(cli, ["--db", url, "--now", "2026-01-06T10:00:00Z", *args], env=env)
    assert "Traceback" not in result.output + result.stderr
    return result


def _users(url: str) -> list[dict[str, Any]]:
    result = _run(url, "user", "list", "--json")
    assert result.exit_code == 0, result.stderr
    return list(json.loads(result.stdout))


def _admin_log(url: str) -> str:
    result = _run(url, "audit", "log")
    assert result.exit_code == 0, result.stderr
    return str(result.stdout)


def test_a_person_who_is_not_an_administrator_cannot_add_or_promote_anyone(db: tuple[str, dict[str, str]]) -> None:
    url, tokens = db
    users, log = _users(url), _admin_log(url)
    for args in (("user", "add", "mallory", "--role", "board_chair"), ("user", "grant", "bm", "--role", "board_chair"),
                 ("user", "change", "bm", "--admin")):
        result = _run(url, *args, token=tokens["write"])
        assert result.exit_code == 5, (args, result.output)
        assert "administrator" in result.stderr
        assert result.stderr.count("\n") == 1
    assert _users(url) == users
    assert _admin_log(url) == log


def test_an_administrator_adds_someone_and_the_sealed_log_says_who(db: tuple[str, dict[str, str]]) -> None:
    url, _ = db
    result = _run(url, "user", "add", "pc.jones", "--role", "action_owner", "--email", "pc.jones@example.org")
    assert result.exit_code == 0, result.stderr
    assert "pc.jones" in [u["name"] for u in _users(url)]
    log = _admin_log(url)
    assert "pc.jones" in log
    assert ADMIN in log
    assert _run(url, "audit", "verify").exit_code == 0


def test_only_an_administrator_loads_a_workflow(db: tuple[str, dict[str, str]], tmp_path: Path) -> None:
    url, tokens = db
    quieter = tmp_path / "minimal.yaml"
    text = (FIXTURES / "minimal.yaml").read_text(encoding="utf-8")
    quieter.write_text(text.replace("title:", "title: Quieter", 1), encoding="utf-8")
    before = _run(url, "workflow", "list").stdout
    refused = _run(url, "workflow", "load", str(quieter), token=tokens["write"])
    assert refused.exit_code == 5, refused.output
    assert _run(url, "workflow", "list").stdout == before


def test_a_read_only_token_reads_but_does_not_change(db: tuple[str, dict[str, str]]) -> None:
    url, tokens = db
    shown = _run(url, "case", "show", "ID-1", "--json", token=tokens["read"])
    assert shown.exit_code == 0, shown.stderr
    refused = _run(url, "case", "pause", "ID-1", "--reason", "inquest", token=tokens["read"])
    assert refused.exit_code == 5, refused.output
    assert "read-only" in refused.stderr
    assert json.loads(_run(url, "case", "show", "ID-1", "--json").stdout)["revision"] == \
        json.loads(shown.stdout)["revision"]


def test_the_token_holder_is_the_one_acting(db: tuple[str, dict[str, str]]) -> None:
    url, tokens = db
    result = _run(url, "case", "pause", "ID-1", "--reason", "inquest", token=tokens["write"])
    assert result.exit_code == 0, result.stderr
    history = json.loads(_run(url, "case", "show", "ID-1", "--json").stdout)["history"]
    assert history[-1]["actor"] == "bm"


def test_a_revoked_token_stops_working_at_once(db: tuple[str, dict[str, str]]) -> None:
    url, tokens = db
    listed = _run(url, "token", "list", "--json")
    assert listed.exit_code == 0, listed.stderr
    ids = [t["id"] for t in json.loads(listed.stdout) if t["scope"] == "write"]
    assert _run(url, "token", "revoke", str(ids[0])).exit_code == 0
    result = _run(url, "case", "show", "ID-1", token=tokens["write"])
    assert (result.exit_code, result.stderr) == (7, NO_TOKEN)


def test_a_disabled_person_cannot_act_with_their_token(db: tuple[str, dict[str, str]]) -> None:
    url, tokens = db
    assert _run(url, "user", "change", "bm", "--disable").exit_code == 0
    result = _run(url, "case", "show", "ID-1", token=tokens["read"])
    assert (result.exit_code, result.stderr) == (7, NO_TOKEN)
    assert "bm" in [u["name"] for u in _users(url)], "the history keeps a leaver"


def test_secrets_are_never_printed_again(db: tuple[str, dict[str, str]]) -> None:
    url, tokens = db
    listed = _run(url, "token", "list")
    assert listed.exit_code == 0
    for secret in tokens.values():
        assert secret not in listed.output
        assert secret[:12] not in _admin_log(url)
