"""The web pages over HTTP, against a real `reviewflow serve` process on SQLite and PostgreSQL: pages need a
signed-in person, a form without the page's token is refused, a refused move shows the engine's message by its
field and keeps what was typed, a stale form says so, and an agency's user sees neither another agency's case nor
a sensitive value."""

from __future__ import annotations

import html
import os
import re
import signal
import subprocess
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from reviewflow.engine.core.clock import SteppingClock
from reviewflow.engine.services.facade import Reviewflow

from tests.conftest import FIXTURES, pg_url_or_skip
from tests.served import SCRIPT, _cookie, serving
from tests.servers import free_port

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
PASSWORD = "correct horse battery staple"
SECRET = "the family's address"
PEOPLE = {
    "bm": (["business_manager"], None),
    "chair": (["subgroup_chair"], None),
    "pc.jones": (["action_owner"], "Police"),
    "hv.smith": (["action_owner"], "Health"),
    "lone": (["action_owner"], None),
}
"""As in tests/test_access_matrix.py: Health referred HEALTH-1 and takes no part in POLICE-1, whose one action
(overdue since 20 February) pc.jones owns; OTHER-1 is for tests that change a case."""


def build(url: str) -> None:
    rf = Reviewflow.connect(url, SteppingClock(NOW))
    try:
        rf.init([FIXTURES / "agency_review.yaml"])
        rf.first_admin("ada", None)
        for name, (roles, agency) in PEOPLE.items():
            rf.add_user(name, roles, f"{name}@example.org", agency)
            rf.set_password(None, name, PASSWORD)
        for ref, agency in (("HEALTH-1", "Health"), ("POLICE-1", "Police"), ("OTHER-1", "Health"),
                            ("STALE-1", "Health")):
            rf.open_case("agency_review", ref, "bm", {"notifying_agency": agency, "family_context": SECRET})
        rf.recommend("POLICE-1", "bm", "Share concerns at once", ["information sharing"], ["Police"])
        rf.add_action("POLICE-1", "bm", "R1", "Same-day referrals", "Police", "2026-02-20", "pc.jones",
                      past_due_ok=True)
    finally:
        rf.db.dispose()


class Person:
    """One person's browser, as far as HTTP goes: the session cookie carried by hand (it is Secure, and httpx keeps
    no Secure cookie for http://127.0.0.1), forms posted as a browser posts them."""

    def __init__(self, base: str) -> None:
        self.client = httpx.Client(base_url=base, timeout=30, follow_redirects=False)
        self.session: str | None = None

    def sign_in(self, name: str, password: str = PASSWORD, next_path: str | None = None) -> httpx.Response:
        answer = self.client.post("/sign-in", data={"name": name, "password": password,
                                                    **({"next": next_path} if next_path else {})})
        if answer.status_code == 303:
            self.session = _cookie(answer, "rf_session")
        return answer

    def _headers(self) -> dict[str, str]:
        return {"Cookie": f"rf_session={self.session}"} if self.session else {}

    def get(self, path: str) -> httpx.Response:
        return self.client.get(path, headers=self._headers())

    def post(self, path: str, data: dict[str, Any], files: dict[str, Any] | None = None) -> httpx.Response:
        return self.client.post(path, data=data, files=files, headers=self._headers())

    def form(self, path: str) -> tuple[str, dict[str, str]]:
        """The page of a form, and its hidden fields (the CSRF token and the case revision)."""
        page = self.get(path)
        assert page.status_code == 200, page.text
        hidden = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', page.text))
        return page.text, hidden


def error_by(page: str, field: str) -> str:
    """The error message shown in the form group of the field named `field` (empty when none)."""
    at = page.find(f'name="{field}"')
    if at < 0:
        return ""
    start = page.rfind('<div class="govuk-form-group', 0, at)
    found = re.search(r'class="govuk-error-message"><span class="govuk-visually-hidden">Error:</span> (.*?)</p>',
                      page[start:at], re.S)
    return html.unescape(found.group(1).strip()) if found else ""


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A `reviewflow serve` process over the people and cases above, as of 2 March 2026."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('pages') / 'reviewflow.db'}"
    else:
        url = pg_url_or_skip()
    build(url)
    with serving(url, now=NOW.isoformat()) as base:
        yield base


