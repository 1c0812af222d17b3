"""Delivering the outbox on a real SQLite file and a real PostgreSQL, to real servers on 127.0.0.1:
who is told, retries with backoff moved by the injected clock, failures reported, leases, the CLI."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from reviewflow.cli import cli
from reviewflow.engine.core.clock import SteppingClock
from reviewflow.engine.services.channels import Message, send_email, send_webhook
from reviewflow.engine.services.delivery import Deliverer, DeliveryReport
from reviewflow.engine.services.escalation import Sweeper
from reviewflow.engine.services.facade import Reviewflow
from reviewflow.engine.services.settings import Settings, SmtpSettings
from reviewflow.store import outbox
from reviewflow.store.db import Database
from reviewflow.store.outbox import OutboxEntry

from tests.conftest import administer, init_with_minimal
from tests.databases import Templates
from tests.servers import HOST, SmtpServer, WebhookServer, all_logs

SENDER = "reviewflow@lscp.example.org"
REF = "SCR-1"
SCR_FIELDS = {"notifying_agency": "Zebrafield Constabulary Q7", "incident_date": "02/01/2026",
              "incident_type": "child_died"}
ALL_CHANNELS = {"email", "log", "webhook"}

Make = Callable[..., Reviewflow]


@pytest.fixture
def make(db_url: str, clock: SteppingClock, templates: Templates) -> Iterator[Make]:
    """Build services on the test database with the given settings (initialised once, as a copy of a
    database `init` made at the same time)."""
    made: list[Database] = []

    def build(smtp_port: int | None = None, webhooks: tuple[str, ...] = (), **kw: Any) -> Reviewflow:
        smtp = SmtpSettings(HOST, smtp_port, sender=SENDER, timeout=5.0) if smtp_port else None
        if not made:
            templates.copy(db_url, f"init with minimal.yaml at {clock().isoformat()}", init_with_minimal(clock()))
        db = Database(db_url)
        svc = Reviewflow(db, clock, Settings(smtp=smtp, webhooks=webhooks, **kw))
        made.append(db)
        return svc

    yield build
    for db in made:
        db.dispose()



@pytest.fixture
def down() -> Iterator[SmtpServer]:
    """A mail server that is down (its port refuses connections) until the test starts it."""
    server = SmtpServer()
    yield server
    server.stop()



def _people(svc: Reviewflow, *people: tuple[str, str, str | None]) -> None:
    for name, role, email in people:
        svc.add_user(name, [role], email)


NOTIFIER = ("la.duty", "la_notifier", "la.duty@example.org")
MANAGER = ("a.khan", "business_manager", "a.khan@example.org")
LOG_MANAGER = ("b.jones", "business_manager", None)


def _open(svc: Reviewflow, actor: str = "la.duty", ref: str = REF) -> None:
    svc.open_case("serious_case_review", ref, actor, SCR_FIELDS, legacy=True)


def _rows(svc: Reviewflow) -> dict[str, OutboxEntry]:
    return {r.key: r for r in svc.outbox()}


def _told(svc: Reviewflow, failed_key: str) -> list[OutboxEntry]:
    """The delivery_failed notices about the row with key `failed_key`."""
    return [r for r in svc.outbox() if r.event == "delivery_failed" and r.payload.get("failed_key") == failed_key]


def _key(role: str, name: str, channel: str, seq: int = 1) -> str:
    return f"{REF}:{seq}:entered:{role}:{name}:{channel}"


LA_KEY = _key("la_notifier", "la.duty", "email")
KHAN_KEY = _key("business_manager", "a.khan", "email")


# --- who is told ---------------------------------------------------------------------------------

def test_entering_a_state_queues_a_row_per_person_whatever_the_movers_webhooks(make: Make,
                                                                              clock: SteppingClock) -> None:
    """The mover's settings play no part: no webhook row is queued with a URL; the worker adds one per
    notification for its own targets (test_delivery_trust.py)."""
    svc = make(webhooks=("http://127.0.0.1:9/a", "http://127.0.0.1:9/b"))
    _people(svc, NOTIFIER, MANAGER, LOG_MANAGER, ("d.osei", "subgroup_chair", "d.osei@example.org"))
    _open(svc)
    opened = clock()
    clock.advance(days=1)
    svc.fire(REF, "notify", "la.duty", {"notification_date": "06/01/2026"})

    rows = svc.outbox()
    assert [(r.key, r.event, r.role, r.channel, r.recipient, r.address, r.status, r.attempts) for r in rows] == [
        (LA_KEY, "entered_state", "la_notifier", "email", "la.duty", "la.duty@example.org", "pending", 0),
        (KHAN_KEY, "entered_state", "business_manager", "email", "a.khan", "a.khan@example.org", "pending", 0),
        (_key("business_manager", "b.jones", "log"), "entered_state", "business_manager", "log", "b.jones", None,
         "pending", 0),
        (_key("subgroup_chair", "d.osei", "email", 2), "entered_state", "subgroup_chair", "email", "d.osei",
         "d.osei@example.org", "pending", 0),
        (_key("business_manager", "a.khan", "email", 2), "entered_state", "business_manager", "email", "a.khan",
         "a.khan@example.org", "pending", 0),
        (_key("business_manager", "b.jones", "log", 2), "entered_state", "business_manager", "log", "b.jones",
         None, "pending", 0),
    ]
    assert {(r.created_at, r.next_attempt_at) for r in rows[:3]} == {(opened, opened)}
    assert {(r.created_at, r.next_attempt_at) for r in rows[3:]} == {(clock(), clock())}
    assert {r.ref for r in rows} == {REF}
    assert rows[3].payload["headline"] == "now at Sub-group consideration"
    assert rows[3].payload["notice"] == {"key": f"{REF}:2:entered", "event": "entered_state",
                                         "roles": ["subgroup_chair", "business_manager"],
                                         "headline": "now at Sub-group consideration",
                                         "needed": rows[3].payload["needed"]}
    assert all("Zebrafield" not in json.dumps(r.payload) for r in rows)
    assert "127.0.0.1:9" not in json.dumps([r.payload for r in rows])


def test_a_disabled_person_is_told_nothing(make: Make, clock: SteppingClock) -> None:
    """A leaver's account is disabled, not deleted: the history keeps their name, and notifications go to the
    others who hold the role."""
    svc = make()
    _people(svc, NOTIFIER, MANAGER, ("d.osei", "subgroup_chair", "d.osei@example.org"),
            ("m.left", "subgroup_chair", "m.left@example.org"))
    svc.change_user(None, "m.left", disable=True)
    _open(svc)
    clock.advance(days=1)
    svc.fire(REF, "notify", "la.duty", {"notification_date": "06/01/2026"})
    told = {r.recipient for r in svc.outbox() if r.role == "subgroup_chair"}
    assert told == {"d.osei"}


def test_entered_state_notifications_are_delivered(make: Make, clock: SteppingClock, smtp: SmtpServer,
                                                    hook: WebhookServer) -> None:
    svc = make(smtp.port, webhooks=(hook.url(),))
    _people(svc, NOTIFIER, MANAGER, LOG_MANAGER)
    _open(svc)

    assert Deliverer(svc.ctx).run() == DeliveryReport(sent=4)
    assert sorted(r for m in smtp.received for r in m.rcpt_tos) == ["a.khan@example.org", "la.duty@example.org"]
    assert {m.header("Subject") for m in smtp.received} == {"[reviewflow] SCR-1: now at Notification"}
    assert [q.headers["Idempotency-Key"] for q in hook.requests] == [f"{REF}:1:entered:webhook"]
    assert {(r.status, r.sent_at, r.last_error, r.attempts) for r in svc.outbox()} == {("sent", clock(), None, 1)}

    clock.advance(days=1)
    assert Deliverer(svc.ctx).run() == DeliveryReport()
    assert (len(smtp.received), len(hook.requests)) == (2, 1)


def test_a_role_nobody_holds_is_told_to_the_business_managers(make: Make) -> None:
    svc = make()
    _people(svc, MANAGER, LOG_MANAGER)
    _open(svc, actor="a.khan")

    rows = svc.outbox()
    unassigned = f"{REF}:1:entered:la_notifier:unassigned"
    assert [(r.key, r.event, r.role, r.channel, r.recipient) for r in rows] == [
        (f"{unassigned}:business_manager:a.khan:email", "unassigned_role", "business_manager", "email", "a.khan"),
        (f"{unassigned}:business_manager:b.jones:log", "unassigned_role", "business_manager", "log", "b.jones"),
        (KHAN_KEY, "entered_state", "business_manager", "email", "a.khan"),
        (_key("business_manager", "b.jones", "log"), "entered_state", "business_manager", "log", "b.jones"),
    ]
    notice = rows[0].payload
    assert (notice["headline"], notice["needed"], notice["unassigned_role"]) == (
        "nobody holds the role la_notifier: now at Notification",
        "register someone with 'reviewflow user add NAME --role la_notifier'",
        "la_notifier")


def test_the_managers_get_the_unassigned_role_email(make: Make, smtp: SmtpServer) -> None:
    svc = make(smtp.port)
    _people(svc, MANAGER)
    _open(svc, actor="a.khan")

    assert Deliverer(svc.ctx).run() == DeliveryReport(sent=2)
    subjects = sorted(m.header("Subject") for m in smtp.to("a.khan@example.org"))
    assert subjects == ["[reviewflow] SCR-1: nobody holds the role la_notifier: now at Notification",
                        "[reviewflow] SCR-1: now at Notification"]
    [notice] = [m for m in smtp.received if "nobody holds" in m.header("Subject")]
    assert notice.text == (
        "Case:      SCR-1\n"
        "Workflow:  Serious Case Review\n"
        "Stage:     Notification\n"
        "Timing:    due 2026-01-12\n"
        "Needed:    register someone with 'reviewflow user add NAME --role la_notifier'\n"
        "\n"
        "This message carries the case reference only. See the case record for details.\n"
    )


def test_with_no_business_manager_either_the_notice_is_a_log_row(make: Make) -> None:
    svc = make()
    _people(svc, NOTIFIER)
    _open(svc)

    assert [(r.key, r.event, r.role, r.channel, r.recipient, r.address) for r in svc.outbox()] == [
        (LA_KEY, "entered_state", "la_notifier", "email", "la.duty", "la.duty@example.org"),
        (f"{REF}:1:entered:business_manager:unassigned:log", "unassigned_role", "business_manager", "log", "-",
         None),
    ]


def test_the_unassigned_log_row_is_delivered_to_the_log(make: Make) -> None:
    svc = make()
    _people(svc, NOTIFIER)
    _open(svc)
    key = f"{REF}:1:entered:business_manager:unassigned:log"

    with all_logs() as logs:
        report = Deliverer(svc.ctx).run()
    assert report == DeliveryReport(sent=1, waiting_for_smtp=1)
    [entry] = [e for e in logs if e["event"] == "notification.delivered"]
    assert (entry["key"], entry["channel"], entry["ref"], entry["state"]) == (key, "log", REF, "notification")
    assert _rows(svc)[key].status == "sent"


# --- retries with backoff ------------------------------------------------------------------------

def test_mail_server_down_backs_off_doubling_and_never_retries_early(make: Make, clock: SteppingClock,
                                                                   down: SmtpServer) -> None:
    svc = make(down.port, max_attempts=5, backoff_seconds=60)
    _people(svc, NOTIFIER, MANAGER)
    _open(svc)
    deliverer = Deliverer(svc.ctx)

    for attempt, wait in ((1, 60), (2, 120), (3, 240)):
        assert deliverer.run() == DeliveryReport(retrying=2)
        for row in svc.outbox():
            assert (row.status, row.attempts, row.next_attempt_at) == ("pending", attempt,
                                                                      clock() + timedelta(seconds=wait))
            assert row.last_error is not None
            assert row.last_error.startswith(f"SMTP {HOST}:{down.port}: ")
            assert "Connection refused" in row.last_error
        assert wait == svc.settings.backoff(attempt)
        clock.advance(seconds=wait - 1)
        assert deliverer.run() == DeliveryReport()
        assert {r.attempts for r in svc.outbox()} == {attempt}
        clock.advance(seconds=1)


def test_mail_server_back_up_delivers_each_message_exactly_once(make: Make, clock: SteppingClock,
                                                                down: SmtpServer) -> None:
    svc = make(down.port, max_attempts=5, backoff_seconds=60)
    _people(svc, NOTIFIER, MANAGER)
    _open(svc)
    deliverer = Deliverer(svc.ctx)
    assert deliverer.run() == DeliveryReport(retrying=2)

    down.start()
    clock.advance(seconds=30)
    assert deliverer.run() == DeliveryReport()
    assert down.received == []
    clock.advance(seconds=30)
    assert deliverer.run() == DeliveryReport(sent=2)
    assert sorted(r for m in down.received for r in m.rcpt_tos) == ["a.khan@example.org", "la.duty@example.org"]
    assert {(r.status, r.attempts, r.last_error, r.sent_at) for r in svc.outbox()} == {("sent", 2, None, clock())}

    clock.advance(hours=6)
    assert deliverer.run() == DeliveryReport()
    assert len(down.received) == 2


def _fail_out(svc: Reviewflow, clock: SteppingClock, rounds: int) -> None:
    """Run delivery `rounds` times, each after the longest backoff so every due row is tried."""
    for _ in range(rounds):
        Deliverer(svc.ctx).run()
        clock.advance(seconds=svc.settings.backoff_cap_seconds)


def test_after_max_attempts_the_row_fails_and_the_managers_are_told(make: Make, clock: SteppingClock,
                                                                   down: SmtpServer) -> None:
    svc = make(down.port, max_attempts=2, backoff_seconds=60, backoff_cap_seconds=600)
    _people(svc, NOTIFIER, MANAGER)
    _open(svc)
    _fail_out(svc, clock, 1)

    report = Deliverer(svc.ctx).run()  # the second and last attempt
    assert report.failed == 2
    rows = _rows(svc)
    failed = rows[LA_KEY]
    assert (failed.status, failed.attempts) == ("failed", 2)
    assert failed.last_error is not None
    assert "Connection refused" in failed.last_error

    [notice] = _told(svc, LA_KEY)
    assert notice.key.startswith(f"{LA_KEY}:failed")
    assert (notice.event, notice.role, notice.channel, notice.recipient, notice.address) == (
        "delivery_failed", "business_manager", "email", "a.khan", "a.khan@example.org")
    assert (notice.status, notice.attempts) == ("pending", 1)  # tried in the same round: the server is down
    assert notice.payload == {
        "ref": REF, "workflow": "serious_case_review", "workflow_title": "Serious Case Review",
        "state": "notification", "state_label": "Notification", "link": None,
        "headline": "a notification to la.duty by email could not be delivered",
        "needed": f"check the address or the server, then run 'reviewflow outbox retry {failed.id}'",
        "failed_key": LA_KEY, "error": failed.last_error[:200],
    }


def test_a_failed_failure_notice_is_not_reported_again(make: Make, clock: SteppingClock,
                                                       down: SmtpServer) -> None:
    svc = make(down.port, max_attempts=2, backoff_seconds=60, backoff_cap_seconds=600)
    _people(svc, NOTIFIER, MANAGER)
    _open(svc)
    _fail_out(svc, clock, 3)

    [notice] = _told(svc, LA_KEY)
    assert (notice.recipient, notice.channel, notice.status, notice.attempts) == ("a.khan", "email", "failed", 2)
    rows = _rows(svc)
    failure_notices = [r for r in rows.values() if r.event == "delivery_failed"]
    assert all(rows[n.payload["failed_key"]].event != "delivery_failed" for n in failure_notices)

    before = sorted(rows)
    _fail_out(svc, clock, 5)
    assert sorted(_rows(svc)) == before
    assert Deliverer(svc.ctx).run() == DeliveryReport()


def test_a_failure_to_reach_the_only_manager_still_leaves_a_notice(make: Make, clock: SteppingClock,
                                                                   down: SmtpServer) -> None:
    svc = make(down.port, max_attempts=1)
    _people(svc, MANAGER)
    _open(svc, actor="a.khan")

    Deliverer(svc.ctx).run()
    rows = _rows(svc)
    assert rows[KHAN_KEY].status == "failed"
    assert [(r.channel, r.status) for r in _told(svc, KHAN_KEY)] == [("log", "sent")]


def test_the_failure_notice_reaches_a_manager_by_log(make: Make, down: SmtpServer) -> None:
    svc = make(down.port, max_attempts=1)
    _people(svc, NOTIFIER, LOG_MANAGER)
    _open(svc)

    with all_logs() as logs:
        report = Deliverer(svc.ctx).run()
    assert report == DeliveryReport(sent=2, failed=1)
    assert _rows(svc)[LA_KEY].status == "failed"
    [notice] = _told(svc, LA_KEY)
    assert (notice.recipient, notice.channel, notice.status) == ("b.jones", "log", "sent")
    assert notice.payload["headline"] == "a notification to la.duty by email could not be delivered"
    assert [e["key"] for e in logs if e["event"] == "notification.delivered"] == [
        _key("business_manager", "b.jones", "log"), notice.key]


# --- the outbox commands -------------------------------------------------------------------------

def _cli(db_url: str, now: datetime, *args: str) -> str:
    administer(db_url)
    result = CliRunner().invoke(cli, ["--db", db_url, "--now", now.isoformat(), *args],
                                env={"REVIEWFLOW_CONFIG": None, "REVIEWFLOW_NOW": None, "REVIEWFLOW_SMTP_HOST": None,
                                     "REVIEWFLOW_WEBHOOK_URLS": None})
    assert result.exit_code == 0, result.output + result.stderr
    return result.stdout


@pytest.fixture
def failed_out(make: Make, clock: SteppingClock, down: SmtpServer, tmp_path: Path,
               monkeypatch: pytest.MonkeyPatch) -> Reviewflow:
    """la.duty's and a.khan's e-mails failed for good (one attempt), the server still down."""
    monkeypatch.chdir(tmp_path)  # no stray ./reviewflow.toml
    svc = make(down.port, max_attempts=1)
    _people(svc, NOTIFIER, MANAGER)
    _open(svc)
    Deliverer(svc.ctx).run()
    assert _rows(svc)[LA_KEY].status == "failed"
    clock.advance(hours=1)
    return svc


def test_outbox_list_shows_failed_rows_and_retry_requeues_them(failed_out: Reviewflow, db_url: str,
                                                               clock: SteppingClock, down: SmtpServer) -> None:
    svc = failed_out
    listed = json.loads(_cli(db_url, clock(), "outbox", "list", "--status", "failed", "--json"))
    assert {r["status"] for r in listed} == {"failed"}
    [row] = [r for r in listed if r["key"] == LA_KEY]
    error = f"SMTP {HOST}:{down.port}: [Errno 111] Connection refused"
    assert {k: row[k] for k in ("ref", "event", "channel", "recipient", "address", "attempts", "last_error")} == {
        "ref": REF, "event": "entered_state", "channel": "email", "recipient": "la.duty",
        "address": "la.duty@example.org", "attempts": 1, "last_error": error}

    text = _cli(db_url, clock(), "outbox", "list", "--status", "failed").splitlines()
    la_id = row["id"]
    assert f"{la_id:>6} failed   email    la.duty        SCR-1            entered_state    attempts 1, created " \
           f"2026-01-05 09:00  last error: {error}" in text

    assert _cli(db_url, clock(), "outbox", "retry", str(la_id)) == "1 notification(s) queued again\n"
    again = _rows(svc)[LA_KEY]
    assert (again.status, again.attempts, again.next_attempt_at) == ("pending", 0, clock())
    assert [r["key"] for r in json.loads(_cli(db_url, clock(), "outbox", "list", "--status", "pending",
                                              "--json"))] == [LA_KEY]
    assert _cli(db_url, clock(), "outbox", "retry") == f"{len(listed) - 1} notification(s) queued again\n"
    assert svc.outbox("failed") == []


def test_a_retried_row_is_delivered_once_the_server_is_back(failed_out: Reviewflow, db_url: str,
                                                            clock: SteppingClock, down: SmtpServer) -> None:
    la_id = _rows(failed_out)[LA_KEY].id
    _cli(db_url, clock(), "outbox", "retry", str(la_id))
    down.start()

    assert Deliverer(failed_out.ctx).run() == DeliveryReport(sent=1)
    assert [m.rcpt_tos for m in down.received] == [["la.duty@example.org"]]
    assert _rows(failed_out)[LA_KEY].status == "sent"


def test_a_retried_row_that_fails_again_is_failed_and_reported_again(failed_out: Reviewflow, db_url: str,
                                                                     clock: SteppingClock) -> None:
    la_id = _rows(failed_out)[LA_KEY].id
    _cli(db_url, clock(), "outbox", "retry", str(la_id))

    report = Deliverer(failed_out.ctx).run()
    assert report.failed == 2  # the row again, and the new notice to a.khan (the server is still down)
    assert _rows(failed_out)[LA_KEY].status == "failed"
    assert len(_told(failed_out, LA_KEY)) == 2


# --- no mail server configured -------------------------------------------------------------------

def test_email_waits_while_no_smtp_is_configured(make: Make, clock: SteppingClock) -> None:
    svc = make(max_attempts=2)
    _people(svc, NOTIFIER, MANAGER)
    _open(svc)

    with all_logs() as logs:
        assert Deliverer(svc.ctx).run() == DeliveryReport(waiting_for_smtp=2)
    assert [(e["event"], e["waiting"], e["hint"]) for e in logs if e["log_level"] == "warning"] == [
        ("delivery.smtp_not_configured", 2, "set REVIEWFLOW_SMTP_HOST or [smtp] in reviewflow.toml")]
    clock.advance(days=30)
    for _ in range(3):
        assert Deliverer(svc.ctx).run() == DeliveryReport(waiting_for_smtp=2)
    assert {(r.status, r.attempts, r.last_error) for r in svc.outbox()} == {("pending", 0, None)}


def test_waiting_email_goes_once_smtp_is_configured(make: Make, clock: SteppingClock, smtp: SmtpServer) -> None:
    _people(make(), NOTIFIER, MANAGER)
    _open(make())
    clock.advance(days=2)

    assert Deliverer(make(smtp.port).ctx).run() == DeliveryReport(sent=2)
    assert len(smtp.received) == 2


# --- a worker that dies: at least once, de-duplicable --------------------------------------------

def _claim_and_die(svc: Reviewflow) -> list[OutboxEntry]:
    with svc.db.transaction() as s:
        return outbox.claim(s, svc.clock(), 10, svc.settings.lease_seconds, ALL_CHANNELS)


def test_a_claimed_row_is_left_alone_until_its_lease_ends(make: Make, clock: SteppingClock,
                                                          smtp: SmtpServer) -> None:
    svc = make(smtp.port, lease_seconds=300)
    _people(svc, NOTIFIER, MANAGER)
    _open(svc)
    claimed_at = clock()

    assert {(c.key, c.attempts) for c in _claim_and_die(svc)} == {(LA_KEY, 1), (KHAN_KEY, 1)}
    assert Deliverer(svc.ctx).run() == DeliveryReport()
    clock.advance(seconds=299)
    assert Deliverer(svc.ctx).run() == DeliveryReport()
    assert smtp.received == []
    assert {(r.status, r.attempts, r.next_attempt_at) for r in svc.outbox()} == {
        ("pending", 1, claimed_at + timedelta(seconds=300))}


def test_a_dead_workers_rows_are_delivered_again_under_the_same_key(make: Make, clock: SteppingClock,
                                                                    smtp: SmtpServer, hook: WebhookServer) -> None:
    svc = make(smtp.port, webhooks=(hook.url(),), lease_seconds=300)
    _people(svc, NOTIFIER, MANAGER)
    _open(svc)
    # The worker claims, sends la.duty's e-mail and the webhook, and dies before recording it.
    for c in _claim_and_die(svc):
        message = Message(c.key, c.channel, c.recipient, c.address, c.event, c.payload)
        if c.key == LA_KEY:
            send_email(svc.settings.smtp, message, clock())  # type: ignore[arg-type]
            send_webhook(Message(f"{REF}:1:entered:webhook", "webhook", "webhooks", None, c.event, c.payload),
                         url=hook.url())

    clock.advance(seconds=300)
    assert Deliverer(svc.ctx).run() == DeliveryReport(sent=3)
    to_la = smtp.to("la.duty@example.org")
    assert len(to_la) == 2  # at least once: the receiver sees a duplicate ...
    assert {m.header("Message-ID") for m in to_la} == {  # ... that it can drop by its Message-ID
        "<SCR-1.1.entered.la_notifier.la.duty.email@reviewflow>"}
    assert {m.header("X-Reviewflow-Key") for m in to_la} == {LA_KEY}
    assert len(smtp.to("a.khan@example.org")) == 1
    assert [q.headers["Idempotency-Key"] for q in hook.requests] == [f"{REF}:1:entered:webhook"] * 2
    assert {(r.status, r.attempts) for r in svc.outbox() if r.channel == "email"} == {("sent", 2)}
    assert {(r.status, r.attempts) for r in svc.outbox() if r.channel == "webhook"} == {("sent", 1)}


# --- escalations go through the same outbox ------------------------------------------------------

ESCALATED = ("Notification overdue by 2 working days (limit 5 working days, due 2026-01-12); "
             "escalated to Stage owner")
LEVEL1_KEY = f"{REF}:1:level-1:la_notifier:la.duty:email"


def _scr_board(svc: Reviewflow) -> None:
    _people(svc, NOTIFIER, MANAGER, ("d.osei", "subgroup_chair", "d.osei@example.org"),
            ("lscp.board", "board", "board@example.org"))
    _open(svc)


def test_a_sweep_queues_the_escalation_in_the_outbox(make: Make, clock: SteppingClock) -> None:
    svc = make()
    _scr_board(svc)
    clock.advance(days=7, hours=14)  # Monday 12 January 23:00, the last day of the 5 working days
    assert Sweeper(svc.ctx).sweep().fired == []
    clock.advance(hours=34)  # Wednesday 14 January 09:00: two working days over
    [fired] = Sweeper(svc.ctx).sweep().fired
    assert (fired.key, fired.level, fired.label, fired.recipients) == ("level-1", 1, "Stage owner", ("la.duty",))

    escalations = [r for r in svc.outbox() if r.event == "escalation"]
    assert [(r.key, r.role, r.channel, r.recipient, r.status) for r in escalations] == [
        (LEVEL1_KEY, "la_notifier", "email", "la.duty", "pending")]
    assert escalations[0].next_attempt_at == clock()
    assert escalations[0].payload == {
        "ref": REF, "workflow": "serious_case_review", "workflow_title": "Serious Case Review",
        "state": "notification", "state_label": "Notification", "level": 1, "level_label": "Stage owner",
        "headline": ESCALATED, "timing": ESCALATED, "working_days_overdue": 2, "due_date": "2026-01-12",
        "needed": "move SCR-1 on from Notification (possible: notify, withdraw), or pause its clock with a reason",
        "link": None,
        "notice": {"key": f"{REF}:1:level-1", "event": "escalation", "roles": ["la_notifier"],
                   "headline": ESCALATED,
                   "needed": "move SCR-1 on from Notification (possible: notify, withdraw), or pause its clock with "
                             "a reason"},
    }
    assert Sweeper(svc.ctx).sweep().fired == []
    assert len([r for r in svc.outbox() if r.event == "escalation"]) == 1


def test_the_owner_gets_the_level_1_email(make: Make, clock: SteppingClock, smtp: SmtpServer) -> None:
    svc = make(smtp.port, link_template="https://reviews.example.org/cases/{ref}")
    _scr_board(svc)
    Deliverer(svc.ctx).run()
    clock.advance(days=9)
    Sweeper(svc.ctx).sweep()

    assert Deliverer(svc.ctx).run() == DeliveryReport(sent=1)
    [mail] = smtp.received[2:]
    assert mail.rcpt_tos == ["la.duty@example.org"]
    assert {h: mail.header(h) for h in ("To", "Subject", "Message-ID", "X-Reviewflow-Key", "Date")} == {
        "To": "la.duty@example.org",
        "Subject": f"[reviewflow] SCR-1: {ESCALATED}",
        "Message-ID": "<SCR-1.1.level-1.la_notifier.la.duty.email@reviewflow>",
        "X-Reviewflow-Key": LEVEL1_KEY,
        "Date": "Wed, 14 Jan 2026 09:00:00 +0000",
    }
    assert mail.text == (
        "Case:      SCR-1\n"
        "Workflow:  Serious Case Review\n"
        "Stage:     Notification\n"
        f"Timing:    {ESCALATED}\n"
        "Level:     Stage owner\n"
        "Needed:    move SCR-1 on from Notification (possible: notify, withdraw), or pause its clock with a reason\n"
        "Link:      https://reviews.example.org/cases/SCR-1\n"
        "\n"
        "This message carries the case reference only. See the case record for details.\n"
    )
    assert b"Zebrafield" not in mail.raw
