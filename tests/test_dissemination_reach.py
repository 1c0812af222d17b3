"""Dissemination reach, 7-minute briefings and training attendance on a learning theme: the real CLI on SQLite,
the annual report's counts, refusals that write nothing, and measured impact through the HTTP API (SQLite and
PostgreSQL) with RFC 9457 problems."""

from __future__ import annotations

import html
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from reviewflow.engine.core.access import Identity
from reviewflow.engine.core.clock import SteppingClock
from reviewflow.engine.core.measures import MeasureInput
from reviewflow.engine.services.facade import Reviewflow
from reviewflow.store.db import Database

from tests.conftest import FIXTURES, pg_url_or_skip
from tests.served import Browser, serving
from tests.test_cli import Cli
from tests.test_learning import run  # noqa: F401  (the fixture: init on 5 January 2026, people added)
from tests.test_pages import Person, error_by

REF = "MAR-2026-020"


def _open(run: Cli) -> None:  # noqa: F811
    run("case", "open", "multi_agency_review", "--ref", REF, "--as", "a.khan", "--field", "referring_agency=Police",
        "--field", "review_criteria_considered=yes", now="2026-05-28")


def test_reach_and_training_counted_in_the_annual_report(run: Cli) -> None:  # noqa: F811
    _open(run)
    run("case", "disseminate", REF, "--kind", "7-minute briefing", "--audience", "Health visitors", "--date",
        "2026-06-10", "--reach", "40", "--as", "a.khan", now="2026-06-11")
    run("case", "disseminate", REF, "--kind", "seven_minute_briefing", "--audience", "GPs", "--date", "2026-06-12",
        "--reach", "25", "--as", "a.khan", now="2026-06-12")
    run("case", "disseminate", REF, "--kind", "newsletter", "--audience", "All partners", "--date", "2026-06-12",
        "--as", "a.khan", now="2026-06-12")
    run("case", "training", REF, "--theme", "Neglect", "--attended", "18", "--on", "2026-06-15", "--course",
        "Neglect toolkit refresher", "--as", "a.khan", now="2026-06-15")
    run("case", "training", REF, "--theme", "neglect", "--attended", "12", "--on", "2026-06-20", "--as", "a.khan",
        now="2026-06-20")
    out = run("case", "training", REF, "--theme", "voice of the child", "--attended", "9", "--on", "2026-06-20",
              "--as", "a.khan", now="2026-06-20").output
    assert out == f"{REF}: training attendance recorded (9 on voice of the child)\n"

    shared = run.show(REF)["dissemination"]
    assert [(d["kind"], d["reach"], d["theme"]) for d in shared] == [  # type: ignore[index]
        ("seven_minute_briefing", 40, None), ("seven_minute_briefing", 25, None), ("newsletter", None, None),
        ("training_session", 18, "neglect"), ("training_session", 12, "neglect"),
        ("training_session", 9, "voice of the child")]
    text = " ".join(run("case", "show", REF, now="2026-06-21").output.split())  # as read, however wrapped
    assert "7-minute briefing Health visitors reached 40" in text
    assert "Training session Neglect toolkit refresher [neglect] reached 18" in text

    annual = run("report", "annual", "--year", "2026", "--format", "md", now="2026-06-21").output
    assert "| 7-minute briefing | 2 | 65 | 0 |" in annual
    assert "| Training session | 3 | 39 | 0 |" in annual
    assert "| Newsletter | 1 | 0 | 1 |" in annual
    assert "| Practitioners reached | 104 |" in annual
    assert "| neglect | 2 | 30 |" in annual
    assert "| voice of the child | 1 | 9 |" in annual
    csv = run("report", "annual", "--year", "2026", "--format", "csv", "--table", "training_by_theme",
              now="2026-06-21").output
    assert csv.splitlines()[-2:] == ["neglect,2,30", "voice of the child,1,9"]
    assert "ok:" in run("audit", "verify").output


