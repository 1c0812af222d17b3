"""The framework's recurring sources as shipped workflows, through the real CLI: the annual report and work
programme (row 1), the performance report for each Board meeting (row 2), the CDOP's annual report (row 7)
and inspection and peer review action plans (row 14), each from opening to closed with its learning loop,
their schedules opening each period once, and the annual report counting their cases."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from reviewflow.cli import cli

from tests.databases import Templates
from tests.test_cli import Cli

ROOT = Path(__file__).resolve().parent.parent
NEW = ["annual_report", "performance_report", "child_death_learning", "inspection_action_plan"]
PEOPLE = {
    "a.khan": ["business_manager", "performance_lead", "inspection_lead", "cdop_chair"],
    "d.osei": ["subgroup_chair"],
    "p.hughes": ["board_chair"],
    "lscp.board": ["board"],
}


def _init(url: str) -> None:
    c = Cli(url)
    c("init", now="2026-01-05")
    for name, roles in PEOPLE.items():
        c("user", "add", name, *[a for r in roles for a in ("--role", r)], "--email", f"{name}@example.org")


@pytest.fixture
def run(db_url: str, templates: Templates) -> Cli:
    """`init` on 5 January 2026 (the shipped workflows loaded) and PEOPLE added."""
    templates.copy(db_url, "test_framework_workflows: init on 2026-01-05, PEOPLE added", _init)
    return Cli(db_url)


def _fire(run: Cli, ref: str, trigger: str, actor: str, now: str, **fields: str) -> dict[str, Any]:
    run("case", "fire", ref, trigger, "--as", actor, *[a for k, v in fields.items() for a in ("--field", f"{k}={v}")],
        now=now)
    return run.show(ref)


def _plan(run: Cli, ref: str, now: str) -> None:
    """A recommendation with one action, before the move into the actions."""
    run("case", "recommend", ref, "--text", "Improve the timeliness of strategy discussions", "--as", "a.khan",
        now=now)
    run("action", "add", ref, "--rec", "R1", "--description", "Audit strategy discussions monthly",
        "--agency", "Police", "--due", "2027-12-31", "--as", "a.khan", now=now)


def _verify(run: Cli, ref: str, now: str) -> None:
    """The action's evidence submitted and accepted, and the action verified."""
    run("action", "evidence", ref, "A1", "--kind", "audit_result", "--description", "Monthly audit: 92% on time",
        "--link", "AUD-7", "--as", "a.khan", now=now)
    run("action", "accept", ref, "E1", "--as", "d.osei", now=now)
    run("action", "verify", ref, "A1", "--as", "d.osei", now=now)


def _embed(run: Cli, ref: str, now: str, evaluated: str) -> None:
    run("action", "evaluate", ref, "A1", "--method", "re_audit", "--date", evaluated, "--finding", "Held at 90%",
        "--as", "d.osei", now=now)
    run("action", "update", ref, "A1", "--status", "embedded", "--as", "d.osei", now=now)


def _schedule_run(run: Cli, now: str) -> list[tuple[str, str]]:
    report = json.loads(run("schedule", "run", "--json", now=now).output)
    return [(o["workflow"], o["ref"]) for o in report["opened"] if o["workflow"] in NEW]


# --- the files ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", NEW)
def test_each_new_workflow_validates(name: str) -> None:
    result = CliRunner().invoke(cli, ["workflow", "validate", str(ROOT / "workflows" / f"{name}.yaml")])
    assert result.exit_code == 0, result.output
    assert f"({name} v1:" in result.output


def test_workflow_list_shows_them(run: Cli) -> None:
    listed = {w["name"]: w for w in json.loads(run("workflow", "list", "--json").output)}
    assert set(NEW) <= set(listed)
    shown = run("workflow", "show", "performance_report").output
    assert "limit 10 working days before meeting_date" in shown


# --- row 1: the annual report and work programme --------------------------------------------------------

