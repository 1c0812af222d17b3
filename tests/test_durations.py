"""Durations, the working-day calendars and when a stage becomes overdue."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reviewflow.engine.core.durations import (
    CALENDARS,
    DEFAULT_CALENDAR,
    Duration,
    add_working_days,
    due_at,
    due_date_of,
    is_working_day,
    local_date,
    parse_duration,
    start_of_day,
    working_days_between,
)
from reviewflow.engine.core.errors import InvalidDuration

LONDON = ZoneInfo("Europe/London")
HINT = "write a whole number and a unit, e.g. '5 working days', '20 days', '6 weeks' or '1 month'"


# --- the grammar -------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "amount", "unit"), [
    ("1 day", 1, "days"),
    ("20 days", 20, "days"),
    ("0 days", 0, "days"),
    ("1 calendar day", 1, "days"),
    ("3 calendar days", 3, "days"),
    ("1 working day", 1, "working_days"),
    ("5 working days", 5, "working_days"),
    ("1 week", 1, "weeks"),
    ("6 weeks", 6, "weeks"),
    ("1 month", 1, "months"),
    ("12 months", 12, "months"),
    ("9999 days", 9999, "days"),
    ("1 days", 1, "days"),
    ("2 month", 2, "months"),
    ("01 day", 1, "days"),
    ("5 Working Days", 5, "working_days"),
    ("5 WORKING DAYS", 5, "working_days"),
    ("3 Calendar Days", 3, "days"),
    ("6 WeeKs", 6, "weeks"),
    ("  5   working   days  ", 5, "working_days"),
    ("5 days\n", 5, "days"),
])
def test_accepted_durations(text: str, amount: int, unit: str) -> None:
    assert parse_duration(text) == Duration(amount, unit)  # type: ignore[arg-type]


@pytest.mark.parametrize("text", [
    "5", "five days", "5 fortnights", "", "   ", "-1 days", "+1 days", "1.5 weeks", "5days", "10000 days",
    "5 working", "5 business days", "5 calendar weeks", "5 days ago", "days 5", "5 wd", "5 working-days",
    "5 days, 2 weeks", "\uff15 days", "\u0665 days", "\u00b2 days", "1\uff10 days",
], ids=lambda text: ascii(text))
def test_rejected_durations(text: str) -> None:
    with pytest.raises(InvalidDuration) as caught:
        parse_duration(text)
    assert str(caught.value) == f"bad duration {text!r}: {HINT}"
    assert caught.value.text == text


@pytest.mark.parametrize("text", ["5 wee\u212a", "5 d\u0430ys", "5 \u0131tems", "1 mon\u0442h"],
                         ids=["kelvin-sign", "cyrillic-a", "dotless-i", "cyrillic-te"])
def test_non_ascii_letters_in_the_unit_are_refused(text: str) -> None:
    # The Kelvin sign U+212A lower-cases to 'k': without re.ASCII, '5 wee\u212a' was read as 5 weeks.
    with pytest.raises(InvalidDuration) as caught:
        parse_duration(text)
    assert str(caught.value) == f"bad duration {text!r}: {HINT}"
    assert caught.value.text == text


@pytest.mark.parametrize(("value", "shown"), [(None, "None"), (5, "5"), (5.0, "5.0"), (["5 days"], "['5 days']")])
def test_non_text_durations_are_rejected(value: object, shown: str) -> None:
    with pytest.raises(InvalidDuration) as caught:
        parse_duration(value)
    assert str(caught.value) == f"bad duration {shown}: {HINT}"


@pytest.mark.parametrize(("duration", "text"), [
    (Duration(1, "days"), "1 day"),
    (Duration(0, "days"), "0 days"),
    (Duration(1, "working_days"), "1 working day"),
    (Duration(5, "working_days"), "5 working days"),
    (Duration(1, "weeks"), "1 week"),
    (Duration(1, "months"), "1 month"),
    (Duration(6, "months"), "6 months"),
])
def test_duration_text(duration: Duration, text: str) -> None:
    assert str(duration) == text


@given(st.integers(0, 9999), st.sampled_from(["days", "working_days", "weeks", "months"]))
def test_duration_text_parses_back(amount: int, unit: str) -> None:
    duration = Duration(amount, unit)  # type: ignore[arg-type]
    assert parse_duration(str(duration)) == duration


@settings(max_examples=200)
@given(st.one_of(st.text(max_size=30), st.none(), st.integers(), st.floats()))
def test_parse_duration_raises_only_invalid_duration(value: object) -> None:
    try:
        duration = parse_duration(value)
    except InvalidDuration:
        return
    assert isinstance(duration, Duration)
    assert 0 <= duration.amount <= 9999


# --- calendar arithmetic ----------------------------------------------------------------------------------

@pytest.mark.parametrize(("start", "text", "expected"), [
    (date(2026, 1, 31), "1 month", date(2026, 2, 28)),
    (date(2028, 1, 31), "1 month", date(2028, 2, 29)),
    (date(2026, 3, 31), "1 month", date(2026, 4, 30)),
    (date(2028, 2, 29), "12 months", date(2029, 2, 28)),
    (date(2026, 11, 30), "3 months", date(2027, 2, 28)),
    (date(2026, 1, 31), "1 day", date(2026, 2, 1)),
    (date(2026, 12, 25), "20 days", date(2027, 1, 14)),
    (date(2026, 12, 25), "3 calendar days", date(2026, 12, 28)),
    (date(2026, 2, 20), "2 weeks", date(2026, 3, 6)),
    (date(2026, 1, 5), "0 days", date(2026, 1, 5)),
])
def test_calendar_durations(start: date, text: str, expected: date) -> None:
    assert parse_duration(text).add_to(start) == expected


@pytest.mark.parametrize(("end", "text", "expected"), [
    (date(2026, 3, 31), "1 month", date(2026, 2, 28)),  # 1 month before 31 March is 28 February
    (date(2028, 3, 31), "1 month", date(2028, 2, 29)),  # ... or 29 February in a leap year
    (date(2026, 5, 31), "3 months", date(2026, 2, 28)),
    (date(2029, 2, 28), "12 months", date(2028, 2, 28)),
    (date(2026, 3, 1), "1 day", date(2026, 2, 28)),
    (date(2026, 1, 5), "10 days", date(2025, 12, 26)),
    (date(2027, 1, 14), "20 calendar days", date(2026, 12, 25)),
    (date(2026, 3, 6), "2 weeks", date(2026, 2, 20)),
    (date(2026, 3, 30), "1 week", date(2026, 3, 23)),  # over the clocks going forward: dates only
    (date(2026, 1, 5), "0 days", date(2026, 1, 5)),
    (date(2026, 1, 4), "0 working days", date(2026, 1, 4)),  # a Sunday stays a Sunday
])
def test_subtract_from_calendar_durations(end: date, text: str, expected: date) -> None:
    assert parse_duration(text).subtract_from(end) == expected


def test_a_month_back_and_forward_is_not_always_the_same_day() -> None:
    back = parse_duration("1 month").subtract_from(date(2026, 3, 31))
    assert back == date(2026, 2, 28)
    assert parse_duration("1 month").add_to(back) == date(2026, 3, 28)


# 5 working days before Friday 10 April 2026, counted by hand:
#   England and Wales: Thu 9 (1), Wed 8 (2), Tue 7 (3); Mon 6 Easter Monday, Sun 5, Sat 4, Fri 3 Good Friday -> not
#   counted; Thu 2 (4), Wed 1 (5). Northern Ireland has the same Easter holidays.
#   Scotland (no Easter Monday): Thu 9, Wed 8, Tue 7, Mon 6 (4); Fri 3 Good Friday; Thu 2 (5).
#   Weekends only: Thu 9, Wed 8, Tue 7, Mon 6, Fri 3 (5).
@pytest.mark.parametrize(("calendar", "five_before", "one_before_tuesday"), [
    ("england-and-wales", date(2026, 4, 1), date(2026, 4, 2)),
    ("northern-ireland", date(2026, 4, 1), date(2026, 4, 2)),
    ("scotland", date(2026, 4, 2), date(2026, 4, 6)),
    ("weekends-only", date(2026, 4, 3), date(2026, 4, 6)),
])
def test_subtract_working_days_over_easter_2026(calendar: str, five_before: date, one_before_tuesday: date) -> None:
    assert parse_duration("5 working days").subtract_from(date(2026, 4, 10), calendar) == five_before
    assert add_working_days(date(2026, 4, 10), -5, calendar) == five_before
    assert working_days_between(five_before, date(2026, 4, 10), calendar) == 5
    # 1 working day before Tuesday 7 April.
    assert parse_duration("1 working day").subtract_from(date(2026, 4, 7), calendar) == one_before_tuesday


# The Christmas counts of test_five_working_days_over_christmas, backwards: each lands on Thursday 24 December 2026.
@pytest.mark.parametrize(("calendar", "end"), [
    ("england-and-wales", date(2027, 1, 5)),
    ("scotland", date(2027, 1, 6)),
    ("weekends-only", date(2026, 12, 31)),
])
def test_subtract_five_working_days_over_christmas(calendar: str, end: date) -> None:
    assert parse_duration("5 working days").subtract_from(end, calendar) == date(2026, 12, 24)
    assert add_working_days(end, -5, calendar) == date(2026, 12, 24)


def test_subtract_working_days_defaults_to_england_and_wales() -> None:
    # 1 working day before Tuesday 5 January 2027: Monday 4 January, except in Scotland, where that Monday is a
    # bank holiday (for 2 January) and Friday 1 January is New Year's Day -> Thursday 31 December.
    assert parse_duration("1 working day").subtract_from(date(2027, 1, 5)) == date(2027, 1, 4)
    assert parse_duration("1 working day").subtract_from(date(2027, 1, 5), "scotland") == date(2026, 12, 31)


@pytest.mark.parametrize(("start", "count", "calendar", "expected"), [
    (date(2026, 1, 5), -1, "england-and-wales", date(2026, 1, 2)),  # Monday -> Friday
    (date(2026, 1, 3), -1, "england-and-wales", date(2026, 1, 2)),  # from a Saturday
    (date(2026, 1, 4), -1, "england-and-wales", date(2026, 1, 2)),  # from a Sunday
    (date(2026, 1, 3), -1, "scotland", date(2025, 12, 31)),  # 1 and 2 January are holidays in Scotland
    (date(2026, 1, 3), -1, "weekends-only", date(2026, 1, 2)),
    (date(2026, 4, 7), -1, "england-and-wales", date(2026, 4, 2)),  # over Easter Monday and Good Friday
    (date(2026, 1, 12), -5, "england-and-wales", date(2026, 1, 5)),
    (date(2026, 1, 3), 0, "england-and-wales", date(2026, 1, 3)),
])
def test_add_working_days_with_a_negative_count(start: date, count: int, calendar: str, expected: date) -> None:
    assert add_working_days(start, count, calendar) == expected
    assert Duration(-count, "working_days").subtract_from(start, calendar) == expected


def test_default_calendar_is_england_and_wales() -> None:
    assert DEFAULT_CALENDAR == "england-and-wales"
    assert set(CALENDARS) == {"england-and-wales", "scotland", "northern-ireland", "weekends-only"}


# 5 working days from Thursday 24 December 2026, counted by hand (England and Wales):
#   Fri 25 Christmas Day, Sat 26 Boxing Day, Sun 27, Mon 28 Boxing Day (substitute) -> not counted;
#   Tue 29 (1), Wed 30 (2), Thu 31 (3); Fri 1 Jan 2027 New Year's Day, Sat 2, Sun 3 -> not counted;
#   Mon 4 Jan (4), Tue 5 Jan (5).
# Scotland also closes on Mon 4 Jan 2027 (2 January holiday falls on a Saturday) -> Wed 6 Jan.
# Weekends only: Fri 25 (1), Mon 28 (2), Tue 29 (3), Wed 30 (4), Thu 31 (5).
@pytest.mark.parametrize(("calendar", "expected"), [
    ("england-and-wales", date(2027, 1, 5)),
    ("scotland", date(2027, 1, 6)),
    ("weekends-only", date(2026, 12, 31)),
])
def test_five_working_days_over_christmas(calendar: str, expected: date) -> None:
    assert add_working_days(date(2026, 12, 24), 5, calendar) == expected
    assert parse_duration("5 working days").add_to(date(2026, 12, 24), calendar) == expected
    assert working_days_between(date(2026, 12, 24), expected, calendar) == 5


def test_working_days_default_to_england_and_wales() -> None:
    assert add_working_days(date(2026, 12, 24), 5) == date(2027, 1, 5)
    assert parse_duration("5 working days").add_to(date(2026, 12, 24)) == date(2027, 1, 5)


@pytest.mark.parametrize(("day", "calendar", "working"), [
    (date(2026, 1, 2), "england-and-wales", True),  # Friday 2 January
    (date(2026, 1, 2), "scotland", False),  # 2 January is a bank holiday in Scotland
    (date(2026, 1, 2), "weekends-only", True),
    (date(2026, 1, 1), "england-and-wales", False),
    (date(2026, 1, 1), "weekends-only", True),
    (date(2026, 4, 3), "england-and-wales", False),  # Good Friday
    (date(2026, 4, 6), "england-and-wales", False),  # Easter Monday
    (date(2026, 4, 6), "scotland", True),  # no Easter Monday in Scotland
    (date(2026, 8, 31), "england-and-wales", False),  # late summer bank holiday
    (date(2026, 8, 31), "scotland", True),
    (date(2026, 8, 3), "scotland", False),  # Scottish summer bank holiday
    (date(2026, 8, 3), "england-and-wales", True),
    (date(2026, 3, 17), "northern-ireland", False),  # St Patrick's Day
    (date(2026, 3, 17), "england-and-wales", True),
    (date(2026, 12, 28), "england-and-wales", False),  # Boxing Day (substitute)
    (date(2026, 12, 28), "weekends-only", True),
    (date(2026, 1, 3), "weekends-only", False),  # Saturday
    (date(2026, 1, 4), "england-and-wales", False),  # Sunday
    (date(2026, 1, 5), "england-and-wales", True),  # Monday
])
def test_is_working_day(day: date, calendar: str, working: bool) -> None:
    assert is_working_day(day, calendar) is working


@pytest.mark.parametrize(("start", "calendar", "expected"), [
    (date(2025, 12, 31), "england-and-wales", date(2026, 1, 2)),
    (date(2025, 12, 31), "scotland", date(2026, 1, 5)),
    (date(2026, 4, 2), "england-and-wales", date(2026, 4, 7)),  # over Good Friday and Easter Monday
    (date(2026, 4, 2), "scotland", date(2026, 4, 6)),
    (date(2026, 1, 2), "england-and-wales", date(2026, 1, 5)),  # Friday -> Monday
    (date(2026, 1, 3), "england-and-wales", date(2026, 1, 5)),  # from a Saturday
    (date(2026, 1, 4), "england-and-wales", date(2026, 1, 5)),  # from a Sunday
])
def test_one_working_day(start: date, calendar: str, expected: date) -> None:
    assert add_working_days(start, 1, calendar) == expected


def test_zero_working_days_is_the_start_even_at_a_weekend() -> None:
    assert add_working_days(date(2026, 1, 3), 0) == date(2026, 1, 3)
    assert parse_duration("0 working days").add_to(date(2026, 12, 25)) == date(2026, 12, 25)


def test_working_days_between() -> None:
    assert working_days_between(date(2026, 1, 5), date(2026, 1, 5)) == 0
    assert working_days_between(date(2026, 1, 5), date(2026, 1, 12)) == 5
    assert working_days_between(date(2026, 1, 12), date(2026, 1, 5)) == -5
    assert working_days_between(date(2026, 1, 2), date(2026, 1, 4)) == 0  # Friday -> Sunday
    assert working_days_between(date(2026, 12, 24), date(2027, 1, 4)) == 4


# --- when a stage becomes overdue -----------------------------------------------------------------------

@pytest.mark.parametrize(("entered", "limit", "overdue", "due_date"), [
    # GMT: Monday 5 January 2026 + 5 working days = Monday 12 January; overdue at midnight GMT.
    (datetime(2026, 1, 5, 9, 0, tzinfo=UTC), "5 working days", datetime(2026, 1, 13, 0, 0, tzinfo=UTC),
     date(2026, 1, 12)),
    (datetime(2026, 1, 5, 23, 30, tzinfo=UTC), "5 working days", datetime(2026, 1, 13, 0, 0, tzinfo=UTC),
     date(2026, 1, 12)),
    # BST: 10 June + 5 days = 15 June; midnight BST is 23:00 UTC the day before.
    (datetime(2026, 6, 10, 10, 0, tzinfo=UTC), "5 days", datetime(2026, 6, 15, 23, 0, tzinfo=UTC),
     date(2026, 6, 15)),
    # 23:30 UTC on 10 June is 00:30 on 11 June in London: the London date counts.
    (datetime(2026, 6, 10, 23, 30, tzinfo=UTC), "5 days", datetime(2026, 6, 16, 23, 0, tzinfo=UTC),
     date(2026, 6, 16)),
    # Entered in GMT, due in BST.
    (datetime(2026, 3, 20, 12, 0, tzinfo=UTC), "2 weeks", datetime(2026, 4, 3, 23, 0, tzinfo=UTC),
     date(2026, 4, 3)),
    # Due on the Saturday before the clocks go forward (01:00 GMT on 29 March): midnight is still GMT.
    (datetime(2026, 3, 27, 12, 0, tzinfo=UTC), "1 day", datetime(2026, 3, 29, 0, 0, tzinfo=UTC),
     date(2026, 3, 28)),
    # Due on the Saturday before the clocks go back (02:00 BST on 25 October): midnight is still BST.
    (datetime(2026, 10, 23, 12, 0, tzinfo=UTC), "1 day", datetime(2026, 10, 24, 23, 0, tzinfo=UTC),
     date(2026, 10, 24)),
    (datetime(2026, 1, 31, 10, 0, tzinfo=UTC), "1 month", datetime(2026, 3, 1, 0, 0, tzinfo=UTC),
     date(2026, 2, 28)),
    (datetime(2026, 1, 5, 9, 0, tzinfo=UTC), "0 days", datetime(2026, 1, 6, 0, 0, tzinfo=UTC), date(2026, 1, 5)),
    (datetime(2026, 12, 24, 9, 0, tzinfo=UTC), "5 working days", datetime(2027, 1, 6, 0, 0, tzinfo=UTC),
     date(2027, 1, 5)),
])
def test_due_at_is_the_london_midnight_after_the_due_date(
    entered: datetime, limit: str, overdue: datetime, due_date: date,
) -> None:
    due = due_at(entered, parse_duration(limit))
    assert due == overdue
    assert due.tzinfo is UTC
    assert due.astimezone(LONDON).time().isoformat() == "00:00:00"
    assert due_date_of(due) == due_date


def test_due_at_uses_the_calendar() -> None:
    entered = datetime(2026, 12, 24, 9, 0, tzinfo=UTC)
    limit = parse_duration("5 working days")
    assert due_at(entered, limit, "scotland") == datetime(2027, 1, 7, 0, 0, tzinfo=UTC)
    assert due_at(entered, limit, "weekends-only") == datetime(2027, 1, 1, 0, 0, tzinfo=UTC)


def test_due_at_accepts_any_aware_time() -> None:
    in_london = datetime(2026, 6, 11, 0, 30, tzinfo=LONDON)
    in_utc = datetime(2026, 6, 10, 23, 30, tzinfo=UTC)
    assert due_at(in_london, Duration(5, "days")) == due_at(in_utc, Duration(5, "days"))


def test_local_date_and_start_of_day() -> None:
    assert local_date(datetime(2026, 6, 10, 23, 30, tzinfo=UTC)) == date(2026, 6, 11)
    assert local_date(datetime(2026, 1, 10, 23, 30, tzinfo=UTC)) == date(2026, 1, 10)
    assert start_of_day(date(2026, 6, 11)) == datetime(2026, 6, 10, 23, 0, tzinfo=UTC)
    assert start_of_day(date(2026, 1, 11)) == datetime(2026, 1, 11, 0, 0, tzinfo=UTC)
    assert start_of_day(date(2026, 3, 29)) == datetime(2026, 3, 29, 0, 0, tzinfo=UTC)  # clocks go forward at 01:00
    assert start_of_day(date(2026, 3, 30)) == datetime(2026, 3, 29, 23, 0, tzinfo=UTC)


# --- properties ------------------------------------------------------------------------------------------

DATES = st.dates(min_value=date(2020, 1, 1), max_value=date(2035, 12, 31))
CALENDAR_NAMES = st.sampled_from(sorted(CALENDARS))


@settings(max_examples=150, deadline=None)
@given(DATES, st.integers(1, 40), CALENDAR_NAMES)
def test_working_days_land_on_a_working_day(start: date, n: int, calendar: str) -> None:
    end = add_working_days(start, n, calendar)
    assert is_working_day(end, calendar)
    assert end > start
    assert end - start <= timedelta(days=2 * n + 10)


@settings(max_examples=150, deadline=None)
@given(DATES, st.integers(0, 40), CALENDAR_NAMES)
def test_working_days_are_monotonic(start: date, n: int, calendar: str) -> None:
    assert add_working_days(start, n, calendar) < add_working_days(start, n + 1, calendar)


@settings(max_examples=150, deadline=None)
@given(DATES, st.integers(0, 40), CALENDAR_NAMES)
def test_working_days_between_inverts_add_working_days(start: date, n: int, calendar: str) -> None:
    end = add_working_days(start, n, calendar)
    assert working_days_between(start, end, calendar) == n
    assert working_days_between(end, start, calendar) == -n


@settings(max_examples=100, deadline=None)
@given(st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2035, 12, 31), timezones=st.just(UTC)),
       st.integers(0, 60), st.sampled_from(["days", "working_days", "weeks", "months"]))
def test_due_at_is_a_london_midnight_after_entry(entered: datetime, amount: int, unit: str) -> None:
    duration = Duration(amount, unit)  # type: ignore[arg-type]
    due = due_at(entered, duration)
    assert due.tzinfo is UTC
    assert due > entered
    assert due.astimezone(LONDON).time().isoformat() == "00:00:00"
    assert due_date_of(due) == duration.add_to(local_date(entered))


@settings(max_examples=100, deadline=None)
@given(DATES, st.integers(0, 40), CALENDAR_NAMES)
def test_subtract_then_add_working_days_returns_the_working_day(day: date, n: int, calendar: str) -> None:
    start = add_working_days(day, 1, calendar)  # a working day
    earlier = parse_duration(f"{n} working days").subtract_from(start, calendar)
    assert add_working_days(earlier, n, calendar) == start
    assert add_working_days(start, -n, calendar) == earlier
    assert working_days_between(earlier, start, calendar) == n
    assert is_working_day(earlier, calendar)
    assert add_working_days(add_working_days(start, n, calendar), -n, calendar) == start


@settings(max_examples=100, deadline=None)
@given(DATES, st.integers(0, 400), st.sampled_from(["days", "weeks"]))
def test_subtract_then_add_calendar_days_or_weeks_returns_the_day(day: date, n: int, unit: str) -> None:
    duration = Duration(n, unit)  # type: ignore[arg-type]
    assert duration.add_to(duration.subtract_from(day)) == day
    assert duration.subtract_from(duration.add_to(day)) == day


@settings(max_examples=100, deadline=None)
@given(DATES, st.integers(0, 24))
def test_subtract_then_add_months_is_at_most_three_days_early(day: date, n: int) -> None:
    back_and_forth = Duration(n, "months").add_to(Duration(n, "months").subtract_from(day))
    assert (back_and_forth.year, back_and_forth.month) == (day.year, day.month)
    assert timedelta(0) <= day - back_and_forth <= timedelta(days=3)
