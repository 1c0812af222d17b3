"""Notification channels behind one protocol, in a registry: structured log, e-mail over SMTP, webhook
(JSON POST). The only network I/O."""

from __future__ import annotations

import json
import smtplib
import ssl
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime
from typing import Any, Protocol

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


def send_email(smtp: SmtpSettings, m: Message, when: Any, text: tuple[str, str] | None = None) -> None:
    """Send one e-mail: `text` is its subject and body (by default the notification's own); the Message-ID is
    derived from the idempotency key."""
    if not m.address:
        raise DeliveryFailed("no e-mail address")
    title, content = text or (subject(m), body(m))
    msg = EmailMessage()
    msg["From"] = smtp.sender
    msg["To"] = m.address
    msg["Subject"] = title
    msg["Message-ID"] = f"<{message_id_part(m.key)}@reviewflow>"
    msg["X-Reviewflow-Key"] = m.key
    msg["Date"] = format_datetime(when)
    msg.set_content(content)
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


class Channel(Protocol):
    """A way notifications leave reviewflow. A new channel is a class with these three members, registered
    with `register_channel`; the outbox rows name it in their `channel` column."""

    name: str

    def available(self, settings: Settings) -> bool:
        """Whether the worker can deliver on this channel with these settings (else its rows wait)."""

    def send(self, settings: Settings, m: Message, when: datetime) -> None:
        """Deliver one message or raise DeliveryFailed saying why."""


class LogChannel:
    """The structured log: every delivery is logged, and a message for someone without an address goes only here."""

    name = "log"

    def available(self, settings: Settings) -> bool:
        return True

    def send(self, settings: Settings, m: Message, when: datetime) -> None:
        return None


class EmailChannel:
    name = "email"

    def available(self, settings: Settings) -> bool:
        return settings.smtp is not None

    def send(self, settings: Settings, m: Message, when: datetime) -> None:
        if settings.smtp is None:
            raise DeliveryFailed("SMTP is not configured: set REVIEWFLOW_SMTP_HOST or [smtp] in reviewflow.toml")
        send_email(settings.smtp, m, when)


class WebhookChannel:
    name = "webhook"

    def available(self, settings: Settings) -> bool:
        return True

    def send(self, settings: Settings, m: Message, when: datetime) -> None:
        send_webhook(m)


CHANNELS: dict[str, Channel] = {}
"""The registered channels by name."""


def register_channel(channel: Channel) -> Channel:
    CHANNELS[channel.name] = channel
    return channel


for _shipped in (LogChannel(), EmailChannel(), WebhookChannel()):
    register_channel(_shipped)


def available_channels(settings: Settings) -> set[str]:
    """The channels the worker delivers on now."""
    return {name for name, channel in CHANNELS.items() if channel.available(settings)}


def deliver(settings: Settings, m: Message, when: datetime) -> None:
    """Deliver by the message's channel; every delivery is also a structured log event."""
    channel = CHANNELS.get(m.channel)
    if channel is None:
        raise DeliveryFailed(f"no channel named {m.channel!r}; channels: {', '.join(sorted(CHANNELS))}")
    channel.send(settings, m, when)
    log.info("notification.delivered", key=m.key, channel=m.channel, recipient=m.recipient,
             notice=m.event, ref=m.payload.get("ref"), state=m.payload.get("state"),
             level=m.payload.get("level"))
