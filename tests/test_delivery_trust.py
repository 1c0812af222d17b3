"""Delivery nothing can stop, and that nobody but the worker steers: one bad row fails alone; addresses are
checked on input; webhook targets and links come from the worker's settings at delivery; redirects are not
followed; a hung receiver holds up no e-mail; webhooks are signed; webhook URLs are shown only as
scheme://host/…; SMTP over TLS checks the certificate. Real SQLite and PostgreSQL, real servers on 127.0.0.1."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from reviewflow.cli import cli
from reviewflow.engine.core.clock import SteppingClock
from reviewflow.engine.core.errors import InvalidValue
from reviewflow.engine.core.notices import Outgoing
from reviewflow.engine.services.channels import (
    CHANNELS,
    DeliveryFailed,
    Message,
    send_email,
    target_id,
    with_links,
)
from reviewflow.engine.services.delivery import NO_TARGETS, Deliverer, DeliveryReport
from reviewflow.engine.services.facade import Reviewflow
from reviewflow.engine.services.settings import Settings, SmtpSettings, WebhookSettings, WebSettings, load_settings
from reviewflow.store import outbox
from reviewflow.store.db import Database

from tests.conftest import administer, init_with_minimal
from tests.databases import Templates
from tests.servers import HOST, SmtpServer, WebhookServer, all_logs, make_certificates

SENDER = "reviewflow@lscp.example.org"
REF = "SCR-1"
SCR_FIELDS = {"notifying_agency": "Zebrafield Constabulary Q7", "incident_date": "02/01/2026",
              "incident_type": "child_died"}
NOTIFIER = ("la.duty", "la_notifier", "la.duty@example.org")
MANAGER = ("a.khan", "business_manager", "a.khan@example.org")
LA_KEY = f"{REF}:1:entered:la_notifier:la.duty:email"
KHAN_KEY = f"{REF}:1:entered:business_manager:a.khan:email"
HOOK_KEY = f"{REF}:1:entered:webhook"
SECRET_URL = "https://chat.example.org/hooks/T0KEN-s3cret-path"
BASE = "https://reviews.example.org"

Make = Callable[..., Reviewflow]


@pytest.fixture
def make(db_url: str, clock: SteppingClock, templates: Templates) -> Iterator[Make]:
    """Services on the test database with the given settings: several of them share one database, as a
    person's command and the worker do."""
    made: list[Database] = []

    def build(smtp_port: int | None = None, **kw: Any) -> Reviewflow:
        smtp = kw.pop("smtp", None) or (SmtpSettings(HOST, smtp_port, sender=SENDER, timeout=5.0) if smtp_port
                                        else None)
        if not made:
            templates.copy(db_url, f"init with minimal.yaml at {clock().isoformat()}", init_with_minimal(clock()))
        db = Database(db_url)
        made.append(db)
        return Reviewflow(db, clock, Settings(smtp=smtp, **kw))

    yield build
    for db in made:
        db.dispose()


@pytest.fixture
def second_hook() -> Iterator[WebhookServer]:
    server = WebhookServer()
    yield server
    server.stop()


def _people(svc: Reviewflow) -> None:
    for name, role, email in (NOTIFIER, MANAGER):
        svc.add_user(name, [role], email)


def _open(svc: Reviewflow) -> None:
    svc.open_case("serious_case_review", REF, "la.duty", SCR_FIELDS, legacy=True)


def _rows(svc: Reviewflow) -> dict[str, Any]:
    return {r.key: r for r in svc.outbox()}


def _sql(svc: Reviewflow, statement: str, **params: Any) -> None:
    from sqlalchemy import text

    with svc.db.transaction() as s:
        s.execute(text(statement), params)


