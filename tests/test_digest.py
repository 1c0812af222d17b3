"""Daily digests through a real SMTP server on 127.0.0.1, on SQLite and PostgreSQL: a person who chose `daily`
gets one e-mail a day at the set time, from the worker, listing references, what happened and links; everyone
else is told at once; links open the case's page on `[web] base_url`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from reviewflow.cli import cli
from reviewflow.engine.core.access import Identity
from reviewflow.engine.core.clock import SteppingClock
from reviewflow.engine.core.errors import InvalidValue, NotPermitted
from reviewflow.engine.services.facade import Reviewflow
from reviewflow.engine.services.settings import Settings, SmtpSettings, WebSettings, load_settings
from reviewflow.store.db import Database

from tests.conftest import FIXTURES, administer
from tests.databases import Templates
from tests.servers import SmtpServer

MONDAY = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
"""In January England keeps GMT: 08:00 in London is 08:00 UTC."""
BASE = "https://reviewflow.example-lscp.org.uk"
NARRATIVE = "Same-day referrals for neglect"
JONES = "pc.jones@example.org"


def _init(url: str) -> None:
    rf = Reviewflow(Database(url), SteppingClock(MONDAY))
    try:
        rf.init([FIXTURES / "agency_review.yaml"])
    finally:
        rf.db.dispose()


@pytest.fixture
def rf(database: Database, templates: Templates, smtp: SmtpServer) -> Reviewflow:
    templates.copy(database.url, f"init with agency_review.yaml at {MONDAY.isoformat()}", _init)
    settings = Settings(smtp=SmtpSettings(host="127.0.0.1", port=smtp.port), web=WebSettings(base_url=BASE))
    service = Reviewflow(database, SteppingClock(MONDAY + timedelta(hours=1)), settings)
    service.add_user("bm", ["business_manager"], "bm@example.org")
    service.add_user("chair", ["subgroup_chair"], "chair@example.org")
    service.add_user("pc.jones", ["action_owner"], JONES, "Police")
    for ref in ("POLICE-1", "POLICE-2"):
        service.open_case("agency_review", ref, "bm", {"notifying_agency": "Police", "family_context": "private"})
        service.recommend(ref, "bm", "Share concerns at once", [], ["Police"])
    return service


def _assign(rf: Reviewflow, ref: str) -> str:
    return rf.add_action(ref, "bm", "R1", NARRATIVE, "Police", "2026-03-31", "pc.jones")


def _at(rf: Reviewflow, when: datetime) -> None:
    assert isinstance(rf.clock, SteppingClock)
    rf.clock.now = when


def test_a_daily_person_gets_one_digest_a_day_from_the_worker(rf: Reviewflow, smtp: SmtpServer) -> None:
    rf.set_notification_preference(Identity("pc.jones"), "pc.jones", "daily")
    _assign(rf, "POLICE-1")
    _assign(rf, "POLICE-2")
    rf.submit_evidence("POLICE-1", "A1", "pc.jones", "policy_change", "Policy v3", "POL-77")
    worker = rf.worker()
    assert worker.tick().error is None
    assert smtp.to(JONES) == []
    (told,) = smtp.to("chair@example.org")
    assert f"Link:      {BASE}/cases/POLICE-1" in told.text
    _at(rf, datetime(2026, 1, 6, 7, 59, tzinfo=UTC))
    assert worker.tick().digests == 0
    assert smtp.to(JONES) == []
    _at(rf, datetime(2026, 1, 6, 8, 0, tzinfo=UTC))
    result = worker.tick()
    assert (result.digests, result.error) == (1, None)
    (digest,) = smtp.to(JONES)
    assert digest.header("Subject") == "[reviewflow] your daily summary for 6 January 2026: 2 notification(s)"
    text = digest.text
    assert "POLICE-1: action A1 of POLICE-1 is yours, due 2026-03-31" in text
    assert "POLICE-2: action A1 of POLICE-2 is yours, due 2026-03-31" in text
    assert f"Link:  {BASE}/cases/POLICE-1" in text
    assert f"Everything waiting on you: {BASE}/my-work" in text
    assert NARRATIVE not in text
    assert "private" not in text
    _at(rf, datetime(2026, 1, 6, 9, 0, tzinfo=UTC))
    rf.update_action("POLICE-2", "A1", "bm", due="2026-04-30", reason="awaiting training dates")
    _assign(rf, "POLICE-2")
    assert worker.tick().digests == 0
    assert len(smtp.to(JONES)) == 1
    _at(rf, datetime(2026, 1, 7, 8, 0, 30, tzinfo=UTC))
    assert worker.tick().digests == 1
    later = smtp.to(JONES)[1]
    assert later.header("Subject").endswith("for 7 January 2026: 1 notification(s)")
    assert "action A2 of POLICE-2 is yours" in later.text
    statuses = {e.key: e.status for e in rf.outbox() if e.recipient == "pc.jones"}
    assert statuses == {
        "POLICE-1:A1:assigned:owner:pc.jones:email": "digested",
        "POLICE-2:A1:assigned:owner:pc.jones:email": "digested",
        "POLICE-2:A2:assigned:owner:pc.jones:email": "digested",
        "digest:pc.jones:2026-01-06": "sent", "digest:pc.jones:2026-01-07": "sent"}


def test_going_back_to_immediate_sends_what_was_held(rf: Reviewflow, smtp: SmtpServer) -> None:
    rf.set_notification_preference(None, "pc.jones", "daily")
    _assign(rf, "POLICE-1")
    rf.deliver()
    assert smtp.to(JONES) == []
    assert [e.status for e in rf.outbox(ref="POLICE-1") if e.recipient == "pc.jones"] == ["held"]
    account = rf.set_notification_preference(Identity("pc.jones"), "pc.jones", "immediate")
    assert account.notify == "immediate"
    assert rf.deliver().sent == 1
    (told,) = smtp.to(JONES)
    assert told.header("Subject") == "[reviewflow] POLICE-1: action A1 of POLICE-1 is yours, due 2026-03-31"
    assert f"Link:      {BASE}/cases/POLICE-1" in told.text
    events = sorted((e for e in rf.admin_events() if e.action == "user.notify"), key=lambda e: e.seq)
    assert [dict(e.details) for e in events] == [{"notify": "daily", "released": 0},
                                                 {"notify": "immediate", "released": 1}]
    assert rf.verify_audit().ok


def test_only_the_person_or_an_administrator_chooses(rf: Reviewflow) -> None:
    with pytest.raises(NotPermitted, match="^only an administrator may choose how someone else is notified"):
        rf.set_notification_preference(Identity("pc.jones"), "bm", "daily")
    with pytest.raises(InvalidValue, match=r"^--notify 'weekly': use immediate \(an e-mail per notification\) or "
                                           r"daily \(one digest a day\)$"):
        rf.set_notification_preference(Identity("bm"), "bm", "weekly")
    assert rf.account("bm").notify == "immediate"


def test_the_command_sets_the_choice(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'digest.db'}"
    _init(url)
    administer(url)
    runner = CliRunner()
    assert runner.invoke(cli, ["--db", url, "user", "add", "pc.jones", "--role", "action_owner"]).exit_code == 0
    changed = runner.invoke(cli, ["--db", url, "user", "change", "pc.jones", "--notify", "daily"])
    assert changed.exit_code == 0, changed.output
    assert "notified daily" in changed.stdout
    both = runner.invoke(cli, ["--db", url, "user", "change", "pc.jones", "--notify", "immediate", "--email",
                               JONES, "--json"])
    assert both.exit_code == 0, both.output
    assert '"notify": "immediate"' in both.stdout
    assert JONES in both.stdout


def test_the_digest_time_is_a_setting(tmp_path: Path) -> None:
    assert (Settings().digest_time, Settings().digest_timezone) == ("08:00", "Europe/London")
    config = tmp_path / "reviewflow.toml"
    config.write_text('[delivery]\ndigest_time = "7:30"\ndigest_timezone = "Europe/London"\n', "utf-8")
    assert load_settings(config, {}).digest_time == "07:30"
    assert load_settings(config, {"REVIEWFLOW_DIGEST_TIME": "18:05"}).digest_time == "18:05"
    with pytest.raises(InvalidValue, match=r"^digest_time '25:00': write the time of day as HH:MM, e.g. 08:00$"):
        load_settings(config, {"REVIEWFLOW_DIGEST_TIME": "25:00"})
    config.write_text('[delivery]\ndigest_timezone = "Mars/Olympus"\n', "utf-8")
    with pytest.raises(InvalidValue, match="^digest_timezone 'Mars/Olympus' is not a time zone"):
        load_settings(config, {})


def test_links_open_the_case_page_on_the_base_url(tmp_path: Path) -> None:
    config = tmp_path / "reviewflow.toml"
    config.write_text(f'[web]\nbase_url = "{BASE}/"\n', "utf-8")
    settings = load_settings(config, {})
    assert settings.link("SCR-2026-001") == f"{BASE}/cases/SCR-2026-001"
    assert settings.link("SCR-2026-001", "action-A1") == f"{BASE}/cases/SCR-2026-001#action-A1"
    templated = load_settings(config, {"REVIEWFLOW_LINK_TEMPLATE": "https://intranet.example/r/{ref}"})
    assert templated.link("SCR-2026-001") == "https://intranet.example/r/SCR-2026-001"
    assert Settings().link("SCR-2026-001") is None
