"""Statutory clocks: stage time limits counted from recorded dates, milestones spanning stages (the LCSPR
final report 6 months from the decision), and recurring progress checks with their outcomes."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, text

from reviewflow.engine.core.access import Identity
from reviewflow.engine.core.clock import fixed_clock
from reviewflow.engine.core.errors import InvalidDefinition
from reviewflow.engine.core.parse import parse_definition
from reviewflow.engine.services.facade import Reviewflow

from tests.served import serving
from tests.test_cli import Cli
from tests.test_learning import run  # noqa: F401  (`run` is a fixture)
from tests.test_pages import PASSWORD, Person

REF = "RR-2026-050"
RR = "rapid_review_lcspr"
CHECK = "check-lcspr_progress"
MINIMAL = (Path(__file__).parent / "fixtures" / "minimal.yaml").read_text("utf-8")


def _open(run: Cli) -> None:  # noqa: F811
    """Opened on Monday 16 March 2026; the local authority became aware on 2 March, 10 working days before."""
    run("case", "open", RR, "--ref", REF, "--as", "la.duty", "--field", "notifying_agency=Police",
        "--field", "incident_date=2026-02-27", "--field", "incident_type=child_died",
        "--field", "awareness_date=2026-03-02", now="2026-03-16T10:00")


def _to_review(run: Cli) -> None:  # noqa: F811
    """On to the LCSPR: decided on 1 May 2026, commissioned only on 20 August (commissioning took long)."""
    _open(run)
    run("case", "fire", REF, "notify", "--as", "la.duty", "--field", "notification_date=2026-03-17",
        now="2026-03-18T10:00")
    run("case", "fire", REF, "submit_rapid_review", "--as", "p.hughes", "--field", "rapid_review_date=2026-04-08",
        "--field", "recommended_outcome=lcspr", now="2026-04-08T10:00")
    run("case", "fire", REF, "commission_lcspr", "--as", "p.hughes", "--field", "panel_response_date=2026-05-01",
        "--field", "decision_rationale=criteria met", "--field", "decision_date=2026-05-01", now="2026-05-01T10:00")
    run("case", "fire", REF, "commission", "--as", "a.khan", "--field", "lead_reviewer_appointed=yes",
        "--field", "terms_of_reference_date=2026-08-20", now="2026-08-20T10:00")


def _keys(run: Cli, prefix: str) -> list[str]:  # noqa: F811
    escalations = run.show(REF)["escalations"]
    assert isinstance(escalations, list)
    return [e["key"] for e in escalations if e["key"].startswith(prefix)]


def test_the_statutory_clocks_of_a_rapid_review(run: Cli) -> None:  # noqa: F811
    _open(run)
    shown = run.show(REF)
    # Notification: 5 working days from the awareness date, long gone when the case was opened.
    assert (shown["due_date"], shown["overdue"]) == ("2026-03-09", True)
    assert "OVERDUE by 5 working days" in run("case", "show", REF, now="2026-03-16T10:05").output
    # Its ladder fires on the next sweep.
    run("escalate", now="2026-03-16T10:05")
    assert _keys(run, "level-") == ["level-1"]

    # The rapid review: 15 working days from the notification date (17 March; Easter counted), not from the move.
    run("case", "fire", REF, "notify", "--as", "la.duty", "--field", "notification_date=2026-03-17",
        now="2026-03-18T10:00")
    assert run.show(REF)["due_date"] == "2026-04-09"


def test_the_lcspr_final_report_is_due_six_months_from_the_decision(run: Cli) -> None:  # noqa: F811
    _to_review(run)
    shown = run("case", "show", REF, "--json", now="2026-08-21").output
    # The stage's own limit (5 months from 20 August) is later than the milestone: 6 months from 1 May.
    import json

    data = json.loads(shown)
    assert data["due_date"] == "2027-01-20"
    assert data["deadline"] == {"what": "LCSPR final report", "milestone": "final_report", "due_date": "2026-11-01",
                                "overdue": False}
    assert "binding deadline: LCSPR final report due 2026-11-01" in run("case", "show", REF, now="2026-08-21").output
    assert "2026-11-01" in run("case", "list", "--workflow", RR, now="2026-08-21").output
    # The milestone's ladder climbs on its own, once each, whatever the stage's clock says.
    for _ in range(2):
        run("escalate", now="2026-11-02T09:00")
    assert _keys(run, "milestone-") == ["milestone-final_report-reminder", "milestone-final_report-level-1"]
    # Leaving the review forwards meets the milestone: no more of its levels.
    run("case", "fire", REF, "submit_final_report", "--as", "j.reid", "--field", "family_invited=yes",
        "--field", "report_date=2026-11-03", now="2026-11-03T10:00")
    run("escalate", now="2027-01-30T09:00")
    assert _keys(run, "milestone-") == ["milestone-final_report-reminder", "milestone-final_report-level-1"]
    assert run.show(REF)["deadline"] is None


def test_progress_checks_every_six_weeks_each_once(run: Cli) -> None:  # noqa: F811
    _to_review(run)
    # Nothing before six weeks in the review.
    run("escalate", now="2026-09-30T09:00")
    assert _keys(run, CHECK) == []
    for _ in range(3):
        run("escalate", now="2026-10-01T09:00")
    assert _keys(run, CHECK) == [f"{CHECK}-1"]
    run("case", "check", REF, "--outcome", "on_track", "--note", "sub-group minutes item 4", "--as", "d.osei",
        now="2026-10-02T10:00")
    for when in ("2026-11-12T09:00", "2026-11-12T10:00", "2026-12-24T09:00", "2026-12-24T09:30"):
        run("escalate", now=when)
    # Check 2 had no outcome: it escalated once; check 1 had one and did not.
    assert _keys(run, CHECK) == [f"{CHECK}-1", f"{CHECK}-2", f"{CHECK}-2-missed", f"{CHECK}-3"]
    history = run.show(REF)["history"]
    assert isinstance(history, list)
    recorded = [h for h in history if h["trigger"] == "progress_check"]
    assert [(h["fields"], h["note"]) for h in recorded] == [
        ({"check": "lcspr_progress", "occurrence": 1, "outcome": "on_track"}, "sub-group minutes item 4")]


def test_a_missed_check_escalates_to_the_board_chair_once(run: Cli) -> None:  # noqa: F811
    _to_review(run)
    run("escalate", now="2026-10-01T09:00")
    for _ in range(2):
        result = run("escalate", "--json", now="2026-10-15T09:00")
    assert _keys(run, CHECK) == [f"{CHECK}-1", f"{CHECK}-1-missed"]
    missed = [e for e in run.show(REF)["escalations"] if e["key"] == f"{CHECK}-1-missed"]  # type: ignore[union-attr]
    assert missed[0]["roles"] == ["board_chair"]
    assert missed[0]["recipients"] == ["p.hughes"]
    assert "no outcome recorded" in missed[0]["reason"]
    assert result.exit_code == 0


def test_recording_an_outcome_is_refused_clearly(run: Cli) -> None:  # noqa: F811
    _to_review(run)
    # Nothing has gone out yet.
    assert "no LCSPR progress checkpoint of RR-2026-050 is waiting for an outcome; the next is due on 2026-10-01" in (
        run.refused("case", "check", REF, "--outcome", "on_track", "--as", "d.osei", now="2026-09-01"))
    run("escalate", now="2026-10-01T09:00")
    # Only the sub-group chair records it.
    assert "needs one of the roles subgroup_chair" in run.refused(
        "case", "check", REF, "--outcome", "concerns", "--as", "j.reid", now="2026-10-02", status=5)
    assert run("case", "check", REF, "--outcome", "concerns", "--as", "d.osei", now="2026-10-02").output == (
        f"{REF}: LCSPR progress checkpoint 1 recorded as concerns\n")
    # Once recorded, it is not recorded again.
    assert "no LCSPR progress checkpoint of RR-2026-050 is waiting for an outcome; the next is due on 2026-11-12" in (
        run.refused("case", "check", REF, "--outcome", "on_track", "--as", "d.osei", now="2026-10-03"))
    assert "outcome 'maybe' is not one of on_track, concerns, off_track" in run.refused(
        "case", "check", REF, "--outcome", "maybe", "--as", "d.osei", now="2026-10-03")


def test_a_pause_stops_the_milestone_and_the_checks(run: Cli) -> None:  # noqa: F811
    _to_review(run)
    run("case", "pause", REF, "--reason", "criminal proceedings", "--as", "a.khan", now="2026-09-01T10:00")
    run("escalate", now="2026-10-01T09:00")
    assert _keys(run, CHECK) == []
    run("case", "resume", REF, "--as", "a.khan", now="2026-10-13T10:00")
    # The check that fell in the pause is skipped; the milestone moved on by the 42 days paused.
    data = run.show(REF)
    assert data["deadline"]["due_date"] == "2026-12-13"  # type: ignore[index]
    run("escalate", now="2026-11-12T09:00")
    assert _keys(run, CHECK) == [f"{CHECK}-2"]


def test_audit_verify_catches_an_outcome_changed_in_sql(run: Cli) -> None:  # noqa: F811
    _to_review(run)
    run("escalate", now="2026-10-01T09:00")
    run("case", "check", REF, "--outcome", "off_track", "--as", "d.osei", now="2026-10-02")
    assert run("audit", "verify").exit_code == 0
    engine = create_engine(run.url)
    with engine.begin() as c:
        c.execute(text("UPDATE case_history SET fields = :f WHERE trigger = 'progress_check'"),
                  {"f": '{"check": "lcspr_progress", "occurrence": 1, "outcome": "on_track"}'})
    engine.dispose()
    result = run("audit", "verify", ok=False)
    assert result.exit_code != 0
    assert REF in result.output + result.stderr


# --- validation: file and line ----------------------------------------------------------------------------------

def _problems(source: str) -> list[tuple[int | None, str]]:
    with pytest.raises(InvalidDefinition) as caught:
        parse_definition(source, "clocks.yaml")
    return [(p.line, p.message) for p in caught.value.problems]


def _line(source: str, needle: str) -> int:
    return next(i for i, line in enumerate(source.splitlines(), 1) if needle in line)


def test_the_shipped_rapid_review_declares_its_clocks() -> None:
    d = parse_definition((Path(__file__).parent.parent / "workflows" / f"{RR}.yaml").read_text("utf-8"))
    assert d.states["notification"].time_limit_from == "awareness_date"
    assert d.states["rapid_review"].time_limit_from == "notification_date"
    assert [(m.name, str(m.due), m.start_field) for m in d.milestones] == [("final_report", "6 months",
                                                                             "decision_date")]
    assert [(c.name, str(c.every), c.during) for c in d.progress_checks] == [("lcspr_progress", "6 weeks",
                                                                               ("lcspr_review",))]


CLOCKED = """name: clocked
title: Clocked
version: 1
roles:
  manager: Manager
  chair: Chair
