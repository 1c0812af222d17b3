"""Notification channels: structured log, e-mail over SMTP, webhook (JSON POST). The only network I/O."""

from __future__ import annotations

import json
import smtplib
import ssl
import urllib.error
import urllib.request
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import format_datetime
from typing import Any

import structlog

from reviewflow.engine.services.settings import Settings, SmtpSettings

log = structlog.get_logger("reviewflow.notify")


class DeliveryFailed(Exception):
    """A channel could not deliver this time; the worker retries later."""


@dataclass(frozen=True)
class Message:
    """One notification to one address; `key` lets the receiver drop duplicates."""

    key: str
    channel: str
    recipient: str
    address: str | None
    event: str
    payload: dict[str, Any]


def subject(m: Message) -> str:
    p = m.payload
    return f"[reviewflow] {p.get('ref', '')}: {p.get('headline', m.event)}"


def body(m: Message) -> str:
    p = m.payload
    lines = [
        f"Case:      {p.get('ref', '-')}",
        f"Workflow:  {p.get('workflow_title', p.get('workflow', '-'))}",
        f"Stage:     {p.get('state_label', p.get('state', '-'))}",
    ]
    for label, key in (("Timing", "timing"), ("Level", "level_label"), ("Needed", "needed"), ("Link", "link")):
        if p.get(key):
            lines.append(f"{label + ':':<10} {p[key]}")
    lines.append("")
    lines.append("This message carries the case reference only. See the case record for details.")
    return "\n".join(lines)


def message_id_part(key: str) -> str:
    """The idempotency key as the left part of a Message-ID (no ':' or '@')."""
    return key.replace(":", ".").replace("@", ".at.")


def send_email(smtp: SmtpSettings, m: Message, when: Any) -> None:
    """Send one e-mail; the Message-ID is derived from the idempotency key."""
    if not m.address:
        raise DeliveryFailed("no e-mail address")
    msg = EmailMessage()
    msg["From"] = smtp.sender
    msg["To"] = m.address
    msg["Subject"] = subject(m)
    msg["Message-ID"] = f"<{message_id_part(m.key)}@reviewflow>"
    msg["X-Reviewflow-Key"] = m.key
    msg["Date"] = format_datetime(when)
    msg.set_content(body(m))
    try:
        client = (smtplib.SMTP_SSL if smtp.ssl else smtplib.SMTP)(smtp.host, smtp.port, timeout=smtp.timeout)
        with client:
            if smtp.starttls:
                client.starttls(context=ssl.create_default_context())
            if smtp.username:
                client.login(smtp.username, smtp.password or "")
            client.send_message(msg)
    except (OSError, smtplib.SMTPException) as exc:
        raise DeliveryFailed(f"SMTP {smtp.host}:{smtp.port}: {exc}") from None


def send_webhook(m: Message, timeout: float = 15.0) -> None:
    """POST the payload as JSON; any 2xx answer is success."""
    if not m.address:
        raise DeliveryFailed("no webhook URL")
    data = json.dumps({"key": m.key, "event": m.event, "text": f"{subject(m)}\n{body(m)}", **m.payload}).encode()
    try:
        request = urllib.request.Request(m.address, data=data, method="POST", headers={
            "Content-Type": "application/json", "Idempotency-Key": m.key, "User-Agent": "reviewflow"})
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - configured URL
            if not 200 <= response.status < 300:
                raise DeliveryFailed(f"webhook answered {response.status}")
    except urllib.error.HTTPError as exc:
        raise DeliveryFailed(f"webhook answered {exc.code}") from None
    except (OSError, ValueError, urllib.error.URLError) as exc:
        raise DeliveryFailed(f"webhook {m.address}: {exc}") from None


def deliver(settings: Settings, m: Message, when: Any) -> None:
    """Deliver by the message's channel; every delivery is also a structured log event."""
    if m.channel == "email":
        if settings.smtp is None:
            raise DeliveryFailed("SMTP is not configured: set REVIEWFLOW_SMTP_HOST or [smtp] in reviewflow.toml")
        send_email(settings.smtp, m, when)
    elif m.channel == "webhook":
        send_webhook(m)
    log.info("notification.delivered", key=m.key, channel=m.channel, recipient=m.recipient,
             notice=m.event, ref=m.payload.get("ref"), state=m.payload.get("state"),
             level=m.payload.get("level"))