def _cli(db_url: str, now: datetime, *args: str, config: Path | None = None) -> Any:
    administer(db_url)
    options = ["--config", str(config)] if config else []
    return CliRunner().invoke(cli, ["--db", db_url, "--now", now.isoformat(), *options, *args],
                              env={"REVIEWFLOW_CONFIG": None, "REVIEWFLOW_NOW": None, "REVIEWFLOW_SMTP_HOST": None,
                                   "REVIEWFLOW_WEBHOOK_URLS": None, "REVIEWFLOW_LINK_TEMPLATE": None,
                                   "REVIEWFLOW_BASE_URL": None, "REVIEWFLOW_WEBHOOK_SECRET": None})


# --- 1. one bad row fails alone ---------------------------------------------------------------------

def test_a_line_break_in_one_address_fails_that_row_alone_and_run_once_carries_on(
        make: Make, db_url: str, clock: SteppingClock, smtp: SmtpServer, tmp_path: Path) -> None:
    svc = make()
    _people(svc)
    _open(svc)
    # Stored before addresses were checked on input: an address with a line break, a headline with one.
    _sql(svc, "update outbox set address = :a where key = :k", a="la.duty@example.org\r\nBcc: x@example.net",
         k=LA_KEY)
    with svc.db.transaction() as s:
        outbox.add(s, [Outgoing("odd:1", "entered_state", "business_manager", "email", "a.khan",
                                "a.khan@example.org", {"ref": REF, "headline": "now at\r\nBcc: x@example.net"})],
                   None, clock())
    config = tmp_path / "reviewflow.toml"
    config.write_text(f'[smtp]\nhost = "{HOST}"\nport = {smtp.port}\nsender = "{SENDER}"\n\n'
                      "[delivery]\nmax_attempts = 2\nbackoff_seconds = 60\n", "utf-8")

    first = _cli(db_url, clock(), "run", "--once", config=config)
    assert first.exit_code == 0, first.output + first.stderr
    assert "Traceback" not in first.output + first.stderr
    assert sorted(r for m in smtp.received for r in m.rcpt_tos) == ["a.khan@example.org", "a.khan@example.org"]
    assert "x@example.net" not in json.dumps([m.rcpt_tos for m in smtp.received])
    [odd] = [m for m in smtp.received if m.header("X-Reviewflow-Key") == "odd:1"]
    assert odd.header("Subject") == f"[reviewflow] {REF}: now at Bcc: x@example.net"
    assert odd.message["Bcc"] is None
    bad = _rows(svc)[LA_KEY]
    assert (bad.status, bad.attempts) == ("pending", 1)
    assert bad.last_error is not None
    assert "is not one e-mail address" in bad.last_error
    assert "\n" not in bad.last_error

    clock.advance(seconds=60)
    second = _cli(db_url, clock(), "run", "--once", config=config)
    assert second.exit_code == 0, second.output + second.stderr
    rows = _rows(svc)
    assert (rows[LA_KEY].status, rows[LA_KEY].attempts) == ("failed", 2)
    [notice] = [r for r in rows.values() if r.event == "delivery_failed"]
    assert (notice.recipient, notice.payload["failed_key"], notice.status) == ("a.khan", LA_KEY, "sent")
    assert smtp.to("la.duty@example.org") == []


class _Broken:
    """A channel with a fault: it raises something other than DeliveryFailed."""

    name = "broken"

    def available(self, settings: Settings) -> bool:
        return True

    def send(self, settings: Settings, m: Message, when: datetime) -> None:
        raise RuntimeError("a fault in the channel")


def test_any_exception_is_retried_then_failed_and_reported(make: Make, clock: SteppingClock,
                                                           smtp: SmtpServer) -> None:
    svc = make(smtp.port, max_attempts=2, backoff_seconds=60)
    _people(svc)
    with svc.db.transaction() as s:
        outbox.add(s, [Outgoing("broken:1", "entered_state", "la_notifier", "broken", "la.duty", None,
                                {"ref": REF})], None, clock())
    _open(svc)
    CHANNELS["broken"] = _Broken()
    try:
        assert Deliverer(svc.ctx).run() == DeliveryReport(sent=2, retrying=1)
        assert _rows(svc)["broken:1"].last_error == "RuntimeError: a fault in the channel"
        clock.advance(seconds=60)
        assert Deliverer(svc.ctx).run() == DeliveryReport(sent=1, failed=1)  # the failure notice to a.khan
    finally:
        CHANNELS.pop("broken")
    assert _rows(svc)["broken:1"].status == "failed"
    assert len(smtp.to("a.khan@example.org")) == 2


