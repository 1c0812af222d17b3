"""Trusted time: how far a change may be dated (`--now`) from the server's own time, and how a back-dated
row is shown.

A change is dated by the service clock (`--now` may set it); the server's own time (the context's `wall`
clock, never `--now`) is recorded beside it as `recorded_at`. The database's time settings bound the
difference: a change dated more than `future_tolerance` after the server's time, or more than
`backdate_window` before it, is refused. Reads are never limited.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from reviewflow.engine.core.durations import LOCAL_ZONE
from reviewflow.engine.core.errors import InvalidValue, TimeRefused

FUTURE_TOLERANCE = "future-tolerance"
BACKDATE_WINDOW = "backdate-window"
NAMES = (FUTURE_TOLERANCE, BACKDATE_WINDOW)
"""The database's time settings, as `reviewflow settings set NAME VALUE` names them."""


@dataclass(frozen=True)
class TimeLimits:
    """How far a change may be dated from the server's time; None: no limit (a training database)."""

    future_tolerance: timedelta | None
    backdate_window: timedelta | None

    def get(self, name: str) -> timedelta | None:
        return self.future_tolerance if name == FUTURE_TOLERANCE else self.backdate_window

    def with_value(self, name: str, value: timedelta | None) -> TimeLimits:
        if name == FUTURE_TOLERANCE:
            return TimeLimits(value, self.backdate_window)
        return TimeLimits(self.future_tolerance, value)


DEFAULT_LIMITS = TimeLimits(timedelta(minutes=5), timedelta(days=30))
"""The limits of a database whose settings were never changed (a new one, or one upgraded to 0005)."""
NO_LIMITS = TimeLimits(None, None)
"""A training or demonstration database: changes may be dated at any time."""
NEW_DATABASE_LIMITS = DEFAULT_LIMITS
"""What a database without time settings of its own is held to: the one place the default is read."""

BACKDATE_SHOWN_AFTER = timedelta(minutes=10)
"""A row dated more than this before it was recorded is marked as back-dated wherever it is shown."""

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_AMOUNT = re.compile(r"^\s*(\d{1,6})\s*([smhdw])\s*$")
OFF = ("off", "none", "unlimited")


def check_name(name: str) -> str:
    if name not in NAMES:
        raise InvalidValue(f"there is no time setting {name!r}: use one of {', '.join(NAMES)}",
                           field="name", value=name, allowed=NAMES)
    return name


def parse_limit(name: str, text: str) -> timedelta | None:
    """'10m', '2h', '90d', '2w' (seconds, minutes, hours, days, weeks) or 'off' (no limit)."""
    value = text.strip().lower()
    if value in OFF:
        return None
    found = _AMOUNT.match(value)
    if found is None:
        raise InvalidValue(f"{name} {text!r} is not a duration: write e.g. 10m, 2h, 90d or off",
                           field=name, value=text)
    return timedelta(seconds=int(found[1]) * _UNITS[found[2]])


def format_limit(value: timedelta | None) -> str:
    """A limit as `parse_limit` reads it: the largest whole unit, or 'off'."""
    if value is None:
        return "off"
    seconds = int(value.total_seconds())
    for unit in ("w", "d", "h", "m"):
        if seconds and seconds % _UNITS[unit] == 0:
            return f"{seconds // _UNITS[unit]}{unit}"
    return f"{seconds}s"


def _local(at: datetime) -> str:
    return f"{at.astimezone(LOCAL_ZONE):%Y-%m-%d %H:%M}"


def check_write_time(now: datetime, wall: datetime, limits: TimeLimits) -> None:
    """Refuse a change dated `now` when the server's time is `wall`, beyond `limits`."""
    _within(now, now - wall, "after", FUTURE_TOLERANCE, limits.future_tolerance, wall,
            "leave out --now (or REVIEWFLOW_NOW), or use it only to read")
    _within(now, wall - now, "before", BACKDATE_WINDOW, limits.backdate_window, wall,
            "date it within the window, or ask an administrator")


def _within(now: datetime, apart: timedelta, side: str, setting: str, limit: timedelta | None, wall: datetime,
            advice: str) -> None:
    """Refuse a change dated `apart` on `side` of the server's time `wall` when that is beyond `limit`."""
    if limit is not None and apart > limit:
        raise TimeRefused(
            f"the change is dated {_local(now)}, {describe(apart)} {side} the server's time {_local(wall)}; "
            f"the {setting} is {format_limit(limit)}: nothing was written; {advice}", field="now",
            value=now.isoformat(), limit=format_limit(limit), setting=setting)


def describe(span: timedelta) -> str:
    """A span for people: '12 days', '3 hours', '7 minutes'."""
    seconds = int(span.total_seconds())
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size:
            count = seconds // size
            return f"{count} {unit}{'s' if count != 1 else ''}"
    return f"{seconds} second{'s' if seconds != 1 else ''}"


def backdated_by(at: datetime, recorded_at: datetime | None) -> timedelta | None:
    """How long before it was recorded a row is dated, when that is enough to show; else None."""
    if recorded_at is None:
        return None
    gap = recorded_at - at
    return gap if gap > BACKDATE_SHOWN_AFTER else None


def backdate_note(at: datetime, recorded_at: datetime | None) -> str | None:
    """'recorded 4 Dec 2026, back-dated 12 days' for a back-dated row; None for any other."""
    gap = backdated_by(at, recorded_at)
    if gap is None or recorded_at is None:
        return None
    local = recorded_at.astimezone(LOCAL_ZONE)
    return f"recorded {local.day} {local:%b %Y}, back-dated {describe(gap)}"
