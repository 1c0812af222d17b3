"""The private calendar feed, on SQLite and PostgreSQL: parsed with `icalendar`, its events are the due dates of
the person's work list with stable identifiers; the address is made once, reset, and dies with a disabled user."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner
from icalendar import Calendar

from reviewflow.cli import cli
from reviewflow.engine.core.access import Identity
from reviewflow.engine.core.clock import SteppingClock
from reviewflow.engine.core.errors import InvalidValue, NotFound
from reviewflow.engine.services.facade import Reviewflow
from reviewflow.engine.services.settings import Settings, WebSettings
from reviewflow.store.db import Database

from tests.conftest import ADMIN, FIXTURES, administer
from tests.databases import Templates
from tests.served import serving

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
BASE = "https://reviewflow.example-lscp.org.uk"
NARRATIVE = "Same-day referrals for neglect"


def _init(url: str) -> None:
    rf = Reviewflow(Database(url), SteppingClock(T0))
    try:
        rf.init([FIXTURES / "agency_review.yaml"])
    finally:
        rf.db.dispose()


def _story(rf: Reviewflow) -> None:
    """Two cases at referral (owned by the business manager), a Police action for pc.jones, a Health one for
    hv.smith, and a paused case whose clock does not run."""
    rf.add_user("bm", ["business_manager"], "bm@example.org")
    rf.add_user("pc.jones", ["action_owner"], "pc.jones@example.org", "Police")
    rf.add_user("hv.smith", ["action_owner"], "hv.smith@example.org", "Health")
    for ref, agency in (("POLICE-1", "Police"), ("HEALTH-1", "Health"), ("PAUSED-1", "Police")):
        rf.open_case("agency_review", ref, "bm", {"notifying_agency": agency, "family_context": "private"})
    rf.pause("PAUSED-1", "bm", "awaiting criminal proceedings")
    rf.recommend("POLICE-1", "bm", "Share concerns at once", [], ["Police"])
    rf.add_action("POLICE-1", "bm", "R1", NARRATIVE, "Police", "2026-03-31", "pc.jones", past_due_ok=True)
    rf.recommend("HEALTH-1", "bm", "Health visitors share", [], ["Health"])
    rf.add_action("HEALTH-1", "bm", "R1", "Health visiting", "Health", "2026-02-27", "hv.smith", past_due_ok=True)


@pytest.fixture
def rf(database: Database, templates: Templates) -> Reviewflow:
    templates.copy(database.url, f"init with agency_review.yaml at {T0.isoformat()}", _init)
    service = Reviewflow(database, SteppingClock(T0 + timedelta(hours=1)), Settings(web=WebSettings(base_url=BASE)))
    _story(service)
    return service


def _events(feed: bytes) -> dict[str, tuple[date, str, str | None]]:
    """Each event of a feed by UID: (its date, its summary, its URL)."""
    parsed = Calendar.from_ical(feed)
    found = {}
    for event in parsed.walk("VEVENT"):
        start, end = event.decoded("dtstart"), event.decoded("dtend")
        assert isinstance(start, date)
        assert not isinstance(start, datetime)
        assert end == start + timedelta(days=1)
        found[str(event["uid"])] = (start, str(event["summary"]), str(event["url"]) if "url" in event else None)
    return found


def test_the_feed_holds_the_due_dates_of_my_work(rf: Reviewflow) -> None:
    manager = Identity("bm")
    feed = rf.calendar_feed(rf.calendar_url_secret(manager))
    work = rf.my_work(manager)
    running = [v for v in work.stages if v.paused_at is None]
    assert {v.ref for v in running} == {"POLICE-1", "HEALTH-1"}
    expected = {f"case-{v.ref}-stage-{v.state}@reviewflow": (date.fromisoformat(v.due_date or ""),
                                                             f"{v.ref}: {v.state_label} due", f"{BASE}/cases/{v.ref}")
                for v in running}
    assert _events(feed) == expected
    assert Calendar.from_ical(feed)["x-wr-calname"] == "reviewflow: due dates for bm"


def test_an_action_owner_sees_their_actions_and_nobody_elses(rf: Reviewflow) -> None:
    secret = rf.calendar_url_secret(Identity("pc.jones"))
    first, second = rf.calendar_feed(secret), rf.calendar_feed(secret)
    (action,) = rf.my_work(Identity("pc.jones")).actions
    assert _events(first) == _events(second) == {
        "action-POLICE-1-A1@reviewflow": (action.due_date, "POLICE-1: action A1 due",
                                          f"{BASE}/cases/POLICE-1#action-A1")}
    assert b"HEALTH-1" not in first
    assert NARRATIVE.encode() not in first
    assert b"private" not in first


def test_the_address_is_shown_once_and_a_reset_kills_the_old_one(rf: Reviewflow) -> None:
    owner = Identity("pc.jones")
    old = rf.calendar_url_secret(owner)
    with pytest.raises(InvalidValue, match="^you have a calendar address already; it was shown once"):
        rf.calendar_url_secret(owner)
    new = rf.calendar_url_secret(owner, reset=True)
    assert new != old
    with pytest.raises(NotFound, match="^no calendar at this address: it was reset or never existed"):
        rf.calendar_feed(old)
    assert rf.calendar_feed(new)
    assert rf.calendar_made_at(owner) == rf.clock()
    rf.change_user(None, "pc.jones", disable=True)
    with pytest.raises(NotFound):
        rf.calendar_feed(new)
    with pytest.raises(NotFound):
        rf.calendar_feed("x" * 43)


def test_the_command_prints_the_full_address(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'cal.db'}"
    _init(url)
    administer(url)
    config = tmp_path / "reviewflow.toml"
    config.write_text(f'[web]\nbase_url = "{BASE}/"\n', "utf-8")
    runner = CliRunner()
    args = ["--db", url, "--config", str(config), "calendar", "url"]
    made = runner.invoke(cli, args)
    assert made.exit_code == 0, made.output
    address = made.stdout.strip()
    assert address.startswith(f"{BASE}/calendar/")
    assert address.endswith(".ics")
    again = runner.invoke(cli, args)
    assert again.exit_code == 1
    assert "reset it to get a new one" in again.stderr
    reset = runner.invoke(cli, [*args, "--reset"])
    assert reset.exit_code == 0, reset.output
    assert reset.stdout.strip() != address
    rf = Reviewflow.connect(url)
    try:
        secret = reset.stdout.strip().rsplit("/", 1)[1].removesuffix(".ics")
        assert b"BEGIN:VCALENDAR" in rf.calendar_feed(secret)
        assert rf.account(ADMIN).name == ADMIN
    finally:
        rf.db.dispose()


def test_the_feed_is_served_at_its_private_address(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'served.db'}"
    _init(url)
    rf = Reviewflow(Database(url), SteppingClock(datetime.now(UTC) - timedelta(hours=1)))
    try:
        _story(rf)
        secret = rf.calendar_url_secret(Identity("pc.jones"))
    finally:
        rf.db.dispose()
    with serving(url) as base:
        answer = httpx.get(f"{base}/calendar/{secret}.ics")
        assert answer.status_code == 200
        assert answer.headers["content-type"] == "text/calendar; charset=utf-8"
        assert answer.headers["x-content-type-options"] == "nosniff"
        assert list(_events(answer.content)) == ["action-POLICE-1-A1@reviewflow"]
        unknown = httpx.get(f"{base}/calendar/{'a' * 43}.ics")
        assert unknown.status_code == 404
        assert "no calendar at this address" in unknown.text
