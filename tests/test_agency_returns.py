"""Agencies' returns on a case (a Section 11 audit's twelve agencies, a Section 175 audit's schools): requests,
returns and excuses through the real CLI and API, a late return climbing its own agency's ladder once, the stage
that waits for every return, the Board report's table and `audit verify` rebuilding the returns; on SQLite and
PostgreSQL."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text

from reviewflow.engine.core.access import Identity
from reviewflow.engine.core.clock import fixed_clock
from reviewflow.engine.core.errors import InvalidDefinition
from reviewflow.engine.core.parse import parse_definition
from reviewflow.engine.services.facade import Reviewflow
from reviewflow.web.app import create_app

from tests.databases import Templates
from tests.test_cli import Cli

FIXTURES = Path(__file__).parent / "fixtures"
LONDON = ZoneInfo("Europe/London")
REF = "S11-2026"
AGENCIES = ("Police", "Health", "Children's social care", "Education", "Early years", "Adult social care",
            "Public health", "Mental health services", "Ambulance service", "Probation service",
            "Youth justice service", "Housing")
"""Twelve of the partners `reviewflow init` registers."""
LATE = ("Health", "Housing")


def _lead(agency: str) -> str:
    return "lead." + agency.split()[0].lower().replace("'s", "")


def _init(url: str) -> None:
    c = Cli(url)
    c("init", now="2026-01-05")
    c("settings", "set", "backdate-window", "off")
    c("user", "add", "s.lewis", "--role", "audit_lead", "--email", "s.lewis@example.org")
    c("user", "add", "a.khan", "--role", "business_manager", "--email", "a.khan@example.org")
    c("user", "add", "d.osei", "--role", "subgroup_chair", "--email", "d.osei@example.org")
    c("user", "add", "t.ng", "--role", "school_lead", "--agency", "Education", "--email", "t.ng@example.org")
    for agency in AGENCIES:
        c("user", "add", _lead(agency), "--role", "agency_safeguarding_lead", "--agency", agency,
          "--email", f"{_lead(agency)}@example.org")


@pytest.fixture
def run(db_url: str, templates: Templates) -> Cli:
    """`init` on 5 January 2026, an audit lead, a business manager, a sub-group chair and a safeguarding lead for
    each of twelve agencies."""
    templates.copy(db_url, "test_agency_returns: init, twelve agencies' leads", _init)
    return Cli(db_url)


def _open_s11(run: Cli) -> None:
    run("case", "open", "section_11_audit", "--ref", REF, "--as", "s.lewis", "--field", "audit_scope=full",
        "--field", "issue_date=2026-01-05", "--field", "agencies_included=twelve partners", now="2026-01-05T10:00")


def _requested(run: Cli) -> None:
    """The audit issued on 5 January 2026 to twelve agencies (due 8 weeks on: 2 March); ten return on time."""
    _open_s11(run)
    args = [a for agency in AGENCIES for a in ("--agency", agency)]
    out = run("case", "request", REF, *args, "--as", "s.lewis", now="2026-01-05T10:05").output
    assert "due 2026-03-02" in out
    for agency in AGENCIES:
        if agency not in LATE:
            run("case", "return", REF, "--agency", agency, "--as", _lead(agency), now="2026-02-20T10:00")


def _returns(run: Cli, now: str) -> dict[str, dict[str, object]]:
    listed = json.loads(run("case", "returns", REF, "--json", "--as", "s.lewis", now=now).output)
    return {r["agency"]: r for r in listed}


def _late_notices(run: Cli) -> list[dict[str, object]]:
    rows = json.loads(run("outbox", "list", "--ref", REF, "--json").output)
    return [r for r in rows if r["event"] == "return_late"]


def _return_escalations(run: Cli) -> list[str]:
    return [str(e["key"]) for e in run.show(REF)["escalations"]  # type: ignore[union-attr]
            if str(e["key"]).startswith("return-")]


def _board(run: Cli, now: str) -> str:
    return run("report", "board", "--from", "2026-01-01", "--to", now[:10], "--format", "md", now=now).output


def test_two_late_of_twelve_escalate_to_their_own_leads_and_hold_the_stage(run: Cli) -> None:
    _requested(run)
    returns = _returns(run, "2026-03-03T09:00")
    assert len(returns) == 12
    assert sorted(a for a, r in returns.items() if r["status"] == "late") == sorted(LATE)
    assert all(r["status"] == "returned" for a, r in returns.items() if a not in LATE)

    swept = run("escalate", now="2026-03-03T06:00")
    assert "(1 case(s), 2 late return(s) checked)" in swept.stderr
    notices = _late_notices(run)
    assert sorted({str(n["recipient"]) for n in notices if n["channel"] == "email"}) == sorted(
        _lead(a) for a in LATE)
    assert sorted(_return_escalations(run)) == ["return-health-level-1", "return-housing-level-1"]
    # The notice carries the reference, the agency, the due date and a link: nothing else about the case.
    health = next(n for n in notices if n["recipient"] == _lead("Health"))
    payload = health["payload"]
    assert isinstance(payload, dict)
    assert (payload["ref"], payload["agency"], payload["due_date"]) == (REF, "Health", "2026-03-02")
    assert "link" in payload  # the case's page (when a web address is configured)
    assert "twelve partners" not in json.dumps(payload)

    # Sweeping again, the same day or the next, fires nothing more.
    before = len(_late_notices(run))
    run("escalate", now="2026-03-03T07:00")
    run("escalate", now="2026-03-04T06:00")
    assert len(_late_notices(run)) == before
    assert len(_return_escalations(run)) == 2

    # The stage cannot move on: the refusal names the two agencies, and only them.
    refused = run.refused("case", "fire", REF, "returns_received", "--as", "s.lewis", now="2026-03-04T10:00")
    assert "returns outstanding from Health, Housing" in refused
    assert "Police" not in refused
    assert run.show(REF)["state"] == "returns"

    board = _board(run, "2026-03-04T10:00")
    assert "Agency returns" in board
    assert f"| Health | {REF} | Section 11 Self-Assessment Audit | 2026-01-05 | 2026-03-02 | late | 2 |" in board
    assert f"| Housing | {REF} | Section 11 Self-Assessment Audit | 2026-01-05 | 2026-03-02 | late | 2 |" in board
    assert "| Police | S11" not in board

    # One comes in (marked by its own lead), one is excused with a reason: the stage moves on.
    run("case", "return", REF, "--agency", "Health", "--as", _lead("Health"), now="2026-03-05T10:00")
    refused = run.refused("case", "fire", REF, "returns_received", "--as", "s.lewis", now="2026-03-05T10:05")
    assert "returns outstanding from Housing" in refused
    run("case", "excuse", REF, "--agency", "Housing", "--reason", "housing's audit deferred to the themed cycle",
        "--as", "s.lewis", now="2026-03-05T10:10")
    run("case", "fire", REF, "returns_received", "--as", "s.lewis", now="2026-03-05T10:15")
    assert run.show(REF)["state"] == "challenge_panel"
    after = _returns(run, "2026-03-05T11:00")
    assert after["Health"]["status"] == "returned"
    assert after["Health"]["returned_on"] == "2026-03-05"
    assert after["Housing"]["status"] == "excused"
    assert after["Housing"]["reason"] == "housing's audit deferred to the themed cycle"
    assert "No agency return is outstanding." in _board(run, "2026-03-05T11:00")
    # Resolved returns climb no further.
    run("escalate", now="2026-03-20T06:00")
    assert len(_return_escalations(run)) == 2
    assert "ok:" in run("audit", "verify").output


def test_a_late_return_climbs_to_the_subgroup_chair_once(run: Cli) -> None:
    _requested(run)
    run("escalate", now="2026-03-03T06:00")
    run("escalate", now="2026-03-16T06:00")  # 10 working days after 2 March
    run("escalate", now="2026-03-17T06:00")
    keys = sorted(_return_escalations(run))
    assert keys == ["return-health-level-1", "return-health-level-2", "return-housing-level-1",
                    "return-housing-level-2"]
    chair = [n for n in _late_notices(run) if n["recipient"] == "d.osei" and n["channel"] == "email"]
    assert len(chair) == 2
    out = run("escalate", "--json", now="2026-03-18T06:00").output
    assert json.loads(out)["fired"] == []
    assert json.loads(out)["returns"] == 0


def test_who_may_request_mark_in_and_excuse(run: Cli) -> None:
    _open_s11(run)
    refused = run.refused("case", "request", REF, "--agency", "Police", "--as", "d.osei", now="2026-01-05T10:01",
                          status=5)
    assert "requesting returns on S11-2026 needs one of the roles audit_lead, business_manager" in refused
    # Before its return is asked for, an agency's lead does not see the audit at all.
    run.refused("case", "returns", REF, "--as", _lead("Police"), now="2026-01-05T10:01", status=3)
    refused = run.refused("case", "request", REF, "--agency", "Polise", "--as", "s.lewis", now="2026-01-05T10:02")
    assert "Police" in refused  # the nearest registered name is offered
    refused = run.refused("case", "request", REF, "--agency", "Children’s social care", "--as", "s.lewis",
                          now="2026-01-05T10:02")
    assert "Children's social care" in refused  # a look-alike spelling is refused, the register's offered
    run("case", "request", REF, "--agency", "police", "--agency", "Health", "--due", "2026-02-27",
        "--as", "a.khan", now="2026-01-05T10:03")
    refused = run.refused("case", "request", REF, "--agency", "Police", "--as", "s.lewis", now="2026-01-05T10:04")
    assert "Police's return was already requested (it is requested, due 2026-02-27)" in refused
    # Another agency's lead may not mark Police's return in; Police's own lead may.
    refused = run.refused("case", "return", REF, "--agency", "Police", "--as", _lead("Health"),
                          now="2026-01-06T10:00", status=5)
    assert "as a member of Police" in refused
    run("case", "return", REF, "--agency", "Police", "--date", "2026-01-06", "--as", _lead("Police"),
        now="2026-01-06T10:01")
    refused = run.refused("case", "return", REF, "--agency", "Police", "--as", "s.lewis", now="2026-01-06T10:02")
    assert "Police's return is already returned" in refused
    # Excusing is the audit's managers' decision, and needs a reason.
    refused = run.refused("case", "excuse", REF, "--agency", "Health", "--reason", "none due", "--as",
                          _lead("Health"), now="2026-01-06T10:03", status=5)
    assert "excusing Health's return" in refused
    refused = run.refused("case", "excuse", REF, "--agency", "Health", "--reason", "  ", "--as", "s.lewis",
                          now="2026-01-06T10:04")
    assert "give the reason the return is excused with --reason" in refused
    refused = run.refused("case", "return", REF, "--agency", "Housing", "--as", "s.lewis", now="2026-01-06T10:05",
                          status=3)
    assert "no return was requested of Housing" in refused
    shown = run("case", "returns", REF, "--as", "s.lewis", now="2026-01-07T09:00")
    assert "Police" in shown.output
    assert "returned 2026-01-06" in shown.output
    assert "2 return(s) requested, 1 outstanding, 0 late" in shown.stderr
    # Requested agencies take part in the case: their people can see it.
    assert json.loads(run("case", "show", REF, "--json", "--as", _lead("Health")).output)["ref"] == REF
    history = [h["trigger"] for h in run.show(REF)["history"]]  # type: ignore[union-attr]
    assert history == ["open", "return_request", "return_in"]
    timeline = run("case", "timeline", REF, now="2026-01-07T09:00").output
    assert "Returns requested of Police, Health, due 2026-02-27" in timeline
    assert "Return of Police in (2026-01-06)" in timeline


def test_the_api_enforces_the_same_rules(run: Cli, db_url: str) -> None:
    _open_s11(run)
    rf = Reviewflow.connect(db_url, fixed_clock(datetime(2026, 1, 6, 9, tzinfo=LONDON)))
    try:
        tokens = {n: rf.create_token(Identity(n), n, "returns", "write", 30).secret
                  for n in ("s.lewis", _lead("Police"), _lead("Health"))}
        client = TestClient(create_app(rf), base_url="http://127.0.0.1")

        def headers(who: str) -> dict[str, str]:
            found = {"Authorization": f"Bearer {tokens[who]}"}
            found["If-Match"] = client.get(f"/api/v1/cases/{REF}", headers=found).headers["ETag"]
            return found

        asked = client.post(f"/api/v1/cases/{REF}/returns", headers=headers("s.lewis"),
                            json={"agencies": ["Police", "Health"], "due": "2026-02-27"})
        assert asked.status_code == 201, asked.text
        assert {r["agency"]: r["status"] for r in asked.json()} == {"Health": "requested", "Police": "requested"}
        stale = client.post(f"/api/v1/cases/{REF}/returns/Police/in", json={},
                            headers={**headers(_lead("Police")), "If-Match": '"r1"'})
        assert stale.status_code == 412
        other = client.post(f"/api/v1/cases/{REF}/returns/Police/in", headers=headers(_lead("Health")), json={})
        assert other.status_code == 403
        assert "as a member of Police" in other.json()["detail"]
        marked = client.post(f"/api/v1/cases/{REF}/returns/Police/in", headers=headers(_lead("Police")), json={})
        assert marked.status_code == 200, marked.text
        excused = client.post(f"/api/v1/cases/{REF}/returns/Health/excuse", headers=headers("s.lewis"),
                              json={"reason": "no health-commissioned services this cycle"})
        assert excused.status_code == 200, excused.text
        listed = client.get(f"/api/v1/cases/{REF}/returns", headers={"Authorization": f"Bearer {tokens['s.lewis']}"})
        assert {r["agency"]: r["status"] for r in listed.json()} == {"Health": "excused", "Police": "returned"}
        rf.set_password(None, "s.lewis", "correct horse battery staple")
        browser = TestClient(create_app(rf, secure_cookies=False), base_url="http://127.0.0.1")
        signed_in = browser.post("/sign-in", data={"name": "s.lewis", "password": "correct horse battery staple"},
                                 follow_redirects=False)
        assert signed_in.status_code == 303, signed_in.text
        page = browser.get(f"/cases/{REF}")
        assert page.status_code == 200
        assert "Agency returns" in page.text
        assert "no health-commissioned services this cycle" in page.text
    finally:
        rf.db.dispose()


def test_schools_are_the_agencies_of_a_section_175_audit(run: Cli) -> None:
    school = "St Mary's CE Primary School"
    run("agency", "add", school)
    run("user", "add", "dsl.stmarys", "--role", "school_lead", "--agency", school, "--email", "dsl@example.org")
    run("case", "open", "section_175_audit", "--ref", "S175-2026", "--as", "s.lewis", "--field",
        "academic_year=2026-27", "--field", "issue_date=2026-09-01", now="2026-09-01T10:00")
    run("case", "request", "S175-2026", "--agency", school, "--agency", "Education", "--as", "s.lewis",
        now="2026-09-01T10:05")
    run("escalate", now="2026-10-28T06:00")  # 8 weeks on: both late; each school's own lead is told
    rows = json.loads(run("outbox", "list", "--ref", "S175-2026", "--json").output)
    told = {(r["payload"]["agency"], r["recipient"]) for r in rows if r["event"] == "return_late"
            and r["channel"] == "email"}
    assert told == {(school, "dsl.stmarys"), ("Education", "t.ng")}
    refused = run.refused("case", "fire", "S175-2026", "returns_received", "--as", "s.lewis",
                          now="2026-10-28T10:00")
    assert f"returns outstanding from Education, {school}" in refused
    run("case", "return", "S175-2026", "--agency", school, "--as", "dsl.stmarys", now="2026-10-28T10:01")
    run("case", "excuse", "S175-2026", "--agency", "Education", "--reason", "the local authority's own return",
        "--as", "s.lewis", now="2026-10-28T10:02")
    run("case", "fire", "S175-2026", "returns_received", "--as", "s.lewis", now="2026-10-28T10:03")
    assert run.show("S175-2026")["state"] == "analysis"


def test_audit_verify_rebuilds_the_returns_from_the_sealed_history(run: Cli, db_url: str) -> None:
    _requested(run)
    run("case", "excuse", REF, "--agency", "Housing", "--reason", "deferred", "--as", "s.lewis",
        now="2026-03-03T10:00")
    assert run("audit", "verify").exit_code == 0
    engine = create_engine(db_url)
    try:
        with engine.begin() as conn:
            conn.execute(text("UPDATE agency_returns SET status = 'returned', returned_on = due_date "
                              "WHERE agency = 'Health'"))
            conn.execute(text("DELETE FROM agency_returns WHERE agency = 'Police'"))
            conn.execute(text("UPDATE agency_returns SET due_date = requested_on WHERE agency = 'Housing'"))
    finally:
        engine.dispose()
    result = run("audit", "verify", ok=False)
    assert result.exit_code != 0
    out = result.output + result.stderr
    assert ("return of Health: is returned, due 2026-03-02, returned 2026-03-02 but its history says requested, "
            "due 2026-03-02") in out
    assert "return of Police: is in its history but missing: deleted outside reviewflow" in out
    assert "return of Housing: is excused, due 2026-01-05 but its history says excused, due 2026-03-02" in out


MINIMAL = (FIXTURES / "minimal.yaml").read_text("utf-8")


def _problems(source: str) -> list[str]:
    with pytest.raises(InvalidDefinition) as caught:
        parse_definition(source, "returns.yaml")
    return [str(p) for p in caught.value.problems]


def test_validation_names_file_and_line() -> None:
    guarded = MINIMAL.replace("    when: {fields_present: [report_date]}", "    when: [all_returns_in]")
    found = _problems(guarded)
    assert any(p.startswith("returns.yaml:47: transitions[2].when: condition 'all_returns_in' needs the workflow "
                            "to ask agencies for returns") for p in found), found
    bad = guarded + ("returns:\n  due: 8 weeks\n  manage: [audit_lead]\n  escalation:\n"
                     "    - {after: 10 working days, notify: [owner]}\n"
                     "    - {after: 5 working days, notify: [subgroup_chair]}\n")
    found = _problems(bad)
    assert any(p.startswith("returns.yaml:62: returns.manage[0]: role 'audit_lead' is not declared") for p in found), \
        found
    assert any(p.startswith("returns.yaml:64: returns.escalation[0].notify[0]: a return has no owner")
               for p in found), found
    assert any(p.startswith("returns.yaml:65: returns.escalation[1].after: levels must climb") for p in found), found
    found = _problems(MINIMAL + "returns:\n  due: eight weeks\n")
    assert any(p.startswith("returns.yaml:61: returns.due:") for p in found), found
    good = parse_definition(guarded + "returns:\n  due: 20 working days\n", "returns.yaml")
    assert good.returns is not None
    assert str(good.returns.due) == "20 working days"


def test_case_show_lists_the_returns(run: Cli) -> None:
    _requested(run)
    out = run("case", "show", REF, "--as", "s.lewis", now="2026-03-03T09:00").output.splitlines()
    start = out.index("  returns:")
    shown = out[start + 1:start + 13]
    assert len(shown) == 12
    health = next(line for line in shown if line.strip().startswith("Health "))
    assert health.split()[1:3] == ["late", "asked"]
    assert "due 2026-03-02" in health
    police = next(line for line in shown if line.strip().startswith("Police "))
    assert "returned 2026-02-20" in police
    assert [r["agency"] for r in run.show(REF)["returns"]][:1]  # type: ignore[index]