# --- 2. addresses checked on input ------------------------------------------------------------------

@pytest.mark.parametrize("address", ["a@example.org\nb@example.org", "a@example.org, b@example.org",
                                     "A Khan <a@example.org>", "a@example.org\r\nBcc: b@example.org", "a@@x.org"])
def test_an_address_that_is_not_one_address_is_refused(make: Make, address: str) -> None:
    svc = make()
    with pytest.raises(InvalidValue) as refused:
        svc.add_user("x.person", ["business_manager"], address)
    assert (refused.value.field, refused.value.value) == ("email", address)
    assert "\n" not in str(refused.value)
    assert "is not one e-mail address" in str(refused.value)
    svc.add_user("y.person", ["business_manager"], "y.person@example.org")
    with pytest.raises(InvalidValue, match="is not one e-mail address"):
        svc.change_user(None, "y.person", email=address)


def test_user_add_refuses_a_line_break_in_the_address(make: Make, db_url: str, clock: SteppingClock) -> None:
    make()
    result = _cli(db_url, clock(), "user", "add", "x.person", "--role", "business_manager", "--email",
                  "x@example.org\nBcc: y@example.org")
    assert result.exit_code != 0
    [line] = result.stderr.strip().splitlines()
    assert "is not one e-mail address" in line


# --- 3. the worker's targets and links --------------------------------------------------------------

def test_webhooks_and_links_come_from_the_worker_not_the_mover(make: Make, clock: SteppingClock, smtp: SmtpServer,
                                                              hook: WebhookServer,
                                                              second_hook: WebhookServer) -> None:
    mover = make(webhooks=("http://127.0.0.1:9/movers-own",), link_template="https://elsewhere.example/{ref}")
    _people(mover)
    _open(mover)
    assert {r.channel for r in mover.outbox()} == {"email"}  # nothing addressed by the mover's settings

    worker = make(smtp.port, webhooks=(hook.url("/a"), second_hook.url("/b")), web=WebSettings(base_url=BASE))
    assert Deliverer(worker.ctx).run() == DeliveryReport(sent=3)

    for server in (hook, second_hook):
        [request] = server.requests
        assert request.headers["Idempotency-Key"] == HOOK_KEY
        assert request.json["link"] == f"{BASE}/cases/{REF}"
        assert request.json["roles"] == ["la_notifier", "business_manager"]
        assert "notice" not in request.json
    for mail in smtp.received:
        assert f"Link:      {BASE}/cases/{REF}" in mail.text
        assert b"elsewhere" not in mail.raw
    row = _rows(worker)[HOOK_KEY]
    assert (row.channel, row.recipient, row.address, row.status) == ("webhook", "webhooks", None, "sent")


def test_links_are_made_at_delivery_for_notices_and_digests() -> None:
    worker = Settings(web=WebSettings(base_url=BASE))
    assert with_links(worker, {"ref": "R-1", "action": "A2", "link": "https://elsewhere.example/R-1"})["link"] == \
        f"{BASE}/cases/R-1#action-A2"
    digest = with_links(worker, {"link": "https://elsewhere.example/my-work", "items": [
        {"ref": "R-1", "link": "https://elsewhere.example/cases/R-1#action-A1"}, {"ref": "R-2", "link": None}]})
    assert digest["link"] == f"{BASE}/my-work"
    assert [i["link"] for i in digest["items"]] == [f"{BASE}/cases/R-1#action-A1", f"{BASE}/cases/R-2"]
    assert with_links(Settings(), {"ref": "R-1", "link": "https://elsewhere.example/R-1"})["link"] is None


