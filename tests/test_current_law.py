"""The shipped workflows under Working Together 2023: a Serious Case Review is a legacy review type (a new one opens
only as a historical case, from the command line, the API and the web page alike; imports are unaffected; no
workflow may route to one), the independent scrutineer hears of every Board-level exception, the rapid review's
15 working days are a guidance expectation counted from the notification date, and a Domestic Homicide Review waits
on the Home Office Quality Assurance Panel."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from reviewflow.engine.core.access import Identity
from reviewflow.engine.core.clock import SteppingClock
from reviewflow.engine.core.errors import InvalidDefinition
from reviewflow.engine.core.legacy import LegacyWorkflow
from reviewflow.engine.core.parse import parse_definition
from reviewflow.engine.core.reports.annual_sections import annual_layout
from reviewflow.engine.services.escalation import Sweeper
from reviewflow.engine.services.facade import Reviewflow
from reviewflow.web.app import create_app
from reviewflow.workflows import shipped_catalogue

from tests.databases import Templates
from tests.served import _cookie
from tests.test_cli import Cli
from tests.test_learning import _init_with_people

ROOT = Path(__file__).resolve().parent.parent
WORKFLOWS = ROOT / "workflows"
REFUSAL = ("serious_case_review is a legacy review type (Working Together 2015, none commissioned since 2019): "
           "open a rapid_review_lcspr instead, or pass --legacy to record a historical case")
SCR_FIELDS = {"notifying_agency": "Police", "incident_date": "2026-01-02", "incident_type": "child_died"}
SCR_ARGS = [a for k, v in SCR_FIELDS.items() for a in ("--field", f"{k}={v}")]
PASSWORD = "correct horse battery staple"


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.fixture
def run(db_url: str, templates: Templates) -> Cli:
    templates.copy(db_url, "test_learning: init on 2026-01-05, PEOPLE added", _init_with_people)
    return Cli(db_url)


# --- a legacy review type ---------------------------------------------------------------------------------

def test_opening_an_scr_needs_legacy_and_the_refusal_names_the_replacement(run: Cli) -> None:
    assert run.refused("case", "open", "serious_case_review", "--ref", "SCR-2026-001", "--as", "la.duty",
                       *SCR_ARGS, now="2026-01-05T10:00") == f"Error: {REFUSAL}"
    assert json.loads(run("case", "list", "--json").output) == []
    run("case", "open", "serious_case_review", "--ref", "SCR-2026-001", "--as", "la.duty", *SCR_ARGS, "--legacy",
        now="2026-01-05T10:00")
    assert run.show("SCR-2026-001")["state"] == "notification"


def test_the_api_and_the_web_form_refuse_an_scr_without_the_flag(run: Cli, db_url: str) -> None:
    rf = Reviewflow.connect(db_url)
    try:
        token = rf.create_token(Identity("a.khan"), "a.khan", "open", "write", 30).secret
        client = TestClient(create_app(rf), base_url="http://127.0.0.1")
        headers = {"Authorization": f"Bearer {token}"}
        body = {"workflow": "serious_case_review", "ref": "SCR-2026-002", "fields": SCR_FIELDS}
        refused = client.post("/api/v1/cases", headers=headers, json=body)
        assert refused.status_code == 422
        assert refused.json()["detail"] == REFUSAL
        assert client.get("/api/v1/cases/SCR-2026-002", headers=headers).status_code == 404
        assert client.post("/api/v1/cases", headers=headers, json={**body, "legacy": True}).status_code == 201

        rf.set_password(None, "a.khan", PASSWORD)
        signed = client.post("/sign-in", data={"name": "a.khan", "password": PASSWORD}, follow_redirects=False)
        cookie = {"Cookie": f"rf_session={_cookie(signed, 'rf_session')}"}
        listed = client.get("/cases/new", headers=cookie).text
        current, legacy = listed.split("Legacy review types")
        assert "Rapid Review and Local Child Safeguarding Practice Review" in current
        assert "Serious Case Review" not in current
        assert "legacy (Working Together 2015), replaced by rapid_review_lcspr" in legacy
        form = client.get("/cases/new/serious_case_review", headers=cookie).text
        assert "I am recording a historical case of this legacy review type" in form
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', form)
        assert csrf is not None
        sent = {"csrf_token": csrf.group(1), "ref": "SCR-2026-003", **SCR_FIELDS}
        again = client.post("/cases/new/serious_case_review", headers=cookie, data=sent, follow_redirects=False)
        assert again.status_code == 422
        assert REFUSAL in again.text.replace("&#39;", "'")
        assert client.get("/api/v1/cases/SCR-2026-003", headers=headers).status_code == 404
        opened = client.post("/cases/new/serious_case_review", headers=cookie, follow_redirects=False,
                             data={**sent, "confirm_legacy": "yes"})
        assert (opened.status_code, opened.headers["location"]) == (303, "/cases/SCR-2026-003")
        page = client.get("/workflows/serious_case_review", headers=cookie).text
        assert "This review type is legacy (Working Together 2015), replaced by rapid_review_lcspr." in page
    finally:
        rf.db.dispose()


def test_the_service_refuses_and_writes_nothing(service: Reviewflow) -> None:
    service.add_user("la.duty", ["la_notifier"], "la@example.org")
    with pytest.raises(LegacyWorkflow, match=re.escape(REFUSAL)):
        service.open_case("serious_case_review", "SCR-1", "la.duty", SCR_FIELDS)
    assert service.cases() == []
    assert service.open_case("serious_case_review", "SCR-1", "la.duty", SCR_FIELDS, legacy=True).ref == "SCR-1"


def test_a_tracker_import_of_an_scr_needs_no_flag(tmp_path: Path) -> None:
    run = Cli(f"sqlite:///{tmp_path / 'tracker.db'}")
    run("init", now="2025-01-01")
    run("user", "add", "a.khan", "--role", "business_manager", now="2025-01-01")
    examples = ROOT / "docs" / "examples"
    rows = (examples / "tracker.csv").read_text("utf-8").splitlines()
    sheet = tmp_path / "tracker.csv"
    sheet.write_text("\n".join([rows[0], *(r for r in rows if r.startswith("SCR-"))]) + "\n", "utf-8")
    run("import", "tracker", str(sheet), "--mapping", str(examples / "tracker-mapping.yaml"), "--as", "a.khan",
        now="2026-03-02T09:00")
    assert run.show("SCR-2018-004")["workflow"] == "serious_case_review"


def test_workflow_list_and_show_mark_the_legacy_review_type(run: Cli) -> None:
    lines = run("workflow", "list").output.splitlines()
    scr = next(line for line in lines if line.startswith("serious_case_review"))
    assert scr.endswith("Serious Case Review - legacy (Working Together 2015), replaced by rapid_review_lcspr")
    assert not any("legacy" in line for line in lines if not line.startswith("serious_case_review"))
    listed = {w["name"]: w["legacy"] for w in json.loads(run("workflow", "list", "--json").output)}
    assert listed["serious_case_review"] == {"since": "2019-09-29", "replaced_by": "rapid_review_lcspr",
                                             "note": "Working Together 2015",
                                             "text": "legacy (Working Together 2015), replaced by rapid_review_lcspr"}
    assert listed["rapid_review_lcspr"] is None
    assert ("  legacy (Working Together 2015), replaced by rapid_review_lcspr: new cases only with --legacy"
            in run("workflow", "show", "serious_case_review").output.splitlines())


def test_validation_refuses_a_routing_to_a_legacy_workflow(run: Cli, tmp_path: Path) -> None:
    text = (WORKFLOWS / "multi_agency_review.yaml").read_text("utf-8")
    old = text.replace("options: [rapid_review_lcspr,", "options: [serious_case_review, rapid_review_lcspr,")
    path = tmp_path / "mar.yaml"
    path.write_text(old.replace("name: multi_agency_review", "name: local_review"), "utf-8")
    line = 1 + old[:old.index("options: [serious_case_review")].count("\n")
    expected = (f"{path}:{line}: transitions[2].requires.routed_to.options[0]: serious_case_review is a legacy "
                "review type (Working Together 2015): a routing may not open one; route to rapid_review_lcspr instead")
    checked = run("workflow", "validate", str(path), ok=False)
    assert checked.exit_code == 1
    assert expected in checked.output
    rf = Reviewflow.connect(run.url)
    try:
        with pytest.raises(InvalidDefinition, match=re.escape(expected.split(": ", 1)[1])):
            rf.load_workflow_file(path)
    finally:
        rf.db.dispose()
    with pytest.raises(InvalidDefinition, match="route to rapid_review_lcspr instead"):
        parse_definition(old, "mar.yaml", known=shipped_catalogue())


def test_legacy_replaced_by_must_name_a_current_workflow() -> None:
    text = (WORKFLOWS / "serious_case_review.yaml").read_text("utf-8")
    with pytest.raises(InvalidDefinition, match=r"legacy.replaced_by: unknown workflow 'rapid_review': name a "
                                                r"shipped or loaded workflow \(.*domestic_homicide_review, "):
        parse_definition(text.replace("replaced_by: rapid_review_lcspr", "replaced_by: rapid_review"), "scr.yaml",
                         known=shipped_catalogue())
    with pytest.raises(InvalidDefinition, match="serious_case_review cannot replace itself"):
        parse_definition(text.replace("replaced_by: rapid_review_lcspr", "replaced_by: serious_case_review"))
    for path in WORKFLOWS.glob("*.yaml"):
        assert "serious_case_review" not in path.read_text("utf-8") or path.name == "serious_case_review.yaml"


# --- the independent scrutineer -------------------------------------------------------------------------

def test_a_board_level_notice_goes_to_the_independent_scrutineer(service: Reviewflow, clock: SteppingClock) -> None:
    people = {"la.duty": "la_notifier", "a.khan": "business_manager", "d.osei": "subgroup_chair",
              "p.hughes": "board_chair", "lscp.board": "board", "i.scrutiny": "independent_scrutineer"}
    for name, role in people.items():
        service.add_user(name, [role], f"{name}@example.org")
    clock.now = at("2026-03-02T09:00")
    service.open_case("rapid_review_lcspr", "RR-1", "la.duty", {
        "notifying_agency": "Police", "incident_date": "2026-02-27", "incident_type": "child_died",
        "awareness_date": "2026-03-02"})
    service.fire("RR-1", "notify", "la.duty", {"notification_date": "2026-03-02"})
    clock.now = at("2026-06-30T09:00")
    fired = {f.key: f.recipients for f in Sweeper(service.ctx).sweep().fired if f.ref == "RR-1"}
    assert fired["level-3"] == ("lscp.board", "i.scrutiny")
    assert fired["level-2"] == ("d.osei",)
    report = service.board_report(actor=Identity("i.scrutiny", frozenset({"independent_scrutineer"})))
    assert [e.ref for e in report.exceptions] == ["RR-1"]


def test_lead_safeguarding_partners_sign_off_a_rapid_review(service: Reviewflow, clock: SteppingClock) -> None:
    service.add_user("la.duty", ["la_notifier"], "la@example.org")
    service.add_user("c.exec", ["lead_safeguarding_partner"], "ce@example.org")
    clock.now = at("2026-03-02T09:00")
    service.open_case("rapid_review_lcspr", "RR-2", "la.duty", {
        "notifying_agency": "Police", "incident_date": "2026-02-27", "incident_type": "child_died",
        "awareness_date": "2026-03-02"})
    service.fire("RR-2", "notify", "la.duty", {"notification_date": "2026-03-02"})
    moved = service.fire("RR-2", "submit_rapid_review", "c.exec", {"rapid_review_date": "2026-03-16",
                                                                   "recommended_outcome": "lcspr"})
    assert moved.state == "national_panel_response"


# --- the rapid review's 15 working days -----------------------------------------------------------------

def test_rapid_review_timeliness_counts_from_the_notification_date(service: Reviewflow,
                                                                   clock: SteppingClock) -> None:
    service.add_user("la.duty", ["la_notifier"], "la@example.org")
    service.add_user("p.hughes", ["board_chair"], "ph@example.org")
    clock.now = at("2026-03-02T09:00")
    service.open_case("rapid_review_lcspr", "RR-3", "la.duty", {
        "notifying_agency": "Police", "incident_date": "2026-02-20", "incident_type": "child_died",
        "awareness_date": "2026-02-23"})
    # Notified on Monday 23 February, recorded a week later: the 15 working days end on Monday 16 March.
    service.fire("RR-3", "notify", "la.duty", {"notification_date": "2026-02-23"})
    assert service.case("RR-3").due_date == "2026-03-16"
    clock.now = at("2026-03-18T09:00")  # within 15 working days of the recording, not of the notification
    service.fire("RR-3", "submit_rapid_review", "p.hughes", {"rapid_review_date": "2026-03-18",
                                                            "recommended_outcome": "lcspr"})
    clock.now = at("2026-12-31T12:00")
    report = service.annual_report("2026")
    assert report.rapid_reviews is not None
    assert (report.rapid_reviews.completed, report.rapid_reviews.within) == (1, 0)
    layout = annual_layout(report)
    text = json.dumps([layout.key_figures, [(s.title, s.intro) for s in layout.sections]])
    assert "statutory" not in text.replace("statutory timescales (e.g.", "")
    assert ("Rapid reviews completed within 15 working days of notification (an expectation of Working Together "
            "2023, counted from the notification date recorded): 0 of 1") in text
    assert "Timeliness against time limits" in text


# --- the Domestic Homicide Review and the Home Office ---------------------------------------------------

def test_a_dhr_waits_for_the_home_office_and_moves_on_when_approved(service: Reviewflow,
                                                                     clock: SteppingClock) -> None:
    for name, role in {"a.khan": "business_manager", "d.osei": "subgroup_chair", "c.sp": "csp_coordinator"}.items():
        service.add_user(name, [role], f"{name}@example.org")
    clock.now = at("2026-03-02T09:00")
    service.open_case("domestic_homicide_review", "DHR-1", "c.sp", {
        "community_safety_partnership": "Safer Borough CSP", "dhr_decision_date": "2026-01-10",
        "home_office_approved": "no"})
    service.fire("DHR-1", "refer_to_subgroup", "a.khan", {})
    moved = service.fire("DHR-1", "await_home_office", "d.osei", {"decision_rationale": "Learning for schools"})
    waiting = service.case("DHR-1")
    assert (moved.state, waiting.state_label, waiting.due_at) == (
        "home_office_qa", "Awaiting Home Office Quality Assurance Panel", None)
    clock.now = at("2026-09-30T09:00")
    assert [f for f in Sweeper(service.ctx).sweep().fired if f.ref == "DHR-1"] == []
    service.fire("DHR-1", "home_office_return", "c.sp", {"home_office_changes": "Clarify the chronology"})
    assert service.case("DHR-1").state == "csp_revision"
    service.fire("DHR-1", "resubmit_to_home_office", "c.sp", {"resubmission_date": "2026-10-05"})
    approved = service.fire("DHR-1", "home_office_approve", "c.sp", {"home_office_approval_date": "2026-11-02"})
    assert approved.state == "recommendations"
