"""Durations ('5 working days', '1 month') and the working-day calendar. Pure: no I/O, no clock."""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from typing import Literal
from zoneinfo import ZoneInfo

from dateutil.relativedelta import relativedelta

from reviewflow.engine.core.errors import InvalidDuration

Unit = Literal["days", "working_days", "weeks", "months"]

LOCAL_ZONE = ZoneInfo("Europe/London")

CALENDARS: dict[str, str | None] = {
    "england-and-wales": "ENG",
    "scotland": "SCT",
    "northern-ireland": "NIR",
    "weekends-only": None,
}
DEFAULT_CALENDAR = "england-and-wales"

_UNITS: dict[str, Unit] = {
    "day": "days",
    "days": "days",
    "calendar day": "days",
    "calendar days": "days",
    "working day": "working_days",
    "working days": "working_days",
    "week": "weeks",
    "weeks": "weeks",
    "month": "months",
    "months": "months",
}
_DURATION = re.compile(r"^\s*([0-9]{1,4})\s+([a-z ]+?)\s*$", re.IGNORECASE | re.ASCII)


@dataclass(frozen=True)
class Duration:
    """A whole number of calendar days, working days, weeks or months."""

    amount: int
    unit: Unit

    def __str__(self) -> str:
        word = self.unit.replace("_", " ")
        return f"{self.amount} {word[:-1] if self.amount == 1 else word}"

    def add_to(self, start: date, calendar: str = DEFAULT_CALENDAR) -> date:
        """The date this duration after `start`, counted as a person would."""
        if self.unit == "days":
            return start + timedelta(days=self.amount)
        if self.unit == "weeks":
            return start + timedelta(weeks=self.amount)
        if self.unit == "months":
            return start + relativedelta(months=self.amount)
        return add_working_days(start, self.amount, calendar)

    def subtract_from(self, end: date, calendar: str = DEFAULT_CALENDAR) -> date:
        """The date this duration before `end` ('10 working days before the due date')."""
        if self.unit == "days":
            return end - timedelta(days=self.amount)
        if self.unit == "weeks":
            return end - timedelta(weeks=self.amount)
        if self.unit == "months":
            return end - relativedelta(months=self.amount)
        return add_working_days(end, -self.amount, calendar)


def parse_duration(text: object) -> Duration:
    """Parse '5 working days', '20 days', '6 weeks', '1 month'; raise InvalidDuration otherwise."""
    if not isinstance(text, str):
        raise InvalidDuration(text)
    match = _DURATION.match(text)
    if not match:
        raise InvalidDuration(text)
    word = " ".join(match.group(2).lower().split())
    if word in ("year", "years"):  # a year is twelve months, counted as a person would
        return Duration(int(match.group(1)) * 12, "months")
    unit = _UNITS.get(word)
    if unit is None:
        raise InvalidDuration(text)
    return Duration(int(match.group(1)), unit)


@lru_cache(maxsize=8)
def _holidays(calendar: str) -> object | None:
    import holidays

    subdiv = CALENDARS[calendar]
    return None if subdiv is None else holidays.country_holidays("GB", subdiv=subdiv)


_NO_HOLIDAYS: frozenset[date] = frozenset()
_holiday_lock = threading.Lock()


@lru_cache(maxsize=512)
def _holiday_dates(calendar: str, year: int) -> frozenset[date]:
    """The bank holidays of `calendar` in `year`: every day of the year the holidays package calls one."""
    with _holiday_lock:  # the package fills its calendar year by year as it is asked; one asker at a time
        bank = _holidays(calendar)
        if bank is None:
            return _NO_HOLIDAYS
        first = date(year, 1, 1)
        days = (first + timedelta(days=n) for n in range((date(year, 12, 31) - first).days + 1))
        return frozenset(day for day in days if day in bank)  # type: ignore[operator]


def is_working_day(day: date, calendar: str = DEFAULT_CALENDAR) -> bool:
    """Monday to Friday and not a bank holiday in the calendar."""
    if day.weekday() >= 5:
        return False
    return day not in _holiday_dates(calendar, day.year)


@lru_cache(maxsize=4096)
def add_working_days(start: date, count: int, calendar: str = DEFAULT_CALENDAR) -> date:
    """The `count`-th working day after `start` (before it when count < 0; `start` when 0)."""
    day = start
    step = timedelta(days=1 if count >= 0 else -1)
    remaining = abs(count)
    year: int | None = None
    bank = _NO_HOLIDAYS
    while remaining > 0:
        day += step
        if day.weekday() < 5:
            if day.year != year:
                year, bank = day.year, _holiday_dates(calendar, day.year)
            if day not in bank:
                remaining -= 1
    return day


def local_date(instant: datetime) -> date:
    """The date in England at `instant`."""
    return instant.astimezone(LOCAL_ZONE).date()


def start_of_day(day: date) -> datetime:
    """Midnight at the start of `day` in England, as an aware UTC datetime."""
    return datetime.combine(day, time(0), tzinfo=LOCAL_ZONE).astimezone(UTC)


def due_at(entered: datetime, limit: Duration, calendar: str = DEFAULT_CALENDAR) -> datetime:
    """When a stage entered at `entered` becomes overdue: the midnight after its due date."""
    due_date = limit.add_to(local_date(entered), calendar)
    return start_of_day(due_date + timedelta(days=1))


def due_date_of(due: datetime) -> date:
    """The last day on time for a stage that becomes overdue at `due`."""
    return local_date(due) - timedelta(days=1)


def working_days_between(start: date, end: date, calendar: str = DEFAULT_CALENDAR) -> int:
    """Working days after `start` up to and including `end` (negative when end < start)."""
    if end < start:
        return -working_days_between(end, start, calendar)
    count = 0
    day = start
    one = timedelta(days=1)
    year: int | None = None
    bank = _NO_HOLIDAYS
    while day < end:
        day += one
        if day.weekday() < 5:
            if day.year != year:
                year, bank = day.year, _holiday_dates(calendar, day.year)
            if day not in bank:
                count += 1
    return count
