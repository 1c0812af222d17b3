"""Trusted time: --now cannot date a change far from the server's own time, every row records when the server
wrote it, and back-dating is shown, on SQLite and PostgreSQL through the real CLI."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import inspect

from reviewflow.cli import cli
from reviewflow.engine.core import time_limits
from reviewflow.engine.core.access import Identity
from reviewflow.engine.core.clock import fixed_clock
from reviewflow.engine.core.errors import InvalidValue, NotPermitted
from reviewflow.engine.core.time_limits import DEFAULT_LIMITS, TimeLimits, backdate_note, parse_limit
from reviewflow.engine.services import context
from reviewflow.engine.services.facade import Reviewflow
from reviewflow.store import schema, time_settings
from reviewflow.store.db import Database

from tests.conftest import FIXTURES, acting_for
from tests.served import serving
from tests.test_migrations import _to
from tests.test_pages import PASSWORD, Person

WALL = datetime(2027, 6, 1, 9, 0, tzinfo=UTC)
"""The server's own time in these tests (the real one would make them depend on the day they run)."""
REF = "MIN-TT-1"
PEOPLE = {"bm": "business_manager", "sc": "subgroup_chair", "brd": "board"}


def at(**delta: float) -> str:
    """An instant relative to the server's time, as --now takes it."""
    return (WALL + timedelta(**delta)).isoformat()


@pytest.fixture(autouse=True)
def _real_time_limits(monkeypatch: pytest.MonkeyPatch) -> None:
    """Undo tests/conftest.py for this module: new databases get the real defaults, and the server's time is
    WALL, whatever --now says."""
    monkeypatch.setattr(time_limits, "NEW_DATABASE_LIMITS", DEFAULT_LIMITS)
    monkeypatch.setattr(context, "SERVER_CLOCK", fixed_clock(WALL))


class Run:
    def __init__(self, url: str) -> None:
        self.url = url

    def __call__(self, *args: str, now: str | None = None, code: int = 0, token: str | None = None) -> Result:
        argv = ["--db", self.url, *(["--now", now] if now else []), *args]
        result = CliRunner().invoke(cli, argv, env={"REVIEWFLOW_USER": None, "REVIEWFLOW_NOW": None,
                                                    "REVIEWFLOW_TOKEN": token})
        assert "Traceback" not in result.output + result.stderr
        assert result.exit_code == code, result.output + result.stderr
        return result

    def refused(self, *args: str, now: str | None = None, code: int = 1, token: str | None = None) -> str:
        lines = self(*args, now=now, code=code, token=token).stderr.strip().splitlines()
        assert len(lines) == 1, lines
        return lines[0]

    def show(self) -> dict[str, object]:
        shown: dict[str, object] = json.loads(self("case", "show", REF, "--json", now=at()).stdout)
        return shown


@pytest.fixture
def run(db_url: str) -> Run:
    """A new database with the minimal workflow and its people, and case REF opened 20 days before WALL."""
    r = Run(db_url)
    r("init", "--workflows", str(FIXTURES / "minimal.yaml"), now=at(days=-25))
    for name, role in PEOPLE.items():
        r("user", "add", name, "--role", role, now=at(days=-25))
    r("case", "open", "minimal", "--ref", REF, "--field", "notifying_agency=Police", "--as", "bm",
      now=at(days=-20))
    return r


def _service(url: str) -> Reviewflow:
    return Reviewflow(Database(url), fixed_clock(WALL), wall=fixed_clock(WALL))


def test_a_sweep_dated_far_in_the_future_is_refused_and_nothing_is_written(run: Run) -> None:
    before = run.show()
    line = run.refused("escalate", now="2199-01-01")
    assert line.startswith("Error: the change is dated 2199-01-01 00:00, ")
    assert "after the server's time 2027-06-01 10:00; the future-tolerance is 5m: nothing was written" in line
    assert run.show() == before
    assert before["escalations"] == []
    preview = json.loads(run("escalate", "--dry-run", "--json", now="2199-01-01").stdout)  # a read stays free
    assert preview["fired"]
    assert run.show() == before


