"""The learning loop through the real CLI: recommendations, actions, evidence, escalation, embedding."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reviewflow.engine.core import expressions
from reviewflow.engine.core.errors import InvalidDefinition
from reviewflow.engine.core.learning import ActionFacts, summarise
from reviewflow.engine.core.parse import parse_definition

from tests.databases import Templates
from tests.test_cli import Cli, _fire

FIXTURES = Path(__file__).parent / "fixtures"
REF = "SCR-2026-010"
PEOPLE = {
    "la.duty": (["la_notifier"], None),
    "a.khan": (["business_manager"], None),
    "d.osei": (["subgroup_chair"], None),
    "p.hughes": (["board_chair"], None),
    "j.reid": (["lead_reviewer"], None),
    "lscp.board": (["board"], None),
    "m.patel": (["action_owner"], "Children's social care"),
    "p.officer": (["action_owner"], "Police"),
    "s.cole": (["agency_safeguarding_lead"], "Police"),
    "r.jones": (["agency_safeguarding_lead"], "Health"),
    "h.nurse": (["action_owner"], "Health"),
}


def _init_with_people(url: str) -> None:
    c = Cli(url)
    c("init", now="2026-01-05")
    for name, (roles, agency) in PEOPLE.items():
        c("user", "add", name, *[a for r in roles for a in ("--role", r)], "--email", f"{name}@example.org",
          *(["--agency", agency] if agency else []))


@pytest.fixture
def run(db_url: str, templates: Templates) -> Cli:
    """`init` on 5 January 2026 and PEOPLE added (a copy of a database built so once per process)."""
    templates.copy(db_url, "test_learning: init on 2026-01-05, PEOPLE added", _init_with_people)
    return Cli(db_url)


def _to_publication(run: Cli) -> None:
    """An SCR from notification to the Board's acceptance of the report (publication stage)."""
    run("case", "open", "serious_case_review", "--legacy", "--ref", REF, "--as", "la.duty",
        "--field", "notifying_agency=Police", "--field", "incident_date=2026-01-02",
        "--field", "incident_type=child_seriously_harmed", now="2026-01-05T10:00")
    steps = [
        ("notify", "la.duty", "2026-01-07", {"notification_date": "2026-01-07"}),
        ("recommend", "d.osei", "2026-01-16", {"subgroup_recommendation": "hold_scr", "subgroup_rationale": "r"}),
        ("hold_scr", "p.hughes", "2026-01-23", {"criteria_met": "yes", "decision_rationale": "met",
                                                 "decision_date": "2026-01-23"}),
        ("commission", "a.khan", "2026-02-13", {"lead_reviewer_appointed": "yes",
                                                 "terms_of_reference_date": "2026-02-13"}),
        ("agency_reports_received", "j.reid", "2026-03-20", {"agency_reports_date": "2026-03-20"}),
        ("engagement_complete", "j.reid", "2026-04-14", {"practitioner_event_date": "2026-04-10",
                                                          "family_invited": "yes"}),
        ("submit_final_report", "j.reid", "2026-05-11", {"report_date": "2026-05-11"}),
        ("accept_report", "lscp.board", "2026-05-28", {"board_acceptance_date": "2026-05-28"}),
    ]
    for trigger, actor, now, fields in steps:
        _fire(run, REF, trigger, actor, now, **fields)


PUBLISH = ("case", "fire", REF, "publish", "--as", "a.khan", "--field", "regulators_copied_date=2026-06-04",
           "--field", "publication_date=2026-06-15")


def _action_escalations(run: Cli, number: str) -> list[dict[str, object]]:
    return [e for e in run.show(REF)["escalations"] if e["state"] == f"action {number}"]  # type: ignore[index]


def _learning_state(run: Cli) -> dict[str, str]:
    return {a["number"]: a["status"] for r in run.show(REF)["recommendations"]  # type: ignore[union-attr]
            for a in r["actions"]}


