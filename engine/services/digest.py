"""Daily digests: a person who chose `daily` gets one e-mail a day instead of one per notification.

Their e-mails are written to the outbox as usual; the deliverer holds them back (`hold_for_digest`), and at
the configured time the worker gathers each person's into one digest (`DigestService.run`), itself an outbox
row delivered, retried and reported like any other, on the `digest` channel registered here.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import structlog

from reviewflow.engine.core.access import Identity
from reviewflow.engine.core.digest import (
    EVENT,
    digest_body,
    digest_day,
    digest_payload,
    digest_subject,
    last_digest_time,
)
from reviewflow.engine.core.errors import InvalidValue, NotPermitted
from reviewflow.engine.core.notices import Outgoing
from reviewflow.engine.core.records import Account, OutboxEntry
from reviewflow.engine.services.accounts import SYSTEM, AccountService
from reviewflow.engine.services.channels import DeliveryFailed, Message, register_channel, send_email
from reviewflow.engine.services.context import ServiceContext
from reviewflow.engine.services.settings import Settings
from reviewflow.store import accounts, digests, outbox

log = structlog.get_logger("reviewflow.delivery")

CHANNEL = "digest"
CHOICES = digests.CHOICES


class DigestChannel:
    """The daily digest by e-mail: one message listing a day's notifications."""

    name = CHANNEL

    def available(self, settings: Settings) -> bool:
        return settings.smtp is not None

    def send(self, settings: Settings, m: Message, when: datetime) -> None:
        if settings.smtp is None:
            raise DeliveryFailed("SMTP is not configured: set REVIEWFLOW_SMTP_HOST or [smtp] in reviewflow.toml")
        send_email(settings.smtp, m, when, (digest_subject(m.payload), digest_body(m.payload)))


register_channel(DigestChannel())


def hold_for_digest(s: Any, claimed: Sequence[OutboxEntry]) -> list[OutboxEntry]:
    """Of the rows just claimed for delivery, hold back the e-mails of people who chose a daily digest (in the
    claiming transaction, so none of them slips out alone); the rest, to deliver now."""
    emails = [e for e in claimed if e.channel == "email"]
    daily = digests.daily_people(s, {e.recipient for e in emails}) if emails else set()
    held = {e.id for e in emails if e.recipient in daily}
    digests.hold(s, held)
    return [e for e in claimed if e.id not in held]


class DigestService:
    """Each person's choice of immediate e-mails or a daily digest, and writing the digests when they are due."""

    def __init__(self, ctx: ServiceContext, accounts_service: AccountService) -> None:
        self.ctx = ctx
        self.accounts = accounts_service

    def set_preference(self, by: Identity | None, name: str, choice: str) -> Account:
        """Choose how `name` hears of things: `immediate` or `daily` (themselves, or anyone by an administrator).
        Going back to immediate sends what was held for the digest at once."""
        wanted = choice.strip().lower()
        if wanted not in CHOICES:
            raise InvalidValue(f"--notify {choice!r}: use immediate (an e-mail per notification) or daily (one "
                               "digest a day)", field="notify", value=choice, allowed=CHOICES)
        who = SYSTEM if by is None else self.accounts.refresh(by)
        if who.name != name and not who.admin:
            raise NotPermitted("only an administrator may choose how someone else is notified", user=who.name)
        now = self.ctx.clock()
        with self.ctx.transaction() as s:
            accounts.user_row(s, name)
            accounts.set_user(s, name, notify=wanted)
            released = digests.release(s, name, now) if wanted == digests.IMMEDIATE else 0
            self.accounts.audit(s, who, "user.notify", name, {"notify": wanted, "released": released})
            return accounts.account(s, name)

    def run(self) -> int:
        """Write the digest of everyone who has notifications waiting from before the latest digest time (at
        most one digest per person and day); how many were written."""
        settings = self.ctx.settings
        now = self.ctx.clock()
        before = last_digest_time(now, settings.digest_time, settings.digest_timezone)
        day = digest_day(before, settings.digest_timezone)
        made = 0
        with self.ctx.read() as s:
            if not digests.any_waiting(s, before):
                return 0
        with self.ctx.transaction() as s:
            for name, entries in digests.waiting(s, before).items():
                key = f"digest:{name}:{day.isoformat()}"
                if digests.has_key(s, key):
                    continue  # today's went already: these wait for tomorrow's
                found = digests.person(s, name)
                address = found[0] if found else None
                payload = digest_payload(name, day, entries, settings.page("/my-work"))
                outbox.add(s, [Outgoing(key, EVENT, "digest", CHANNEL if address else "log", name, address,
                                        payload)], None, now)
                digests.digested(s, [e.id for e in entries], now)
                made += 1
        if made:
            log.info("digest.written", digests=made, day=day.isoformat())
        return made