def test_the_annual_report_from_opening_to_closed(run: Cli) -> None:
    assert _schedule_run(run, "2026-04-01T00:30") == [("annual_report", "AR-2026")]
    case = run.show("AR-2026")
    assert (case["state"], case["fields"], case["opened_by"]) == ("drafting", {"year_end": "2026-03-31"}, "schedule")
    assert _fire(run, "AR-2026", "submit_draft", "a.khan", "2026-05-12", draft_date="2026-05-12")["state"] == \
        "board_approval"
    case = _fire(run, "AR-2026", "approve", "p.hughes", "2026-06-03", board_approval_date="2026-06-03")
    assert (case["state"], case["due_date"]) == ("publication", "2026-06-30")  # by the end of June
    case = _fire(run, "AR-2026", "publish_and_send", "a.khan", "2026-06-24", publication_date="2026-06-24",
                 sent_to_distribution="yes")
    assert case["state"] == "work_programme"
    refused = run.refused("case", "fire", "AR-2026", "agree_work_programme", "--as", "p.hughes",
                          "--field", "work_programme_date=2026-07-15", now="2026-07-15")
    assert refused == ("Error: `agree_work_programme` is not possible yet: every_recommendation_has_actions: no "
                       "recommendations recorded: add them with 'reviewflow case recommend'")
    _plan(run, "AR-2026", "2026-07-15")
    case = _fire(run, "AR-2026", "agree_work_programme", "p.hughes", "2026-07-15", work_programme_date="2026-07-15")
    assert case["state"] == "actions"
    _verify(run, "AR-2026", "2027-03-01")
    assert _fire(run, "AR-2026", "actions_complete", "d.osei", "2027-03-01",
                 actions_verified_date="2027-03-01")["state"] == "evidence_of_embedding"
    _embed(run, "AR-2026", "2027-05-04", "2027-05-01")
    case = _fire(run, "AR-2026", "confirm_embedded", "d.osei", "2027-05-04",
                 impact_evidence="Reported in the 2026-27 annual report")
    assert (case["state"], case["is_open"]) == ("closed", False)


def test_the_annual_report_is_held_to_30_june_while_it_is_drafted(run: Cli) -> None:
    run("case", "open", "annual_report", "--ref", "AR-LATE", "--as", "a.khan", "--field", "year_end=2026-03-31",
        now="2026-05-26T10:00")
    case = run.show("AR-LATE")
    assert case["due_date"] == "2026-07-07"  # drafting: 6 weeks from entry ...
    assert case["deadline"]["due_date"] == "2026-06-30"  # ... but the milestone binds: 30 June
    assert case["deadline"]["what"] == "Published and sent by 30 June"


# --- row 2: the performance report for each Board meeting -----------------------------------------------

def test_the_performance_report_from_the_calendar_to_closed(run: Cli) -> None:
    opened = _schedule_run(run, "2026-08-12T00:30")
    assert ("performance_report", "PERF-2026-09-23") in opened
    case = run.show("PERF-2026-09-23")
    assert (case["state"], case["fields"]) == ("data_collection", {"meeting_date": "2026-09-23"})
    assert case["due_date"] == "2026-09-02"  # data in 15 working days before the meeting
    case = _fire(run, "PERF-2026-09-23", "data_collected", "a.khan", "2026-08-20", data_period="2026-27 Q1")
    assert (case["state"], case["due_date"]) == ("drafting", "2026-09-09")  # 10 working days before 23 September
    case = _fire(run, "PERF-2026-09-23", "submit_report", "a.khan", "2026-09-09", report_date="2026-09-09")
    assert (case["state"], case["due_date"]) == ("board_meeting", "2026-10-07")
    _plan(run, "PERF-2026-09-23", "2026-09-23")
    case = _fire(run, "PERF-2026-09-23", "agree_actions", "lscp.board", "2026-09-24",
                 board_response_date="2026-09-23")
    assert case["state"] == "actions"
    _verify(run, "PERF-2026-09-23", "2026-12-01")
    assert _fire(run, "PERF-2026-09-23", "actions_complete", "d.osei", "2026-12-01",
                 actions_verified_date="2026-12-01")["state"] == "evidence_of_embedding"
    _embed(run, "PERF-2026-09-23", "2027-02-01", "2027-01-29")
    case = _fire(run, "PERF-2026-09-23", "confirm_embedded", "d.osei", "2027-02-01",
                 impact_evidence="Indicator on target for two quarters")
    assert (case["state"], case["is_open"]) == ("closed", False)


