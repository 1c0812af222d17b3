"""The period a report covers: the Board report's dates, or the annual report's year. Pure."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from dateutil.relativedelta import relativedelta

from reviewflow.engine.core.durations import local_date, start_of_day
from reviewflow.engine.core.errors import InvalidValue

BOARD_DEFAULT_MONTHS = 3
FINANCIAL_YEAR_START_MONTH = 4
_CALENDAR_YEAR = re.compile(r"^\s*(\d{4})\s*$")
_FINANCIAL_YEAR = re.compile(r"^\s*(\d{4})\s*[-/]\s*(\d{2}|\d{4})\s*$")


def long_date(day: date) -> str:
    """'14 April 2027'."""
    return f"{day.day} {day:%B %Y}"


@dataclass(frozen=True)
class Period:
    """From `start` to `end`, both days included (dates in England)."""

    start: date
    end: date
    basis: str
    """How the period was chosen, said in the report's header."""

    def __contains__(self, when: date | datetime) -> bool:
        day = local_date(when) if isinstance(when, datetime) else when
        return self.start <= day <= self.end

    @property
    def label(self) -> str:
        return f"{long_date(self.start)} to {long_date(self.end)}"

    @property
    def end_instant(self) -> datetime:
        """The midnight that ends the period."""
        return start_of_day(self.end + timedelta(days=1))


def board_period(start: date | None, end: date | None, today: date) -> Period:
    """`--from`/`--to`, defaulting to the last 3 months to today."""
    if start is None and end is None:
        return Period(today - relativedelta(months=BOARD_DEFAULT_MONTHS), today,
                      f"the last {BOARD_DEFAULT_MONTHS} months to today, the default: choose others with --from "
                      "and --to")
    last = end or today
    first = start or last - relativedelta(months=BOARD_DEFAULT_MONTHS)
    if first > last:
        raise InvalidValue(f"--from {first} is after the period's end, {last}: give an earlier --from, "
                           "or a later --to", field="from", value=first.isoformat())
    return Period(first, last, "as asked")


def _parse_year(text: str) -> tuple[int, bool] | None:
    """(first calendar year, is financial) or None."""
    calendar = _CALENDAR_YEAR.match(text)
    financial = _FINANCIAL_YEAR.match(text)
    if calendar:
        first, second = int(calendar.group(1)), None
    elif financial:
        first, second = int(financial.group(1)), financial.group(2)
    else:
        return None
    if not 1900 <= first <= 9000:
        return None
    if second is not None and second not in (f"{(first + 1) % 100:02d}", str(first + 1)):
        return None
    return first, second is not None


def annual_period(year: str, today: date) -> Period:
    """'2026' is the calendar year; '2026-27' (or 2026/27) the financial year from 1 April 2026 to 31 March 2027."""
    parsed = _parse_year(str(year))
    if parsed is None:
        raise InvalidValue(f"--year {year!r} is not a year: write 2026 for the calendar year, or 2026-27 for the "
                           "financial year from 1 April 2026 to 31 March 2027", field="year", value=year)
    first, financial = parsed
    if financial:
        period = Period(date(first, FINANCIAL_YEAR_START_MONTH, 1),
                        date(first + 1, FINANCIAL_YEAR_START_MONTH, 1) - timedelta(days=1),
                        f"financial year {first}-{(first + 1) % 100:02d}")
    else:
        period = Period(date(first, 1, 1), date(first, 12, 31), f"calendar year {first}")
    if period.start > today:
        raise InvalidValue(f"the {period.basis} has not started yet (today is {today.isoformat()}): "
                           "choose an earlier --year", field="year", value=year)
    return period
