"""The outbox: notifications written with their cause, claimed by workers with a lease, never lost."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, func, update
from sqlalchemy import select as sa_select
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from reviewflow.engine.core.notices import Outgoing, Recipient, redact_url, redact_urls, webhook_row
from reviewflow.engine.core.records import OutboxEntry
from reviewflow.store.chain import note_queued
from reviewflow.store.ledger import BulkInsert
from reviewflow.store.models import OutboxRow, UserRoleRow, UserRow

PENDING, SENT, FAILED, SKIPPED = "pending", "sent", "failed", "skipped"
_INSERT = BulkInsert(OutboxRow.__table__, ("created_at", "next_attempt_at"))  # type: ignore[attr-defined]


def _entry(r: OutboxRow) -> OutboxEntry:
    """A row as a record. A webhook row queued by an older version held its URL (for a chat tool, the
    credential): it is only ever shown as scheme://host/…, and errors likewise."""
    assert r.id is not None
    address = redact_url(r.address) if r.channel == "webhook" else r.address
    return OutboxEntry(r.id, r.key, r.payload.get("ref"), r.event, r.role, r.channel, r.recipient, address,
                       r.status, r.attempts, redact_urls(r.last_error), r.created_at, r.next_attempt_at, r.sent_at,
                       dict(r.payload))


_USERS: Any = UserRow.__table__  # type: ignore[attr-defined]
_ROLES: Any = UserRoleRow.__table__  # type: ignore[attr-defined]
_HOLDERS = (sa_select(_ROLES.c.role, _USERS.c.name, _USERS.c.email, _USERS.c.agency)
            .select_from(_ROLES.join(_USERS, _USERS.c.id == _ROLES.c.user_id))
            .where(_USERS.c.disabled_at.is_(None)).order_by(_USERS.c.name))
"""The holders of roles who may be told: a disabled person (a leaver) is told nothing."""
_HOLDERS_OF = _HOLDERS.where(_ROLES.c.role.in_(bindparam("roles", expanding=True)))


def directory(s: Session, roles: set[str] | None = None) -> dict[str, list[Recipient]]:
    """Who holds each role (all roles, or just `roles`)."""
    rows = s.connection().execute(_HOLDERS) if roles is None else s.connection().execute(
        _HOLDERS_OF, {"roles": sorted(roles)})
    found: dict[str, list[Recipient]] = {}
    for role, name, email, agency in rows:
        found.setdefault(role, []).append(Recipient(name, email, agency))
    return found


def person(s: Session, name: str | None) -> Recipient | None:
    """A registered user as a recipient (None when not registered)."""
    row = s.exec(select(UserRow).where(UserRow.name == name, col(UserRow.disabled_at).is_(None))).first() \
        if name else None
    return Recipient(row.name, row.email, row.agency) if row else None


def people(s: Session, names: Iterable[str | None]) -> dict[str | None, Recipient | None]:
    """`person` for many names in one query (None for a name not registered, and for None)."""
    found: dict[str | None, Recipient | None] = dict.fromkeys(names)
    wanted = sorted(n for n in found if n)
    if wanted:
        for name, email, agency in s.exec(select(UserRow.name, UserRow.email, UserRow.agency)
                                          .where(col(UserRow.name).in_(wanted),
                                                 col(UserRow.disabled_at).is_(None))).all():
            found[name] = Recipient(name, email, agency)
    return found


def add(s: Session, items: list[Outgoing], case_id: int | None, now: datetime) -> None:
    for o in items:
        s.add(OutboxRow(key=o.key, case_id=case_id, event=o.event, role=o.role, channel=o.channel,
                        recipient=o.recipient, address=o.address, payload=o.payload, created_at=now,
                        next_attempt_at=now))
    note_queued(s, len(items))


def new_row(o: Outgoing, case_id: int | None, now: datetime) -> dict[str, Any]:
    """A notification as `add` writes it, as column values for `add_many` (last_error and sent_at empty)."""
    return {"key": o.key, "case_id": case_id, "event": o.event, "role": o.role, "channel": o.channel,
            "recipient": o.recipient, "address": o.address, "payload": o.payload, "status": PENDING, "attempts": 0,
            "created_at": now, "next_attempt_at": now}


def add_many(s: Session, rows: list[dict[str, Any]]) -> None:
    """Insert notifications (from `new_row`) in the given order with one statement.

    Like `add`, a key already in the outbox is refused (its unique constraint), and with it the
    whole transaction.
    """
    if rows:
        _INSERT.run(s, rows)
        note_queued(s, len(rows))


