"""The shipped risk register workflow (framework table row 13: yearly, reviewed quarterly): it validates and is
listed, its schedule opens one register a year exactly once, and each quarter's review falls due, goes to the
sub-group chair and climbs to the Board chair when its outcome is not recorded."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest

from reviewflow.engine.core.clock import SteppingClock
from reviewflow.engine.core.parse import parse_definition
from reviewflow.engine.services.facade import Reviewflow

from tests.databases import Templates
from tests.seeding import at
from tests.test_cli import Cli

WORKFLOW = Path(__file__).resolve().parent.parent / "workflows" / "risk_register.yaml"
REF = "RISK-2026"
CHECK = "check-quarterly_review"


def _utc(text: str) -> datetime:
    return at(text)


def _init(url: str) -> None:
    c = Cli(url)
    c("init", now="2026-01-05")
    c("settings", "set", "backdate-window", "off")
    c("user", "add", "a.khan", "--role", "business_manager", "--email", "a.khan@example.org")
    c("user", "add", "d.osei", "--role", "subgroup_chair", "--email", "d.osei@example.org")
    c("user", "add", "p.hughes", "--role", "board_chair", "--email", "p.hughes@example.org")
    c("user", "add", "p.ward", "--role", "risk_owner", "--agency", "Police", "--email", "p.ward@example.org")


@pytest.fixture
def run(db_url: str, templates: Templates) -> Cli:
    """`init` on 5 January 2026; a business manager, a sub-group chair, a Board chair and a Police risk owner."""
    templates.copy(db_url, "test_risk_register_workflow: init, four people", _init)
    return Cli(db_url)


def test_the_workflow_validates_and_is_listed(run: Cli) -> None:
    assert run("workflow", "validate", str(WORKFLOW)).output == (
        f"ok: {WORKFLOW} (risk_register v1: 6 states, 6 transitions)\n")
    listed = {w["name"]: w for w in json.loads(run("workflow", "list", "--json").output)}
    assert listed["risk_register"]["title"] == "Risk Register"
    d = parse_definition(WORKFLOW.read_text("utf-8"), str(WORKFLOW))
    assert (d.subgroup, d.initial, d.learning.manage) == ("audit", "drafting", ("business_manager", "subgroup_chair"))
    assert [(c.name, str(c.every), c.during, c.recorded_by, c.escalate) for c in d.progress_checks] == [
        ("quarterly_review", "3 months", ("monitoring",), ("subgroup_chair",), ("board_chair",))]
    assert d.schedule is not None
    assert d.schedule.ref == "RISK-{year}"


def test_the_schedule_opens_one_register_a_year_exactly_once(service: Reviewflow, clock: SteppingClock) -> None:
    opened: list[str] = []
    for now in ("2026-03-31T23:00", "2026-04-01T00:30", "2026-04-01T00:30", "2026-09-01T09:00", "2027-03-31T09:00",
                "2027-04-01T00:30", "2027-04-01T06:00"):
        clock.now = _utc(now)
        report = service.schedules.open_due()
        assert report.failed == []
        opened += [o.ref for o in report.opened if o.workflow == "risk_register"]
    assert opened == ["RISK-2026", "RISK-2027"]
    view = service.case("RISK-2027")
    assert (view.state, view.opened_by, dict(view.fields)) == (
        "drafting", "schedule", {"register_year": "from April 2027", "year_start": "2027-04-01"})
    assert [(r.period, r.case_ref) for r in service.schedule_runs("risk_register")] == [
        ("2026-04-01", "RISK-2026"), ("2027-04-01", "RISK-2027")]


def _to_monitoring(run: Cli) -> None:
    run("case", "open", "risk_register", "--ref", REF, "--as", "a.khan", "--field", "register_year=2026-27",
        "--field", "year_start=2026-04-01", now="2026-04-01T09:00")
    run("case", "fire", REF, "submit_for_approval", "--as", "a.khan", "--field", "submitted_date=2026-04-20",
        now="2026-04-20T09:00")
    run("case", "fire", REF, "approve", "--as", "p.hughes", "--field", "approval_date=2026-05-12",
        now="2026-05-12T09:00")


def _keys(run: Cli, prefix: str) -> list[str]:
    escalations = run.show(REF)["escalations"]
    assert isinstance(escalations, list)
    return [e["key"] for e in escalations if e["key"].startswith(prefix)]


def test_each_quarterly_review_falls_due_once_and_a_missed_one_goes_to_the_board_chair(run: Cli) -> None:
    _to_monitoring(run)
    shown = run.show(REF)
    assert (shown["state"], shown["due_date"]) == ("monitoring", "2027-04-01")  # 12 months from year_start
    run("escalate", now="2026-06-30T09:00")
    assert _keys(run, CHECK) == []
    for _ in range(2):
        run("escalate", now="2026-07-01T09:00")  # 3 months from 1 April
    assert _keys(run, CHECK) == [f"{CHECK}-1"]
    told = json.loads(run("outbox", "list", "--ref", REF, "--json").output)
    assert {r["recipient"] for r in told if r["channel"] == "email" and "check" in r["event"]} >= {
        "d.osei", "a.khan", "p.ward"}
    refused = run("case", "check", REF, "--outcome", "on_track", "--as", "a.khan", now="2026-07-02T09:00", ok=False)
    assert refused.exit_code == 5
    run("case", "check", REF, "--outcome", "on_track", "--note", "Q1 review: R1 rising", "--as", "d.osei",
        now="2026-07-02T10:00")
    # The second quarter's review is not recorded: 10 working days later it goes to the Board chair, once.
    for when in ("2026-10-01T09:00", "2026-10-15T09:00", "2026-10-16T09:00"):
        run("escalate", now=when)
    assert _keys(run, CHECK) == [f"{CHECK}-1", f"{CHECK}-2", f"{CHECK}-2-missed"]
    missed = [e for e in run.show(REF)["escalations"] if e["key"] == f"{CHECK}-2-missed"]  # type: ignore[union-attr]
    assert (missed[0]["roles"], missed[0]["recipients"]) == (["board_chair"], ["p.hughes"])


def test_the_register_closes_at_the_year_end(run: Cli) -> None:
    _to_monitoring(run)
    run("case", "fire", REF, "year_end", "--as", "d.osei", now="2027-04-01T09:00")
    refused = run.refused("case", "fire", REF, "close_register", "--as", "d.osei", now="2027-04-02T09:00")
    assert "year_end_summary" in refused
    run("case", "fire", REF, "close_register", "--as", "d.osei", "--field",
        "year_end_summary=R1 carried into RISK-2027", now="2027-04-02T09:00")
    shown = run.show(REF)
    assert (shown["state"], shown["is_open"]) == ("closed", False)