open:
  roles: [manager]
  requires:
    note: {type: text}
initial: start
states:
  start:
    label: Start
    time_limit: {duration: 5 working days, from: FROM_FIELD}
    owner: manager
  review:
    label: Review
    owner: manager
  done:
    label: Done
    terminal: true
transitions:
  - trigger: begin
    from: start
    to: review
    roles: [manager]
    requires:
      decided_on: {type: date}
  - trigger: finish
    from: review
    to: done
    roles: [manager]
    requires:
      finished_on: {type: date}
"""


@pytest.mark.parametrize(("field", "message"), [
    ("nowhere", "unknown field 'nowhere': name a date field"),
    ("note", "field 'note' is a text field: a clock counts from a date field"),
    ("decided_on", "field 'decided_on' is not recorded on every way into state 'start'"),
])
def test_a_time_limit_from_a_field_is_checked(field: str, message: str) -> None:
    source = CLOCKED.replace("FROM_FIELD", field)
    [(line, found)] = _problems(source)
    assert line == _line(source, "time_limit:")
    assert found.startswith(message)


def test_milestones_and_progress_checks_are_checked() -> None:
    source = CLOCKED.replace("FROM_FIELD", "nowhere").replace(
        "    time_limit: {duration: 5 working days, from: nowhere}\n", "") + """milestones:
  report:
    due: 6 months
    from: finished_on
    during: [review, done]
    escalation:
      - after: 0 days
        notify: [owner]
