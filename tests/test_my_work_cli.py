"""`reviewflow my`: what is waiting on the person running it: stages they own through their roles, their and their
agency's actions, evidence awaiting their decision; overdue first; nothing of anyone else's."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from click.testing import CliRunner, Result

from reviewflow.cli import cli
from reviewflow.engine.core.access import Identity
from reviewflow.engine.core.clock import SteppingClock
from reviewflow.engine.services.facade import Reviewflow
from reviewflow.store.db import Database

from tests.conftest import ADMIN
from tests.databases import Templates

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
LATER = "2026-03-10T09:00:00+00:00"
NO_ENV = {"REVIEWFLOW_USER": None, "REVIEWFLOW_NOW": None, "REVIEWFLOW_TOKEN": None, "REVIEWFLOW_CONFIG": None}
THEME = {"theme": "Neglect of adolescents", "theme_source": "board_priority"}


def _build(url: str) -> None:
    rf = Reviewflow(Database(url), SteppingClock(T0))
    try:
        rf.init()
        rf.first_admin(ADMIN, ADMIN)
        rf.add_user("a.khan", ["business_manager"])
        rf.add_user("d.osei", ["subgroup_chair"])
        rf.add_user("m.patel", ["action_owner"], None, "Children's social care")
        rf.add_user("c.jones", ["action_owner"], None, "Children's social care")
        rf.add_user("p.officer", ["action_owner"], None, "Police")
        rf.open_case("thematic_review", "TR-2026-001", "a.khan", THEME)   # referral: a.khan's, 5 working days
        rf.open_case("thematic_review", "TR-2026-002", "a.khan", THEME)
        rf.recommend("TR-2026-001", "a.khan", "Use the neglect toolkit", ["neglect"], ["Children's social care"])
        rf.add_action("TR-2026-001", "a.khan", "R1", "Toolkit training", "Children's social care", "2026-02-02",
                      "c.jones")
        rf.add_action("TR-2026-001", "a.khan", "R1", "Toolkit audit", "Children's social care", "2026-06-01",
                      "m.patel")
        rf.add_action("TR-2026-001", "a.khan", "R1", "Police briefing", "Police", "2026-02-02", "p.officer")
        rf.submit_evidence("TR-2026-001", "A3", "p.officer", "practitioner_feedback",
                           "Briefing given to the neighbourhood team", "minutes 12")
    finally:
        rf.db.dispose()


@pytest.fixture
def url(db_url: str, templates: Templates) -> str:
    templates.copy(db_url, "test_my_work_cli: two thematic reviews, three actions, one evidence", _build)
    return db_url


def _my(url: str, name: str, *more: str) -> Result:
    rf = Reviewflow(Database(url), SteppingClock(T0))
    try:
        token = rf.create_token(Identity(name), name, "my work", "read").secret
    finally:
        rf.db.dispose()
    result = CliRunner().invoke(cli, ["--db", url, "--now", LATER, "my", *more],
                                env={**NO_ENV, "REVIEWFLOW_TOKEN": token})
    assert "Traceback" not in result.output + result.stderr
    assert result.exit_code == 0, result.output + result.stderr
    return result


def test_the_business_manager_sees_the_stages_they_own_overdue_first(url: str) -> None:
    out = _my(url, "a.khan").stdout.splitlines()
    assert out[0] == ("Waiting on a.khan on 2026-03-10: 2 stages (2 overdue), 0 actions (0 overdue), "
                      "0 evidence to decide")
    assert out[1] == "Stages you own (move them on, or pause the clock with a reason):"
    assert out[2].split()[0] == "TR-2026-001"
    assert out[2].endswith("OVERDUE by 41 working days")
    assert out[3].split()[0] == "TR-2026-002"


def test_an_action_owner_sees_their_own_and_their_agencys_actions(url: str) -> None:
    found = json.loads(_my(url, "m.patel", "--json").stdout)
    assert found["user"] == "m.patel"
    assert found["stages"] == []
    # both Children's social care actions, the overdue one first; the police action is not theirs
    assert [(a["number"], a["owner"]) for a in found["actions"]] == [("A1", "c.jones"), ("A2", "m.patel")]
    text = _my(url, "m.patel").stdout
    assert "A3" not in text
    assert "OVERDUE" in text.splitlines()[2]


def test_the_verifier_sees_the_evidence_awaiting_their_decision(url: str) -> None:
    out = _my(url, "d.osei").stdout.splitlines()
    assert out[0].endswith("1 evidence to decide")
    assert out[1] == "Evidence awaiting your decision (action accept / action reject):"
    assert out[2].split()[:4] == ["TR-2026-001", "E1", "for", "A3"]


def test_someone_with_nothing_waiting_is_told_so(url: str) -> None:
    out = _my(url, "p.officer").stdout.splitlines()
    # p.officer's action has evidence submitted: it is still theirs until it is accepted
    assert out[0].startswith("Waiting on p.officer on 2026-03-10: 0 stages")
    rf = Reviewflow(Database(url), SteppingClock(T0))
    try:
        rf.add_user("n.body", ["action_owner"], None, "Health")
    finally:
        rf.db.dispose()
    assert _my(url, "n.body").stdout.splitlines()[-1] == "Nothing is waiting on you."


def _cli(url: str, *args: str, code: int = 0) -> Result:
    result = CliRunner().invoke(cli, ["--db", url, "--now", LATER, *args], env=NO_ENV)
    assert "Traceback" not in result.output + result.stderr
    assert result.exit_code == code, result.output + result.stderr
    return result


def test_owner_and_mine_narrow_the_lists(url: str) -> None:
    owned = json.loads(_cli(url, "case", "list", "--owner", "business_manager", "--json").stdout)
    assert [c["ref"] for c in owned] == ["TR-2026-001", "TR-2026-002"]
    assert _cli(url, "case", "list", "--owner", "board_chair").stderr.strip() == "no cases match"
    refused = _cli(url, "case", "list", "--owner", "busines_manager", code=1)
    assert "no stage owner role 'busines_manager': did you mean 'business_manager'?" in refused.stderr
    mine = json.loads(_cli(url, "case", "list", "--mine", "--as", "a.khan", "--json").stdout)
    assert [c["ref"] for c in mine] == ["TR-2026-001", "TR-2026-002"]
    assert _cli(url, "case", "list", "--mine", "--as", "d.osei").stderr.strip() == "no cases match"
    actions = json.loads(_cli(url, "action", "list", "--owner", "m.patel", "--json").stdout)
    assert [a["number"] for a in actions] == ["A2"]
    assert [a["number"] for a in json.loads(_cli(url, "action", "list", "--mine", "--as", "c.jones",
                                                 "--json").stdout)] == ["A1"]
    assert "no user named 'm.patell'" in _cli(url, "action", "list", "--owner", "m.patell", code=3).stderr
