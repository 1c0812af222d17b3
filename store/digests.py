"""The outbox rows of people who chose a daily digest: held back from delivery, then gathered into one e-mail.

A held row keeps its place in the outbox (status `held`); once its digest is written it becomes `digested`.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import update
from sqlmodel import Session, col, select

from reviewflow.engine.core.records import OutboxEntry
from reviewflow.store.models import OutboxRow, UserRow
from reviewflow.store.outbox import _entry

HELD, DIGESTED = "held", "digested"
DAILY, IMMEDIATE = "daily", "immediate"
CHOICES = (IMMEDIATE, DAILY)


def daily_people(s: Session, names: Iterable[str]) -> set[str]:
    """Of `names`, those who chose a daily digest."""
    wanted = sorted(set(names))
    if not wanted:
        return set()
    return set(s.exec(select(UserRow.name).where(col(UserRow.name).in_(wanted), UserRow.notify == DAILY)).all())


def hold(s: Session, ids: Iterable[int]) -> None:
    """Keep these rows back for their recipient's next digest."""
    chosen = sorted(ids)
    if chosen:
        s.execute(update(OutboxRow).where(col(OutboxRow.id).in_(chosen)).values(status=HELD, attempts=0))


def release(s: Session, name: str, now: datetime) -> int:
    """Put the rows held for `name` back in the queue, to be delivered one by one; how many there were."""
    result = s.execute(update(OutboxRow).where(col(OutboxRow.status) == HELD, col(OutboxRow.recipient) == name)
                       .values(status="pending", next_attempt_at=now))
    return int(result.rowcount)  # type: ignore[attr-defined]


def _waiting_query(before: datetime) -> Any:
    return (select(OutboxRow).join(UserRow, col(UserRow.name) == col(OutboxRow.recipient))
            .where(UserRow.notify == DAILY, OutboxRow.channel == "email",
                   col(OutboxRow.status).in_(("pending", HELD)), col(OutboxRow.created_at) < before))


def any_waiting(s: Session, before: datetime) -> bool:
    """Whether any e-mail written before `before` waits for a digest (a read, to skip the writing transaction)."""
    return s.exec(_waiting_query(before).limit(1)).first() is not None


def waiting(s: Session, before: datetime) -> dict[str, list[OutboxEntry]]:
    """The e-mails written before `before` for people who chose a digest and not yet delivered, by person,
    oldest first (locked: another worker skips them)."""
    query = (_waiting_query(before).order_by(col(OutboxRow.created_at), col(OutboxRow.id))
             .with_for_update(skip_locked=True, of=OutboxRow))
    found: dict[str, list[OutboxEntry]] = {}
    for row in s.exec(query).all():
        found.setdefault(row.recipient, []).append(_entry(row))
    return found


def digested(s: Session, ids: Iterable[int], now: datetime) -> None:
    """Mark rows as carried by a digest that is now in the outbox."""
    chosen = sorted(ids)
    if chosen:
        s.execute(update(OutboxRow).where(col(OutboxRow.id).in_(chosen)).values(status=DIGESTED, sent_at=now))


def has_key(s: Session, key: str) -> bool:
    return s.exec(select(OutboxRow.id).where(OutboxRow.key == key)).first() is not None


def person(s: Session, name: str) -> tuple[str | None, str] | None:
    """A person's e-mail address and choice, or None when not registered."""
    row = s.exec(select(UserRow.email, UserRow.notify).where(UserRow.name == name)).first()
    return (row[0], row[1]) if row else None
