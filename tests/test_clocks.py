"""Months on an injected clock: a stalled SCR climbs the ladder at the right working-day times, once each."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest

from reviewflow.engine.core.clock import SteppingClock
from reviewflow.engine.core.errors import NotPermitted, TransitionNotAllowed
from reviewflow.engine.services.context import running_clock
from reviewflow.engine.services.escalation import Sweeper
from reviewflow.engine.services.facade import Reviewflow

OPEN = {"notifying_agency": "Police", "incident_date": "2026-03-01", "incident_type": "child_died"}
PEOPLE = {"la.duty": "la_notifier", "a.khan": "business_manager", "d.osei": "subgroup_chair",
          "p.hughes": "board_chair", "j.reid": "lead_reviewer", "lscp.board": "board"}


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.fixture
def scr(service: Reviewflow, clock: SteppingClock) -> Reviewflow:
    """SCR-1 enters `agency_reports` (30 working days) on Wednesday 1 April 2026, 09:00 UTC."""
    for name, role in PEOPLE.items():
        service.add_user(name, [role], f"{name}@example.org")
    clock.now = at("2026-03-02T09:00")
    service.open_case("serious_case_review", "SCR-1", "la.duty", OPEN, legacy=True)
    steps = [("notify", "la.duty", {"notification_date": "2026-03-02"}),
             ("recommend", "d.osei", {"subgroup_recommendation": "hold_scr", "subgroup_rationale": "Joint working"}),
             ("hold_scr", "p.hughes", {"criteria_met": "yes", "decision_rationale": "Met",
                                       "decision_date": "2026-03-10"})]
    for trigger, actor, fields in steps:
        clock.advance(days=2)
        service.fire("SCR-1", trigger, actor, fields)
    clock.now = at("2026-04-01T09:00")
    service.fire("SCR-1", "commission", "a.khan", {"lead_reviewer_appointed": "yes",
                                                    "terms_of_reference_date": "2026-04-01"})
    return service


def sweep_at(service: Reviewflow, clock: SteppingClock, when: str) -> list[tuple[str, str, tuple[str, ...]]]:
    clock.now = at(when)
    report = Sweeper(service.ctx).sweep()
    return [(f.ref, f.key, f.recipients) for f in report.fired]


def test_ladder_fires_level_by_level_on_working_days_each_once(scr: Reviewflow, clock: SteppingClock) -> None:
    view = scr.case("SCR-1")
    # 30 working days from Wed 1 April 2026, skipping Good Friday, Easter Monday and the May bank holiday:
    # due Monday 18 May; overdue from midnight (BST) = 23:00 UTC.
    assert (view.state, view.due_date, view.due_at) == ("agency_reports", "2026-05-18", at("2026-05-18T23:00"))
    # The workflow reminds the owner 10 working days before: Friday 1 May (4 May is a bank holiday).
    assert sweep_at(scr, clock, "2026-04-30T22:59") == []
    assert sweep_at(scr, clock, "2026-04-30T23:00") == [("SCR-1", "reminder", ("j.reid",))]
    assert sweep_at(scr, clock, "2026-05-18T22:59") == []
    assert sweep_at(scr, clock, "2026-05-18T23:00") == [("SCR-1", "level-1", ("j.reid",))]
    assert sweep_at(scr, clock, "2026-05-19T12:00") == []
    # +10 working days, skipping the spring bank holiday on 25 May: Tuesday 2 June.
    assert sweep_at(scr, clock, "2026-06-01T22:59") == []
    assert sweep_at(scr, clock, "2026-06-01T23:00") == [("SCR-1", "level-2", ("d.osei",))]
    # The Board's level also tells the independent scrutineer; nobody holds that role, so the business manager is told.
    assert sweep_at(scr, clock, "2026-06-15T23:00") == [("SCR-1", "level-3", ("lscp.board", "a.khan"))]
    assert sweep_at(scr, clock, "2026-09-01T00:00") == []
    ledger = scr.case("SCR-1").escalations
    assert [(e.key, e.scheduled_at, e.roles, e.recipients) for e in ledger] == [
        ("reminder", at("2026-04-30T23:00"), ("lead_reviewer",), ("j.reid",)),
        ("level-1", at("2026-05-18T23:00"), ("lead_reviewer",), ("j.reid",)),
        ("level-2", at("2026-06-01T23:00"), ("subgroup_chair",), ("d.osei",)),
        ("level-3", at("2026-06-15T23:00"), ("board", "independent_scrutineer"), ("lscp.board", "a.khan")),
    ]
    assert ledger[0].reason == "Agency reports is due on 2026-05-18 (reminder 10 working days before due)"
    assert ledger[2].reason == ("Agency reports overdue by 10 working days (limit 30 working days, "
                                "due 2026-05-18); escalated to Sub-group chair")


def test_a_late_sweep_fires_every_missed_level_once(scr: Reviewflow, clock: SteppingClock) -> None:
    fired = sweep_at(scr, clock, "2026-07-01T08:00")
    assert [key for _, key, _ in fired] == ["reminder", "level-1", "level-2", "level-3"]
    assert sweep_at(scr, clock, "2026-07-02T08:00") == []


def test_pause_holds_the_climb_and_resume_restarts_it_where_it_was(scr: Reviewflow, clock: SteppingClock) -> None:
    sweep_at(scr, clock, "2026-06-02T08:00")  # levels 1 and 2 have fired
    clock.now = at("2026-06-03T10:00")
    paused = scr.pause("SCR-1", "a.khan", "awaiting criminal proceedings")
    assert (paused.paused_at, paused.pause_reason, paused.overdue) == (clock(), "criminal_proceedings", False)
    assert [v.ref for v in scr.cases(overdue=True)] == []
    assert sweep_at(scr, clock, "2026-06-15T23:00") == []  # level 3 would have fired here
    assert sweep_at(scr, clock, "2026-08-01T00:00") == []
    clock.now = at("2026-08-03T10:00")  # paused for exactly 61 days
    resumed = scr.resume("SCR-1", "a.khan", note="trial concluded")
    assert resumed.due_at == at("2026-07-18T23:00")
    assert resumed.paused_at is None
    # Levels 1 and 2 already fired for this stage entry: only level 3 remains, 61 days later.
    assert sweep_at(scr, clock, "2026-08-13T22:59") == []
    assert sweep_at(scr, clock, "2026-08-13T23:00") == [("SCR-1", "level-3", ("lscp.board", "a.khan"))]
    history = scr.case("SCR-1").history
    assert [(h.trigger, h.from_state, h.to_state) for h in history[-2:]] == [
        ("pause", "agency_reports", "agency_reports"), ("resume", "agency_reports", "agency_reports")]
    assert history[-2].fields == {"reason": "criminal_proceedings", "expected_end": None, "note": None}
    assert history[-1].fields == {"paused_days": 61.0, "reason": "criminal_proceedings"}


def test_pause_rules(scr: Reviewflow, clock: SteppingClock) -> None:
    with pytest.raises(NotPermitted, match="pausing or resuming SCR-1 needs one of the roles la_notifier, referrer, "
                                           "business_manager, lead_reviewer; d.osei has subgroup_chair"):
        scr.pause("SCR-1", "d.osei", "inquest")
    with pytest.raises(TransitionNotAllowed, match="case SCR-1 is not paused"):
        scr.resume("SCR-1", "a.khan")
    scr.pause("SCR-1", "j.reid", "police request")
    already = "case SCR-1 is already paused since 2026-04-01 \\(Police request\\): resume it with"
    with pytest.raises(TransitionNotAllowed, match=already):
        scr.pause("SCR-1", "a.khan", "inquest")


def test_moving_on_stops_the_climb_and_re_entry_starts_a_new_one(scr: Reviewflow, clock: SteppingClock) -> None:
    assert [k for _, k, _ in sweep_at(scr, clock, "2026-05-19T08:00")] == ["reminder", "level-1"]
    clock.now = at("2026-05-20T09:00")
    scr.fire("SCR-1", "agency_reports_received", "j.reid", {"agency_reports_date": "2026-05-20"})
    # The old stage's levels 2 and 3 never fire; the new stage has its own reminder (3 June).
    assert sweep_at(scr, clock, "2026-06-15T23:00") == [("SCR-1", "reminder", ("j.reid",))]
    # Through to the Board, which returns the report: draft_and_qa is entered a second time.
    clock.now = at("2026-06-16T09:00")
    scr.fire("SCR-1", "engagement_complete", "j.reid", {"practitioner_event_date": "2026-06-10",
                                                          "family_invited": "yes"})
    clock.now = at("2026-07-01T09:00")
    scr.fire("SCR-1", "submit_final_report", "j.reid", {"report_date": "2026-07-01"})
    clock.now = at("2026-07-02T09:00")
    scr.fire("SCR-1", "return_report", "lscp.board", {"amendments_requested": "Strengthen the family's voice"})
    second = scr.case("SCR-1")
    assert (second.state, second.due_date) == ("draft_and_qa", "2026-07-30")
    fired = sweep_at(scr, clock, "2026-07-31T08:00")
    assert fired == [("SCR-1", "reminder", ("j.reid",)), ("SCR-1", "level-1", ("j.reid",))]
    keys = [(e.state, e.entry_seq, e.key) for e in scr.case("SCR-1").escalations]
    assert keys[:2] == [("agency_reports", 5, "reminder"), ("agency_reports", 5, "level-1")]
    assert keys[-1] == ("draft_and_qa", 9, "level-1")


def test_dry_run_previews_without_writing(scr: Reviewflow, clock: SteppingClock) -> None:
    clock.now = at("2026-06-20T00:00")
    preview = Sweeper(scr.ctx).sweep(dry_run=True)
    assert [f.key for f in preview.fired] == ["reminder", "level-1", "level-2", "level-3"]
    assert scr.case("SCR-1").escalations == []
    assert [f.key for f in Sweeper(scr.ctx).sweep().fired] == ["reminder", "level-1", "level-2", "level-3"]


def test_the_served_demo_clock_starts_on_its_last_day_and_runs_on() -> None:
    """`reviewflow demo --serve` serves as of the demo's last simulated day, with a clock that moves, so that
    sessions time out and a sign-in lock lifts while it runs."""
    start = datetime(2027, 2, 26, 17, 0, tzinfo=UTC)
    clock = running_clock(start)
    first = clock()
    time.sleep(0.01)
    second = clock()
    assert start <= first < start + timedelta(minutes=1)
    assert second > first
