"""Private calendar feeds: each person may have an address (`/calendar/SECRET.ics`) that calendar programs
subscribe to, listing the due dates of what waits on them (the same as their work list).

The address holds a random secret; the database keeps only its hash, so the address is shown once, when it
is made, and resetting it makes a new one and stops the old. A feed carries references, stage and action
numbers, due dates and links to the case pages: never anything typed into a case.
"""

from __future__ import annotations

import secrets
from datetime import datetime

import structlog

from reviewflow.engine.core.access import READ, Identity
from reviewflow.engine.core.errors import InvalidValue, NotFound
from reviewflow.engine.services.accounts import secret_hash
from reviewflow.engine.services.context import ServiceContext
from reviewflow.engine.services.work import WorkService
from reviewflow.store import accounts, calendars

log = structlog.get_logger("reviewflow")

_SECRET_LENGTH = 43
"""What `secrets.token_urlsafe(32)` makes: longer or shorter is not one of ours."""


def _unknown() -> NotFound:
    return NotFound("no calendar at this address: it was reset or never existed; get the current address with "
                    "'reviewflow calendar url' or from your work page")


class CalendarService:
    """Making and resetting a person's feed address, and the feed itself."""

    def __init__(self, ctx: ServiceContext, work: WorkService) -> None:
        self.ctx = ctx
        self.work = work

    def url_secret(self, actor: Identity, reset: bool = False) -> str:
        """Make `actor`'s feed secret (or, with `reset`, replace it: the old address stops working); it is returned
        this once and kept only as a hash."""
        now = self.ctx.clock()
        secret = secrets.token_urlsafe(32)
        with self.ctx.transaction() as s:
            who = self.ctx.who(s, actor)
            row = accounts.user_row(s, who.name)
            if calendars.feed_made(s, row.id) is not None and not reset:
                raise InvalidValue("you have a calendar address already; it was shown once, when it was made: reset "
                                   "it to get a new one (the old one then stops working)", field="reset")
            calendars.set_feed(s, row.id, secret_hash(secret), now)
        log.info("calendar.address_made", user=who.name, reset=reset)
        return secret

    def made_at(self, actor: Identity) -> datetime | None:
        """When `actor`'s feed address was made (None when they have none)."""
        with self.ctx.read() as s:
            who = self.ctx.who(s, actor, write=False)
            return calendars.feed_made(s, accounts.user_row(s, who.name).id)

    def feed(self, secret: str) -> bytes:
        """The feed at the address holding `secret` (not found when unknown, reset, or its owner is disabled)."""
        if len(secret) != _SECRET_LENGTH:
            raise _unknown()
        with self.ctx.read() as s:
            row = calendars.feed_owner(s, secret_hash(secret))
        if row is None or row.disabled_at is not None:
            raise _unknown()
        work = self.work.my_work(Identity(row.name, via="calendar", scope=READ))
        from reviewflow.engine.render.calendar import render_feed  # icalendar only when a feed is asked for

        return render_feed(work.who.name, work.stages, work.actions, self.ctx.settings.link, self.ctx.clock())