progress_checks:
  progress:
    every: 6 weeks
    during: [review]
    notify: [chair]
    recorded_by: [sub_group]
    missed_after: 10 working days
"""
    found = _problems(source)
    messages = [m for _, m in found]
    assert any(m.startswith("state 'done' is terminal") for m in messages)
    assert any(m.startswith("field 'finished_on' is not recorded on every way into state 'review'") for m in messages)
    assert any("the milestone's owner, and it has none" in m for m in messages)
    assert any(m.startswith("role 'sub_group' is not declared") for m in messages)
    assert any(m.startswith("a missed check escalates to someone") for m in messages)
    assert (_line(source, "recorded_by: [sub_group]"), "role 'sub_group' is not declared under `roles`: declare it "
            "there or use one of: chair, manager") in found
    assert all(line is not None and line > 1 for line, _ in found)


def test_a_plain_time_limit_still_counts_from_entry() -> None:
    d = parse_definition(MINIMAL, "minimal.yaml")
    assert all(s.time_limit_from is None for s in d.states.values())


def test_the_board_report_and_the_timeline_show_the_milestone(run: Cli) -> None:  # noqa: F811
    _to_review(run)
    report = run("report", "board", "--format", "md", now="2026-11-05T10:00").output
    [row] = [line for line in report.splitlines() if line.startswith(f"| {REF} |")]
    assert "LCSPR final report binds | Overdue | 5 months | 2026-11-01 |" in row
    run("escalate", now="2026-10-01T09:00")
    run("case", "check", REF, "--outcome", "concerns", "--note", "minutes item 4", "--as", "d.osei",
        now="2026-10-02T10:00")
    timeline = run("case", "timeline", REF, now="2026-10-02T11:00").output
    assert "Notification: limit 5 working days from awareness_date, due 2026-03-09" in timeline
    assert "Rapid review: limit 15 working days from notification_date, due 2026-04-09" in timeline
    assert "LCSPR progress checkpoint 1 is due on 2026-10-01" in timeline
    assert "Progress check 1 (lcspr_progress): concerns" in timeline
    assert "progress check 1 (lcspr_progress): concerns" in run("case", "show", REF, now="2026-10-02T11:00").output


def test_the_case_page_form_and_the_api_record_an_outcome(run: Cli) -> None:  # noqa: F811
    _to_review(run)
    run("escalate", now="2026-10-01T09:00")
    rf = Reviewflow.connect(run.url, fixed_clock(datetime(2026, 10, 2, 9, 0, tzinfo=UTC)))
    try:
        for name in ("d.osei", "j.reid"):
            rf.set_password(None, name, PASSWORD)
        token = rf.create_token(Identity("j.reid"), "j.reid", "api", "write").secret
    finally:
        rf.db.dispose()
    with serving(run.url, now="2026-10-02T10:00") as base:
        # The lead reviewer may not record it through the API: 403, one line, nothing written.
        api = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"})
        shown = api.get(f"/api/v1/cases/{REF}")
        refused = api.post(f"/api/v1/cases/{REF}/progress-checks", json={"outcome": "on_track"},
                           headers={"If-Match": shown.headers["ETag"]})
        assert refused.status_code == 403
        assert "needs one of the roles subgroup_chair" in refused.json()["detail"]
        # The sub-group chair records it with the form on the case page, without JavaScript.
        chair = Person(base)
        assert chair.sign_in("d.osei").status_code == 303
        case_page = chair.get(f"/cases/{REF}").text
        assert "Binding deadline" in case_page
        assert "LCSPR final report" in case_page
        assert f'href="/cases/{REF}/check"' in case_page
        assert "(LCSPR final report)" in chair.get("/cases").text  # the list shows the binding deadline
        _, hidden = chair.form(f"/cases/{REF}/check")
        assert chair.post(f"/cases/{REF}/check", {"outcome": "concerns", "note": "minutes item 4"}).status_code == 403
        done = chair.post(f"/cases/{REF}/check", {**hidden, "outcome": "concerns", "note": "minutes item 4"})
        assert (done.status_code, done.headers["location"]) == (303, f"/cases/{REF}?done=checked")
        assert "Progress check outcome recorded" in chair.get(done.headers["location"]).text
        again = chair.post(f"/cases/{REF}/check", {**hidden, "outcome": "on_track"})
        assert again.status_code in (409, 422)
        api.close()
    recorded = [h for h in run.show(REF)["history"] if h["trigger"] == "progress_check"]  # type: ignore[union-attr]
    assert [(h["fields"]["outcome"], h["note"]) for h in recorded] == [("concerns", "minutes item 4")]


def _next_check(run: Cli) -> datetime | None:  # noqa: F811
    engine = create_engine(run.url)
    try:
        with engine.connect() as c:
            value = c.execute(text("SELECT next_check_at FROM cases WHERE ref = :ref"), {"ref": REF}).scalar()
    finally:
        engine.dispose()
    if value is None:
        return None
    found = datetime.fromisoformat(str(value)) if not isinstance(value, datetime) else value
    return found.replace(tzinfo=None)


def test_the_sweep_looks_again_at_the_earliest_of_every_clock(run: Cli) -> None:  # noqa: F811
    _to_review(run)
    # In the review: its first progress check (1 October, London midnight) comes before the stage's reminder.
    assert _next_check(run) == datetime(2026, 9, 30, 23, 0)
    run("case", "pause", REF, "--reason", "criminal proceedings", "--as", "a.khan", now="2026-09-01T10:00")
    assert _next_check(run) is None
    run("case", "resume", REF, "--as", "a.khan", now="2026-10-13T10:00")
    # The check of 1 October fell in the pause; the next is on 12 November.
    assert _next_check(run) == datetime(2026, 11, 12, 0, 0)
