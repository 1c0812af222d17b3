"""Reasons where the guidance expects them (re-dating an overdue action, a no to a yes/no question that needs one)
and the shipped action ladder (+10/+20/+40 working days), through the real CLI and API on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient

from reviewflow.engine.core.access import Identity
from reviewflow.engine.core.clock import fixed_clock
from reviewflow.engine.core.errors import InvalidDefinition
from reviewflow.engine.core.escalation import action_checkpoints
from reviewflow.engine.core.parse import parse_definition
from reviewflow.engine.services.facade import Reviewflow
from reviewflow.web.app import create_app

from tests.databases import Templates
from tests.test_cli import Cli, _fire
from tests.test_learning import REF, _action_escalations, _init_with_people, _to_publication

WORKFLOWS = Path(__file__).parent.parent / "workflows"
LONDON = ZoneInfo("Europe/London")


@pytest.fixture
def run(db_url: str, templates: Templates) -> Cli:
    """`init` on 5 January 2026 and the people of the learning tests added."""
    templates.copy(db_url, "test_learning: init on 2026-01-05, PEOPLE added", _init_with_people)
    return Cli(db_url)


def _with_overdue_action(run: Cli) -> None:
    """An SCR at its `actions` stage with action A1 (Police, due 31 July 2026) overdue since 1 August."""
    _to_publication(run)
    run("case", "recommend", REF, "--as", "a.khan", "--text", "Share concerns", now="2026-06-01")
    run("action", "add", REF, "--rec", "R1", "--description", "Police action", "--agency", "Police",
        "--owner", "p.officer", "--due", "2026-07-31", "--as", "a.khan", now="2026-06-02")
    run("escalate", now="2026-08-03T06:00")


def _action(run: Cli) -> dict[str, object]:
    listed = json.loads(run("action", "list", REF, "--json", now="2026-08-04").output)
    return next(a for a in listed if a["number"] == "A1")


def _history_length(run: Cli) -> int:
    return len(run.show(REF)["history"])  # type: ignore[arg-type]


def test_redating_needs_a_reason_through_cli_and_api(run: Cli, db_url: str) -> None:
    _with_overdue_action(run)
    before = _history_length(run)
    refused = run.refused("action", "update", REF, "A1", "--due", "2026-09-30", "--as", "a.khan", now="2026-08-04")
    assert "give the reason for re-dating action A1 (--reason)" in refused
    rf = Reviewflow.connect(db_url, fixed_clock(datetime(2026, 8, 4, 9, tzinfo=LONDON)))
    try:
        token = rf.create_token(Identity("a.khan"), "a.khan", "reasons", "write", 30).secret
        client = TestClient(create_app(rf), base_url="http://127.0.0.1")
        headers = {"Authorization": f"Bearer {token}"}
        headers["If-Match"] = client.get(f"/api/v1/cases/{REF}", headers=headers).headers["ETag"]
        answer = client.patch(f"/api/v1/cases/{REF}/actions/A1", headers=headers, json={"due": "2026-09-30"})
        assert answer.status_code == 422, answer.text
        assert "re-dating action A1" in answer.json()["detail"]
        assert "reason" in answer.text
    finally:
        rf.db.dispose()
    assert _action(run)["due_date"] == "2026-07-31"
    assert _history_length(run) == before


def test_a_redated_action_keeps_its_first_due_date_and_its_ladder(run: Cli) -> None:
    _with_overdue_action(run)
    run("action", "update", REF, "A1", "--due", "2026-09-30", "--reason", "awaiting training dates",
        "--as", "a.khan", now="2026-08-04")
    assert _action(run)["due_date"] == "2026-09-30"
    shown = run("case", "show", REF, now="2026-08-04").output
    assert "due 2026-09-30, re-dated from 2026-07-31: awaiting training dates" in shown
    history = run.show(REF)["history"]
    last = history[-1]  # type: ignore[index]
    assert "awaiting training dates" in json.dumps(last)
    assert "2026-07-31" in json.dumps(last)
    # A second re-dating still counts from the date first agreed.
    run("action", "update", REF, "A1", "--due", "2026-10-30", "--reason", "trainer unwell",
        "--as", "a.khan", now="2026-08-05")
    assert "re-dated from 2026-07-31: trainer unwell" in run("case", "show", REF, now="2026-08-05").output
    timeline = run("case", "timeline", REF, now="2026-08-05").output
    assert "due 2026-10-30; re-dated from 2026-07-31" in timeline
    assert "trainer unwell" in timeline
    # The ladder is not restarted: level 2 fires 10 working days after the first due date.
    run("escalate", now="2026-08-14T06:00")
    assert [e["key"] for e in _action_escalations(run, "A1")] == [
        "action-A1-2026-07-31-level-1", "action-A1-2026-07-31-level-2"]
    board = run("report", "board", "--from", "2026-01-01", "--to", "2026-08-14", "--format", "md",
                now="2026-08-14T09:00").output
    assert "re-dated" in board.lower()
    assert "trainer unwell" in board
    assert "2026-07-31" in board


def test_a_no_needs_its_reason_and_keeps_it_in_the_history(run: Cli) -> None:
    run("case", "open", "serious_case_review", "--legacy", "--ref", REF, "--as", "la.duty",
        "--field", "notifying_agency=Police", "--field", "incident_date=2026-01-02",
        "--field", "incident_type=child_seriously_harmed", now="2026-01-05T10:00")
    _fire(run, REF, "notify", "la.duty", "2026-01-07", notification_date="2026-01-07")
    _fire(run, REF, "recommend", "d.osei", "2026-01-16", subgroup_recommendation="hold_scr", subgroup_rationale="r")
    _fire(run, REF, "hold_scr", "p.hughes", "2026-01-23", criteria_met="yes", decision_rationale="met",
          decision_date="2026-01-23")
    commission = ("case", "fire", REF, "commission", "--as", "a.khan", "--field", "lead_reviewer_appointed=no",
                  "--field", "terms_of_reference_date=2026-02-13")
    refused = run.refused(*commission, now="2026-02-13")
    assert "'lead_reviewer_appointed' is no, which needs a reason" in refused
    assert "lead_reviewer_appointed_reason" in refused
    assert run.show(REF)["state"] != "agency_reports"
    run(*commission, "--field", "lead_reviewer_appointed_reason=interviews set for 2 March", now="2026-02-13")
    shown = run.show(REF)
    assert json.dumps(shown["history"][-1]).count("interviews set for 2 March") >= 1  # type: ignore[index]


def test_a_yes_takes_no_reason(run: Cli) -> None:
    run("case", "open", "serious_case_review", "--legacy", "--ref", REF, "--as", "la.duty",
        "--field", "notifying_agency=Police", "--field", "incident_date=2026-01-02",
        "--field", "incident_type=child_seriously_harmed", now="2026-01-05T10:00")
    _fire(run, REF, "notify", "la.duty", "2026-01-07", notification_date="2026-01-07")
    _fire(run, REF, "recommend", "d.osei", "2026-01-16", subgroup_recommendation="hold_scr", subgroup_rationale="r")
    _fire(run, REF, "hold_scr", "p.hughes", "2026-01-23", criteria_met="yes", decision_rationale="met",
          decision_date="2026-01-23")
    refused = run.refused("case", "fire", REF, "commission", "--as", "a.khan",
                          "--field", "lead_reviewer_appointed=yes", "--field", "lead_reviewer_appointed_reason=x",
                          "--field", "terms_of_reference_date=2026-02-13", now="2026-02-13")
    assert "only for a no" in refused


def _london_midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=LONDON)


@pytest.mark.parametrize("path", sorted(WORKFLOWS.glob("*.yaml")), ids=lambda p: p.stem)
def test_the_shipped_action_ladder_climbs_at_10_20_40_working_days(path: Path) -> None:
    d = parse_definition(path.read_text("utf-8"), path.name)
    points = action_checkpoints(d, "A1", date(2026, 7, 31))
    # Due Friday 31 July 2026: overdue from midnight; +10 WD 14 August, +20 WD 28 August, and
    # +40 WD 28 September, the summer bank holiday (31 August) not counted.
    assert [p.at for p in points] == [_london_midnight(date(2026, 8, 1)), _london_midnight(date(2026, 8, 14)),
                                      _london_midnight(date(2026, 8, 28)), _london_midnight(date(2026, 9, 28))]
    assert [p.level for p in points] == [1, 2, 3, 4]
    # The Board's level tells the independent scrutineer too, in every workflow that names one (Working Together 2023).
    assert points[-1].roles == (("board", "independent_scrutineer") if "independent_scrutineer" in d.roles
                                else ("board",))


def test_reason_if_no_is_refused_on_a_field_that_is_not_yes_or_no() -> None:
    minimal = (Path(__file__).parent / "fixtures" / "minimal.yaml").read_text("utf-8")
    label = "notifying_agency: {type: text, label: Which agency referred the case"
    on_text = minimal.replace(label + "}", label + ", reason_if_no: true}")
    with pytest.raises(InvalidDefinition, match="only yesno fields take `reason_if_no`; this field is text"):
        parse_definition(on_text, "minimal.yaml")