def test_a_retry_posts_only_to_the_targets_not_reached(make: Make, clock: SteppingClock, hook: WebhookServer,
                                                       second_hook: WebhookServer) -> None:
    _people(make())
    _open(make())
    worker = make(webhooks=(hook.url(), second_hook.url()), backoff_seconds=60)
    hook.status = 500
    assert Deliverer(worker.ctx).run() == DeliveryReport(sent=0, retrying=1, waiting_for_smtp=2)
    row = _rows(worker)[HOOK_KEY]
    assert row.payload["webhooks_done"] == [target_id(second_hook.url())]
    assert row.last_error == f"webhook http://{HOST}:{hook.port}/… answered 500"
    hook.status = 200
    clock.advance(seconds=60)
    assert Deliverer(worker.ctx).run().sent == 1
    assert (len(hook.requests), len(second_hook.requests)) == (2, 1)
    assert _rows(worker)[HOOK_KEY].status == "sent"


def test_a_worker_without_targets_skips_webhook_rows_and_says_so(make: Make, clock: SteppingClock) -> None:
    svc = make()
    _people(svc)
    with svc.db.transaction() as s:  # a row queued by an older version, its URL stored
        outbox.add(s, [Outgoing("old:webhook0", "entered_state", "la_notifier", "webhook", "webhook0", SECRET_URL,
                                {"ref": REF})], None, clock())
    with all_logs() as logs:
        report = Deliverer(svc.ctx).run()
    assert report.skipped == 1
    row = _rows(svc)["old:webhook0"]
    assert (row.status, row.last_error, row.address) == ("skipped", NO_TARGETS, "https://chat.example.org/…")
    assert [e["key"] for e in logs if e["event"] == "delivery.webhook_skipped"] == ["old:webhook0"]


def test_a_queued_url_is_never_used_and_never_shown(make: Make, db_url: str, clock: SteppingClock,
                                                    hook: WebhookServer, tmp_path: Path) -> None:
    svc = make()
    _people(svc)
    with svc.db.transaction() as s:
        outbox.add(s, [Outgoing("old:webhook0", "entered_state", "la_notifier", "webhook", "webhook0", SECRET_URL,
                                {"ref": REF})], None, clock())
    _sql(svc, "update outbox set last_error = :e", e=f"webhook {SECRET_URL}: timed out")
    shown = [_cli(db_url, clock(), "outbox", "list").stdout, _cli(db_url, clock(), "outbox", "list", "--json").stdout]
    export = _cli(db_url, clock(), "export", "--out", str(tmp_path / "dump.json"))
    assert export.exit_code == 0, export.output + export.stderr
    shown.append((tmp_path / "dump.json").read_text("utf-8"))
    for text in shown:
        assert "T0KEN" not in text
        assert "https://chat.example.org/…" in text

    with svc.db.transaction() as s:  # its second target's copy, from the same older version
        outbox.add(s, [Outgoing("old:webhook1", "entered_state", "la_notifier", "webhook", "webhook1",
                                "https://ops.example.org/in", {"ref": REF})], None, clock())
    worker = make(webhooks=(hook.url(),))
    with all_logs() as logs:
        assert Deliverer(worker.ctx).run() == DeliveryReport(sent=1, skipped=1)
    assert [q.headers["Idempotency-Key"] for q in hook.requests] == ["old:webhook0"]
    assert "T0KEN" not in json.dumps(logs, default=str)
    assert _rows(worker)["old:webhook1"].status == "skipped"


# --- 4. no redirects; a hung receiver holds up nothing else -----------------------------------------

def test_a_redirect_is_a_failure_and_is_not_followed(make: Make, hook: WebhookServer) -> None:
    _people(make())
    _open(make())
    hook.status, hook.location = 302, hook.url("/elsewhere")
    worker = make(webhooks=(hook.url(),))
    assert Deliverer(worker.ctx).run().retrying == 1
    assert len(hook.requests) == 1
    assert hook.gets == []
    row = _rows(worker)[HOOK_KEY]
    assert (row.status, row.last_error) == ("pending", f"webhook http://{HOST}:{hook.port}/… answered 302")