def test_a_report_for_a_meeting_after_a_bank_holiday_is_due_a_day_earlier(run: Cli) -> None:
    run("case", "open", "performance_report", "--ref", "PERF-JUNE", "--as", "a.khan",
        "--field", "meeting_date=2027-06-09", now="2027-04-28T09:00")
    case = _fire(run, "PERF-JUNE", "data_collected", "a.khan", "2027-05-10", data_period="2026-27 Q4")
    assert case["due_date"] == "2027-05-25"  # 10 working days before 9 June, the 31 May bank holiday skipped
    assert run.show("PERF-JUNE")["overdue"] is False
    overdue = json.loads(run("case", "list", "--overdue", "--json", now="2027-05-26T09:00").output)
    assert [c["ref"] for c in overdue] == ["PERF-JUNE"]


def test_the_board_may_note_a_report_with_no_actions(run: Cli) -> None:
    run("case", "open", "performance_report", "--ref", "PERF-NOTED", "--as", "a.khan",
        "--field", "meeting_date=2026-11-25", now="2026-10-14T09:00")
    _fire(run, "PERF-NOTED", "data_collected", "a.khan", "2026-10-20", data_period="2026-27 Q2")
    _fire(run, "PERF-NOTED", "submit_report", "a.khan", "2026-11-10", report_date="2026-11-10")
    case = _fire(run, "PERF-NOTED", "note_report", "p.hughes", "2026-11-25", board_response="All indicators on track")
    assert case["state"] == "closed"


# --- row 7: the CDOP's annual report ---------------------------------------------------------------------

def test_the_cdop_annual_report_from_opening_to_closed(run: Cli) -> None:
    assert ("child_death_learning", "CDOP-2026") in _schedule_run(run, "2026-10-01T00:30")
    case = run.show("CDOP-2026")
    assert (case["state"], case["fields"]) == ("report_received", {"report_period": "year to 31 March 2026"})
    _fire(run, "CDOP-2026", "receive_report", "a.khan", "2026-10-08", report_received_date="2026-10-07")
    case = _fire(run, "CDOP-2026", "consider_report", "lscp.board", "2026-10-21", board_meeting_date="2026-10-21",
                 themes_identified="Safer sleep; adolescent suicide")
    assert case["state"] == "recommendations"
    _plan(run, "CDOP-2026", "2026-11-04")
    assert _fire(run, "CDOP-2026", "agree_actions", "d.osei", "2026-11-04",
                 action_plan_date="2026-11-04")["state"] == "actions"
    _verify(run, "CDOP-2026", "2027-04-01")
    _fire(run, "CDOP-2026", "actions_complete", "d.osei", "2027-04-01", actions_verified_date="2027-04-01")
    _embed(run, "CDOP-2026", "2027-09-01", "2027-08-31")
    case = _fire(run, "CDOP-2026", "confirm_embedded", "d.osei", "2027-09-01",
                 impact_evidence="Safer sleep re-audit, August 2027")
    assert (case["state"], case["is_open"]) == ("closed", False)


# --- row 14: inspections and peer reviews ----------------------------------------------------------------

