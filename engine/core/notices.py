"""Who hears about what: roles expanded to people and channels, and the message payloads. Pure."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from reviewflow.engine.core.agencies import agency_key

FALLBACK_ROLE = "business_manager"
"""Told when a notification is meant for a role that nobody holds."""


@dataclass(frozen=True)
class Recipient:
    name: str
    email: str | None
    agency: str | None = None


@dataclass(frozen=True)
class Outgoing:
    """One notification to one recipient over one channel; `key` is its idempotency key."""

    key: str
    event: str
    role: str
    channel: str
    recipient: str
    address: str | None
    payload: dict[str, Any]


def for_agency(directory: Mapping[str, Sequence[Recipient]], agency: str,
               owner: Recipient | None) -> dict[str, list[Recipient]]:
    """The directory for one action: `owner` is its owner; a role held by people of the action's agency
    goes to them alone (an agency's safeguarding lead, not every agency's)."""
    narrowed: dict[str, list[Recipient]] = {}
    for role, people in directory.items():
        same = [p for p in people if p.agency and agency_key(p.agency) == agency_key(agency)]
        narrowed[role] = same or list(people)
    narrowed["owner"] = [owner] if owner else []
    return narrowed


def within_subgroup(directory: Mapping[str, Sequence[Recipient]],
                    subgroup: str | None) -> dict[str, list[Recipient]]:
    """The directory for a case of `subgroup` (engine/core/subgroups.py): each role goes to those holding it
    partnership-wide and those holding it for that sub-group (ROLE@SUBGROUP); a role held for another
    sub-group is told nothing of the case."""
    narrowed: dict[str, list[Recipient]] = {}
    for role, people in directory.items():
        base, sep, within = role.partition("@")
        if sep and within != subgroup:
            continue
        found = narrowed.setdefault(base, [])
        found.extend(p for p in people if p not in found)
    return narrowed


def _to_person(key: str, event: str, role: str, person: Recipient, payload: dict[str, Any]) -> Outgoing:
    channel = "email" if person.email else "log"
    return Outgoing(f"{key}:{role}:{person.name}:{channel}", event, role, channel, person.name,
                    person.email, payload)


def expand(key: str, event: str, roles: Sequence[str], payload: dict[str, Any],
           directory: Mapping[str, Sequence[Recipient]], webhook: bool = False) -> list[Outgoing]:
    """One row per person holding each role (e-mail when they have an address, else the log), and a notice
    to the business manager for every role that nobody holds.

    With `webhook`, every row carries the notification (`NOTICE`: its key, event and roles), from which the
    worker that first picks one up queues the notification's single webhook row (`webhook_row`), for the
    webhook targets of its own settings: what the person who made the change has configured plays no part.
    """
    if webhook:
        payload = {**payload, NOTICE: {"key": key, "event": event, "roles": list(dict.fromkeys(roles)),
                                       **{k: payload[k] for k in ("headline", "needed") if k in payload}}}
    items: list[Outgoing] = []
    for role in dict.fromkeys(roles):
        people = directory.get(role, [])
        for person in people:
            items.append(_to_person(key, event, role, person, payload))
        if not people:
            items.extend(_unassigned(key, role, payload, directory))
    return items


NOTICE = "notice"
"""The payload entry naming the notification a row belongs to (only of notifications that go to webhooks)."""
WEBHOOK_RECIPIENT = "webhooks"


def webhook_row(payload: Mapping[str, Any]) -> Outgoing | None:
    """The webhook row of the notification a person's row belongs to: one per notification, with no address
    (the worker posts it to its configured targets); None for a row of no such notification."""
    notice = payload.get(NOTICE)
    if not isinstance(notice, Mapping) or not notice.get("key"):
        return None
    roles = [str(r) for r in notice.get("roles") or ()]
    body = {k: v for k, v in payload.items() if k not in (NOTICE, "unassigned_role")}
    for part in ("headline", "needed"):  # a business manager's copy for a role nobody holds says otherwise
        if part in notice:
            body[part] = notice[part]
    return Outgoing(f"{notice['key']}:webhook", str(notice.get("event", "")), ",".join(roles), "webhook",
                    WEBHOOK_RECIPIENT, None, {**body, "roles": roles, NOTICE: dict(notice)})


_BREAKS = re.compile(r"[\x00-\x1f\x7f\u0085\u2028\u2029]+")


def one_line(text: Any) -> str:
    """Text safe in a message header: line breaks and other control characters collapsed to one space."""
    return " ".join(_BREAKS.sub(" ", str(text)).split())


def redact_url(url: str | None) -> str | None:
    """A webhook URL as it may be shown: for a chat tool the path is the credential, so only
    `scheme://host/…` (also for text that is not a URL at all)."""
    if not url:
        return url
    try:
        parts = urlsplit(url.strip())
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "…"
    if not parts.scheme or not host:
        return "…"
    return f"{parts.scheme}://{host}{port}/…"


_URL = re.compile(r"\bhttps?://[^\s\"'<>]+", re.IGNORECASE)


def redact_urls(text: str | None) -> str | None:
    """`text` (e.g. an error) with every URL in it shortened by `redact_url`."""
    return _URL.sub(lambda m: redact_url(m.group(0)) or "…", text) if text else text


def _unassigned(key: str, role: str, payload: dict[str, Any],
                directory: Mapping[str, Sequence[Recipient]]) -> list[Outgoing]:
    notice = {**payload, "headline": f"nobody holds the role {role}: {payload.get('headline', '')}".strip(": "),
              "needed": f"register someone with 'reviewflow user add NAME --role {role}'",
              "unassigned_role": role}
    managers = directory.get(FALLBACK_ROLE, [])
    if not managers:
        return [Outgoing(f"{key}:{role}:unassigned:log", "unassigned_role", role, "log", "-", None, notice)]
    return [_to_person(f"{key}:{role}:unassigned", "unassigned_role", FALLBACK_ROLE, m, notice) for m in managers]
