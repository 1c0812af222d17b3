"""Notification channels against real servers on 127.0.0.1: e-mail through aiosmtpd, webhooks
through http.server. Messages carry the case reference and the stage, never the case's field values."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from reviewflow.engine.core.clock import SteppingClock
from reviewflow.engine.services.channels import DeliveryFailed, Message, deliver, send_email, send_webhook
from reviewflow.engine.services.delivery import Deliverer
from reviewflow.engine.services.facade import Reviewflow
from reviewflow.engine.services.settings import Settings, SmtpSettings
from reviewflow.store.db import Database

from tests.servers import HOST, SmtpServer, WebhookServer, all_logs, free_port

WHEN = datetime(2026, 1, 14, 9, 0, tzinfo=UTC)
SENDER = "reviewflow@lscp.example.org"

ESCALATION = Message(
    key="SCR-2026-001:1:level-1:la_notifier:la.duty:email",
    channel="email",
    recipient="la.duty",
    address="la.duty@example.org",
    event="escalation",
    payload={
        "ref": "SCR-2026-001", "workflow": "serious_case_review", "workflow_title": "Serious Case Review",
        "state": "notification", "state_label": "Notification", "level": 1, "level_label": "Stage owner",
        "headline": "Notification overdue by 2 working days (limit 5 working days, due 2026-01-12); "
                    "escalated to Stage owner",
        "timing": "Notification overdue by 2 working days (limit 5 working days, due 2026-01-12); "
                  "escalated to Stage owner",
        "working_days_overdue": 2, "due_date": "2026-01-12",
        "needed": "move SCR-2026-001 on from Notification (possible: notify, withdraw), "
                  "or pause its clock with a reason",
        "link": "https://reviews.example.org/cases/SCR-2026-001",
    },
)

ESCALATION_BODY = (
    "Case:      SCR-2026-001\n"
    "Workflow:  Serious Case Review\n"
    "Stage:     Notification\n"
    "Timing:    Notification overdue by 2 working days (limit 5 working days, due 2026-01-12); "
    "escalated to Stage owner\n"
    "Level:     Stage owner\n"
    "Needed:    move SCR-2026-001 on from Notification (possible: notify, withdraw), "
    "or pause its clock with a reason\n"
    "Link:      https://reviews.example.org/cases/SCR-2026-001\n"
    "\n"
    "This message carries the case reference only. See the case record for details.\n"
)

# A value no notification may ever carry: it is case content, not a reference.
AGENCY = "Zebrafield Constabulary Q7"




def _smtp_settings(port: int, **kw: object) -> SmtpSettings:
    return SmtpSettings(host=HOST, port=port, sender=SENDER, timeout=5.0, **kw)  # type: ignore[arg-type]


def _webhook(url: str, key: str = "SCR-2026-001:1:entered:webhook0") -> Message:
    return Message(key, "webhook", "webhook0", url, "entered_state",
                   {"ref": "SCR-2026-001", "state": "notification", "headline": "now at Notification"})


# --- e-mail ------------------------------------------------------------------------------------

def test_email_arrives_with_headers_and_a_reference_only_body(smtp: SmtpServer) -> None:
    send_email(_smtp_settings(smtp.port), ESCALATION, WHEN)

    [got] = smtp.received
    assert (got.mail_from, got.rcpt_tos) == (SENDER, ["la.duty@example.org"])
    assert {h: got.header(h) for h in ("From", "To", "Subject", "Message-ID", "X-Reviewflow-Key", "Date")} == {
        "From": SENDER,
        "To": "la.duty@example.org",
        "Subject": "[reviewflow] SCR-2026-001: Notification overdue by 2 working days "
                   "(limit 5 working days, due 2026-01-12); escalated to Stage owner",
        "Message-ID": "<SCR-2026-001.1.level-1.la_notifier.la.duty.email@reviewflow>",
        "X-Reviewflow-Key": "SCR-2026-001:1:level-1:la_notifier:la.duty:email",
        "Date": "Wed, 14 Jan 2026 09:00:00 +0000",
    }
    assert got.message.get_content_type() == "text/plain"
    assert got.text == ESCALATION_BODY


def test_outbox_rows_of_a_real_case_carry_no_field_values(tmp_path: Path, smtp: SmtpServer,
                                                          hook: WebhookServer) -> None:
    """Open an SCR with a distinctive agency name; what the e-mail and webhook receivers get is the
    reference, the workflow, the stage and the timing, never the case's content."""
    clock = SteppingClock(datetime(2026, 1, 5, 9, 0, tzinfo=UTC))
    settings = Settings(smtp=_smtp_settings(smtp.port), webhooks=(hook.url("/hooks/reviewflow"),))
    db = Database(f"sqlite:///{tmp_path / 'reviewflow.db'}")
    try:
        svc = Reviewflow(db, clock, settings)
        svc.init()
        svc.add_user("la.duty", ["la_notifier"], "la.duty@example.org")
        svc.add_user("a.khan", ["business_manager"], "a.khan@example.org")
        svc.open_case("serious_case_review", "SCR-2026-001", "la.duty",
                      {"notifying_agency": AGENCY, "incident_date": "02/01/2026", "incident_type": "child_died"},
                      legacy=True)
        queued = [(r.channel, r.recipient) for r in svc.outbox()]
        Deliverer(svc.ctx).run()
        rows = svc.outbox()
    finally:
        db.dispose()
    assert queued == [("email", "la.duty"), ("email", "a.khan")]
    assert [(r.channel, r.recipient, r.address, r.status) for r in rows] == [
        ("email", "la.duty", "la.duty@example.org", "sent"), ("email", "a.khan", "a.khan@example.org", "sent"),
        ("webhook", "webhooks", None, "sent")]

    assert len(smtp.received) == 2
    assert len(hook.requests) == 1
    for raw in [m.raw for m in smtp.received] + [q.raw for q in hook.requests]:
        for secret in (AGENCY, "Zebrafield", "child_died", "2026-01-02"):
            assert secret.encode() not in raw
    [mail] = smtp.to("la.duty@example.org")
    assert mail.header("Subject") == "[reviewflow] SCR-2026-001: now at Notification"
    assert mail.header("Message-ID") == "<SCR-2026-001.1.entered.la_notifier.la.duty.email@reviewflow>"
    assert mail.text == (
        "Case:      SCR-2026-001\n"
        "Workflow:  Serious Case Review\n"
        "Stage:     Notification\n"
        "Timing:    due 2026-01-12\n"
        "Needed:    The local authority notifies Ofsted and the Board of the serious incident.\n"
        "\n"
        "This message carries the case reference only. See the case record for details.\n"
    )
    [request] = hook.requests
    assert request.path == "/hooks/reviewflow"
    assert request.headers["Idempotency-Key"] == "SCR-2026-001:1:entered:webhook"
    assert request.json == {
        "key": "SCR-2026-001:1:entered:webhook",
        "event": "entered_state",
        "text": "[reviewflow] SCR-2026-001: now at Notification\n" + mail.text.rstrip("\n"),
        "ref": "SCR-2026-001",
        "workflow": "serious_case_review",
        "workflow_title": "Serious Case Review",
        "state": "notification",
        "state_label": "Notification",
        "trigger": "open",
        "headline": "now at Notification",
        "timing": "due 2026-01-12",
        "needed": "The local authority notifies Ofsted and the Board of the serious incident.",
        "link": None,
        "roles": ["la_notifier", "business_manager"],
    }