def test_scr_learning_loop_end_to_end(run: Cli) -> None:
    _to_publication(run)
    # No recommendations yet: the move into `actions` is refused, naming the condition.
    assert "every_recommendation_has_actions: no recommendations recorded" in run.refused(*PUBLISH, now="2026-05-29")
    run("case", "recommend", REF, "--as", "a.khan", "--text", "Agencies share concerns about neglect at once",
        "--theme", "Neglect", "--theme", "information sharing", "--agency", "Police",
        "--agency", "Children's social care", now="2026-06-01")
    run("case", "recommend", REF, "--as", "a.khan", "--text", "Practitioners record the child's own words",
        "--theme", "voice of the child", "--agency", "Health", now="2026-06-01")
    assert "R1, R2 without actions" in run.refused(*PUBLISH, now="2026-06-02")
    for rec, agency, owner, due in [("R1", "Children's social care", "m.patel", "2026-09-30"),
                                    ("R1", "Police", "p.officer", "2026-07-31"),
                                    ("R2", "Health", "h.nurse", "2026-10-30")]:
        run("action", "add", REF, "--rec", rec, "--description", f"{agency} action", "--agency", agency,
            "--owner", owner, "--due", due, "--measure", "Re-audit shows change", "--as", "a.khan", now="2026-06-03")
    run(*PUBLISH, now="2026-06-15")
    assert run.show(REF)["state"] == "actions"
    refused = run.refused("case", "fire", REF, "actions_complete", "--as", "d.osei",
                          "--field", "actions_verified_date=2026-06-16", now="2026-06-16")
    assert "all_actions_verified: A1, A2, A3 not verified yet" in refused

    # A2 (Police, due 31 July) becomes overdue and climbs the ladder once per level.
    run("escalate", now="2026-07-31T23:00")
    assert _action_escalations(run, "A2") == []
    run("escalate", now="2026-08-01T06:00")
    run("escalate", now="2026-08-01T07:00")
    level1 = _action_escalations(run, "A2")
    assert [(e["level"], e["recipients"]) for e in level1] == [(1, ["p.officer"])]
    run("escalate", now="2026-08-13T06:00")
    assert len(_action_escalations(run, "A2")) == 1
    run("escalate", now="2026-08-14T06:00")
    assert [(e["level"], e["recipients"]) for e in _action_escalations(run, "A2")][1] == (2, ["s.cole"])
    run("escalate", now="2026-08-28T06:00")
    run("escalate", now="2026-08-29T06:00")
    climbed = _action_escalations(run, "A2")
    assert [(e["level"], e["recipients"]) for e in climbed] == [
        (1, ["p.officer"]), (2, ["s.cole"]), (3, ["d.osei"])]
    assert _action_escalations(run, "A1") == []
    overdue = json.loads(run("action", "list", "--overdue", "--json", now="2026-08-29").output)
    assert [(a["ref"], a["number"], a["owner_agency"]) for a in overdue] == [(REF, "A2", "Police")]
    outbox = json.loads(run("outbox", "list", "--ref", REF, "--json").output)
    assert sum(o["event"] == "action_overdue" and o["recipient"] == "s.cole" for o in outbox) == 1
    assert not any(o["recipient"] == "r.jones" and o["event"] == "action_overdue" for o in outbox)

    # Evidence: one piece rejected and resubmitted; verification needs accepted evidence and the sub-group.
    run("action", "evidence", REF, "A1", "--kind", "training_record", "--description", "Attendance list",
        "--link", "https://intranet.example/lscp/A1", "--as", "m.patel", now="2026-09-01")
    assert "needs one of the roles subgroup_chair" in run.refused("action", "verify", REF, "A1", "--as", "m.patel",
                                                                   now="2026-09-02", status=5)
    assert "no accepted evidence, so it cannot be verified: accept a piece first" in run.refused(
        "action", "verify", REF, "A1", "--as", "d.osei", now="2026-09-02")
    run("action", "reject", REF, "E1", "--reason", "Shows attendance, not a change in practice", "--as", "d.osei",
        now="2026-09-03")
    assert _learning_state(run)["A1"] == "in_progress"
    outbox = json.loads(run("outbox", "list", "--ref", REF, "--json").output)
    assert [o["recipient"] for o in outbox if o["event"] == "evidence_rejected"] == ["m.patel"]
    assert "no accepted evidence" in run.refused("action", "verify", REF, "A1", "--as", "d.osei", now="2026-09-04")
    run("action", "evidence", REF, "A1", "--kind", "audit_result", "--description", "Dip sample of 12 cases",
        "--link", "DOC-2026-118", "--as", "m.patel", now="2026-09-10")
    run("action", "accept", REF, "E2", "--as", "d.osei", now="2026-09-12")
    run("action", "verify", REF, "A1", "--as", "d.osei", now="2026-09-12")
    run("action", "evidence", REF, "A2", "--kind", "policy_change", "--description", "Referral policy v3",
        "--link", "POL-77", "--as", "p.officer", now="2026-09-12T10:00")
    run("action", "accept", REF, "E3", "--as", "d.osei", now="2026-09-12T11:00")
    run("action", "verify", REF, "A2", "--as", "d.osei", now="2026-09-12T11:00")
    run("action", "evidence", REF, "A3", "--kind", "data", "--description", "Voice recorded in 9 of 10 files",
        "--link", "DATA-3", "--as", "h.nurse", now="2026-10-01")
    run("action", "accept", REF, "E4", "--as", "d.osei", now="2026-10-02")
    run("action", "verify", REF, "A3", "--as", "d.osei", now="2026-10-02")
    assert _learning_state(run) == {"A1": "verified", "A2": "verified", "A3": "verified"}
    run("case", "fire", REF, "actions_complete", "--as", "d.osei", "--field", "actions_verified_date=2026-10-05",
        now="2026-10-05")

    # Closing needs every action embedded (or closed with a reason) and the learning disseminated.
    close = ("case", "fire", REF, "confirm_embedded", "--as", "d.osei", "--field", "impact_evidence=Re-audit")
    refused = run.refused(*close, now="2026-10-06")
    assert "all_actions_embedded: A1, A2, A3 not embedded yet" in refused
    assert "condition 'dissemination.count > 0' does not hold" in refused
    assert "before action A1 was verified" in run.refused(
        "action", "evaluate", REF, "A1", "--method", "re_audit", "--date", "2026-09-01", "--finding", "x",
        "--as", "d.osei", now="2027-01-15")
    for number, method in [("A1", "re_audit"), ("A2", "survey")]:
        run("action", "evaluate", REF, number, "--method", method, "--date", "2027-01-10",
            "--finding", "Practice changed in 11 of 12 cases", "--as", "d.osei", now="2027-01-15")
        run("action", "update", REF, number, "--status", "embedded", "--as", "d.osei", now="2027-01-15")
    assert "needs a reason" in run.refused("action", "update", REF, "A3", "--status", "superseded",
                                           "--as", "a.khan", now="2027-01-16")
    run("action", "update", REF, "A3", "--status", "superseded", "--reason", "Replaced by the neglect strategy",
        "--as", "a.khan", now="2027-01-16")
    refused = run.refused(*close, now="2027-01-18")
    assert "all_actions_embedded" not in refused
    assert "dissemination.count > 0" in refused
    run("case", "disseminate", REF, "--kind", "briefing", "--audience", "GP practice safeguarding leads",
        "--date", "2027-01-20", "--as", "a.khan", now="2027-01-20")
    run(*close, now="2027-01-25")
    case = run.show(REF)
    assert case["state"] == "closed"
    assert case["is_open"] is False
    assert _learning_state(run) == {"A1": "embedded", "A2": "embedded", "A3": "superseded"}
    assert [d["kind"] for d in case["dissemination"]] == ["briefing"]  # type: ignore[index]
    triggers = [h["trigger"] for h in case["history"]]  # type: ignore[index]
    assert triggers.count("evidence_reject") == 1
    assert triggers.count("action_verify") == 3
    text = run("case", "show", REF).output
    assert "R1   Agencies share concerns about neglect at once  [neglect, information sharing]" in text
    assert "E1   training_record        rejected: Shows attendance, not a change in practice" in text
    # Closed cases take no more learning records.
    assert "is closed" in run.refused("case", "recommend", REF, "--text", "late", "--as", "a.khan", now="2027-02-01")