def test_pages_need_sign_in_then_open_the_page_asked_for(server: str) -> None:
    person = Person(server)
    first = person.get("/cases/POLICE-1?done=moved")
    assert first.status_code == 303
    assert first.headers["location"] == "/sign-in?next=/cases/POLICE-1%3Fdone%3Dmoved"
    signed = person.sign_in("bm", next_path="/cases/POLICE-1")
    assert signed.headers["location"] == "/cases/POLICE-1"
    page = person.get("/cases/POLICE-1")
    assert page.status_code == 200
    assert "<h1 class=\"govuk-heading-l\">POLICE-1</h1>" in page.text
    policy = page.headers["content-security-policy"]
    assert "default-src 'self'" in policy
    assert "frame-ancestors 'none'" in policy
    assert "unsafe-inline" not in policy
    assert page.headers["x-content-type-options"] == "nosniff"
    assert page.headers["cache-control"] == "no-store"


def test_a_sign_in_never_sends_anyone_to_another_site(server: str) -> None:
    assert Person(server).sign_in("bm", next_path="//evil.example/").headers["location"] == "/"


def test_a_sign_in_sent_from_another_site_is_refused(server: str) -> None:
    """No other site can sign a person's browser in under an account of its choosing (login CSRF)."""
    person = Person(server)
    for origin in ("https://evil.example", "null"):
        answer = person.client.post("/sign-in", data={"name": "bm", "password": PASSWORD},
                                    headers={"Origin": origin})
        assert answer.status_code == 403
        assert "This sign-in was sent from another site" in answer.text
        assert "rf_session" not in answer.headers.get("set-cookie", "")
    same = person.client.post("/sign-in", data={"name": "bm", "password": PASSWORD},
                              headers={"Origin": server})
    assert same.status_code == 303


def test_a_wrong_password_says_so_and_repeated_ones_lock_with_retry_after(server: str) -> None:
    person = Person(server)
    wrong = person.sign_in("lone", "not the password at all")
    assert wrong.status_code == 401
    assert "the user name or password is not right" in wrong.text
    assert 'value="lone"' in wrong.text
    assert "not the password at all" not in wrong.text
    for _ in range(4):
        person.sign_in("lone", "not the password at all")
    locked = person.sign_in("lone", PASSWORD)
    assert locked.status_code == 429
    assert int(locked.headers["retry-after"]) > 0
    assert "too many failed sign-ins for this account" in locked.text


def test_sign_out_ends_the_session(server: str) -> None:
    person = Person(server)
    person.sign_in("hv.smith")
    _, hidden = person.form("/")
    assert person.post("/sign-out", {"csrf_token": hidden["csrf_token"]}).headers["location"] == \
        "/sign-in?signed_out=1"
    assert person.get("/").headers["location"] == "/sign-in?next=/"


def test_a_form_without_the_page_token_is_refused_and_writes_nothing(server: str) -> None:
    person = Person(server)
    person.sign_in("bm")
    _, hidden = person.form("/cases/OTHER-1/pause")
    refused = person.post("/cases/OTHER-1/pause", {"revision": hidden["revision"], "reason": "inquest"})
    assert refused.status_code == 403
    assert "security token (CSRF)" in refused.text
    forged = person.post("/cases/OTHER-1/pause", {"revision": hidden["revision"], "reason": "inquest",
                                                  "csrf_token": "0" * 64})
    assert forged.status_code == 403
    assert "Running" in person.get("/cases/OTHER-1").text


def test_a_refused_move_shows_the_engines_message_by_its_field_and_keeps_what_was_typed(server: str) -> None:
    chair = Person(server)
    chair.sign_in("chair")
    _, hidden = chair.form("/cases/OTHER-1/move/accept")
    answer = chair.post("/cases/OTHER-1/move/accept", {**hidden, "move_note": "discussed at the sub-group"})
    assert answer.status_code == 422
    assert error_by(answer.text, "decision") == "`accept` needs decision (choice: yes, no): add --field decision=..."
    assert '<a href="#f-decision">' in answer.text  # the error summary links to the field
    assert "discussed at the sub-group</textarea>" in answer.text
    assert "Referral" in chair.get("/cases/OTHER-1").text
    moved = chair.post("/cases/OTHER-1/move/accept", {**hidden, "decision": "yes"})
    assert moved.headers["location"] == "/cases/OTHER-1?done=moved"
    page = chair.get("/cases/OTHER-1?done=moved").text
    assert "The case moved on" in page
    assert "<dd class=\"govuk-summary-list__value\">Review</dd>" in page


