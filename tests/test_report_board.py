"""The Board report's figures on a small, known data set, on SQLite and PostgreSQL: every RAG status, the
exception list with its ladders, action timeliness, evidence waiting, embedded actions, themes, dissemination."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from typing import Any

import holidays
import pytest
from click.testing import CliRunner

from reviewflow.cli import cli
from reviewflow.engine.core.clock import SteppingClock
from reviewflow.engine.services.escalation import Sweeper
from reviewflow.engine.services.facade import Reviewflow
from reviewflow.store.db import Database

from tests.conftest import administer, pg_url_or_skip

NOW = datetime(2026, 6, 15, 8, 0, tzinfo=UTC)
ADMIN = "admin"
ENGLAND = holidays.country_holidays("GB", subdiv="ENG")
RR = "rapid_review_lcspr"
RR_FIELDS = {"notifying_agency": "Police", "incident_date": "2026-01-02", "incident_type": "child_died"}


def working_days(start: date, end: date) -> int:
    """Working days after `start` up to and including `end`, counted here (not by reviewflow)."""
    return sum((start + timedelta(days=n)).weekday() < 5 and start + timedelta(days=n) not in ENGLAND
               for n in range(1, (end - start).days + 1))


def at(day: str) -> datetime:
    return datetime.fromisoformat(f"{day}T09:00").replace(tzinfo=UTC)


class Story:
    """Moves the clock and acts as one user holding every role."""

    def __init__(self, service: Reviewflow, clock: SteppingClock) -> None:
        self.s, self.clock = service, clock

    def on(self, day: str) -> Story:
        self.clock.now = at(day)
        return self

    def open(self, ref: str, workflow: str = RR, **fields: str) -> None:
        # the local authority became aware on the day the case is opened
        aware = self.clock.now.date().isoformat()
        self.s.open_case(workflow, ref, ADMIN, fields or {**RR_FIELDS, "awareness_date": aware}, legacy=True)

    def fire(self, ref: str, trigger: str, **fields: str) -> None:
        self.s.fire(ref, trigger, ADMIN, fields)


def build(service: Reviewflow, clock: SteppingClock) -> None:
    roles = sorted({r for d in service.all_definitions().values() for r in d.roles})
    service.add_user(ADMIN, roles)
    st = Story(service, clock)
    st.on("2026-02-02").open("RR-OLD")  # never notified: climbs its whole ladder
    st.on("2026-04-01").open("RR-NFA")
    st.on("2026-04-02").fire("RR-NFA", "notify", notification_date="2026-04-02")
    st.on("2026-04-20").fire("RR-NFA", "submit_rapid_review", rapid_review_date="2026-04-20",
                             recommended_outcome="no_further_action")
    st.on("2026-05-20").fire("RR-NFA", "close_no_further_action", panel_response_date="2026-05-20",
                             decision_rationale="agencies worked well together")
    st.on("2026-06-01").open("RR-OVER")  # notification due 8 June: overdue on the 15th
    st.on("2026-06-01").open("RR-AMBER")
    st.on("2026-06-02").fire("RR-AMBER", "notify", notification_date="2026-06-02")  # rapid review due 23 June
    st.on("2026-06-10").open("RR-PAUSED")
    st.on("2026-06-11").s.pause("RR-PAUSED", ADMIN, "awaiting criminal proceedings")
    st.on("2026-06-12").open("MACA-NOLIMIT", "multi_agency_case_audit", audit_period="2026-27 Q1",
                             audit_theme="neglect")
    st.on("2026-02-03").open("RR-GREEN")
    learning(st)
    st.on("2026-06-12").fire("RR-GREEN", "notify", notification_date="2026-06-12")  # due 3 July
    clock.now = NOW
    Sweeper(service.ctx).sweep()


def learning(st: Story) -> None:
    """On RR-GREEN: actions overdue, verified on time, verified late, superseded, evidence waiting, embedded."""
    s = st.s
    st.on("2026-02-10")
    s.recommend("RR-GREEN", ADMIN, "Share concerns about neglect early", ["neglect", "information sharing"])
    s.record_dissemination("RR-GREEN", ADMIN, "briefing", "GP leads", "2026-02-10")
    for agency, due in (("Police", "2026-04-01"), ("Health", "2026-07-01"), ("Health", "2026-05-01"),
                        ("Education", "2026-09-01"), ("Police", "2026-08-01"), ("Children's social care",
                                                                                "2026-12-31")):
        s.add_action("RR-GREEN", ADMIN, "R1", "an action", agency, due)
    st.on("2026-03-02")
    s.update_action("RR-GREEN", "A4", ADMIN, status="superseded", reason="replaced by the county protocol")
    s.recommend("RR-GREEN", ADMIN, "Hear the child", ["neglect"])
    for number, evidence, verified in (("A3", "E1", "2026-05-20"), ("A6", "E2", "2026-05-22"),
                                       ("A2", "E3", "2026-06-10")):
        st.on(verified)
        s.submit_evidence("RR-GREEN", number, ADMIN, "audit_result", "a sample of files", "AUD-1")
        s.decide_evidence("RR-GREEN", evidence, ADMIN, True)
        s.verify_action("RR-GREEN", number, ADMIN)
    st.on("2026-06-11")
    s.evaluate_action("RR-GREEN", "A6", ADMIN, "re_audit", "2026-06-11", "18 of 20 files show the change")
    s.update_action("RR-GREEN", "A6", ADMIN, status="embedded")
    s.submit_evidence("RR-GREEN", "A5", ADMIN, "policy_change", "policy v2", "POL-2")
    s.record_dissemination("RR-GREEN", ADMIN, "newsletter", "all agencies", "2026-06-11")


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def figures(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The data set built once per database, and the Board report of it at NOW as JSON."""
    url = (f"sqlite:///{tmp_path_factory.mktemp('board') / 'reviewflow.db'}" if request.param == "sqlite"
           else pg_url_or_skip())
    clock = SteppingClock(NOW)
    service = Reviewflow(Database(url), clock)
    try:
        service.init()
        build(service, clock)
    finally:
        service.db.dispose()
    administer(url)
    result = CliRunner().invoke(cli, ["--db", url, "--now", NOW.isoformat(), "report", "board", "--format", "json"],
                                env={"REVIEWFLOW_NOW": None})
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)["figures"]