def test_action_listing_filters_and_refusals(run: Cli) -> None:
    _to_publication(run)
    run("case", "recommend", REF, "--as", "a.khan", "--text", "Share concerns", "--theme", "neglect",
        now="2026-06-01")
    run("case", "recommend", REF, "--as", "a.khan", "--text", "Hear the child", "--theme", "voice of the child",
        now="2026-06-01")
    run("action", "add", REF, "--rec", "R1", "--description", "Police action", "--agency", "Police",
        "--due", "2026-07-31", "--as", "a.khan", now="2026-06-02")
    run("action", "add", REF, "--rec", "r2", "--description", "Health action", "--agency", "Health",
        "--owner", "h.nurse", "--due", "2026-08-31", "--as", "a.khan", now="2026-06-02")
    by_theme = json.loads(run("action", "list", "--theme", "Voice of the Child", "--json").output)
    assert [a["number"] for a in by_theme] == ["A2"]
    by_agency = json.loads(run("action", "list", "--agency", "police", "--json").output)
    assert [a["number"] for a in by_agency] == ["A1"]
    listed = run("action", "list", REF).output.splitlines()
    assert listed[0].split()[:3] == ["Case", "Action", "Description"]
    assert listed[1].split()[1:4] == ["A1", "Police", "action"]
    assert run.refused("action", "add", REF, "--rec", "R9", "--description", "x", "--agency", "Police",
                       "--due", "2026-07-31", "--as", "a.khan", now="2026-06-03", status=3) == (
        f"Error: case {REF} has no recommendation R9; it has: R1, R2 (add one with "
        f"'reviewflow case recommend {REF}')")
    assert "'31/02/2026' is not a date" in run.refused(
        "action", "add", REF, "--rec", "R1", "--description", "x", "--agency", "Police", "--due", "31/02/2026",
        "--as", "a.khan", now="2026-06-03")
    assert "no user" in run.refused("action", "add", REF, "--rec", "R1", "--description", "x", "--agency",
                                    "Police", "--owner", "nobody", "--due", "2026-07-31", "--as", "a.khan",
                                    now="2026-06-03", status=3).lower()
    assert "needs one of the roles" in run.refused("case", "recommend", REF, "--text", "x", "--as", "p.hughes",
                                                   now="2026-06-03", status=5)
    # An agency's action owner does not see a case their agency takes no part in: it is not found.
    assert "no case with reference" in run.refused("case", "recommend", REF, "--text", "x", "--as", "m.patel",
                                                   now="2026-06-03", status=3)
    assert "unknown evidence kind 'photo'" in run.refused(
        "action", "evidence", REF, "A2", "--kind", "photo", "--description", "x", "--link", "y", "--as", "h.nurse",
        now="2026-06-03")
    assert "becomes verified through its own step" in run.refused(
        "action", "update", REF, "A2", "--status", "verified", "--as", "a.khan", now="2026-06-03")
    # An action's owner may update and evidence it; another agency's owner may not.
    run("action", "update", REF, "A2", "--status", "in_progress", "--as", "h.nurse", now="2026-06-04")
    assert "or be the action's owner" in run.refused("action", "update", REF, "A2", "--status", "in_progress",
                                                     "--as", "p.hughes", now="2026-06-04", status=5)
    # Nothing half-written by the refusals: two actions, two learning history rows per action at most.
    assert [a["number"] for a in json.loads(run("action", "list", REF, "--json").output)] == ["A1", "A2"]