def test_starttls_refused_by_server_is_a_clear_failure(smtp: SmtpServer) -> None:
    with pytest.raises(DeliveryFailed) as caught:
        send_email(_smtp_settings(smtp.port, starttls=True), ESCALATION, WHEN)
    assert str(caught.value) == f"SMTP {HOST}:{smtp.port}: STARTTLS extension not supported by server."
    assert smtp.received == []


def test_credentials_without_server_auth_is_a_clear_failure(smtp: SmtpServer) -> None:
    with pytest.raises(DeliveryFailed) as caught:
        send_email(_smtp_settings(smtp.port, username="reviewflow", password="s3cret"), ESCALATION, WHEN)
    assert str(caught.value) == f"SMTP {HOST}:{smtp.port}: SMTP AUTH extension not supported by server."
    assert "s3cret" not in str(caught.value)
    assert smtp.received == []


def test_implicit_tls_against_a_plain_server_fails(smtp: SmtpServer) -> None:
    with pytest.raises(DeliveryFailed, match=rf"^SMTP {HOST}:{smtp.port}: "):
        send_email(_smtp_settings(smtp.port, ssl=True), ESCALATION, WHEN)
    assert smtp.received == []


def test_mail_server_down_is_a_clear_failure() -> None:
    port = free_port()
    with pytest.raises(DeliveryFailed, match=rf"^SMTP {HOST}:{port}: .*Connection refused"):
        send_email(_smtp_settings(port), ESCALATION, WHEN)


