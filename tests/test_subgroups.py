"""Sub-groups of the partnership: workflows and cases belong to one, a role can be held for one only, and
notices, verification rights, sight of a case and the work lists follow the sub-group; through the real CLI and
API on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient
from sqlalchemy import text

from reviewflow.cli import cli
from reviewflow.engine.core.access import Identity
from reviewflow.engine.core.clock import fixed_clock
from reviewflow.engine.core.errors import InvalidDefinition
from reviewflow.engine.core.notices import Recipient, within_subgroup
from reviewflow.engine.core.parse import parse_definition
from reviewflow.engine.core.subgroups import describe, roles_for
from reviewflow.engine.services.facade import Reviewflow
from reviewflow.web.app import create_app

from tests.conftest import ADMIN
from tests.databases import Templates
from tests.test_cli import Cli, _fire

WORKFLOWS = Path(__file__).parent.parent / "workflows"
REF = "SCR-2026-020"
PEOPLE: dict[str, tuple[list[str], str | None, str | None]] = {
    "la.duty": (["la_notifier"], None, None),
    "a.khan": (["business_manager"], None, None),
    "cr.chair": (["subgroup_chair"], None, "case_review"),
    "au.chair": (["subgroup_chair"], None, "audit"),
    "p.hughes": (["board_chair"], None, None),
    "j.reid": (["lead_reviewer"], None, None),
    "lscp.board": (["board"], None, None),
    "p.officer": (["action_owner"], "Police", None),
    "s.cole": (["agency_safeguarding_lead"], "Police", None),
}
"""cr.chair chairs the case review sub-group and au.chair the audit sub-group; nobody holds subgroup_chair for
the whole partnership."""


def _init_with_chairs(url: str) -> None:
    c = Cli(url)
    c("init", now="2026-01-05")
    for name, (roles, agency, subgroup) in PEOPLE.items():
        c("user", "add", name, "--role", "referrer", "--email", f"{name}@example.org",
          *(["--agency", agency] if agency else []))
        c("user", "grant", name, *[a for r in roles for a in ("--role", r)],
          *(["--subgroup", subgroup] if subgroup else []))
        c("user", "change", name, "--revoke", "referrer")


@pytest.fixture
def run(db_url: str, templates: Templates) -> Cli:
    """`init` on 5 January 2026 and PEOPLE added (a copy of a database built so once per process)."""
    templates.copy(db_url, "test_subgroups: init on 2026-01-05, two sub-group chairs", _init_with_chairs)
    return Cli(db_url)


def _sql(url: str, statement: str, **params: object) -> None:
    rf = Reviewflow.connect(url)
    try:
        with rf.db.engine.begin() as conn:
            conn.execute(text(statement), params)
    finally:
        rf.db.dispose()


def _outbox(run: Cli, ref: str = REF) -> list[dict[str, Any]]:
    return json.loads(run("outbox", "list", "--ref", ref, "--json").output)  # type: ignore[no-any-return]


def _told(run: Cli, event: str, role: str = "subgroup_chair") -> set[str]:
    return {o["recipient"] for o in _outbox(run) if o["event"] == event and o["role"] == role}


def _to_actions(run: Cli) -> None:
    """An SCR (a case review workflow) from notification to its `actions` stage, the case review chair deciding,
    with Police action A1 due 31 July 2026."""
    run("case", "open", "serious_case_review", "--legacy", "--ref", REF, "--as", "la.duty",
        "--field", "notifying_agency=Police", "--field", "incident_date=2026-01-02",
        "--field", "incident_type=child_seriously_harmed", now="2026-01-05T10:00")
    steps = [
        ("notify", "la.duty", "2026-01-07", {"notification_date": "2026-01-07"}),
        ("recommend", "cr.chair", "2026-01-16", {"subgroup_recommendation": "hold_scr", "subgroup_rationale": "r"}),
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
    run("case", "recommend", REF, "--as", "a.khan", "--text", "Share concerns", "--agency", "Police",
        now="2026-06-01")
    run("action", "add", REF, "--rec", "R1", "--description", "Police action", "--agency", "Police",
        "--owner", "p.officer", "--due", "2026-07-31", "--as", "a.khan", now="2026-06-02")


# --- the done-when test --------------------------------------------------------------------------------

def test_the_audit_chair_hears_nothing_of_a_case_review_case_and_cannot_verify_its_actions(
        run: Cli, db_url: str) -> None:
    _to_actions(run)
    shown = run.show(REF)
    assert shown["subgroup"] == "case_review"
    assert "sub-group: case_review" in run("case", "show", REF).output

    # The move into the sub-group's consideration tells the case review chair, not the audit chair.
    assert _told(run, "entered_state") == {"cr.chair"}

    # The overdue action climbs its ladder: the level for the sub-group chair reaches the case review chair only.
    run("escalate", now="2026-11-02T06:00")
    assert _told(run, "action_overdue") == {"cr.chair"}
    escalated = [e for e in shown_escalations(run) if "subgroup_chair" in e["roles"]]
    assert escalated
    assert all("au.chair" not in e["recipients"] for e in escalated)
    assert any("cr.chair" in e["recipients"] for e in escalated)

    # Evidence accepted by the case review chair; the audit chair cannot verify the action: the case is outside
    # their view, so it is not found (exit 3), through the CLI and the API alike.
    run("action", "evidence", REF, "A1", "--kind", "policy_change", "--description", "Referral policy v3",
        "--link", "POL-77", "--as", "p.officer", now="2026-11-03")
    assert _told(run, "evidence_submitted") == {"cr.chair"}  # the evidence awaits the case review chair
    work = Reviewflow.connect(db_url, fixed_clock(datetime(2026, 11, 3, 12, tzinfo=UTC)))
    try:  # the evidence awaits the case review chair's decision, not the audit chair's
        assert [(e.action.ref, e.evidence.number) for e in work.my_work(Identity("cr.chair")).evidence] == [(REF, "E1")]
        assert work.my_work(Identity("au.chair")).evidence == []
    finally:
        work.db.dispose()
    run("action", "accept", REF, "E1", "--as", "cr.chair", now="2026-11-04")
    refused = run.refused("action", "verify", REF, "A1", "--as", "au.chair", now="2026-11-05", status=3)
    assert refused == f"Error: no case with reference '{REF}': check it with 'reviewflow case list'"
    rf = Reviewflow.connect(db_url, fixed_clock(datetime(2026, 11, 5, 10, tzinfo=UTC)))
    try:
        client = TestClient(create_app(rf), base_url="http://127.0.0.1")
        token = rf.create_token(Identity("au.chair"), "au.chair", "audit chair", "write", 30).secret
        headers = {"Authorization": f"Bearer {token}"}
        assert client.get(f"/api/v1/cases/{REF}", headers=headers).status_code == 404
        answer = client.post(f"/api/v1/cases/{REF}/actions/A1/verify", headers={**headers, "If-Match": '"r99"'},
                             json={})
        assert answer.status_code == 404, answer.text
        assert REF not in [c["ref"] for c in client.get("/api/v1/cases", headers=headers).json()["items"]]
        cr_token = rf.create_token(Identity("cr.chair"), "cr.chair", "case review chair", "write", 30).secret
        cr = {"Authorization": f"Bearer {cr_token}"}
        assert [c["subgroup"] for c in client.get("/api/v1/cases", headers=cr).json()["items"]] == ["case_review"]
    finally:
        rf.db.dispose()
    assert json.loads(run("case", "list", "--as", "au.chair", "--json").output) == []
    assert run.show(REF)["recommendations"][0]["actions"][0]["status"] != "verified"  # type: ignore[index]

    # The case review chair may.
    run("action", "verify", REF, "A1", "--as", "cr.chair", now="2026-11-05")
    assert run.show(REF)["recommendations"][0]["actions"][0]["status"] == "verified"  # type: ignore[index]


def shown_escalations(run: Cli) -> list[dict[str, Any]]:
    return list(run.show(REF)["escalations"])  # type: ignore[call-overload]


def test_a_role_held_for_another_sub_group_does_not_move_a_case(run: Cli, db_url: str) -> None:
    run("case", "open", "serious_case_review", "--legacy", "--ref", REF, "--as", "la.duty",
        "--field", "notifying_agency=Police", "--field", "incident_date=2026-01-02",
        "--field", "incident_type=child_seriously_harmed", now="2026-01-05T10:00")
    _fire(run, REF, "notify", "la.duty", "2026-01-07", notification_date="2026-01-07")
    args = ("case", "fire", REF, "recommend", "--field", "subgroup_recommendation=hold_scr",
            "--field", "subgroup_rationale=r")
    run.refused(*args, "--as", "au.chair", now="2026-01-08", status=3)
    # The stage the sub-group chair owns is in the case review chair's work, not the audit chair's.
    rf = Reviewflow.connect(db_url, fixed_clock(datetime(2026, 1, 8, 10, tzinfo=UTC)))
    try:
        assert [v.ref for v in rf.my_work(Identity("cr.chair")).stages] == [REF]
        assert rf.my_work(Identity("au.chair")).stages == []
    finally:
        rf.db.dispose()
    run(*args, "--as", "cr.chair", now="2026-01-08")
    assert run.show(REF)["state"] != "subgroup_consideration"


# --- a case given another sub-group, sealed in its history ------------------------------------------------

def test_a_case_opened_in_another_sub_group_belongs_to_it_and_audit_verify_checks_it(run: Cli, db_url: str) -> None:
    run("case", "open", "serious_case_review", "--legacy", "--ref", REF, "--as", "la.duty", "--subgroup", "audit",
        "--field", "notifying_agency=Police", "--field", "incident_date=2026-01-02",
        "--field", "incident_type=child_seriously_harmed", now="2026-01-05T10:00")
    assert run.show(REF)["subgroup"] == "audit"
    assert [c["ref"] for c in json.loads(run("case", "list", "--as", "au.chair", "--json").output)] == [REF]
    assert json.loads(run("case", "list", "--as", "cr.chair", "--json").output) == []
    assert "-" not in run("case", "show", REF).output.split("sub-group:")[1].splitlines()[0]
    history = run.show(REF)["history"]
    assert "@subgroup" not in history[0]["fields"]  # type: ignore[index]

    refused = run.refused("case", "open", "serious_case_review", "--legacy", "--ref", "SCR-2026-021", "--as", "la.duty",
                          "--subgroup", "practice", "--field", "notifying_agency=Police",
                          "--field", "incident_date=2026-01-02", "--field", "incident_type=child_died",
                          now="2026-01-05T11:00", status=3)
    assert "there is no sub-group 'practice': add it with 'reviewflow subgroup add practice --title TITLE'" in refused
    run.refused("case", "show", "SCR-2026-021", status=3)  # nothing half-written

    assert run("audit", "verify").exit_code == 0
    _sql(db_url, "update cases set subgroup = 'case_review' where ref = :r", r=REF)
    found = run("audit", "verify", ok=False)
    assert found.exit_code == 1
    assert f"ALTERED {REF} case sub-group: is case_review but its history says audit" in found.output


# --- roles held for one sub-group -------------------------------------------------------------------------

def test_a_scoped_grant_is_sealed_shown_revoked_and_checked_by_audit_verify(run: Cli, db_url: str) -> None:
    listed = {u["name"]: u["roles"] for u in json.loads(run("user", "list", "--json").output)}
    assert listed["au.chair"] == ["subgroup_chair@audit"]
    assert listed["cr.chair"] == ["subgroup_chair@case_review"]
    assert "subgroup_chair@audit" in next(line for line in run("user", "list").output.splitlines()
                                          if line.startswith("au.chair"))
    events = json.loads(run("audit", "log", "--json").output)
    grant = next(e for e in events if e["action"] == "user.grant" and e["target"] == "au.chair")
    assert grant["details"] == {"roles": ["subgroup_chair@audit"], "subgroup": "audit"}

    refused = run.refused("user", "grant", "a.khan", "--role", "subgroup_chair", "--subgroup", "practice", status=3)
    assert "there is no sub-group 'practice'" in refused
    assert "is not usable" in run.refused("user", "grant", "a.khan", "--role", "subgroup_chair",
                                          "--subgroup", "Case Review")

    run("user", "grant", "au.chair", "--role", "subgroup_chair", "--subgroup", "case_review")
    out = run("user", "change", "au.chair", "--revoke", "subgroup_chair", "--subgroup", "audit").output
    assert "subgroup_chair@case_review" in out
    assert "subgroup_chair@audit" not in out
    assert "does not hold subgroup_chair@audit" in run.refused("user", "change", "au.chair", "--revoke",
                                                               "subgroup_chair", "--subgroup", "audit")
    assert run("audit", "verify").exit_code == 0

    # A scoped role widened to the whole partnership with plain SQL is found.
    _sql(db_url, "update user_roles set role = 'subgroup_chair' where role = 'subgroup_chair@case_review' and "
                 "user_id = (select id from users where name = 'cr.chair')")
    found = run("audit", "verify", ok=False)
    assert found.exit_code == 1
    assert ("ALTERED user cr.chair users roles: are subgroup_chair but the administration log says "
            "subgroup_chair@case_review") in found.output


# --- the register of sub-groups ---------------------------------------------------------------------------

def test_init_registers_the_sub_groups_the_shipped_workflows_name_and_administrators_keep_the_register(
        run: Cli) -> None:
    names = [(g["name"], g["title"]) for g in json.loads(run("subgroup", "list", "--json").output)]
    assert names == [("audit", "Audit sub-group"), ("case_review", "Case review sub-group")]
    added = [e for e in json.loads(run("audit", "log", "--json").output) if e["action"] == "subgroup.add"]
    assert {e["target"] for e in added} == {"audit", "case_review"}

    assert run("subgroup", "add", "practice", "--title", "Practice sub-group").output.strip() == \
        "added sub-group practice: Practice sub-group"
    assert "already exists" in run.refused("subgroup", "add", "practice", "--title", "Again", status=1)
    assert "is not usable" in run.refused("subgroup", "add", "Practice Group", "--title", "x")
    run("subgroup", "rename", "case_review", "--title", "Case review and practice learning sub-group")
    assert "case_review              Case review and practice learning sub-group" in run("subgroup", "list").output
    assert "there is no sub-group 'nothing'" in run.refused("subgroup", "rename", "nothing", "--title", "x",
                                                             status=3)
    rf = Reviewflow.connect(run.url)
    try:
        token = rf.create_token(Identity("a.khan"), "a.khan", "sub-group tests", "write").secret
    finally:
        rf.db.dispose()
    env = {"REVIEWFLOW_USER": None, "REVIEWFLOW_NOW": None, "REVIEWFLOW_TOKEN": token}
    refused = CliRunner().invoke(cli, ["--db", run.url, "subgroup", "add", "other", "--title", "Other"], env=env)
    assert refused.exit_code == 5
    assert refused.stderr.strip() == "Error: adding sub-groups is for administrators; a.khan is not one: ask an " \
        "administrator"
    # Anyone signed in may list them.
    assert "practice" in CliRunner().invoke(cli, ["--db", run.url, "subgroup", "list"], env=env).output

    # The register is checked against the administration log.
    assert run("audit", "verify").exit_code == 0
    _sql(run.url, "update subgroups set title = 'Audits' where name = 'audit'")
    _sql(run.url, "insert into subgroups (name, title, created_at) values ('shadow', 'Shadow', '2026-01-05 09:00:00')")
    found = run("audit", "verify", ok=False)
    assert found.exit_code == 1
    assert ("ALTERED sub-group audit subgroups title: is 'Audits' but the administration log says 'Audit sub-group'"
            in found.output)
    assert "sub-group shadow subgroups registration: is not in the administration log" in found.output


def test_the_api_lists_adds_and_renames_sub_groups_and_grants_a_scoped_role(run: Cli, db_url: str) -> None:
    rf = Reviewflow.connect(db_url, fixed_clock(datetime(2026, 1, 6, 10, tzinfo=UTC)))
    try:
        client = TestClient(create_app(rf), base_url="http://127.0.0.1")
        admin = {"Authorization": "Bearer " + rf.create_token(Identity(ADMIN), ADMIN, "a", "write", 30).secret}
        other = {"Authorization": "Bearer " + rf.create_token(Identity("a.khan"), "a.khan", "b", "write", 30).secret}
        assert [g["name"] for g in client.get("/api/v1/subgroups", headers=other).json()] == ["audit", "case_review"]
        assert client.post("/api/v1/subgroups", headers=other, json={"name": "x", "title": "X"}).status_code == 403
        made = client.post("/api/v1/subgroups", headers=admin, json={"name": "practice", "title": "Practice"})
        assert made.status_code == 201, made.text
        assert made.json()["title"] == "Practice"
        renamed = client.patch("/api/v1/subgroups/practice", headers=admin, json={"title": "Practice sub-group"})
        assert renamed.json()["title"] == "Practice sub-group"
        assert client.patch("/api/v1/subgroups/none", headers=admin, json={"title": "x"}).status_code == 404
        granted = client.patch("/api/v1/users/a.khan", headers=admin,
                               json={"grant": ["subgroup_chair"], "subgroup": "practice"})
        assert granted.status_code == 200, granted.text
        assert "subgroup_chair@practice" in granted.json()["roles"]
        revoked = client.patch("/api/v1/users/a.khan", headers=admin,
                               json={"revoke": ["subgroup_chair"], "subgroup": "practice"})
        assert "subgroup_chair@practice" not in revoked.json()["roles"]
        assert client.patch("/api/v1/users/a.khan", headers=admin,
                            json={"grant": ["subgroup_chair"], "subgroup": "nowhere"}).status_code == 404
    finally:
        rf.db.dispose()


# --- the definition key -----------------------------------------------------------------------------------

def test_a_misused_subgroup_key_is_refused_with_its_file_and_line() -> None:
    source = (WORKFLOWS / "thematic_review.yaml").read_text(encoding="utf-8")
    line = next(n for n, text_line in enumerate(source.splitlines(), 1) if text_line.startswith("subgroup:"))
    broken = source.replace("subgroup: case_review", "subgroup: Case Review", 1)
    with pytest.raises(InvalidDefinition) as caught:
        parse_definition(broken, "thematic_review.yaml")
    assert f"thematic_review.yaml:{line}" in str(caught.value)
    assert "subgroup" in str(caught.value)
    assert parse_definition(source, "thematic_review.yaml").subgroup == "case_review"


def test_every_shipped_workflow_names_its_sub_group() -> None:
    found = {p.stem: parse_definition(p.read_text(encoding="utf-8"), p.name).subgroup
             for p in sorted(WORKFLOWS.glob("*.yaml"))}
    assert found == {"domestic_homicide_review": "case_review", "multi_agency_case_audit": "audit",
                     "multi_agency_review": "case_review", "rapid_review_lcspr": "case_review",
                     "section_11_audit": "audit", "section_175_audit": "audit", "serious_case_review": "case_review",
                     "single_agency_audit_review": "audit", "thematic_review": "case_review",
                     "annual_report": "audit", "performance_report": "audit", "child_death_learning": "case_review",
                     "inspection_action_plan": "audit", "risk_register": "audit"}


# --- the pure rules ------------------------------------------------------------------------------------------

def test_the_roles_that_count_on_a_case_and_who_is_told() -> None:
    held = {"business_manager", "subgroup_chair@audit", "board_chair@case_review"}
    assert roles_for(held, "audit") == {"business_manager", "subgroup_chair"}
    assert roles_for(held, "case_review") == {"business_manager", "board_chair"}
    assert roles_for(held, None) == {"business_manager"}
    assert describe("subgroup_chair@audit") == "subgroup_chair (audit sub-group only)"
    everyone = Recipient("all", None)
    cr, au = Recipient("cr", None), Recipient("au", None)
    directory = {"subgroup_chair": [everyone], "subgroup_chair@case_review": [cr], "subgroup_chair@audit": [au]}
    assert within_subgroup(directory, "case_review") == {"subgroup_chair": [everyone, cr]}
    assert within_subgroup(directory, None) == {"subgroup_chair": [everyone]}


# --- the pages ---------------------------------------------------------------------------------------------

def test_the_pages_show_a_case_s_sub_group_and_the_scope_of_a_role(run: Cli, db_url: str) -> None:
    run("case", "open", "serious_case_review", "--legacy", "--ref", REF, "--as", "la.duty",
        "--field", "notifying_agency=Police", "--field", "incident_date=2026-01-02",
        "--field", "incident_type=child_seriously_harmed", now="2026-01-05T10:00")
    rf = Reviewflow.connect(db_url, fixed_clock(datetime(2026, 1, 6, 10, tzinfo=UTC)))
    try:
        password = "correct horse battery staple"
        for name in (ADMIN, "cr.chair", "au.chair"):
            rf.set_password(None, name, password)
        pages: dict[str, str] = {}
        for name, path in ((ADMIN, "/admin/users"), (ADMIN, "/admin/users/au.chair"), ("cr.chair", f"/cases/{REF}"),
                           ("cr.chair", "/cases"), ("au.chair", f"/cases/{REF}")):
            client = TestClient(create_app(rf, secure_cookies=False), base_url="http://127.0.0.1")
            assert client.post("/api/v1/session", json={"name": name, "password": password}).status_code == 200
            answer = client.get(path)
            pages[f"{name} {path}"] = f"{answer.status_code} {answer.text}"
    finally:
        rf.db.dispose()
    assert "subgroup chair (audit sub-group only)" in pages[f"{ADMIN} /admin/users"]
    assert "subgroup chair (case review sub-group only)" in pages[f"{ADMIN} /admin/users"]
    assert "subgroup chair (audit sub-group only)" in pages[f"{ADMIN} /admin/users/au.chair"]
    case_page = pages[f"cr.chair /cases/{REF}"]
    assert case_page.startswith("200 ")
    assert re.search(r"Sub-group</dt>\s*<dd[^>]*>case review</dd>", case_page)
    assert "case review" in pages["cr.chair /cases"]
    assert pages[f"au.chair /cases/{REF}"].startswith("404 ")