def test_a_pause_dated_far_in_the_future_is_refused(run: Run) -> None:
    line = run.refused("case", "pause", REF, "--reason", "inquest", "--as", "bm", now="2199-03-19")
    assert "the future-tolerance is 5m: nothing was written" in line
    assert run.show()["paused_at"] is None


def test_a_change_two_minutes_ahead_is_accepted_and_records_the_servers_time(run: Run) -> None:
    run("case", "pause", REF, "--reason", "inquest", "--as", "bm", now=at(minutes=2))
    shown = run.show()
    history = shown["history"]
    assert isinstance(history, list)
    assert history[-1]["trigger"] == "pause"
    assert history[-1]["at"] == at(minutes=2)
    assert history[-1]["recorded_at"] == WALL.isoformat()
    assert run.refused("case", "resume", REF, "--as", "bm", now=at(minutes=6)).startswith(
        "Error: the change is dated 2027-06-01 10:06, 6 minutes after the server's time")


def test_back_dating_beyond_the_window_is_refused_and_within_it_shown(run: Run) -> None:
    line = run.refused("case", "open", "minimal", "--ref", "MIN-TT-2", "--field", "notifying_agency=Police",
                       "--as", "bm", now=at(days=-31))
    assert line == ("Error: the change is dated 2027-05-01 10:00, 31 days before the server's time 2027-06-01 10:00; "
                    "the backdate-window is 30d: nothing was written; date it within the window, or ask an "
                    "administrator")
    run("case", "pause", REF, "--reason", "inquest", "--as", "bm", now=at(days=-12))
    text = run("case", "show", REF, now=at()).stdout
    assert "recorded 1 Jun 2027, back-dated 12 days" in text
    assert text.count("back-dated") == 2  # the opening, 20 days back, too
    timeline = run("case", "timeline", REF, now=at()).stdout
    assert "recorded 1 Jun 2027, back-dated 12 days" in timeline
    html = run("case", "timeline", REF, "--format", "html", now=at()).stdout
    assert "<li>recorded 1 Jun 2027, back-dated 20 days</li>" in html
    board = json.loads(run("report", "board", "--format", "json", now=at()).stdout)["figures"]
    by = acting_for("bm")
    assert [(m["ref"], m["what"], m["by"]) for m in board["backdated"]] == [(REF, "open", by), (REF, "pause", by)]
    csv = run("report", "board", "--format", "csv", now=at()).stdout
    assert f"{REF},pause,2027-05-20 10:00,2027-06-01 10:00,12 days,{by}" in csv


def test_the_case_page_marks_a_back_dated_row(run: Run) -> None:
    run("case", "pause", REF, "--reason", "inquest", "--as", "bm", now=at(minutes=-1))
    rf = _service(run.url)
    try:
        rf.set_password(None, "bm", PASSWORD)
    finally:
        rf.db.dispose()
    with serving(run.url, now=at()) as base:
        person = Person(base)
        person.sign_in("bm")
        page = person.get(f"/cases/{REF}")
    assert page.status_code == 200
    assert page.text.count("Back-dated</strong> recorded 1 Jun 2027, back-dated 20 days") == 1  # not the pause


def test_a_move_cannot_be_dated_before_an_escalation_already_sent_for_its_stage(run: Run) -> None:
    run("escalate", now=at(days=-2))  # the referral was due 13 days before WALL: its owner is told
    sent = run.show()["escalations"]
    assert isinstance(sent, list)
    assert len(sent) == 1
    line = run.refused("case", "fire", REF, "accept", "--field", "decision=yes", "--as", "sc", now=at(days=-5))
    assert line.startswith(f"Error: {REF}'s escalation ")
    assert "was sent at 2027-05-30 10:00 for the stage this move leaves; a move cannot be dated before it" in line
    assert run.show()["state"] == "referral"
    run("case", "fire", REF, "accept", "--field", "decision=yes", "--as", "sc", now=at(days=-1))
    assert run.show()["state"] == "on"


