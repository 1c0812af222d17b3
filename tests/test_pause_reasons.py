"""Pause reasons from a configurable list with an expected end date and a reminder on it: the reasons are checked
(an unknown one refused listing the allowed, `other` needs its text, the expected end not in the past), `case show`,
the JSON, the API, the case page and the Board report show the reason and the expected end, the pause form offers
the list with the date, and the reminder fires once on the expected end date however often the sweep runs. Through
the real CLI, API and pages on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from reviewflow.engine.core.access import Identity
from reviewflow.engine.core.clock import fixed_clock
from reviewflow.engine.core.errors import InvalidDefinition
from reviewflow.engine.core.parse import parse_definition
from reviewflow.engine.services.facade import Reviewflow
from reviewflow.web.app import create_app

from tests.databases import Templates
from tests.served import _cookie
from tests.test_cli import Cli
from tests.test_learning import _init_with_people

WORKFLOWS = Path(__file__).parent.parent / "workflows"
REF = "RR-2026-010"
PASSWORD = "correct horse battery staple"


@pytest.fixture
def run(db_url: str, templates: Templates) -> Cli:
    """`init` on 5 January 2026 with the people of the learning tests (business manager a.khan, local authority
    notifier la.duty...), and a rapid review at its rapid review stage."""
    templates.copy(db_url, "test_learning: init on 2026-01-05, PEOPLE added", _init_with_people)
    cli = Cli(db_url)
    cli("case", "open", "rapid_review_lcspr", "--ref", REF, "--as", "la.duty", "--field", "notifying_agency=Police",
        "--field", "incident_date=2026-01-02", "--field", "incident_type=child_died",
        "--field", "awareness_date=2026-01-05", now="2026-01-05T10:00")
    cli("case", "fire", REF, "notify", "--as", "la.duty", "--field", "notification_date=2026-01-06",
        now="2026-01-06T10:00")
    return cli


def _pause(run: Cli, *args: str, now: str = "2026-01-12T10:00") -> str:
    return run("case", "pause", REF, "--as", "a.khan", *args, now=now).output


def test_pause_reasons_are_checked(run: Cli) -> None:
    before = len(run.show(REF)["history"])  # type: ignore[arg-type]
    assert run.refused("case", "pause", REF, "--as", "a.khan", "--reason", "awaiting the moon", now="2026-01-12") == (
        "Error: 'awaiting the moon' is not a pause reason of rapid_review_lcspr: use one of criminal_proceedings, "
        "inquest, police_request, family_liaison, other (other with --note TEXT)")
    assert "the pause reason other needs its text: add --note" in run.refused(
        "case", "pause", REF, "--as", "a.khan", "--reason", "other", now="2026-01-12")
    assert run.refused("case", "pause", REF, "--as", "a.khan", "--reason", "inquest", "--expected-end", "2026-01-09",
                       now="2026-01-12") == (
        "Error: the expected end 2026-01-09 is in the past (today is 2026-01-12): give the day the pause is now "
        "expected to end")
    assert "expected end '1 March' is not a date: write YYYY-MM-DD" in run.refused(
        "case", "pause", REF, "--as", "a.khan", "--reason", "inquest", "--expected-end", "1 March", now="2026-01-12")
    assert len(run.show(REF)["history"]) == before  # type: ignore[arg-type]  # nothing was written
    # The code or the label, in any case.
    _pause(run, "--reason", "Awaiting criminal proceedings", "--expected-end", "2027-03-01")
    shown = run.show(REF)
    assert (shown["pause_reason"], shown["pause_until"], shown["pause_note"]) == (
        "criminal_proceedings", "2027-03-01", None)
    assert ("clock PAUSED since 2026-01-12 10:00 (Awaiting criminal proceedings, expected to end 2027-03-01)"
            in run("case", "show", REF).output)
    pause = shown["history"][-1]  # type: ignore[index]
    assert (pause["trigger"], pause["fields"]) == (
        "pause", {"reason": "criminal_proceedings", "expected_end": "2027-03-01", "note": None})
    run("case", "resume", REF, "--as", "a.khan", now="2026-01-13T10:00")
    _pause(run, "--reason", "other", "--note", "Awaiting the outcome of a disciplinary hearing", now="2026-01-14")
    assert ("(Other: Awaiting the outcome of a disciplinary hearing, no expected end given)"
            in run("case", "show", REF).output)


def test_a_workflow_sets_its_own_list(run: Cli) -> None:
    run("case", "open", "domestic_homicide_review", "--ref", "DHR-1", "--as", "a.khan",
        "--field", "community_safety_partnership=Safer Borough CSP", "--field", "dhr_decision_date=2026-01-10",
        "--field", "home_office_approved=no", now="2026-01-12")
    assert "use one of criminal_proceedings, inquest, coroner, home_office_qa, family_liaison, other" in run.refused(
        "case", "pause", "DHR-1", "--as", "a.khan", "--reason", "police_request", now="2026-01-13")
    run("case", "pause", "DHR-1", "--as", "a.khan", "--reason", "home_office_qa", "--expected-end", "2026-04-01",
        now="2026-01-13")
    assert run.show("DHR-1")["pause_reason"] == "home_office_qa"


def _pause_reminders(run: Cli) -> list[dict[str, object]]:
    return [e for e in run.show(REF)["escalations"] if str(e["key"]).startswith("pause-")]  # type: ignore[union-attr]


def test_the_reminder_fires_once_on_the_expected_end_date(run: Cli) -> None:
    _pause(run, "--reason", "inquest", "--expected-end", "2026-02-02", now="2026-01-12T10:00")
    run("escalate", now="2026-02-01T23:00")
    assert _pause_reminders(run) == []
    assert _claimed(run.url, "2026-02-02") == [REF]
    for now in ("2026-02-02T06:00", "2026-02-02T07:00", "2026-02-03T06:00", "2026-03-01T06:00"):
        run("escalate", now=now)
    reminders = _pause_reminders(run)
    assert [(e["label"], e["fired_at"][:10]) for e in reminders] == [  # type: ignore[index]
        ("Pause expected to end", "2026-02-02")]
    assert _claimed(run.url, "2026-03-01") == []  # reminded: later sweeps no longer pick the case up
    outbox = json.loads(run("outbox", "list", "--ref", REF, "--json").output)
    told = sorted(o["recipient"] for o in outbox if o["event"] == "reminder" and "pause" in o["key"])
    assert told == ["a.khan"]  # the business manager, who also paused it: one notice each
    payload = next(o["payload"] for o in outbox if o["event"] == "reminder" and "pause" in o["key"])
    assert payload["ref"] == REF
    assert set(payload) >= {"ref", "link", "headline", "needed"}  # a reference and a link, no narrative
    assert "Awaiting an inquest" not in json.dumps(payload)
    # Paused again with a new expected end: its own reminder, once.
    run("case", "resume", REF, "--as", "a.khan", now="2026-03-02T10:00")
    run("case", "pause", REF, "--as", "la.duty", "--reason", "police_request", "--expected-end", "2026-04-01",
        now="2026-03-03T10:00")
    for now in ("2026-04-01T06:00", "2026-04-02T06:00"):
        run("escalate", now=now)
    reminders = _pause_reminders(run)
    assert [e["fired_at"][:10] for e in reminders] == ["2026-02-02", "2026-04-01"]  # type: ignore[index]
    assert sorted(reminders[1]["recipients"]) == ["a.khan", "la.duty"]  # type: ignore[arg-type]
    assert run("audit", "verify").output.startswith("ok: ")


def _claimed(url: str, today: str) -> list[str]:
    """The paused cases a sweep on `today` would claim for a pause reminder."""
    from datetime import date

    from reviewflow.store import links as links_store
    from reviewflow.store.db import Database

    db = Database(url)
    try:
        with db.transaction(write=False) as s:
            return [p.ref for p in links_store.pause_ends_due(s, date.fromisoformat(today), 100)]
    finally:
        db.dispose()


def test_a_plain_sql_change_to_the_expected_end_is_reported(run: Cli, db_url: str) -> None:
    _pause(run, "--reason", "inquest", "--expected-end", "2026-02-02")
    rf = Reviewflow.connect(db_url)
    with rf.db.engine.begin() as conn:
        conn.execute(text("update cases set pause_until = '2027-12-31', pause_reason = 'family_liaison' "
                          "where ref = :r"), {"r": REF})
    rf.db.dispose()
    result = run("audit", "verify", ok=False)
    assert result.exit_code == 1
    assert (f"ALTERED {REF} case pause expected end: is 2027-12-31 but its history says 2026-02-02"
            in result.output), result.output
    assert f"ALTERED {REF} case pause reason: is 'family_liaison' but its history says 'inquest'" in result.output


def test_the_board_report_shows_reason_and_expected_end(run: Cli) -> None:
    _pause(run, "--reason", "inquest", "--expected-end", "2026-06-30")
    board = json.loads(run("report", "board", "--format", "json", now="2026-01-20").output)
    row = next(o for o in board["figures"]["open_reviews"] if o["ref"] == REF)
    assert (row["rag_label"], row["pause_reason"], row["pause_expected_end"]) == (
        "Paused", "Awaiting an inquest", "2026-06-30")
    markdown = run("report", "board", "--format", "md", now="2026-01-20").output
    assert "pause expected end" in markdown
    assert "Awaiting an inquest | 2026-06-30" in markdown


def test_the_api_and_the_pause_form(run: Cli, db_url: str) -> None:
    rf = Reviewflow.connect(db_url, fixed_clock(datetime(2026, 1, 12, 10, tzinfo=UTC)))
    try:
        rf.set_password(None, "a.khan", PASSWORD)
        token = rf.create_token(Identity("a.khan"), "a.khan", "pauses", "write", 30).secret
        client = TestClient(create_app(rf), base_url="http://127.0.0.1")
        headers = {"Authorization": f"Bearer {token}"}
        etag = client.get(f"/api/v1/cases/{REF}", headers=headers).headers["ETag"]
        refused = client.post(f"/api/v1/cases/{REF}/pause", headers={**headers, "If-Match": etag},
                              json={"reason": "other"})
        assert refused.status_code == 422
        assert refused.json()["field"] == "note"
        paused = client.post(f"/api/v1/cases/{REF}/pause", headers={**headers, "If-Match": etag},
                             json={"reason": "family_liaison", "expected_end": "2026-03-01"})
        assert paused.status_code == 200, paused.text
        body = paused.json()
        assert (body["paused"], body["pause_reason"], body["pause_until"]) == (True, "family_liaison", "2026-03-01")
        client.post(f"/api/v1/cases/{REF}/resume", headers={**headers, "If-Match": paused.headers["ETag"]}, json={})
        # The form offers the workflow's reasons as choices, with the date.
        signed = client.post("/sign-in", data={"name": "a.khan", "password": PASSWORD}, follow_redirects=False)
        cookie = {"Cookie": f"rf_session={_cookie(signed, 'rf_session')}"}
        form = client.get(f"/cases/{REF}/pause", headers=cookie)
        assert form.status_code == 200, form.text
        offered = re.findall(r'name="reason" type="radio" value="([^"]+)"', form.text)
        assert offered == ["criminal_proceedings", "inquest", "police_request", "family_liaison", "other"]
        assert 'name="expected_end" type="date"' in form.text
        hidden = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', form.text))
        posted = client.post(f"/cases/{REF}/pause", headers=cookie, follow_redirects=False,
                             data={**hidden, "reason": "inquest", "expected_end": "2026-05-01", "note": ""})
        assert posted.status_code == 303, posted.text
        page = client.get(f"/cases/{REF}", headers=cookie).text
        assert "Awaiting an inquest, expected to end 2026-05-01" in page
    finally:
        rf.db.dispose()


def test_validation_names_the_file_and_line_of_a_listed_reason_twice() -> None:
    source = (WORKFLOWS / "domestic_homicide_review.yaml").read_text()
    twice = source.replace("pause_reasons: [criminal_proceedings, inquest,", "pause_reasons: [inquest, inquest,")
    with pytest.raises(InvalidDefinition) as caught:
        parse_definition(twice, "dhr.yaml")
    line = next(i for i, t in enumerate(twice.splitlines(), 1) if t.startswith("pause_reasons:"))
    assert f"dhr.yaml:{line}" in str(caught.value)
    assert "'inquest' is listed twice: list each pause reason once" in str(caught.value)
    bad = source.replace("pause_reasons: [criminal_proceedings,", "pause_reasons: [Criminal Proceedings,")
    with pytest.raises(InvalidDefinition):
        parse_definition(bad, "dhr.yaml")
