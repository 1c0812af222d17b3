"""Linked cases and parallel processes: routing a rapid review opens (or links) the case of the review type it
names; a DHR and an LCSPR can be linked as a joint review and unlinked, each with a reason; both cases show the
link in `case show`, the JSON, the API and the case page; audit verify rebuilds links from the sealed history; and
a rapid review closed as no further action keeps following its immediate actions to embedding. Through the real
CLI (and API) on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from reviewflow.engine.core.access import Identity
from reviewflow.engine.core.clock import fixed_clock
from reviewflow.engine.core.errors import InvalidDefinition, NotPermitted
from reviewflow.engine.core.parse import parse_definition
from reviewflow.engine.services.facade import Reviewflow
from reviewflow.web.app import create_app

from tests.databases import Templates
from tests.served import _cookie
from tests.test_cli import Cli
from tests.test_learning import _init_with_people

WORKFLOWS = Path(__file__).parent.parent / "workflows"
RR = "RR-2026-004"
PASSWORD = "correct horse battery staple"


@pytest.fixture
def run(db_url: str, templates: Templates) -> Cli:
    """`init` on 5 January 2026 with the people of the learning tests (board chair p.hughes, business manager
    a.khan, local authority notifier la.duty, action owner p.officer of the Police...)."""
    templates.copy(db_url, "test_learning: init on 2026-01-05, PEOPLE added", _init_with_people)
    return Cli(db_url)


def _fire(run: Cli, ref: str, trigger: str, actor: str, now: str, **fields: str) -> Any:
    return run("case", "fire", ref, trigger, "--as", actor,
               *[a for k, v in fields.items() for a in ("--field", f"{k}={v}")], now=now)


def _rapid_review_at_panel(run: Cli, ref: str = RR) -> None:
    """A rapid review notified, signed off and sent to the national Panel (awaiting its reply)."""
    run("case", "open", "rapid_review_lcspr", "--ref", ref, "--as", "la.duty", "--field", "notifying_agency=Police",
        "--field", "incident_date=2026-01-02", "--field", "incident_type=child_seriously_harmed",
        "--field", "awareness_date=2026-01-05", now="2026-01-05T10:00")
    _fire(run, ref, "notify", "la.duty", "2026-01-06", notification_date="2026-01-06")
    _fire(run, ref, "submit_rapid_review", "p.hughes", "2026-01-20", rapid_review_date="2026-01-20",
          recommended_outcome="other_learning")


ROUTE = {"panel_response_date": "2026-02-02", "decision_rationale": "Learning is for one multi-agency review"}


def _links(run: Cli, ref: str) -> list[tuple[str, str]]:
    return [(k["other"], k["kind"]) for k in run.show(ref)["links"]]  # type: ignore[union-attr]


def _history(run: Cli, ref: str) -> list[dict[str, Any]]:
    return run.show(ref)["history"]  # type: ignore[return-value]


def test_routing_opens_the_new_case_and_both_show_the_link(run: Cli) -> None:
    _rapid_review_at_panel(run)
    _fire(run, RR, "route", "p.hughes", "2026-02-02", **ROUTE, routed_to="multi_agency_review",
          review_criteria_considered="yes")
    new = f"{RR}-MAR"
    opened = run.show(new)
    assert (opened["workflow"], opened["state"]) == ("multi_agency_review", "referral")
    # Carried over: the notifying agency becomes the referring agency (`carry`); the answer given with the route.
    assert opened["fields"] == {"referring_agency": "Police", "review_criteria_considered": True}
    assert _links(run, RR) == [(new, "routed_to")]
    assert _links(run, new) == [(RR, "routed_from")]
    shown = run("case", "show", RR).output
    assert f"linked:   routed to {new} (multi_agency_review, referral)" in shown
    assert f"linked:   routed from {RR} (rapid_review_lcspr, routed)" in run("case", "show", new).output
    # Each link is in both cases' sealed history, and the record verifies.
    assert [(h["trigger"], h["fields"]) for h in _history(run, RR)][-1] == (
        "link", {"other": new, "kind": "routed_to"})
    assert [(h["trigger"], h["fields"]) for h in _history(run, new)] == [
        ("open", {"referring_agency": "Police", "review_criteria_considered": True}),
        ("link", {"other": RR, "kind": "routed_from"})]
    assert f"LINK           Linked: routed to {new}" in run("case", "timeline", RR).output
    assert run("audit", "verify").output.startswith("ok: ")


def test_routing_to_an_existing_case_links_it(run: Cli) -> None:
    run("case", "open", "multi_agency_review", "--ref", "MAR-2026-001", "--as", "a.khan",
        "--field", "referring_agency=Health", "--field", "review_criteria_considered=no", now="2026-01-20")
    _rapid_review_at_panel(run)
    _fire(run, RR, "route", "p.hughes", "2026-02-02", **ROUTE, routed_to="multi_agency_review",
          routed_case="MAR-2026-001")
    assert _links(run, RR) == [("MAR-2026-001", "routed_to")]
    assert _links(run, "MAR-2026-001") == [(RR, "routed_from")]
    assert "routed_case" not in run.show(RR)["fields"]  # type: ignore[operator]
    listed = json.loads(run("case", "list", "--json").output)
    assert sorted(c["ref"] for c in listed) == ["MAR-2026-001", RR]  # nothing else was opened


def test_routing_refuses_with_nothing_written_when_the_new_case_lacks_fields(run: Cli) -> None:
    _rapid_review_at_panel(run)
    before = run.show(RR)
    line = run.refused("case", "fire", RR, "route", "--as", "p.hughes", "--field", "panel_response_date=2026-02-02",
                       "--field", "decision_rationale=r", "--field", "routed_to=thematic_review", now="2026-02-02")
    assert line == ("Error: route opens a thematic_review case, which needs theme (text), theme_source (choice: "
                    "board_priority, case_reviews, audits, performance_data, inspection, national_learning, "
                    f"routed_case) that {RR} does not have: add --field theme=... --field theme_source=... to the "
                    "route, or link an existing case with --field routed_case=REF; nothing was written")
    after = run.show(RR)
    assert (after["state"], after["revision"], len(after["history"])) == (  # type: ignore[arg-type]
        before["state"], before["revision"], len(before["history"]))  # type: ignore[arg-type]
    assert [c["ref"] for c in json.loads(run("case", "list", "--json").output)] == [RR]
    # Routing to a case of another workflow, or to one that does not exist, is refused too.
    run("case", "open", "thematic_review", "--ref", "TR-1", "--as", "a.khan", "--field", "theme=neglect",
        "--field", "theme_source=routed_case", now="2026-02-02")
    line = run.refused("case", "fire", RR, "route", "--as", "p.hughes", "--field", "panel_response_date=2026-02-02",
                       "--field", "decision_rationale=r", "--field", "routed_to=multi_agency_review",
                       "--field", "routed_case=TR-1", now="2026-02-02")
    assert "TR-1 is a thematic_review case, not multi_agency_review" in line
    assert run.refused("case", "fire", RR, "route", "--as", "p.hughes", "--field", "panel_response_date=2026-02-02",
                       "--field", "decision_rationale=r", "--field", "routed_to=multi_agency_review",
                       "--field", "routed_case=MAR-404", now="2026-02-02", status=3).startswith(
        "Error: no case with reference 'MAR-404'")
    assert run.show(RR)["state"] == "national_panel_response"


def _dhr(run: Cli, ref: str = "DHR-2026-001") -> None:
    run("case", "open", "domestic_homicide_review", "--ref", ref, "--as", "a.khan",
        "--field", "community_safety_partnership=Safer Borough CSP", "--field", "dhr_decision_date=2026-01-10",
        "--field", "home_office_approved=no", now="2026-01-12")


def test_a_dhr_and_an_lcspr_are_linked_and_unlinked_with_reasons(run: Cli, db_url: str) -> None:
    _rapid_review_at_panel(run)
    _dhr(run)
    # A reason is needed; the kind is one of the list; only a role that may open either workflow may link.
    assert "give the reason for linking with --reason" in run.refused(
        "case", "link", "DHR-2026-001", RR, "--kind", "joint_review", "--reason", " ", "--as", "a.khan",
        now="2026-01-21")
    rf = Reviewflow.connect(db_url, fixed_clock(datetime(2026, 1, 21, 10, tzinfo=UTC)))
    with pytest.raises(NotPermitted, match="linking DHR-2026-001 and RR-2026-004 needs a role that may open "
                                           "domestic_homicide_review or rapid_review_lcspr cases"):
        rf.link_cases("DHR-2026-001", RR, "joint_review", "same incident", "p.hughes")
    rf.db.dispose()
    shown = json.loads(run("case", "link", "DHR-2026-001", RR, "--kind", "joint_review", "--reason",
                           "DHR and LCSPR on the same incident", "--as", "a.khan", "--json", now="2026-01-21").output)
    assert [(k["other"], k["kind"], k["reason"]) for k in shown["links"]] == [
        (RR, "joint_review", "DHR and LCSPR on the same incident")]
    assert _links(run, RR) == [("DHR-2026-001", "joint_review")]
    assert "linked:   joint review with DHR-2026-001 (domestic_homicide_review, learning_received)" in run(
        "case", "show", RR).output
    assert "already linked to" in run.refused("case", "link", RR, "DHR-2026-001", "--kind", "related",
                                              "--reason", "again", "--as", "a.khan", now="2026-01-22")
    rf = Reviewflow.connect(db_url)
    assert [(k.other, k.kind) for k in rf.case(RR, Identity("a.khan", frozenset({"business_manager"}))).links] == [
        ("DHR-2026-001", "joint_review")]
    # Unlinked with a reason: both show nothing, both histories keep the link and its removal.
    assert "give the reason for unlinking" in run.refused("case", "unlink", RR, "DHR-2026-001", "--reason", "",
                                                          "--as", "a.khan", now="2026-02-01")
    run("case", "unlink", RR, "DHR-2026-001", "--reason", "The DHR panel now reviews it alone", "--as", "a.khan",
        now="2026-02-01")
    assert _links(run, RR) == []
    assert _links(run, "DHR-2026-001") == []
    for ref, other in ((RR, "DHR-2026-001"), ("DHR-2026-001", RR)):
        events = [(h["trigger"], h["fields"]["other"], h["note"]) for h in _history(run, ref)
                  if h["trigger"] in ("link", "unlink")]
        assert events == [("link", other, "DHR and LCSPR on the same incident"),
                          ("unlink", other, "The DHR panel now reviews it alone")]
    assert "are not linked" in run.refused("case", "unlink", RR, "DHR-2026-001", "--reason", "x", "--as", "a.khan",
                                           now="2026-02-02")
    assert run("audit", "verify").output.startswith("ok: ")


def test_links_through_the_api(run: Cli, db_url: str) -> None:
    _rapid_review_at_panel(run)
    _dhr(run)
    rf = Reviewflow.connect(db_url)
    try:
        token = rf.create_token(Identity("a.khan"), "a.khan", "links", "write", 30).secret
        client = TestClient(create_app(rf), base_url="http://127.0.0.1")
        headers = {"Authorization": f"Bearer {token}"}
        read = client.get(f"/api/v1/cases/{RR}", headers=headers)
        assert read.json()["links"] == []
        made = client.post(f"/api/v1/cases/{RR}/links", headers={**headers, "If-Match": read.headers["ETag"]},
                           json={"other": "DHR-2026-001", "kind": "joint_review", "reason": "same incident"})
        assert made.status_code == 200, made.text
        assert [(k["other"], k["kind"], k["reason"]) for k in made.json()["links"]] == [
            ("DHR-2026-001", "joint_review", "same incident")]
        other = client.get("/api/v1/cases/DHR-2026-001", headers=headers).json()
        assert [(k["other"], k["kind"]) for k in other["links"]] == [(RR, "joint_review")]
        stale = client.post(f"/api/v1/cases/{RR}/unlink", headers={**headers, "If-Match": read.headers["ETag"]},
                            json={"other": "DHR-2026-001", "reason": "split"})
        assert stale.status_code in (409, 412), stale.text
        bad = client.post(f"/api/v1/cases/{RR}/links", headers={**headers, "If-Match": made.headers["ETag"]},
                          json={"other": "DHR-2026-001", "kind": "sibling", "reason": "x"})
        assert bad.status_code == 400
        # The case page of each shows the link, to the other case's page.
        rf.set_password(None, "a.khan", PASSWORD)
        signed = client.post("/sign-in", data={"name": "a.khan", "password": PASSWORD}, follow_redirects=False)
        cookie = {"Cookie": f"rf_session={_cookie(signed, 'rf_session')}"}
        page = client.get("/cases/DHR-2026-001", headers=cookie).text
        assert "Linked cases" in page
        assert (f'Joint review with <a class="govuk-link" href="/cases/{RR}">{RR}</a> (rapid review lcspr): '
                "same incident") in page
        gone = client.post(f"/api/v1/cases/{RR}/unlink", headers={**headers, "If-Match": made.headers["ETag"]},
                           json={"other": "DHR-2026-001", "reason": "split"})
        assert gone.status_code == 200, gone.text
        assert gone.json()["links"] == []
    finally:
        rf.db.dispose()


@pytest.mark.parametrize(("change", "expected"), [
    ("delete from case_links where kind = 'routed_from'",
     "ALTERED RR-2026-004-MAR links link to RR-2026-004: is in its history but missing: deleted outside reviewflow"),
    ("update case_links set kind = 'joint_review' where kind = 'routed_to'",
     "ALTERED RR-2026-004 links link to RR-2026-004-MAR: is 'joint_review' but its history says 'routed_to'"),
])
def test_a_plain_sql_change_to_a_link_is_reported_by_audit_verify(run: Cli, db_url: str, change: str,
                                                                  expected: str) -> None:
    _rapid_review_at_panel(run)
    _fire(run, RR, "route", "p.hughes", "2026-02-02", **ROUTE, routed_to="multi_agency_review",
          review_criteria_considered="yes")
    rf = Reviewflow.connect(db_url)
    with rf.db.engine.begin() as conn:
        conn.execute(text(change))
    result = run("audit", "verify", ok=False)
    assert result.exit_code == 1, result.output
    assert expected in result.output, result.output


def test_a_link_inserted_with_plain_sql_is_reported(run: Cli, db_url: str) -> None:
    _rapid_review_at_panel(run)
    _dhr(run)
    rf = Reviewflow.connect(db_url)
    with rf.db.engine.begin() as conn:
        conn.execute(text("insert into case_links (case_id, other_id, kind, reason, linked_by, linked_at) "
                          "select a.id, b.id, 'related', 'x', 'x', a.opened_at from cases a, cases b "
                          "where a.ref = 'DHR-2026-001' and b.ref = :rr"), {"rr": RR})
    result = run("audit", "verify", ok=False)
    assert "ALTERED DHR-2026-001 links link to RR-2026-004: is not in its history: inserted outside reviewflow" in \
        result.output


def test_learning_stays_open_on_a_rapid_review_closed_as_no_further_action(run: Cli) -> None:
    _rapid_review_at_panel(run)
    _fire(run, RR, "close_no_further_action", "p.hughes", "2026-02-02", panel_response_date="2026-02-02",
          decision_rationale="Criteria not met; immediate actions agreed at the rapid review")
    assert run.show(RR)["is_open"] is False
    run("case", "recommend", RR, "--as", "a.khan", "--text", "Police share referrals within a day",
        now="2026-02-03")
    run("action", "add", RR, "--rec", "R1", "--description", "Daily referral check", "--agency", "Police",
        "--owner", "p.officer", "--due", "2026-03-31", "--as", "a.khan", now="2026-02-03")
    # The action climbs its ladder although the case is closed: the owner, then the agency's safeguarding lead.
    run("escalate", now="2026-04-01T06:00")
    run("escalate", now="2026-04-20T06:00")
    climbed = [e["label"] for e in run.show(RR)["escalations"] if e["state"] == "action A1"]  # type: ignore[union-attr]
    assert climbed == ["Action owner", "Agency safeguarding lead"]
    # ... and is followed to embedding.
    run("action", "evidence", RR, "A1", "--kind", "audit_result", "--description", "Dip sample of referrals",
        "--link", "DOC-2026-1", "--as", "p.officer", now="2026-05-01")
    run("action", "accept", RR, "E1", "--as", "d.osei", now="2026-05-02")
    run("action", "verify", RR, "A1", "--as", "d.osei", now="2026-05-02")
    run("action", "evaluate", RR, "A1", "--method", "re_audit", "--date", "2026-08-01",
        "--finding", "Daily checks in every sampled case", "--as", "d.osei", now="2026-08-03")
    run("action", "update", RR, "A1", "--status", "embedded", "--as", "d.osei", now="2026-08-03")
    statuses = [a["status"] for r in run.show(RR)["recommendations"] for a in r["actions"]]  # type: ignore[union-attr]
    assert statuses == ["embedded"]
    assert run("audit", "verify").output.startswith("ok: ")


def test_a_workflow_without_open_after_still_refuses_learning_once_closed(run: Cli) -> None:
    run("case", "open", "multi_agency_review", "--ref", "MAR-1", "--as", "a.khan",
        "--field", "referring_agency=Health", "--field", "review_criteria_considered=no", now="2026-01-20")
    _fire(run, "MAR-1", "withdraw", "a.khan", "2026-01-21", withdrawal_reason="duplicate")
    assert "is closed: its learning records can no longer change" in run.refused(
        "case", "recommend", "MAR-1", "--as", "a.khan", "--text", "x", now="2026-01-22")


def _broken(text_: str) -> str:
    with pytest.raises(InvalidDefinition) as caught:
        parse_definition(text_, "routing.yaml")
    return str(caught.value)


def test_validation_names_the_file_and_line_of_a_misused_key() -> None:
    source = (WORKFLOWS / "rapid_review_lcspr.yaml").read_text()
    wrong_field = source.replace("      workflow_field: routed_to\n", "      workflow_field: decision_rationale\n")
    found = _broken(wrong_field)
    line = wrong_field.splitlines().index("      workflow_field: decision_rationale") + 1
    assert f"routing.yaml:{line}" in found
    assert "'decision_rationale' is not a choice field of this transition" in found
    wrong_carry = source.replace("        referring_agency: notifying_agency\n", "        referring_agency: nope\n")
    assert "'nope' is not a field of rapid_review_lcspr" in _broken(wrong_carry)
    wrong_state = source.replace("open_after: [no_further_action, routed, referred_to_national_panel]",
                                 "open_after: [no_further_action, publication]")
    assert "state 'publication' is not terminal" in _broken(wrong_state)
    unknown = source.replace("      case_field: routed_case\n", "      case_feld: routed_case\n")
    assert "case_feld" in _broken(unknown)