def test_a_receiver_that_hangs_does_not_hold_up_the_emails(make: Make, db_url: str, clock: SteppingClock,
                                                           hook: WebhookServer, smtp: SmtpServer,
                                                           tmp_path: Path) -> None:
    svc = make()
    _people(svc)
    _open(svc)
    hook.hang = True
    config = tmp_path / "worker.toml"
    config.write_text(f'[smtp]\nhost = "{HOST}"\nport = {smtp.port}\nsender = "{SENDER}"\n\n'
                      f'[webhooks]\nurls = ["{hook.url()}"]\ntimeout_seconds = 0.5\n', "utf-8")
    result = _cli(db_url, clock(), "run", "--once", config=config)
    assert result.exit_code == 0, result.output + result.stderr
    assert sorted(r for m in smtp.received for r in m.rcpt_tos) == ["a.khan@example.org", "la.duty@example.org"]
    assert len(hook.requests) == 1
    rows = _rows(svc)
    assert {rows[k].status for k in (LA_KEY, KHAN_KEY)} == {"sent"}
    assert (rows[HOOK_KEY].status, rows[HOOK_KEY].attempts) == ("pending", 1)
    assert "timed out" in (rows[HOOK_KEY].last_error or "")


# --- 5. signed webhooks, checked by the example in docs/security.md ---------------------------------

def _docs_example() -> Callable[..., bool]:
    text = (Path(__file__).resolve().parent.parent / "docs" / "security.md").read_text("utf-8")
    section = text[text.index("### Verifying a webhook's signature"):]
    [code] = re.findall(r"```python\n(.*?)```", section, re.DOTALL)[:1]
    namespace: dict[str, Any] = {}
    exec(compile(code, "docs/security.md", "exec"), namespace)  # noqa: S102 - the documented example
    verify: Callable[..., bool] = namespace["verify"]
    return verify


def test_webhooks_are_signed_and_the_documented_check_accepts_them(make: Make, clock: SteppingClock,
                                                                   hook: WebhookServer) -> None:
    _people(make())
    _open(make())
    worker = make(webhooks=(hook.url(),), webhook=WebhookSettings(secret="receiver-shared-secret"))
    Deliverer(worker.ctx).run()
    [request] = hook.requests
    header = request.headers["Reviewflow-Signature"]
    now = int(clock().timestamp())
    assert header.startswith(f"t={now},v1=")
    verify = _docs_example()
    assert verify("receiver-shared-secret", header, request.raw, now)
    assert not verify("another-secret", header, request.raw, now)
    assert not verify("receiver-shared-secret", header, request.raw.replace(b"SCR-1", b"SCR-2"), now)
    assert not verify("receiver-shared-secret", header, request.raw, now + 3600)


def test_the_webhook_secret_comes_from_the_workers_settings(tmp_path: Path) -> None:
    path = tmp_path / "worker.toml"
    path.write_text('[webhooks]\nurls = ["https://chat.example.org/hooks/1"]\nsecret_env = "HOOK_KEY"\n'
                    "timeout_seconds = 3\n", "utf-8")
    assert load_settings(path, {"HOOK_KEY": "k1"}).webhook == WebhookSettings(secret="k1", timeout_seconds=3.0)
    assert load_settings(path, {"HOOK_KEY": "k1", "REVIEWFLOW_WEBHOOK_SECRET": "k2"}).webhook.secret == "k2"
    assert "chat.example.org" not in repr(load_settings(path, {}))


# --- 7. SMTP over TLS: the certificate is checked -----------------------------------------------------

@pytest.fixture
def certificates(tmp_path: Path) -> Any:
    return make_certificates(tmp_path)


def _message() -> Message:
    return Message("SCR-1:1:entered:la_notifier:la.duty:email", "email", "la.duty", "la.duty@example.org",
                   "entered_state", {"ref": REF, "headline": "now at Notification"})