def test_only_an_administrator_changes_the_time_settings_and_each_change_is_logged(run: Run) -> None:
    assert run("settings", "show").stdout.split() == ["future-tolerance", "5m", "backdate-window", "30d"]
    run("settings", "set", "backdate-window", "90d")
    assert json.loads(run("settings", "show", "--json").stdout) == {"future-tolerance": "5m",
                                                                    "backdate-window": "90d"}
    run("case", "pause", REF, "--reason", "inquest", "--as", "bm", now=at(days=-19))  # now within 90 days
    assert "is not one of" in run("settings", "set", "tolerance", "1m", code=2).stderr
    assert run.refused("settings", "set", "future-tolerance", "soon") == (
        "Error: future-tolerance 'soon' is not a duration: write e.g. 10m, 2h, 90d or off")

    rf = _service(run.url)
    try:
        token = rf.create_token(Identity("bm"), "bm", "settings", "write").secret
        assert run.refused("settings", "set", "future-tolerance", "off", token=token, code=5) == (
            "Error: changing the time settings is for administrators; bm is not one: ask an administrator")
        with pytest.raises(NotPermitted):
            rf.set_time_limit(Identity("bm"), "backdate-window", "off")
        assert rf.time_limits() == TimeLimits(timedelta(minutes=5), timedelta(days=90))
        events = [e for e in rf.admin_events() if e.action == "settings.set"]
        assert [(e.target, dict(e.details)) for e in events] == [
            ("backdate-window", {"setting": "backdate-window", "from": "30d", "to": "90d"})]
        assert events[0].recorded_at == WALL
    finally:
        rf.db.dispose()
    run("settings", "set", "future-tolerance", "off")
    run("escalate", now="2199-01-01")  # no limit ahead any more
    assert run("audit", "verify").exit_code == 0


def test_rows_sealed_without_a_recorded_time_still_verify(run: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    with monkeypatch.context() as old:  # rows as written before 0005: no recorded_at, sealed without one
        old.setattr(time_settings, "mark", lambda s, wall: None)
        run("escalate", now=at(days=-11))
        run("case", "pause", REF, "--reason", "inquest", "--as", "bm", now=at(days=-10))
    run("case", "resume", REF, "--as", "bm", now=at(days=-1))
    history = run.show()["history"]
    assert isinstance(history, list)
    assert [h["recorded_at"] for h in history] == [WALL.isoformat(), None, WALL.isoformat()]
    assert len(run.show()["escalations"]) == 1  # type: ignore[arg-type]
    run("audit", "verify")


def test_an_upgraded_database_gets_the_columns_and_the_defaults(database: Database) -> None:
    _to(database, "0004")
    _to(database, "head")
    with database.engine.connect() as conn:
        assert schema.current(conn) == schema.head()
        for table in ("case_history", "escalations", "admin_events"):
            assert "recorded_at" in {c["name"] for c in inspect(conn).get_columns(table)}
    with database.transaction() as s:
        assert time_settings.limits(s) == DEFAULT_LIMITS


def test_limits_and_back_dating_notes_in_words() -> None:
    assert parse_limit("backdate-window", "90d") == timedelta(days=90)
    assert parse_limit("future-tolerance", " 10M ") == timedelta(minutes=10)
    assert parse_limit("future-tolerance", "off") is None
    with pytest.raises(InvalidValue):
        parse_limit("future-tolerance", "-5m")
    assert backdate_note(WALL - timedelta(minutes=5), WALL) is None
    assert backdate_note(WALL, None) is None
    assert backdate_note(datetime(2026, 11, 22, 9, tzinfo=UTC), datetime(2026, 12, 4, 9, tzinfo=UTC)) == \
        "recorded 4 Dec 2026, back-dated 12 days"