def test_an_inspection_action_plan_from_findings_to_closed(run: Cli) -> None:
    refused = run.refused("case", "open", "inspection_action_plan", "--ref", "JTAI-2026-1", "--as", "a.khan",
                          "--field", "inspection_type=cqc", "--field", "inspected_service=Partnership",
                          "--field", "inspection_date=2026-03-13", now="2026-03-20T10:00")
    assert "jtai" in refused
    run("case", "open", "inspection_action_plan", "--ref", "JTAI-2026-1", "--as", "a.khan",
        "--field", "inspection_type=jtai", "--field", "inspected_service=Partnership (neglect)",
        "--field", "inspection_date=2026-03-13", now="2026-03-20T10:00")
    assert run.show("JTAI-2026-1")["due_date"] == "2026-04-13"  # 1 month from the inspection
    case = _fire(run, "JTAI-2026-1", "findings_received", "a.khan", "2026-04-10", findings_date="2026-04-09",
                 findings_summary="Early help for neglect is inconsistent")
    assert case["state"] == "action_plan"
    _plan(run, "JTAI-2026-1", "2026-05-20")
    assert _fire(run, "JTAI-2026-1", "agree_action_plan", "p.hughes", "2026-05-20",
                 action_plan_date="2026-05-20")["state"] == "monitoring"
    _verify(run, "JTAI-2026-1", "2026-11-02")
    _fire(run, "JTAI-2026-1", "actions_complete", "d.osei", "2026-11-02", actions_verified_date="2026-11-02")
    _embed(run, "JTAI-2026-1", "2027-04-06", "2027-04-01")
    case = _fire(run, "JTAI-2026-1", "confirm_embedded", "d.osei", "2027-04-06",
                 impact_evidence="Neglect re-audit, March 2027")
    assert (case["state"], case["is_open"]) == ("closed", False)


# --- the schedules: each period once ---------------------------------------------------------------------

def test_the_schedules_open_each_period_exactly_once(run: Cli) -> None:
    first = _schedule_run(run, "2026-10-01T00:30")
    assert sorted(first) == [("annual_report", "AR-2026"), ("child_death_learning", "CDOP-2026"),
                             ("performance_report", "PERF-2026-09-23")]
    assert _schedule_run(run, "2026-10-01T00:30") == []
    assert _schedule_run(run, "2026-10-02T09:00") == []
    later = _schedule_run(run, "2027-04-01T00:30")
    assert sorted(later) == [("annual_report", "AR-2027"), ("performance_report", "PERF-2026-11-25"),
                             ("performance_report", "PERF-2027-01-27"), ("performance_report", "PERF-2027-03-24")]
    assert _schedule_run(run, "2027-04-01T00:30") == []
    assert run.show("PERF-2027-03-24")["fields"] == {"meeting_date": "2027-03-24"}
    assert run.show("AR-2027")["fields"] == {"year_end": "2027-03-31"}
    runs = [r for r in json.loads(run("schedule", "list", "--json", now="2027-04-01T00:30").output)
            if r["workflow"] == "performance_report"]
    assert (runs[0]["next_ref"], runs[0]["due"]) == ("PERF-2027-06-09", [])
    _schedule_run(run, "2027-10-13T00:30")  # the last meeting in the calendar, 24 November 2027, opens
    listed = run("schedule", "list", now="2027-10-13T00:30").stdout.splitlines()
    assert [line for line in listed if line.startswith("performance_report ")] == [
        "performance_report             7 listed dates, 6 weeks ahead      next - at -; last PERF-2027-11-24 opened "
        "2027-10-13 00:30"]


def test_the_inspection_action_plan_has_no_schedule() -> None:
    from reviewflow.engine.core.parse import parse_definition

    d = parse_definition((ROOT / "workflows" / "inspection_action_plan.yaml").read_text("utf-8"))
    assert d.schedule is None


# --- the annual report counts them -----------------------------------------------------------------------

def test_the_annual_report_counts_the_new_cases(run: Cli) -> None:
    _schedule_run(run, "2026-10-15T00:30")
    run("case", "open", "inspection_action_plan", "--ref", "PEER-2026", "--as", "a.khan",
        "--field", "inspection_type=peer_review", "--field", "inspected_service=Partnership",
        "--field", "inspection_date=2026-10-02", now="2026-10-05T10:00")
    run("case", "fire", "PEER-2026", "withdraw", "--as", "a.khan", "--field", "withdrawal_reason=Opened twice",
        now="2026-10-06T10:00")
    report = json.loads(run("report", "annual", "--year", "2026", "--format", "json", now="2027-01-10").output)
    counted = {t["workflow"]: (t["opened"], t["closed"], t["open_at_end"]) for t in report["figures"]["by_type"]}
    assert counted["annual_report"] == (1, 0, 1)
    assert counted["child_death_learning"] == (1, 0, 1)
    assert counted["performance_report"] == (2, 0, 2)  # the September and November meetings
    assert counted["inspection_action_plan"] == (1, 1, 0)