def test_recipient_refused_names_the_address(smtp: SmtpServer) -> None:
    smtp.reject.add("la.duty@example.org")
    with pytest.raises(DeliveryFailed, match=rf"^SMTP {HOST}:{smtp.port}: .*la\.duty@example\.org.*550"):
        send_email(_smtp_settings(smtp.port), ESCALATION, WHEN)
    assert smtp.received == []


def test_email_without_address_or_without_smtp_is_refused() -> None:
    with pytest.raises(DeliveryFailed, match="^no e-mail address$"):
        send_email(_smtp_settings(free_port()), Message("k:1", "email", "x", None, "escalation", {}), WHEN)
    with pytest.raises(DeliveryFailed) as caught:
        deliver(Settings(), ESCALATION, WHEN)
    assert str(caught.value) == "SMTP is not configured: set REVIEWFLOW_SMTP_HOST or [smtp] in reviewflow.toml"


def test_message_id_stays_one_valid_id_when_the_user_name_has_an_at_sign(smtp: SmtpServer) -> None:
    key = "SCR-2026-001:1:entered:la_notifier:a.khan@council:email"
    send_email(_smtp_settings(smtp.port), Message(key, "email", "a.khan@council", "a.khan@example.org",
                                                  "entered_state", {"ref": "SCR-2026-001"}), WHEN)
    header = smtp.received[0].header("Message-ID")
    assert header.startswith("<SCR-2026-001.1.entered.la_notifier.a.khan")
    assert header.endswith("@reviewflow>")
    assert header.count("@") == 1
    assert smtp.received[0].header("X-Reviewflow-Key") == key


# --- webhooks ----------------------------------------------------------------------------------

def test_webhook_posts_json_with_idempotency_key(hook: WebhookServer) -> None:
    send_webhook(_webhook(hook.url("/notify")))

    [request] = hook.requests
    assert request.path == "/notify"
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["Idempotency-Key"] == "SCR-2026-001:1:entered:webhook0"
    assert request.headers["User-Agent"] == "reviewflow"
    assert request.json == {
        "key": "SCR-2026-001:1:entered:webhook0",
        "event": "entered_state",
        "text": "[reviewflow] SCR-2026-001: now at Notification\n"
                "Case:      SCR-2026-001\nWorkflow:  -\nStage:     notification\n\n"
                "This message carries the case reference only. See the case record for details.",
        "ref": "SCR-2026-001",
        "state": "notification",
        "headline": "now at Notification",
    }


def test_any_2xx_answer_is_success(hook: WebhookServer) -> None:
    hook.status = 202
    send_webhook(_webhook(hook.url()))
    assert len(hook.requests) == 1


def test_webhook_error_answer_is_a_clear_failure(hook: WebhookServer) -> None:
    hook.status = 500
    with pytest.raises(DeliveryFailed) as caught:
        send_webhook(_webhook(hook.url()))
    assert str(caught.value) == f"webhook http://{HOST}:{hook.port}/… answered 500"
    assert len(hook.requests) == 1  # tried once; retrying is the worker's business


def test_webhook_refused_connection_is_a_clear_failure(hook: WebhookServer) -> None:
    url = hook.url()
    hook.stop()
    with pytest.raises(DeliveryFailed, match=rf"^webhook http://{HOST}:{hook.port}/…: .*Connection refused"):
        send_webhook(_webhook(url))


def test_webhook_without_url_is_refused() -> None:
    with pytest.raises(DeliveryFailed, match="^no webhook URL$"):
        send_webhook(_webhook(""))


def test_malformed_webhook_url_is_a_delivery_failure() -> None:
    with pytest.raises(DeliveryFailed, match="^webhook …: not a valid http:// or https:// URL$"):
        send_webhook(_webhook("example.org/hook"))


# --- every delivery is logged ------------------------------------------------------------------

def test_log_channel_delivery_is_a_structured_log_event() -> None:
    notice = Message("SCR-2026-001:1:entered:business_manager:unassigned:log", "log", "-", None,
                     "unassigned_role", {"ref": "SCR-2026-001", "state": "notification"})
    with all_logs() as logs:
        deliver(Settings(), notice, WHEN)
    [entry] = [e for e in logs if e["event"] == "notification.delivered"]
    assert (entry["key"], entry["channel"], entry["ref"], entry["state"]) == (
        notice.key, "log", "SCR-2026-001", "notification")
    assert "unassigned_role" in entry.values()