def test_a_new_due_date_does_not_restart_the_climb(run: Cli) -> None:
    _to_publication(run)
    run("case", "recommend", REF, "--as", "a.khan", "--text", "Share concerns", now="2026-06-01")
    run("action", "add", REF, "--rec", "R1", "--description", "Police action", "--agency", "Police",
        "--owner", "p.officer", "--due", "2026-07-31", "--as", "a.khan", now="2026-06-02")
    run("escalate", now="2026-08-03T06:00")
    assert len(_action_escalations(run, "A1")) == 1
    run("action", "update", REF, "A1", "--due", "2026-09-30", "--reason", "awaiting training dates",
        "--as", "a.khan", now="2026-08-04")
    run("escalate", now="2026-08-14T06:00")
    assert [e["key"] for e in _action_escalations(run, "A1")] == [
        "action-A1-2026-07-31-level-1", "action-A1-2026-07-31-level-2"]


# --- definitions: expression guards are checked when the definition is validated -----------------

MINIMAL = (FIXTURES / "minimal.yaml").read_text("utf-8")


def _with_when(when: str) -> str:
    """minimal.yaml with the `close` transition's condition replaced by `when`."""
    old = "    when: {fields_present: [report_date]}\n"
    assert old in MINIMAL
    return MINIMAL.replace(old, f"    when: {when}\n")