@pytest.mark.parametrize(("args", "message"), [
    (("case", "disseminate", REF, "--kind", "briefing", "--audience", "GPs", "--date", "2026-06-10",
      "--reach", "-3"), "--reach -3 is not a number of practitioners: give 0 or more"),
    (("case", "disseminate", REF, "--kind", "briefing", "--audience", "GPs", "--date", "2026-06-10",
      "--reach", "many"), "--reach 'many' is not a whole number: give how many practitioners, e.g. 25"),
    (("case", "disseminate", REF, "--kind", "podcast", "--audience", "GPs", "--date", "2026-06-10"),
     "unknown dissemination kind 'podcast'; use one of: briefing, seven_minute_briefing, training_session, "
     "newsletter, conference, learning_summary"),
    (("case", "training", REF, "--theme", "neglect", "--attended", "0", "--on", "2026-06-10"),
     "give how many attended the training, 1 or more (--attended)"),
    (("case", "training", REF, "--theme", "neglect", "--attended", "10", "--on", "2026-06-30"),
     "2026-06-30 is in the future: record dissemination once it has happened"),
], ids=["negative-reach", "reach-not-a-number", "unknown-kind", "nobody-attended", "future"])
def test_refusals_write_nothing(run: Cli, args: tuple[str, ...], message: str) -> None:  # noqa: F811
    _open(run)
    assert run.refused(*args, "--as", "a.khan", now="2026-06-21") == f"Error: {message}"
    assert run.show(REF)["dissemination"] == []


def test_training_on_a_theme_not_on_the_list_is_refused(run: Cli) -> None:  # noqa: F811
    _open(run)
    refused = run.refused("case", "training", REF, "--theme", "knitting", "--attended", "10", "--on", "2026-06-10",
                          "--as", "a.khan", now="2026-06-21")
    assert "knitting" in refused
    assert run.show(REF)["dissemination"] == []


# --- the HTTP API -------------------------------------------------------------------------------------------

@dataclass
class World:
    base: str
    token: str


