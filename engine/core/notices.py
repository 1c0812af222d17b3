"""Who hears about what: roles expanded to people and channels, and the message payloads. Pure."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

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
        same = [p for p in people if p.agency and p.agency.lower() == agency.lower()]
        narrowed[role] = same or list(people)
    narrowed["owner"] = [owner] if owner else []
    return narrowed


def _to_person(key: str, event: str, role: str, person: Recipient, payload: dict[str, Any]) -> Outgoing:
    channel = "email" if person.email else "log"
    return Outgoing(f"{key}:{role}:{person.name}:{channel}", event, role, channel, person.name,
                    person.email, payload)


def expand(key: str, event: str, roles: Sequence[str], payload: dict[str, Any],
           directory: Mapping[str, Sequence[Recipient]], webhooks: Sequence[str] = ()) -> list[Outgoing]:
    """One row per person holding each role (e-mail when they have an address, else the log),
    one per webhook, and a notice to the business manager for every role that nobody holds."""
    items: list[Outgoing] = []
    for role in dict.fromkeys(roles):
        people = directory.get(role, [])
        for person in people:
            items.append(_to_person(key, event, role, person, payload))
        if not people:
            items.extend(_unassigned(key, role, payload, directory))
    for i, url in enumerate(webhooks):
        items.append(Outgoing(f"{key}:webhook{i}", event, ",".join(roles), "webhook", f"webhook{i}", url,
                              {**payload, "roles": list(roles)}))
    return items


def _unassigned(key: str, role: str, payload: dict[str, Any],
                directory: Mapping[str, Sequence[Recipient]]) -> list[Outgoing]:
    notice = {**payload, "headline": f"nobody holds the role {role}: {payload.get('headline', '')}".strip(": "),
              "needed": f"register someone with 'reviewflow user add NAME --role {role}'",
              "unassigned_role": role}
    managers = directory.get(FALLBACK_ROLE, [])
    if not managers:
        return [Outgoing(f"{key}:{role}:unassigned:log", "unassigned_role", role, "log", "-", None, notice)]
    return [_to_person(f"{key}:{role}:unassigned", "unassigned_role", FALLBACK_ROLE, m, notice) for m in managers]
