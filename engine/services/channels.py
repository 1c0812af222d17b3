"""Notification channels behind one protocol, in a registry: structured log, e-mail over SMTP, webhook
(signed JSON POST). The only network I/O."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import smtplib
import ssl
import urllib.error
import urllib.request
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime
from typing import Any, Protocol

import structlog

from reviewflow.engine.core.notices import NOTICE, one_line, redact_url, redact_urls
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
    """The subject line: one line whatever the reference or headline hold (a line break in an agency's name,
    say, cannot add a header)."""
    p = m.payload
    return one_line(f"[reviewflow] {p.get('ref', '')}: {p.get('headline', m.event)}")


def with_links(settings: Settings, payload: Mapping[str, Any]) -> dict[str, Any]:
    """The payload with its links made now from these (the worker's) settings: the case's page (at the action
    for an action's notice), a digest's items likewise; whatever link was queued is not used."""
    found = dict(payload)
    if isinstance(found.get("items"), list):  # a daily digest
        found["items"] = [{**item, "link": settings.link(str(item["ref"]), _anchor(item.get("link")))
                           if item.get("ref") else None}
                          for item in found["items"] if isinstance(item, Mapping)]
        found["link"] = settings.page("/my-work")
        return found
    ref = found.get("ref")
    if ref:
        action = found.get("action")
        found["link"] = settings.link(str(ref), f"action-{action}" if action else None)
    elif "link" in found:
        found["link"] = None
    return found


def _anchor(link: Any) -> str | None:
    """The place on a case's page a queued link pointed at (an action's), when it is one of ours."""
    found = re.search(r"#(action-[A-Za-z0-9]{1,20})$", link) if isinstance(link, str) else None
    return found.group(1) if found else None


def check_address(address: str) -> str:
    """One plain e-mail address, or DeliveryFailed (a row written before addresses were checked on input)."""
    text = address.strip()
    if (one_line(text) != text or any(c in text for c in ",;<>\"() ") or text.count("@") != 1
            or text.startswith("@") or text.endswith("@")):
        raise DeliveryFailed(f"the address {one_line(address)!r} is not one e-mail address: correct it with "
                             "'reviewflow user change NAME --email ADDRESS'")
    return text


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
    address = check_address(m.address)
    title, content = text or (subject(m), body(m))
    try:
        msg = EmailMessage()
        msg["From"] = smtp.sender
        msg["To"] = address
        msg["Subject"] = one_line(title)
        msg["Message-ID"] = f"<{message_id_part(one_line(m.key))}@reviewflow>"
        msg["X-Reviewflow-Key"] = one_line(m.key)
        msg["Date"] = format_datetime(when)
        msg.set_content(content)
    except (ValueError, TypeError) as exc:
        raise DeliveryFailed(f"the message could not be written: {one_line(exc)}") from None
    try:
        context = tls_context(smtp) if smtp.ssl or smtp.starttls else None
        client = (smtplib.SMTP_SSL(smtp.host, smtp.port, timeout=smtp.timeout, context=context) if smtp.ssl
                  else smtplib.SMTP(smtp.host, smtp.port, timeout=smtp.timeout))
        with client:
            if smtp.starttls:
                client.starttls(context=context)
            if smtp.username:
                client.login(smtp.username, smtp.password or "")
            client.send_message(msg, to_addrs=[address])
    except (OSError, smtplib.SMTPException) as exc:
        raise DeliveryFailed(f"SMTP {smtp.host}:{smtp.port}: {exc}") from None


def tls_context(smtp: SmtpSettings) -> ssl.SSLContext:
    """TLS that checks the server's certificate and host name: against the system's authorities, or the one in
    `[smtp] ca_file` for a private authority."""
    return ssl.create_default_context(cafile=smtp.ca_file)


SIGNATURE_HEADER = "Reviewflow-Signature"
_INTERNAL = (NOTICE, "webhooks_done")
"""Payload entries for the outbox's own use, never sent."""


def signature(secret: str, timestamp: int, data: bytes) -> str:
    """The `Reviewflow-Signature` header: `t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">`."""
    mac = hmac.new(secret.encode("utf-8"), f"{timestamp}.".encode() + data, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def webhook_body(m: Message) -> bytes:
    payload = {k: v for k, v in m.payload.items() if k not in _INTERNAL}
    return json.dumps({"key": m.key, "event": m.event, "text": f"{subject(m)}\n{body(m)}", **payload}).encode()


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A 3xx answer is a failure (retried), never followed: a redirected POST would lose its body."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_OPENER = urllib.request.build_opener(_NoRedirect)


def send_webhook(m: Message, timeout: float = 5.0, *, url: str | None = None, secret: str | None = None,
                 when: datetime | None = None) -> None:
    """POST the payload as JSON to `url` (else the message's address), signed when there is a `secret`; any 2xx
    answer is success, anything else (a redirect too) a failure. Errors show the URL only as scheme://host/…."""
    target = url or m.address
    if not target:
        raise DeliveryFailed("no webhook URL")
    shown = redact_url(target)
    data = webhook_body(m)
    headers = {"Content-Type": "application/json", "Idempotency-Key": m.key, "User-Agent": "reviewflow"}
    if secret:
        if when is None:
            raise DeliveryFailed("a signed webhook needs the time of sending")
        headers[SIGNATURE_HEADER] = signature(secret, int(when.timestamp()), data)
    try:
        request = urllib.request.Request(target, data=data, method="POST", headers=headers)
        with _OPENER.open(request, timeout=timeout) as response:
            if not 200 <= response.status < 300:
                raise DeliveryFailed(f"webhook {shown} answered {response.status}")
    except urllib.error.HTTPError as exc:
        raise DeliveryFailed(f"webhook {shown} answered {exc.code}") from None
    except ValueError:
        raise DeliveryFailed(f"webhook {shown}: not a valid http:// or https:// URL") from None
    except (OSError, urllib.error.URLError) as exc:
        reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
        raise DeliveryFailed(f"webhook {shown}: {redact_urls(one_line(reason))}") from None


def target_id(url: str) -> str:
    """A webhook target as the outbox records it (which targets a notification reached): not the URL itself."""
    return hashlib.sha256(url.encode("utf-8")).hexdigest()[:16]


@dataclass
class WebhookRound:
    """One attempt at a webhook row: the targets reached (so far, including earlier attempts) and the errors."""

    done: set[str]
    errors: list[str]


def post_webhooks(settings: Settings, m: Message, when: datetime, done: Iterable[str] = ()) -> WebhookRound:
    """Post one notification to each of the worker's webhook targets not reached yet."""
    reached = set(done)
    errors: list[str] = []
    for url in settings.webhooks:
        if target_id(url) in reached:
            continue
        try:
            send_webhook(m, settings.webhook.timeout_seconds, url=url, secret=settings.webhook.secret, when=when)
        except DeliveryFailed as exc:
            errors.append(str(exc))
        else:
            reached.add(target_id(url))
    return WebhookRound(reached, errors)


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
    """A notification posted to every webhook target of the worker's settings (the deliverer posts a retry to
    the targets not reached yet: `post_webhooks`)."""

    name = "webhook"

    def available(self, settings: Settings) -> bool:
        return True

    def send(self, settings: Settings, m: Message, when: datetime) -> None:
        if not settings.webhooks:
            raise DeliveryFailed("no webhook targets are configured: set [webhooks] urls in reviewflow.toml")
        result = post_webhooks(settings, m, when)
        if result.errors:
            raise DeliveryFailed("; ".join(result.errors))


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