def _problems(text: str) -> list[str]:
    with pytest.raises(InvalidDefinition) as info:
        parse_definition(text, "f.yaml")
    return [str(p) for p in info.value.problems]


def test_a_cel_syntax_error_is_reported_with_its_location() -> None:
    text = _with_when('"actions.count >"')
    line = text.splitlines().index('    when: "actions.count >"') + 1
    assert _problems(text) == [
        f"f.yaml:{line}: transitions[2].when: syntax error at column 15 in expression 'actions.count >': "
        "write it in CEL, e.g. 'actions.overdue == 0 && has_recommendations'"]


@pytest.mark.parametrize(("when", "message"), [
    ('"actions.overdu == 0"', "actions has no 'overdu'; use one of: count, open, overdue"),
    ('"recomendations.count > 0"', "unknown name 'recomendations'; the case view has: actions, all_actions_embedded"),
    ('"fields.report_dat != \'\'"', "unknown field 'report_dat' in fields.report_dat; declared fields:"),
    ('"exec(1)"', "unknown function 'exec'"),
    ('[has_recommendations, "size(themes) > 0 &&"]', "syntax error at column"),
])
def test_cel_names_are_checked_against_the_case_view(when: str, message: str) -> None:
    problems = _problems(_with_when(when))
    assert len(problems) == 1
    assert message in problems[0]
    assert ": transitions[2].when" in problems[0]


def test_valid_cel_guards_and_learning_rules_load() -> None:
    d = parse_definition(_with_when('[has_recommendations, "actions.overdue == 0 && days_in_stage >= 0", '
                                    '"themes.exists(t, t == \'neglect\')"]'), "f.yaml")
    assert [c.name for c in d.transitions[2].when] == ["has_recommendations", "expression", "expression"]
    assert d.learning.manage == d.open.roles
    assert d.action_ladder == d.escalation


def test_learning_roles_must_be_declared() -> None:
    text = MINIMAL.replace("\nnotify:", "\nlearning:\n  verify: [panel]\nnotify:", 1)
    problems = _problems(text)
    assert len(problems) == 1
    assert "learning.verify[0]: role 'panel' is not declared under `roles`" in problems[0]


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=60))
def test_any_expression_text_is_accepted_or_refused_with_a_problem(text: str) -> None:
    try:
        expressions.check(text, {"has_recommendations"}, {"decision"})
    except expressions.ExpressionProblem as exc:
        problem = str(exc)
    else:
        problem = ""
    if problem:
        return
    result = expressions.evaluate(text, {"state": "x", "days_in_stage": 1, "fields": {"decision": "a"},
                                         "recommendations": {"count": 0, "with_actions": 0, "without_actions": 0},
                                         "actions": {k: 0 for k in expressions._MEMBERS["actions"]},
                                         "evidence": {"count": 0, "submitted": 0, "accepted": 0, "rejected": 0},
                                         "dissemination": {"count": 0}, "themes": [],
                                         "has_recommendations": False})
    assert result in (True, False) or isinstance(result, str)


def test_summary_counts_gaps_and_overdue() -> None:
    acts = [ActionFacts("A1", "in_progress", date(2026, 3, 1), None, "R1"),
            ActionFacts("A2", "verified", date(2026, 1, 1), None, "R1"),
            ActionFacts("A3", "superseded", date(2026, 1, 1), None, "R2")]
    summary = summarise(["R1", "R2", "R3"], acts, {"accepted": 2}, 1, ["neglect", "neglect"], date(2026, 3, 2))
    assert summary.without_actions == ("R2", "R3")
    assert summary.overdue == ("A1",)
    view = summary.view()
    assert view["actions"]["open"] == 2
    assert view["actions"]["verified"] == 1
    assert view["evidence"] == {"count": 2, "submitted": 0, "accepted": 2, "rejected": 0}
    assert view["themes"] == ["neglect"]