def test_a_stale_form_says_the_case_changed_and_keeps_the_input(server: str) -> None:
    chair, manager = Person(server), Person(server)
    chair.sign_in("chair")
    manager.sign_in("bm")
    _, hidden = chair.form("/cases/STALE-1/move/accept")
    _, other = manager.form("/cases/STALE-1/recommend")
    assert manager.post("/cases/STALE-1/recommend", {**other, "text": "Talk sooner"}).status_code == 303
    stale = chair.post("/cases/STALE-1/move/accept", {**hidden, "decision": "no", "move_note": "my careful note"})
    assert stale.status_code == 409
    assert "Someone else changed this case while you were filling in the form, so nothing was saved" in stale.text
    assert "my careful note</textarea>" in stale.text
    assert re.search(r'value="no" checked', stale.text)
    assert "Referral" in chair.get("/cases/STALE-1").text
    fresh = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', stale.text))
    assert int(fresh["revision"]) == int(hidden["revision"]) + 1
    again = chair.post("/cases/STALE-1/move/accept", {**fresh, "decision": "no"})
    assert again.headers["location"] == "/cases/STALE-1?done=moved"


def test_a_police_user_cannot_open_a_health_case_nor_see_a_sensitive_value(server: str) -> None:
    police = Person(server)
    police.sign_in("pc.jones")
    hidden_case = police.get("/cases/HEALTH-1")
    assert hidden_case.status_code == 404
    assert "There is no case HEALTH-1 that you may see" in hidden_case.text
    assert police.get("/cases/NO-SUCH-1").text.count("There is no case") == 1  # the same answer as a missing case
    assert police.get("/cases/HEALTH-1/pause").status_code == 404
    listing = police.get("/cases").text
    assert "POLICE-1" in listing
    assert "HEALTH-1" not in listing
    own = police.get("/cases/POLICE-1")
    assert own.status_code == 200
    assert SECRET not in own.text
    assert "the family&#39;s address" not in own.text
    assert "Withheld: you may not see this sensitive field" in own.text
    manager = Person(server)
    manager.sign_in("bm")
    assert "the family&#39;s address" in manager.get("/cases/POLICE-1").text


@pytest.mark.skipif(not hasattr(Reviewflow, "attach_evidence_file"), reason="this build stores no evidence files")
def test_a_file_of_a_kind_not_taken_is_refused_by_its_field_and_nothing_is_written(server: str) -> None:
    police = Person(server)
    police.sign_in("pc.jones")
    page, hidden = police.form("/cases/POLICE-1/actions/A1/evidence")
    assert 'enctype="multipart/form-data"' in page
    answer = police.post("/cases/POLICE-1/actions/A1/evidence", {**hidden, "kind": "data", "description": "Figures"},
                         files={"file": ("notes.txt", b"just some text", "text/plain")})
    assert answer.status_code == 422
    assert "notes.txt cannot be attached" in error_by(answer.text, "file")
    assert "Figures</textarea>" in answer.text
    assert "Evidence E1" not in police.get("/cases/POLICE-1").text


def test_my_work_puts_the_overdue_action_first_and_counts_it(server: str) -> None:
    police = Person(server)
    police.sign_in("pc.jones")
    page = police.get("/").text
    assert "POLICE-1 action A1" in page
    assert "Overdue by 6 working days" in page
    assert re.search(r'class="rf-count rf-count--overdue">1<span class="govuk-visually-hidden"> waiting, 1 overdue',
                     page)


def test_cases_are_filtered_searched_and_paged(server: str) -> None:
    manager = Person(server)
    manager.sign_in("bm")
    police = manager.get("/cases?agency=police").text
    assert "POLICE-1" in police
    assert "HEALTH-1" not in police
    themed = manager.get("/cases?theme=Information+Sharing").text
    assert "POLICE-1" in themed
    assert "HEALTH-1" not in themed
    assert "POLICE-1" not in manager.get("/cases?theme=neglect").text
    assert "HEALTH-1" in manager.get("/cases?ref=health").text
    assert "POLICE-1" not in manager.get("/cases?ref=health").text
    unknown = manager.get("/cases?workflow=no_such_review")
    assert unknown.status_code == 400
    assert error_by(unknown.text, "workflow").startswith("no workflow named 'no_such_review'")


