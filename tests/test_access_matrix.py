"""The access matrix: every command and API operation, as every kind of person (administrator, a partnership
role, the verifying chair, an agency's action owner on a case of their agency or not, someone with no
agency), allowed exactly when the rules in docs/security.md say, refused as not found outside their view,
as forbidden for the wrong role; on SQLite and PostgreSQL, through the command line and the HTTP API.

Each attempt runs on its own copy of one database, so an allowed change never stands in the way of the next.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from reviewflow.cli import cli
from reviewflow.engine.core.access import Identity
from reviewflow.engine.core.clock import SteppingClock, fixed_clock
from reviewflow.engine.services.facade import Reviewflow
from reviewflow.web.app import create_app

from tests.conftest import FIXTURES, pg_url_or_skip
from tests.databases import Templates

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
SECRET = "the family's address"
PEOPLE = {
    "ada": ([], None),
    "bm": (["business_manager"], None),
    "chair": (["subgroup_chair"], None),
    "pc.jones": (["action_owner"], "Police"),
    "hv.smith": (["action_owner"], "Health"),
    "lone": (["action_owner"], None),
}
"""ada is the administrator; pc.jones owns the Police action on POLICE-1; Health referred HEALTH-1 (so hv.smith
sees it) and takes no part in POLICE-1; lone has no agency and sees nothing."""

OK, NOT_FOUND, FORBIDDEN = "ok", "not found", "forbidden"


def _build(url: str) -> None:
    rf = Reviewflow.connect(url, SteppingClock(NOW))
    try:
        rf.init([FIXTURES / "agency_review.yaml"])
        rf.first_admin("ada", None)
        for name, (roles, agency) in PEOPLE.items():
            if roles:
                rf.add_user(name, roles, f"{name}@example.org", agency)
        rf.open_case("agency_review", "HEALTH-1", "bm", {"notifying_agency": "Health", "family_context": SECRET})
        rf.open_case("agency_review", "POLICE-1", "bm", {"notifying_agency": "Police", "family_context": SECRET})
        rf.recommend("POLICE-1", "bm", "Share concerns at once", [], ["Police"])
        rf.add_action("POLICE-1", "bm", "R1", "Same-day referrals", "Police", "2026-06-30", "pc.jones")
        rf.request_returns("POLICE-1", "bm", ["Police"], "2026-04-30")
    finally:
        rf.db.dispose()


@dataclass(frozen=True)
class Operation:
    """One thing a person may try, as a command and as an API request, and who may do it."""

    name: str
    command: list[str]
    method: str
    path: str
    body: dict[str, Any] | None
    allowed: Callable[[str], str]
    """The expected outcome for each person."""


def _sees_police(who: str) -> bool:
    return who in ("ada", "bm", "chair", "pc.jones")


def _on_police(roles_ok: set[str]) -> Callable[[str], str]:
    return lambda who: (OK if who in roles_ok else FORBIDDEN) if _sees_police(who) else NOT_FOUND


def _admin_only(who: str) -> str:
    return OK if who == "ada" else FORBIDDEN


OPERATIONS = [
    Operation("show the Police case", ["case", "show", "POLICE-1"], "GET", "/api/v1/cases/POLICE-1", None,
              lambda who: OK if _sees_police(who) else NOT_FOUND),
    Operation("show the Health case", ["case", "show", "HEALTH-1"], "GET", "/api/v1/cases/HEALTH-1", None,
              lambda who: OK if who in ("ada", "bm", "chair", "hv.smith") else NOT_FOUND),
    Operation("accept the Police case", ["case", "fire", "POLICE-1", "accept", "--field", "decision=yes"],
              "POST", "/api/v1/cases/POLICE-1/fire", {"trigger": "accept", "fields": {"decision": "yes"}},
              _on_police({"chair"})),
    Operation("pause the Police case", ["case", "pause", "POLICE-1", "--reason", "inquest"],
              "POST", "/api/v1/cases/POLICE-1/pause", {"reason": "inquest"}, _on_police({"bm"})),
    Operation("link the Police case to the Health case",
              ["case", "link", "POLICE-1", "HEALTH-1", "--kind", "related", "--reason", "same family"],
              "POST", "/api/v1/cases/POLICE-1/links", {"other": "HEALTH-1", "kind": "related", "reason": "same family"},
              lambda who: {"bm": OK, "ada": FORBIDDEN, "chair": FORBIDDEN}.get(who, NOT_FOUND)),
    Operation("recommend on the Police case", ["case", "recommend", "POLICE-1", "--text", "More"],
              "POST", "/api/v1/cases/POLICE-1/recommendations", {"text": "More"}, _on_police({"bm"})),
    Operation("submit evidence for the Police action",
              ["action", "evidence", "POLICE-1", "A1", "--kind", "data", "--description", "d", "--link", "L-1"],
              "POST", "/api/v1/cases/POLICE-1/actions/A1/evidence", {"kind": "data", "description": "d", "link": "L-1"},
              _on_police({"bm", "chair", "pc.jones"})),
    Operation("list the Police case's returns", ["case", "returns", "POLICE-1"], "GET",
              "/api/v1/cases/POLICE-1/returns", None, lambda who: OK if _sees_police(who) else NOT_FOUND),
    Operation("ask Health for a return on the Police case",
              ["case", "request", "POLICE-1", "--agency", "Health", "--due", "2026-04-30"], "POST",
              "/api/v1/cases/POLICE-1/returns", {"agencies": ["Health"], "due": "2026-04-30"}, _on_police({"bm"})),
    Operation("mark the Police return in", ["case", "return", "POLICE-1", "--agency", "Police"], "POST",
              "/api/v1/cases/POLICE-1/returns/Police/in", {}, _on_police({"bm", "pc.jones"})),
    Operation("excuse the Police return", ["case", "excuse", "POLICE-1", "--agency", "Police", "--reason", "r"],
              "POST", "/api/v1/cases/POLICE-1/returns/Police/excuse", {"reason": "r"}, _on_police({"bm"})),
    Operation("register a user", ["user", "add", "new.person", "--role", "business_manager"],
              "POST", "/api/v1/users", {"name": "new.person", "roles": ["business_manager"]}, _admin_only),
    Operation("disable a user", ["user", "change", "hv.smith", "--disable"],
              "PATCH", "/api/v1/users/hv.smith", {"disabled": True}, _admin_only),
    Operation("give a role for one sub-group", ["user", "grant", "hv.smith", "--role", "subgroup_chair",
                                                "--subgroup", "audit"],
              "PATCH", "/api/v1/users/hv.smith", {"grant": ["subgroup_chair"], "subgroup": "audit"}, _admin_only),
    Operation("add a sub-group", ["subgroup", "add", "practice", "--title", "Practice sub-group"],
              "POST", "/api/v1/subgroups", {"name": "practice", "title": "Practice sub-group"}, _admin_only),
    Operation("list the sub-groups", ["subgroup", "list"], "GET", "/api/v1/subgroups", None, lambda who: OK),
]
"""ada is an administrator with no workflow role: she sees every case, and a step is refused to her by role."""


def _tokens(url: str) -> dict[str, str]:
    rf = Reviewflow.connect(url, fixed_clock(NOW))
    try:
        return {name: rf.create_token(Identity(name), name, "matrix", "write", 30).secret for name in PEOPLE}
    finally:
        rf.db.dispose()


def _outcome_cli(url: str, token: str, op: Operation) -> str:
    result = CliRunner().invoke(cli, ["--db", url, "--now", NOW.isoformat(), *op.command],
                                env={"REVIEWFLOW_TOKEN": token, "REVIEWFLOW_USER": None, "REVIEWFLOW_NOW": None})
    assert "Traceback" not in result.output + result.stderr
    return {0: OK, 3: NOT_FOUND, 5: FORBIDDEN}.get(result.exit_code, f"exit {result.exit_code}: {result.stderr}")


def _outcome_api(url: str, token: str, op: Operation) -> str:
    rf = Reviewflow.connect(url, fixed_clock(NOW))
    try:
        client = TestClient(create_app(rf), base_url="http://127.0.0.1")
        headers = {"Authorization": f"Bearer {token}"}
        if op.method != "GET" and op.path.startswith("/api/v1/cases/"):
            ref = op.path.split("/")[4]
            read = client.get(f"/api/v1/cases/{ref}", headers=headers)
            headers["If-Match"] = read.headers.get("ETag", '"r1"')
        answer = client.request(op.method, op.path, headers=headers, json=op.body)
        me = client.get("/api/v1/me", headers=headers).json()
        if "business_manager" not in me["roles"] and not me["admin"]:
            assert SECRET not in answer.text
        return {200: OK, 201: OK, 404: NOT_FOUND, 403: FORBIDDEN}.get(answer.status_code,
                                                                        f"{answer.status_code}: {answer.text}")
    finally:
        rf.db.dispose()


def _fresh(url_of: Callable[[str], str], templates: Templates, name: str) -> str:
    url = url_of(name)
    templates.copy(url, "test_access_matrix: two cases, one Police action, six people", _build)
    return url


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def url_of(request: pytest.FixtureRequest, tmp_path: Path) -> Callable[[str], str]:
    if request.param == "sqlite":
        return lambda name: f"sqlite:///{tmp_path / f'{name}.db'}"
    return lambda _name: pg_url_or_skip()


@pytest.mark.parametrize("front", ["cli", "api"])
@pytest.mark.parametrize("op", OPERATIONS, ids=[o.name for o in OPERATIONS])
def test_each_person_may_do_exactly_what_the_rules_say(op: Operation, front: str, url_of: Callable[[str], str],
                                                      templates: Templates) -> None:
    wrong = []
    for who in PEOPLE:
        url = _fresh(url_of, templates, f"{front}-{who}")
        token = _tokens(url)[who]
        got = (_outcome_cli if front == "cli" else _outcome_api)(url, token, op)
        if got != op.allowed(who):
            wrong.append(f"{who}: expected {op.allowed(who)}, got {got}")
    assert wrong == []


@pytest.mark.parametrize("front", ["cli", "api"])
def test_lists_hold_only_what_each_person_may_see(front: str, url_of: Callable[[str], str],
                                                  templates: Templates) -> None:
    url = _fresh(url_of, templates, f"lists-{front}")
    tokens = _tokens(url)
    expected_cases = {"ada": ["HEALTH-1", "POLICE-1"], "bm": ["HEALTH-1", "POLICE-1"],
                      "chair": ["HEALTH-1", "POLICE-1"], "pc.jones": ["POLICE-1"], "hv.smith": ["HEALTH-1"], "lone": []}
    expected_actions = {"ada": ["A1"], "bm": ["A1"], "chair": ["A1"], "pc.jones": ["A1"], "hv.smith": [], "lone": []}
    for who, token in tokens.items():
        if front == "cli":
            env = {"REVIEWFLOW_TOKEN": token, "REVIEWFLOW_USER": None, "REVIEWFLOW_NOW": None}
            at = ["--db", url, "--now", NOW.isoformat()]
            cases = json.loads(CliRunner().invoke(cli, [*at, "case", "list", "--json"], env=env).stdout)
            actions = json.loads(CliRunner().invoke(cli, [*at, "action", "list", "--json"], env=env).stdout)
            shown = [c["fields"].get("family_context") for c in cases]
        else:
            rf = Reviewflow.connect(url, fixed_clock(NOW))
            client = TestClient(create_app(rf), base_url="http://127.0.0.1")
            headers = {"Authorization": f"Bearer {token}"}
            cases = client.get("/api/v1/cases", headers=headers).json()["items"]
            actions = client.get("/api/v1/actions", headers=headers).json()["items"]
            shown = [client.get(f"/api/v1/cases/{c['ref']}", headers=headers).json()["fields"]["family_context"]
                     for c in cases]
            rf.db.dispose()
        assert sorted(c["ref"] for c in cases) == expected_cases[who], who
        assert [a["number"] for a in actions] == expected_actions[who], who
        assert all(value == (SECRET if who in ("ada", "bm") else "[withheld]") for value in shown), who