def test_implicit_tls_is_verified_against_a_private_ca(certificates: Any, clock: SteppingClock) -> None:
    server = SmtpServer(ssl_context=certificates.server_context()).start()
    try:
        settings = SmtpSettings(HOST, server.port, ssl=True, sender=SENDER, timeout=5.0,
                                ca_file=str(certificates.ca_file))
        send_email(settings, _message(), clock())
        assert [m.rcpt_tos for m in server.received] == [["la.duty@example.org"]]
        with pytest.raises(DeliveryFailed, match="CERTIFICATE_VERIFY_FAILED"):
            send_email(SmtpSettings(HOST, server.port, ssl=True, sender=SENDER, timeout=5.0), _message(), clock())
        assert len(server.received) == 1
    finally:
        server.stop()


def test_starttls_is_verified_against_a_private_ca(certificates: Any, clock: SteppingClock) -> None:
    server = SmtpServer(tls_context=certificates.server_context()).start()
    try:
        settings = SmtpSettings(HOST, server.port, starttls=True, sender=SENDER, timeout=5.0,
                                ca_file=str(certificates.ca_file))
        send_email(settings, _message(), clock())
        assert len(server.received) == 1
        with pytest.raises(DeliveryFailed, match="CERTIFICATE_VERIFY_FAILED"):
            send_email(SmtpSettings(HOST, server.port, starttls=True, sender=SENDER, timeout=5.0), _message(),
                       clock())
    finally:
        server.stop()


def test_a_certificate_for_another_host_is_refused(tmp_path: Path, clock: SteppingClock) -> None:
    other = make_certificates(tmp_path / "other", names=("mail.example.org",))
    server = SmtpServer(ssl_context=other.server_context()).start()
    try:
        settings = SmtpSettings(HOST, server.port, ssl=True, sender=SENDER, timeout=5.0, ca_file=str(other.ca_file))
        with pytest.raises(DeliveryFailed, match="CERTIFICATE_VERIFY_FAILED.*mismatch"):
            send_email(settings, _message(), clock())
        assert server.received == []
    finally:
        server.stop()


def test_an_unverified_server_is_retried_then_failed(make: Make, clock: SteppingClock, certificates: Any) -> None:
    server = SmtpServer(ssl_context=certificates.server_context()).start()
    try:
        svc = make(max_attempts=2, backoff_seconds=60,
                   smtp=SmtpSettings(HOST, server.port, ssl=True, sender=SENDER, timeout=5.0))
        _people(svc)
        _open(svc)
        assert Deliverer(svc.ctx).run() == DeliveryReport(retrying=2)
        clock.advance(seconds=60)
        assert Deliverer(svc.ctx).run().failed == 2
        rows = _rows(svc)
        assert {rows[k].status for k in (LA_KEY, KHAN_KEY)} == {"failed"}
        assert "CERTIFICATE_VERIFY_FAILED" in (rows[LA_KEY].last_error or "")
        assert server.received == []
    finally:
        server.stop()


def test_a_login_without_tls_is_refused_unless_allowed(tmp_path: Path, certificates: Any) -> None:
    path = tmp_path / "plain.toml"
    path.write_text('[smtp]\nhost = "mail.example.org"\nusername = "reviewflow"\npassword = "pw-s3cret"\n', "utf-8")
    with pytest.raises(InvalidValue, match=r"without TLS.*set ssl = true or starttls = true") as refused:
        load_settings(path, {})
    assert "pw-s3cret" not in str(refused.value)
    path.write_text(path.read_text("utf-8") + "allow_plain_login = true\n", "utf-8")
    smtp = load_settings(path, {}).smtp
    assert smtp is not None
    assert smtp.allow_plain_login
    assert "pw-s3cret" not in repr(smtp)
    path.write_text(f'[smtp]\nhost = "h"\nssl = true\nca_file = "{certificates.ca_file}"\n', "utf-8")
    assert load_settings(path, {}).smtp == SmtpSettings("h", ssl=True, ca_file=str(certificates.ca_file))
    path.write_text('[smtp]\nhost = "h"\nssl = true\nca_file = "/nowhere/ca.pem"\n', "utf-8")
    with pytest.raises(InvalidValue, match="ca_file '/nowhere/ca.pem' is not a file"):
        load_settings(path, {})