def _build(url: str) -> str:
    rf = Reviewflow(Database(url), SteppingClock(datetime.now(UTC) - timedelta(days=3)))
    try:
        rf.init([FIXTURES / "agency_review.yaml"])
        rf.add_user("bm", ["business_manager"], "bm@example.org")
        rf.open_case("agency_review", "POLICE-9", "bm", {"notifying_agency": "Police", "family_context": "f"})
        rf.recommend("POLICE-9", "bm", "Share concerns at once", ["information sharing"], ["Police"])
        return rf.create_token(Identity("bm"), "bm", "api tests", "write").secret
    finally:
        rf.db.dispose()


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def world(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    url = f"sqlite:///{tmp_path_factory.mktemp('reach') / 'api.db'}" if request.param == "sqlite" else pg_url_or_skip()
    token = _build(url)
    with serving(url) as base:
        yield World(base, token)


def _problem(answer: httpx.Response, status: int) -> dict:
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert "\n" not in answer.json()["detail"]
    return answer.json()


def test_measures_reach_and_training_through_the_api(world: World) -> None:
    bm = Browser(world.base, world.token)
    today = datetime.now(UTC).date()
    case = "/api/v1/cases/POLICE-9"
    past = {"recommendation": "R1", "description": "Same-day referrals", "agency": "Police",
            "due": (today - timedelta(days=5)).isoformat(), "baseline": 40, "target": 80, "unit": "percent"}
    body = _problem(bm.write("POST", "POLICE-9", f"{case}/actions", past), 422)
    assert "is already past" in body["detail"]
    assert "--past-due-ok" in body["detail"]
    _problem(bm.write("POST", "POLICE-9", f"{case}/actions", {**past, "baseline": None}), 422)
    assert bm.get(case).json()["recommendations"][0]["actions"] == []
    assert bm.write("POST", "POLICE-9", f"{case}/actions", {**past, "past_due_ok": True}).status_code == 201
    later = {**past, "due": (today + timedelta(days=30)).isoformat()}
    assert bm.write("POST", "POLICE-9", f"{case}/actions", later).status_code == 201

    measured = bm.write("POST", "POLICE-9", f"{case}/actions/A1/measurements",
                        {"value": 85, "date": today.isoformat(), "note": "dip sample"})
    assert measured.status_code == 201, measured.text
    assert bm.write("POST", "POLICE-9", f"{case}/actions/A2/measurements",
                    {"value": 60, "date": today.isoformat()}).status_code == 201
    future = _problem(bm.write("POST", "POLICE-9", f"{case}/actions/A1/measurements",
                               {"value": 90, "date": (today + timedelta(days=2)).isoformat()}), 422)
    assert "is in the future" in future["detail"]
    not_number = _problem(bm.write("POST", "POLICE-9", f"{case}/actions/A1/measurements",
                                   {"value": "lots", "date": "2026-01-01"}), 400)
    assert not_number["field"] == "value"
    actions = bm.get(case).json()["recommendations"][0]["actions"]
    assert [(a["number"], a["measure"]["outcome"], len(a["measurements"])) for a in actions] == [
        ("A1", "met", 1), ("A2", "not met", 1)]

    assert bm.write("POST", "POLICE-9", f"{case}/dissemination",
                    {"kind": "seven_minute_briefing", "audience": "Custody sergeants", "date": today.isoformat(),
                     "reach": 30}).status_code == 201
    _problem(bm.write("POST", "POLICE-9", f"{case}/dissemination",
                      {"kind": "briefing", "audience": "x", "date": today.isoformat(), "reach": -1}), 400)
    assert bm.write("POST", "POLICE-9", f"{case}/training",
                    {"theme": "information sharing", "attended": 14, "date": today.isoformat()}).status_code == 201
    shared = bm.get(case).json()["dissemination"]
    assert [(d["kind"], d["reach"], d["theme"]) for d in shared] == [
        ("seven_minute_briefing", 30, None), ("training_session", 14, "information sharing")]


# --- the web pages, without JavaScript ---------------------------------------------------------------------

PASSWORD = "correct horse battery staple"


def _build_pages(url: str) -> None:
    rf = Reviewflow(Database(url), SteppingClock(datetime.now(UTC) - timedelta(days=3)))
    try:
        rf.init([FIXTURES / "agency_review.yaml"])
        rf.add_user("bm", ["business_manager"], "bm@example.org")
        rf.set_password(None, "bm", PASSWORD)
        rf.open_case("agency_review", "POLICE-7", "bm", {"notifying_agency": "Police", "family_context": "f"})
        rf.recommend("POLICE-7", "bm", "Share concerns at once", ["information sharing"], ["Police"])
        due = (datetime.now(UTC) + timedelta(days=30)).date().isoformat()
        rf.add_action("POLICE-7", "bm", "R1", "Same-day referrals", "Police", due,
                      figures=MeasureInput("40", "80", "percent"))
    finally:
        rf.db.dispose()


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    url = f"sqlite:///{tmp_path_factory.mktemp('reach-pages') / 'pages.db'}"
    _build_pages(url)
    with serving(url) as base:
        yield base


def test_a_measured_value_is_recorded_through_the_form(site: str) -> None:
    person = Person(site)
    assert person.sign_in("bm").status_code == 303
    case = person.get("/cases/POLICE-7").text
    assert "Target: 40% → 80%: not measured" in html.unescape(case)
    assert "/cases/POLICE-7/actions/A1/measure" in case
    page, hidden = person.form("/cases/POLICE-7/actions/A1/measure")
    assert "Measure: 40% → 80%: not measured." in html.unescape(page)
    today = datetime.now(UTC).date()
    refused = person.post("/cases/POLICE-7/actions/A1/measure",
                          {**hidden, "value": "lots", "date": today.isoformat(), "note": ""})
    assert refused.status_code in (400, 422)
    assert error_by(refused.text, "value") == "value 'lots' is not a number: give digits, e.g. 85"
    done = person.post("/cases/POLICE-7/actions/A1/measure",
                       {**hidden, "value": "85", "date": today.isoformat(), "note": "dip sample"})
    assert done.status_code == 303
    shown = html.unescape(person.get(done.headers["location"]).text)
    assert "Measured value of action A1 recorded" in shown
    assert f"Target: 40% → 80%, latest 85% on {today.isoformat()}: met" in shown


def test_the_action_form_asks_to_confirm_a_due_date_already_past(site: str) -> None:
    person = Person(site)
    person.sign_in("bm")
    page, hidden = person.form("/cases/POLICE-7/actions/new?agency=Police")
    assert 'name="past_due_ok"' in page
    past = (datetime.now(UTC).date() - timedelta(days=2)).isoformat()
    typed = {**hidden, "agency": "Police", "recommendation": "R1", "description": "Written up late", "owner": "",
             "due": past, "measure": "", "baseline": "", "target": ""}
    refused = person.post("/cases/POLICE-7/actions/new", typed)
    assert refused.status_code in (400, 422)
    assert "is already past" in error_by(refused.text, "due")
    assert "Written up late" in refused.text  # what was typed is kept
    done = person.post("/cases/POLICE-7/actions/new", {**typed, "past_due_ok": "yes"})
    assert done.status_code == 303
    assert "Action A2 agreed" in person.get(done.headers["location"]).text
