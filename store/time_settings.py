"""The database's time settings (engine/core/time_limits.py), and the server's time a transaction records.

A new database is given `time_limits.NEW_DATABASE_LIMITS` when its tables are made, and one upgraded to 0005
the defaults (`DEFAULT_LIMITS`), which a missing setting also holds.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import delete, insert, select
from sqlalchemy.engine import Connection
from sqlmodel import Session

from reviewflow.engine.core import time_limits
from reviewflow.engine.core.time_limits import DEFAULT_LIMITS, NAMES, TimeLimits, format_limit, parse_limit
from reviewflow.store.models import DatabaseSettingRow

_T: Any = DatabaseSettingRow.__table__  # type: ignore[attr-defined]
RECORDED_AT = "reviewflow.recorded_at"
"""The key of the session's `info` under which the service keeps the server's time of its transaction."""


def limits(s: Session) -> TimeLimits:
    """The time limits this database holds writes to."""
    found = {name: value for name, value in s.connection().execute(
        select(_T.c.name, _T.c.value).where(_T.c.name.in_(NAMES)))}
    held = DEFAULT_LIMITS
    for name, value in found.items():
        held = held.with_value(name, parse_limit(name, value))
    return held


def set_limits(s: Session, held: TimeLimits) -> None:
    """Write every time setting (so the database no longer follows the defaults of a later version)."""
    write_limits(s.connection(), held)


def write_limits(connection: Connection, held: TimeLimits) -> None:
    connection.execute(delete(_T).where(_T.c.name.in_(NAMES)))
    connection.execute(insert(_T), [{"name": name, "value": format_limit(held.get(name))} for name in NAMES])


def new_database(connection: Connection) -> None:
    """The time settings of a database whose tables were just made: `time_limits.NEW_DATABASE_LIMITS`."""
    write_limits(connection, time_limits.NEW_DATABASE_LIMITS)


def mark(s: Any, wall: datetime) -> None:
    """Remember the server's time for the rows this transaction writes."""
    s.info[RECORDED_AT] = wall


def recorded_at(s: Any) -> datetime | None:
    """The server's time of this transaction (None outside a service's transaction)."""
    found: datetime | None = s.info.get(RECORDED_AT)
    return found