def test_board_figures_on_a_known_data_set(figures: dict[str, Any]) -> None:
    today = date(2026, 6, 15)
    assert figures["period"]["start"] == "2026-03-15"
    rag = {o["ref"]: (o["rag_label"], o["due_date"], o["working_days_overdue"]) for o in figures["open_reviews"]}
    assert rag == {
        "RR-OLD": ("Overdue", "2026-02-09", working_days(date(2026, 2, 9), today)),
        "RR-OVER": ("Overdue", "2026-06-08", working_days(date(2026, 6, 8), today)),
        "RR-AMBER": ("Due within 10 working days", "2026-06-23", 0),
        "RR-GREEN": ("On time", "2026-07-03", 0),
        "RR-PAUSED": ("Paused", "2026-06-17", 0),
        "MACA-NOLIMIT": ("No time limit", None, 0),
    }
    assert [o["ref"] for o in figures["open_reviews"]][:2] == ["RR-OLD", "RR-OVER"]  # most overdue first
    paused = next(o for o in figures["open_reviews"] if o["ref"] == "RR-PAUSED")
    assert (paused["paused_since"], paused["pause_reason"], paused["pause_expected_end"]) == (
        "2026-06-11", "Awaiting criminal proceedings", None)
    assert [m["ref"] for m in figures["opened"]] == ["RR-NFA", "RR-AMBER", "RR-OVER", "RR-PAUSED", "MACA-NOLIMIT"]
    assert [(m["ref"], m["outcome"]) for m in figures["closed"]] == [("RR-NFA", "No further action")]
    totals = {t["workflow"]: t["counts"]["total"] for t in figures["by_type"]}
    assert totals == {RR: 5, "multi_agency_case_audit": 1}
    funnel = {s["label"]: s["counts"] for s in figures["funnel"]}
    assert list(funnel) == ["Case selection", "Notification", "Rapid review"]
    assert funnel["Notification"] == {"overdue": 2, "due_soon": 0, "on_time": 0, "paused": 1, "no_limit": 0,
                                      "total": 3}


def test_board_exceptions_and_ladders(figures: dict[str, Any]) -> None:
    found = [(e["ref"], e["subject"], e["outstanding"], e["working_days_overdue"], [s["label"] for s in e["ladder"]])
             for e in figures["exceptions"]]
    assert found == [
        ("RR-GREEN", "Action A1 (Police)", True, working_days(date(2026, 4, 1), date(2026, 6, 15)),
         ["Action owner", "Agency safeguarding lead", "Sub-group chair", "Board"]),
        ("RR-OLD", "Stage: Notification", True, working_days(date(2026, 2, 9), date(2026, 6, 15)),
         ["Stage owner", "Sub-group chair", "Board"]),
    ]
    assert {e["escalated_on"] for e in figures["exceptions"]} == {"2026-06-15"}


def test_board_action_plans(figures: dict[str, Any]) -> None:
    plans = figures["actions"]
    every = plans["all_agencies"]
    assert every["by_status"] == {"agreed": 1, "in_progress": 0, "evidence_submitted": 1, "verified": 2,
                                  "impact_evaluated": 0, "embedded": 1, "superseded": 1, "not_implemented": 0}
    # on time: A2 (verified 10 June, due 1 July) and A6; late: A3 (verified 20 May, due 1 May); A1 past due, open
    assert (every["completed_on_time"], every["completed_late"], every["late_not_completed"]) == (2, 1, 1)
    assert every["percent_on_time"] == 50.0
    health = next(a for a in plans["by_agency"] if a["agency"] == "Health")
    assert (health["total"], health["percent_on_time"]) == (2, 50.0)
    assert [(o["action"], o["agency"]) for o in plans["overdue"]] == [("A1", "Police")]
    assert [(p["action"], p["evidence"], p["days_waiting"]) for p in plans["awaiting_verification"]] == [
        ("A5", "E4", 4)]
    assert [(e["action"], e["impact_method"], e["measured_on"], e["finding"]) for e in plans["embedded"]] == [
        ("A6", "re_audit", "2026-06-11", "18 of 20 files show the change")]


def test_board_themes_and_dissemination(figures: dict[str, Any]) -> None:
    assert [(t["theme"], t["recommendations"], t["reviews"], t["in_period"]) for t in figures["themes"]] == [
        ("neglect", 2, 1, 0), ("information sharing", 1, 1, 0)]
    assert [(d["held_on"], d["kind"]) for d in figures["dissemination"]] == [("2026-06-11", "newsletter")]
    assert figures["dissemination_by_kind"] == {"newsletter": 1}
