"""Risks on a risk register: the pure scores, bands and trends; a year's register walked through the real CLI
(risks added, reviewed twice, one closed with a reason); refusals that write nothing; the API refusing alike; the
case page, `case show`, the Board and annual reports showing the risks; `audit verify` rebuilding them from the
sealed history; on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from hypothesis import example, given
from hypothesis import strategies as st
from sqlalchemy import create_engine, text

from reviewflow.engine.core import risks as rules
from reviewflow.engine.core.access import Identity
from reviewflow.engine.core.clock import fixed_clock
from reviewflow.engine.core.errors import InvalidValue
from reviewflow.engine.services.facade import Reviewflow
from reviewflow.web.app import create_app

from tests.databases import Templates
from tests.test_cli import Cli

LONDON = ZoneInfo("Europe/London")
REF = "RISK-2026"


# --- the pure rules ------------------------------------------------------------------------------------------

SCORES = st.integers(min_value=1, max_value=5)


@given(SCORES, SCORES)
@example(1, 1)
@example(2, 3)
@example(2, 4)
@example(3, 4)
@example(3, 5)
@example(5, 5)
def test_every_score_falls_in_one_documented_band(likelihood: int, impact: int) -> None:
    score = rules.score_of(likelihood, impact)
    assert 1 <= score <= 25
    band = rules.band_of(score)
    assert band == ("green" if score <= 6 else "amber" if score <= 12 else "red")
    assert score not in (7, 11, 13, 14)  # no product of two scores 1 to 5: the bands leave no gap


@given(st.lists(st.integers(min_value=1, max_value=25), min_size=1, max_size=8))
@example([12])
@example([12, 16])
@example([12, 16, 8])
@example([9, 9])
def test_the_trend_compares_the_last_two_scores(scores: list[int]) -> None:
    trend = rules.trend_of(scores)
    if len(scores) == 1:
        assert trend == "new"
    else:
        assert trend == {1: "rising", -1: "falling", 0: "steady"}[(scores[-1] > scores[-2]) - (scores[-1] < scores[-2])]


@given(st.one_of(st.integers(), st.text(max_size=4), st.booleans()))
@example(0)
@example(6)
@example("3")
@example(" 5 ")
@example("x")
@example(True)
@example("²")
@example("1\n2")
def test_a_score_is_a_whole_number_from_1_to_5_or_refused_in_one_line(value: object) -> None:
    try:
        whole = None if isinstance(value, bool) else int(str(value).strip())
    except ValueError:
        whole = None
    if whole is None or not 1 <= whole <= 5:
        with pytest.raises(InvalidValue, match=r"^likelihood .* is not a score from 1 to 5: give --likelihood 1 "
                                               r"\(rare\) to 5 \(almost certain\)$"):
            rules.check_score(value, "likelihood")
        return
    assert rules.check_score(value, "likelihood") == whole


@given(st.lists(st.integers(min_value=1, max_value=999), unique=True, max_size=6))
@example([])
@example([1, 2, 5])
def test_a_new_risk_is_numbered_after_the_highest(numbers: list[int]) -> None:
    assert rules.next_number(f"R{n}" for n in numbers) == f"R{max(numbers, default=0) + 1}"


# --- the register through the command line ---------------------------------------------------------------

def _init(url: str) -> None:
    c = Cli(url)
    c("init", now="2026-01-05")
    c("settings", "set", "backdate-window", "off")
    c("user", "add", "a.khan", "--role", "business_manager", "--email", "a.khan@example.org")
    c("user", "add", "d.osei", "--role", "subgroup_chair", "--email", "d.osei@example.org")
    c("user", "add", "p.hughes", "--role", "board_chair", "--email", "p.hughes@example.org")
    c("user", "add", "p.ward", "--role", "risk_owner", "--agency", "Police", "--email", "p.ward@example.org")
    c("user", "add", "h.lee", "--role", "risk_owner", "--agency", "Health", "--email", "h.lee@example.org")


@pytest.fixture
def run(db_url: str, templates: Templates) -> Cli:
    """`init` on 5 January 2026; a business manager, a sub-group chair, a Board chair and two risk owners."""
    templates.copy(db_url, "test_risks: init, five people", _init)
    return Cli(db_url)


def _open(run: Cli) -> None:
    run("case", "open", "risk_register", "--ref", REF, "--as", "a.khan", "--field", "register_year=2026-27",
        "--field", "year_start=2026-04-01", now="2026-04-01T09:00")


def _add_two(run: Cli) -> None:
    out = run("risk", "add", REF, "--title", "Too few independent reviewers", "--owner", "p.ward",
              "--likelihood", "3", "--impact", "4", "--controls", "Reviewer pool shared with the next authority",
              "--as", "a.khan", now="2026-04-02T09:00").output
    assert out == ("RISK-2026: added R1   Too few independent reviewers  score 12 (likelihood 3 × impact 4) amber, "
                   "new; owner p.ward (Police)\n")
    run("risk", "add", REF, "--title", "Health data not shared at strategy meetings", "--owner", "h.lee",
        "--likelihood", "2", "--impact", "3", "--controls", "Information sharing agreement", "--as", "a.khan",
        now="2026-04-02T09:05")


def _listed(run: Cli, now: str = "2026-12-01T09:00") -> dict[str, dict[str, object]]:
    return {r["number"]: r for r in json.loads(run("risk", "list", REF, "--json", "--as", "a.khan", now=now).output)}


def test_a_year_of_the_register_through_the_command_line(run: Cli) -> None:
    _open(run)
    _add_two(run)
    run("case", "fire", REF, "submit_for_approval", "--as", "a.khan", "--field", "submitted_date=2026-04-20",
        now="2026-04-20T09:00")
    run("case", "fire", REF, "approve", "--as", "p.hughes", "--field", "approval_date=2026-05-12",
        now="2026-05-12T09:00")
    # First quarter: the owner scores R1 higher; second quarter: the sub-group chair scores it lower.
    rising = run("risk", "review", REF, "R1", "--likelihood", "4", "--impact", "4", "--note", "Two reviewers left",
                 "--as", "p.ward", now="2026-07-02T09:00").output
    assert rising.endswith("score 16 (likelihood 4 × impact 4) red, rising ↑; owner p.ward (Police)\n")
    falling = run("risk", "review", REF, "r1", "--likelihood", "2", "--impact", "4", "--as", "d.osei",
                  now="2026-10-02T09:00").output
    assert "score 8 (likelihood 2 × impact 4) amber, falling ↓" in falling
    closed = run("risk", "close", REF, "R2", "--reason", "Agreement signed by every partner", "--as", "d.osei",
                 now="2026-10-02T09:30").output
    assert "closed 2026-10-02: Agreement signed by every partner" in closed

    risks = _listed(run)
    r1, r2 = risks["R1"], risks["R2"]
    assert (r1["score"], r1["band"], r1["trend"], r1["status"]) == (8, "amber", "falling", "open")
    assert [(s["likelihood"], s["impact"], s["band"]) for s in r1["reviews"]] == [  # type: ignore[union-attr]
        (3, 4, "amber"), (4, 4, "red"), (2, 4, "amber")]
    assert (r2["status"], r2["closed_reason"], r2["owner_agency"]) == (
        "closed", "Agreement signed by every partner", "Health")
    listing = run("risk", "list", REF, "--as", "a.khan", now="2026-12-01T09:00")
    assert listing.stderr == "RISK-2026: 1 open risk(s) (0 red, 1 amber, 0 green), 1 closed\n"
    everywhere = run("risk", "list", "--as", "d.osei", now="2026-12-01T09:00").output
    assert everywhere.startswith("RISK-2026 R1   Too few independent reviewers  score 8")
    assert "R2" not in everywhere  # open risks only

    shown = " ".join(run("case", "show", REF, "--as", "a.khan", now="2026-12-01T09:00").output.split())
    assert ("risks: R1 Too few independent reviewers score 8 (likelihood 2 × impact 4) amber, falling ↓; "
            "owner p.ward (Police) R2 ") in shown  # lines may be folded to the terminal's width
    as_json = json.loads(run("case", "show", REF, "--json", "--as", "a.khan", now="2026-12-01T09:00").output)
    assert [r["number"] for r in as_json["risks"]] == ["R1", "R2"]
    history = [h["trigger"] for h in as_json["history"]]
    assert history == ["open", "risk_add", "risk_add", "submit_for_approval", "approve", "risk_review",
                       "risk_review", "risk_close"]
    assert as_json["state"] == "monitoring"  # risk events move nothing

    run("case", "fire", REF, "year_end", "--as", "d.osei", now="2027-04-01T09:00")
    run("case", "fire", REF, "close_register", "--as", "d.osei", "--field",
        "year_end_summary=R1 carried into RISK-2027", now="2027-04-02T09:00")
    after = run.refused("risk", "review", REF, "R1", "--likelihood", "1", "--impact", "1", "--as", "d.osei",
                        now="2027-04-03T09:00")
    assert after == "Error: case RISK-2026 is closed: its risks can no longer change"
    assert "ok:" in run("audit", "verify").output


@pytest.mark.parametrize(("args", "as_who", "status", "message"), [
    (("--likelihood", "0", "--impact", "3"), "a.khan", 1,
     "Error: likelihood 0 is not a score from 1 to 5: give --likelihood 1 (rare) to 5 (almost certain)"),
    (("--likelihood", "2", "--impact", "6"), "a.khan", 1,
     "Error: impact 6 is not a score from 1 to 5: give --impact 1 (negligible) to 5 (severe)"),
    (("--likelihood", "2", "--impact", "3", "--owner", "nobody"), "a.khan", 1,
     "Error: no user named 'nobody' to own the risk: register them with 'reviewflow user add NAME --role ROLE "
     "--agency AGENCY' or give a registered --owner"),
    (("--likelihood", "2", "--impact", "3"), "p.ward", 5,
     "Error: adding a risk to RISK-2026 needs one of the roles business_manager, subgroup_chair; p.ward has "
     "risk_owner: ask someone who does"),
], ids=["likelihood-0", "impact-6", "unknown-owner", "without-the-role"])
def test_refusals_say_what_to_do_in_one_line_and_write_nothing(run: Cli, args: tuple[str, ...], as_who: str,
                                                               status: int, message: str) -> None:
    _open(run)
    _add_two(run)
    before = run.show(REF)
    owner = () if "--owner" in args else ("--owner", "p.ward")
    line = run.refused("risk", "add", REF, "--title", "A third risk", *owner, "--controls", "None yet", *args,
                       "--as", as_who, now="2026-04-03T09:00", status=status)
    assert line == message
    assert run.show(REF)["history"] == before["history"]
    assert sorted(_listed(run)) == ["R1", "R2"]


def test_reviews_and_closing_are_refused_alike(run: Cli) -> None:
    _open(run)
    _add_two(run)
    before = _listed(run)
    # Another agency's risk owner may not review a risk they do not own.
    assert run.refused("risk", "review", REF, "R1", "--likelihood", "5", "--impact", "5", "--as", "h.lee",
                       now="2026-04-03T09:00", status=5) == (
        "Error: reviewing risk R1 on RISK-2026 needs one of the roles business_manager, subgroup_chair, or to be its "
        "owner p.ward; h.lee has risk_owner: ask someone who does")
    assert run.refused("risk", "close", REF, "R1", "--reason", "done", "--as", "p.ward", now="2026-04-03T09:00",
                       status=5).startswith("Error: closing risk R1 on RISK-2026 needs one of the roles")
    assert run.refused("risk", "review", REF, "R9", "--likelihood", "1", "--impact", "1", "--as", "a.khan",
                       now="2026-04-03T09:00", status=3) == (
        "Error: no risk R9 on RISK-2026: see its risks with 'reviewflow risk list RISK-2026'")
    assert run.refused("risk", "close", REF, "R1", "--reason", " ", "--as", "a.khan", now="2026-04-03T09:00") == (
        "Error: give the risk's reason with --reason 'Controls in place; risk no longer live'")
    run("risk", "close", REF, "R2", "--reason", "Agreement signed", "--as", "a.khan", now="2026-04-03T09:00")
    assert run.refused("risk", "review", REF, "R2", "--likelihood", "1", "--impact", "1", "--as", "a.khan",
                       now="2026-04-03T09:05") == (
        "Error: risk R2 on RISK-2026 is closed (Agreement signed): it can no longer be reviewed")
    after = _listed(run)
    assert after["R1"] == before["R1"]


def test_audit_verify_rebuilds_the_risks_from_the_sealed_history(run: Cli, db_url: str) -> None:
    _open(run)
    _add_two(run)
    run("risk", "review", REF, "R1", "--likelihood", "4", "--impact", "4", "--as", "p.ward", now="2026-07-02T09:00")
    run("risk", "close", REF, "R2", "--reason", "Agreement signed", "--as", "a.khan", now="2026-07-02T09:05")
    assert run("audit", "verify").exit_code == 0
    engine = create_engine(db_url)
    try:
        with engine.begin() as conn:
            conn.execute(text("UPDATE risk_scores SET likelihood = 1 WHERE seq = 2"))
            conn.execute(text("UPDATE risks SET status = 'open', closed_reason = NULL WHERE number = 'R2'"))
    finally:
        engine.dispose()
    result = run("audit", "verify", ok=False)
    assert result.exit_code != 0
    out = result.output + result.stderr
    assert ("risk R1: is open, owned by p.ward, scored 3x4, 1x4 but its history says open, owned by p.ward, scored "
            "3x4, 4x4: differs from its sealed history: changed outside reviewflow") in out
    assert "risk R2: is open, owned by h.lee, scored 2x3 but its history says closed" in out


def test_the_board_and_annual_reports_show_the_open_risks(run: Cli) -> None:
    _open(run)
    _add_two(run)
    run("risk", "review", REF, "R1", "--likelihood", "4", "--impact", "4", "--as", "p.ward", now="2026-07-02T09:00")
    board = run("report", "board", "--format", "csv", "--table", "risk_register", now="2026-07-03T09:00").output
    assert board.splitlines() == [
        "ref,risk,title,likelihood,impact,score,band,trend,owner,owner agency",
        "RISK-2026,R1,Too few independent reviewers,4,4,16,Red,rising,p.ward,Police",
        "RISK-2026,R2,Health data not shared at strategy meetings,2,3,6,Green,new,h.lee,Health"]
    run("risk", "close", REF, "R2", "--reason", "Agreement signed", "--as", "a.khan", now="2026-07-03T10:00")
    annual = run("report", "annual", "--year", "2026-27", now="2026-07-04T09:00").output
    section = annual.split("Risk register", 1)[1]
    assert "| RISK-2026 | R1 | Too few independent reviewers | 4 | 4 | 16 | Red | rising | p.ward | Police |" in section
    assert "Health data not shared" not in section  # closed


def test_the_api_and_the_case_page_enforce_the_same_rules(run: Cli, db_url: str) -> None:
    _open(run)
    rf = Reviewflow.connect(db_url, fixed_clock(datetime(2026, 4, 2, 9, tzinfo=LONDON)))
    try:
        tokens = {n: rf.create_token(Identity(n), n, "risks", "write", 30).secret
                  for n in ("a.khan", "p.ward", "p.hughes")}
        client = TestClient(create_app(rf), base_url="http://127.0.0.1")

        def headers(who: str) -> dict[str, str]:
            found = {"Authorization": f"Bearer {tokens[who]}"}
            found["If-Match"] = client.get(f"/api/v1/cases/{REF}", headers=found).headers["ETag"]
            return found

        url = f"/api/v1/cases/{REF}/risks"
        body = {"title": "Too few independent reviewers", "owner": "p.ward", "likelihood": 3, "impact": 4,
                "controls": "Shared reviewer pool"}
        for bad, status, detail in [({"likelihood": 6}, 422, "likelihood 6 is not a score from 1 to 5"),
                                    ({"impact": 0}, 422, "impact 0 is not a score from 1 to 5"),
                                    ({"owner": "nobody"}, 422, "no user named 'nobody' to own the risk")]:
            refused = client.post(url, headers=headers("a.khan"), json={**body, **bad})
            assert refused.status_code == status, refused.text
            assert detail in refused.json()["detail"]
        forbidden = client.post(url, headers=headers("p.hughes"), json=body)
        assert forbidden.status_code == 403
        assert "needs one of the roles business_manager, subgroup_chair" in forbidden.json()["detail"]
        assert client.get(url, headers={"Authorization": f"Bearer {tokens['a.khan']}"}).json() == []

        added = client.post(url, headers=headers("a.khan"), json=body)
        assert added.status_code == 201, added.text
        assert [(r["number"], r["score"], r["band"], r["trend"]) for r in added.json()] == [("R1", 12, "amber", "new")]
        stale = client.post(f"{url}/R1/review", json={"likelihood": 4, "impact": 4},
                            headers={**headers("p.ward"), "If-Match": '"r1"'})
        assert stale.status_code == 412
        reviewed = client.post(f"{url}/R1/review", headers=headers("p.ward"),
                               json={"likelihood": 4, "impact": 4, "note": "Two reviewers left"})
        assert reviewed.status_code == 200, reviewed.text
        assert (reviewed.json()[0]["score"], reviewed.json()[0]["trend"]) == (16, "rising")
        closed = client.post(f"{url}/R1/close", headers=headers("a.khan"), json={"reason": "Pool agreed"})
        assert closed.status_code == 200, closed.text
        assert closed.json()[0]["status"] == "closed"
        assert client.get("/api/v1/risks", headers={"Authorization": f"Bearer {tokens['a.khan']}"}).json() == []

        rf.set_password(None, "a.khan", "correct horse battery staple")
        browser = TestClient(create_app(rf, secure_cookies=False), base_url="http://127.0.0.1")
        signed_in = browser.post("/sign-in", data={"name": "a.khan", "password": "correct horse battery staple"},
                                 follow_redirects=False)
        assert signed_in.status_code == 303, signed_in.text
        page = browser.get(f"/cases/{REF}")
        assert page.status_code == 200
        assert '<h2 class="govuk-heading-m" id="risks">Risk register</h2>' in page.text
        assert "R1: Too few independent reviewers" in page.text
        assert "Closed 2 April 2026: Pool agreed" in page.text
    finally:
        rf.db.dispose()


def test_a_renamed_agency_keeps_its_risks(run: Cli) -> None:
    _open(run)
    _add_two(run)
    run("agency", "rename", "Police", "Thames Valley Police", now="2026-04-03T09:00")
    assert _listed(run)["R1"]["owner_agency"] == "Thames Valley Police"
    assert "ok:" in run("audit", "verify").output
