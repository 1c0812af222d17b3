"""Private calendar feeds: one per person, found by the hash of the secret in its address."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import delete, insert, select

from reviewflow.store.models import CalendarFeedRow, UserRow

_FEEDS: Any = CalendarFeedRow.__table__  # type: ignore[attr-defined]
_USERS: Any = UserRow.__table__  # type: ignore[attr-defined]


def feed_made(s: Any, user_id: int) -> datetime | None:
    """When the person's feed address was made (None when they have none)."""
    return s.connection().execute(select(_FEEDS.c.created_at).where(_FEEDS.c.user_id == user_id)).scalar()


def set_feed(s: Any, user_id: int, secret_hash: str, now: datetime) -> None:
    """Give the person a feed with this secret; any address they had before stops working."""
    s.connection().execute(delete(_FEEDS).where(_FEEDS.c.user_id == user_id))
    s.connection().execute(insert(_FEEDS).values(user_id=user_id, secret_hash=secret_hash, created_at=now))


def feed_owner(s: Any, secret_hash: str) -> Any | None:
    """The user row (columns) whose feed has this secret, or None."""
    query = select(_USERS).join(_FEEDS, _FEEDS.c.user_id == _USERS.c.id).where(_FEEDS.c.secret_hash == secret_hash)
    return s.connection().execute(query).first()