def claim(s: Session, now: datetime, limit: int, lease: float, channels: set[str]) -> list[OutboxEntry]:
    """Take up to `limit` deliverable rows: their next attempt moves `lease` seconds on, attempts + 1.

    A worker that dies after claiming leaves the rows to be retried when the lease runs out.
    """
    query = (select(OutboxRow)
             .where(OutboxRow.status == PENDING, col(OutboxRow.next_attempt_at) <= now,
                    col(OutboxRow.channel).in_(sorted(channels)))
             .order_by(col(OutboxRow.next_attempt_at), col(OutboxRow.id)).limit(limit)
             .with_for_update(skip_locked=True))
    rows = s.exec(query).all()
    for r in rows:
        r.attempts += 1
        r.next_attempt_at = now + timedelta(seconds=lease)
        s.add(r)
    s.flush()
    return [_entry(r) for r in rows]


def mark_sent(s: Session, row_id: int, now: datetime) -> None:
    s.execute(update(OutboxRow).where(col(OutboxRow.id) == row_id)
              .values(status=SENT, sent_at=now, last_error=None))


def mark_retry(s: Session, row_id: int, at: datetime, error: str) -> None:
    s.execute(update(OutboxRow).where(col(OutboxRow.id) == row_id)
              .values(next_attempt_at=at, last_error=error[:500]))


def mark_failed(s: Session, row_id: int, error: str) -> None:
    s.execute(update(OutboxRow).where(col(OutboxRow.id) == row_id).values(status=FAILED, last_error=error[:500]))


def mark_skipped(s: Session, row_id: int, reason: str) -> None:
    """Close a row that has nowhere to go (a webhook row when no targets are configured)."""
    s.execute(update(OutboxRow).where(col(OutboxRow.id) == row_id).values(status=SKIPPED, last_error=reason[:500]))


def release(s: Session, row_ids: list[int], now: datetime) -> None:
    """Give back claimed rows that were not tried (a round's time ran out): due again now, the attempt uncounted."""
    if row_ids:
        s.execute(update(OutboxRow).where(col(OutboxRow.id).in_(row_ids), col(OutboxRow.status) == PENDING)
                  .values(next_attempt_at=now, attempts=OutboxRow.attempts - 1))


def webhook_progress(s: Session, row_id: int, done: Iterable[str]) -> None:
    """Record which webhook targets a row has reached (their ids, not their URLs), so a retry goes to the others."""
    row = s.get(OutboxRow, row_id)
    if row is not None:
        row.payload = {**row.payload, "webhooks_done": sorted(done)}
        s.add(row)


def waiting_elsewhere(s: Session, channels: set[str], limit: int) -> list[OutboxEntry]:
    """The newest pending rows on channels other than `channels` (those a worker cannot deliver, e-mail without
    SMTP, say): their notifications' webhooks need not wait for them."""
    query = (select(OutboxRow).where(OutboxRow.status == PENDING, col(OutboxRow.channel).not_in(sorted(channels)))
             .order_by(col(OutboxRow.id).desc()).limit(limit))
    return [_entry(r) for r in s.exec(query).all()]


def add_webhook_rows(s: Session, claimed: Iterable[OutboxEntry], now: datetime) -> int:
    """Queue the webhook row of each notification that rows just claimed belong to, unless it is queued already
    (one per notification, whichever worker picks up its rows first); how many were queued."""
    wanted: dict[str, tuple[Outgoing, int]] = {}
    for entry in claimed:
        hook = webhook_row(entry.payload)
        if hook is not None and entry.channel != "webhook":
            wanted.setdefault(hook.key, (hook, entry.id))
    if not wanted:
        return 0
    cases = dict(s.exec(select(OutboxRow.id, OutboxRow.case_id)
                        .where(col(OutboxRow.id).in_(sorted(i for _, i in wanted.values())))).all())
    there = set(s.exec(select(OutboxRow.key).where(col(OutboxRow.key).in_(sorted(wanted)))).all())
    made = 0
    for key, (o, source) in wanted.items():
        if key in there:
            continue
        try:
            with s.begin_nested():
                add_many(s, [new_row(o, cases.get(source), now)])
            made += 1
        except IntegrityError:  # another worker queued it a moment ago (and counted it)
            note_queued(s, -1)
    return made


def waiting(s: Session, channel: str) -> int:
    return s.exec(select(func.count()).select_from(OutboxRow)
                  .where(OutboxRow.status == PENDING, OutboxRow.channel == channel)).one()


def listing(s: Session, status: str | None = None, case_id: int | None = None, limit: int = 500) -> list[OutboxEntry]:
    query = select(OutboxRow)
    if status:
        query = query.where(OutboxRow.status == status)
    if case_id is not None:
        query = query.where(OutboxRow.case_id == case_id)
    return [_entry(r) for r in s.exec(query.order_by(col(OutboxRow.id)).limit(limit)).all()]


def retry(s: Session, ids: list[int] | None, now: datetime) -> int:
    """Put failed rows (all, or those in `ids`) back to pending with a fresh count of attempts."""
    stmt = update(OutboxRow).where(col(OutboxRow.status) == FAILED)
    if ids:
        stmt = stmt.where(col(OutboxRow.id).in_(ids))
    result = s.execute(stmt.values(status=PENDING, attempts=0, next_attempt_at=now))
    return int(result.rowcount)  # type: ignore[attr-defined]