def test_the_account_page_sets_the_digest_and_gives_a_calendar_address_once(server: str) -> None:
    person = Person(server)
    person.sign_in("pc.jones")
    text, hidden = person.form("/account")
    assert "pc.jones" in text
    assert 'href="/account"' in person.get("/").text
    wrong = person.post("/account/notifications", {"csrf_token": hidden["csrf_token"], "notify": "hourly"})
    assert wrong.status_code == 422
    assert error_by(wrong.text, "notify")
    saved = person.post("/account/notifications", {"csrf_token": hidden["csrf_token"], "notify": "daily"})
    assert saved.headers["location"] == "/account?done=notifications"
    assert re.search(r'value="daily" checked', person.get("/account").text)
    made = person.post("/account/calendar", {"csrf_token": hidden["csrf_token"]})
    assert made.status_code == 200
    address = html.unescape(re.search(r"<code>(\S+/calendar/\S+\.ics)</code>", made.text).group(1))
    assert address not in person.get("/account").text, "the address is shown once"
    path = address[address.index("/calendar/"):]
    feed = httpx.get(f"{server}{path}", timeout=10)
    assert feed.status_code == 200
    assert feed.text.startswith("BEGIN:VCALENDAR")
    assert "POLICE-1" in feed.text
    again = person.post("/account/calendar", {"csrf_token": hidden["csrf_token"]})
    assert again.status_code == 200
    assert httpx.get(f"{server}{path}", timeout=10).status_code == 404, "a new address ends the old one"


def test_static_files_are_served_from_the_package(server: str) -> None:
    css = httpx.get(f"{server}/static/govuk/govuk-frontend.min.css", timeout=10)
    assert css.status_code == 200
    assert css.headers["content-type"].startswith("text/css")
    assert (Path(__file__).parent.parent / "web" / "static" / "govuk" / "LICENSE.txt").is_file()


def test_demo_serve_prints_sign_ins_that_work(tmp_path: Path) -> None:
    port = free_port()
    environment = {k: v for k, v in os.environ.items() if not k.startswith("REVIEWFLOW_")}
    demo = subprocess.Popen([str(SCRIPT), "demo", "--dir", str(tmp_path), "--serve", "--port", str(port)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=environment)
    try:
        printed: list[str] = []
        assert demo.stdout is not None
        for line in demo.stdout:
            printed.append(line)
            if "Stop the server with Ctrl-C" in line:
                break
        text = "".join(printed)
        assert f"open http://127.0.0.1:{port}/sign-in and sign in as one of" in text
        passwords = {name: password for name, password in re.findall(r"^\s+(\S+)\s+password (\S+)", text, re.M)}
        assert {"a.khan", "d.osei", "p.officer", "h.nurse", "lscp.board"} <= set(passwords)
        base = f"http://127.0.0.1:{port}"
        for _ in range(600):
            try:
                httpx.get(f"{base}/sign-in", timeout=2)
                break
            except httpx.TransportError:
                assert demo.poll() is None, "the demo's server stopped"
                time.sleep(0.1)
        section_11 = re.search(r"^  (S11-\d{4}) ", text, re.M)  # the story ends today: its references carry years
        review = re.search(r" case show (RR-\d{4}-\d{3})$", text, re.M)
        assert section_11 is not None, text
        assert review is not None, text
        nurse = Person(base)
        assert nurse.sign_in("h.nurse", passwords["h.nurse"]).status_code == 303
        work = nurse.get("/").text
        assert f"{section_11[1]} action A1" in work
        assert "Overdue by" in work
        manager = Person(base)  # a move in the served demo is dated by its running clock, also its server time
        assert manager.sign_in("a.khan", passwords["a.khan"]).status_code == 303
        ref = review[1]
        _, hidden = manager.form(f"/cases/{ref}/move/withdraw")
        moved = manager.post(f"/cases/{ref}/move/withdraw",
                             {**hidden, "withdrawal_reason": "referred twice", "move_note": "tried in the demo"})
        assert moved.headers["location"] == f"/cases/{ref}?done=moved", moved.text
        case = manager.get(f"/cases/{ref}").text
        assert "Withdrawn" in case
        assert "back-dated" not in case
    finally:
        demo.send_signal(signal.SIGINT)
        try:
            demo.wait(timeout=20)
        except subprocess.TimeoutExpired:  # pragma: no cover - a stuck server
            demo.kill()
