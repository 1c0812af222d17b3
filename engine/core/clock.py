"""Time is injected: services take a `Clock` (the wall clock is read only by
`reviewflow.engine.services.context.system_clock`). Dates and instants typed by people are parsed here."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime

from reviewflow.engine.core.durations import LOCAL_ZONE
from reviewflow.engine.core.errors import InvalidValue

Clock = Callable[[], datetime]
EARLIEST = date(1900, 1, 1)
LATEST = date(2200, 12, 31)
"""The range of dates reviewflow accepts from people (far enough for any review, short of overflow)."""


def fixed_clock(at: datetime) -> Clock:
    """A clock that always says `at`."""
    return lambda: at


class SteppingClock:
    """A clock tests and the demo move by hand."""

    def __init__(self, at: datetime) -> None:
        self.now = at

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        from datetime import timedelta

        self.now += timedelta(**delta)
        return self.now


def parse_instant(text: str) -> datetime:
    """ISO date or date-time; without a zone it is read as time in England. Aware UTC out."""
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        try:
            value = datetime.strptime(text.strip(), "%d/%m/%Y")
        except ValueError:
            raise InvalidValue(
                f"{text!r} is not a date or date-time: write e.g. 2026-03-31, 31/03/2026 or 2026-03-31T09:30",
                value=text) from None
    if not EARLIEST.year <= value.year <= LATEST.year:
        raise InvalidValue(f"{text!r} is outside the years {EARLIEST.year} to {LATEST.year}: check the date",
                           value=text)
    if value.tzinfo is None:
        value = value.replace(tzinfo=LOCAL_ZONE)
    return value.astimezone(UTC)


def parse_date(text: str, option: str = "date") -> date:
    """A calendar date as 2026-03-31 or 31/03/2026."""
    value = (text or "").strip()
    for parse in (date.fromisoformat, lambda v: datetime.strptime(v, "%d/%m/%Y").date()):
        try:
            day = parse(value)
        except ValueError:
            continue
        if not EARLIEST <= day <= LATEST:
            raise InvalidValue(f"{option} {text!r} is outside the years {EARLIEST.year} to {LATEST.year}",
                               field=option.lstrip("-"), value=text)
        return day
    raise InvalidValue(f"{option} {text!r} is not a date: write e.g. 2026-03-31 or 31/03/2026",
                       field=option.lstrip("-"), value=text)
