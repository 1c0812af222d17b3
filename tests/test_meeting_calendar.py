"""The Board's meeting calendar: a `schedule` of listed `dates` opening one case a lead time before each
meeting, and stage time limits counted back `before` a recorded date (the performance report is due 10
working days before its meeting, bank holidays skipped)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from reviewflow.engine.core.definition import Schedule
from reviewflow.engine.core.durations import Duration, due_date_of, is_working_day, start_of_day
from reviewflow.engine.core.errors import InvalidDefinition
from reviewflow.engine.core.parse import parse_definition
from reviewflow.engine.core.recurring import case_fields, case_ref, describe, due_periods, next_period
from reviewflow.engine.core.statutory import stage_due

from tests.conftest import FIXTURES
from tests.seeding import at

ROOT = Path(__file__).resolve().parent.parent
MINIMAL = (FIXTURES / "minimal.yaml").read_text("utf-8")
PERFORMANCE = parse_definition((ROOT / "workflows" / "performance_report.yaml").read_text("utf-8"),
                               "performance_report.yaml")
MEETINGS = """schedule:
  dates:
    - "2026-07-15"
    - 2026-09-23
    - "2026-11-25"
  open_before: 6 weeks
  ref: PERF-{date}
  fields:
    notifying_agency: Board meeting of {date}
"""


def _meetings(*days: str, before: str | None = "6 weeks") -> Schedule:
    return Schedule(ref="M-{date}", dates=tuple(date.fromisoformat(d) for d in days),
                    open_before=Duration(int(before.split()[0]), before.split()[1]) if before else None)  # type: ignore[arg-type]


# --- the calendar: one period per listed date ------------------------------------------------------------

def test_each_meeting_opens_its_case_six_weeks_before_at_midnight() -> None:
    d = parse_definition(MINIMAL + MEETINGS, "m.yaml")
    s = d.schedule
    assert s is not None
    periods = due_periods(s, at("2026-01-01"), at("2026-12-31"))
    assert [(p.key, p.opens_at, case_ref(s, p)) for p in periods] == [
        ("2026-07-15", start_of_day(date(2026, 6, 3)), "PERF-2026-07-15"),
        ("2026-09-23", start_of_day(date(2026, 8, 12)), "PERF-2026-09-23"),
        ("2026-11-25", start_of_day(date(2026, 10, 14)), "PERF-2026-11-25")]
    assert case_fields(s, periods[1]) == {"notifying_agency": "Board meeting of 2026-09-23"}
    assert describe(s) == "3 listed dates, 6 weeks ahead"
    assert next_period(s, at("2026-08-12T00:00")) == periods[2]  # opening exactly now: due, not next
    assert next_period(s, at("2026-10-14T00:00")) is None  # the calendar has run out


def test_checks_at_any_times_see_each_meeting_once_in_order() -> None:
    s = _meetings("2027-03-24", "2026-11-25", "2027-01-27", before="30 days")
    seen = []
    checks = [at("2026-01-01"), at("2026-10-26T00:00"), at("2026-10-26T00:00"), at("2026-12-29"), at("2027-12-31")]
    for since, now in zip(checks, checks[1:], strict=False):
        seen += [p.key for p in due_periods(s, since, now)]
    assert seen == ["2026-11-25", "2027-01-27", "2027-03-24"]


def test_without_open_before_the_case_opens_on_the_date() -> None:
    s = _meetings("2026-07-15", before=None)
    (period,) = due_periods(s, at("2026-01-01"), at("2026-12-31"))
    assert period.opens_at == start_of_day(date(2026, 7, 15))
    assert describe(s) == "1 listed date"


SCHEDULE_LINE = MINIMAL.count("\n") + 1
FIELDS = "  fields: {notifying_agency: Board}\n"
BROKEN: dict[str, tuple[str, list[tuple[int, str]]]] = {
    "not a date": ('  dates:\n    - "2026-07-15"\n    - "2026-02-30"\n  ref: P-{date}\n' + FIELDS, [
        (3, "schedule.dates[1]: '2026-02-30' is not a date: write YYYY-MM-DD, e.g. 2026-07-15")]),
    "listed twice": ('  dates:\n    - "2026-07-15"\n    - 2026-07-15\n  ref: P-{date}\n' + FIELDS, [
        (3, "schedule.dates[1]: 2026-07-15 is listed twice: each date opens one case; remove the second")]),
    "same ref twice": ('  dates: ["2026-07-15", "2026-07-29"]\n  ref: P-{year}-{month}\n' + FIELDS, [
        (2, "schedule.ref: ref 'P-{year}-{month}' gives 'P-2026-07' for the periods starting 2026-07-15 and "
            "2026-07-29: add a placeholder that changes every period, e.g. {date}")]),
    "numbered": ('  dates: ["2026-07-15"]\n  ref: P-{n}\n' + FIELDS, [
        (2, "schedule.ref: {n} counts periods from `starting` and needs `every`: use {date} or {year}-{month} "
            "with `dates`")]),
    "dates and every": ('  dates: ["2026-07-15"]\n  every: 1 year\n  ref: P-{date}\n' + FIELDS, [
        (1, "schedule.dates: give the periods' `dates` or a rhythm (`every` or `cron`), not both: remove one"),
        (2, "schedule.every: `every` needs `starting`: the first period's start date, e.g. 2026-04-01")]),
    "dates and starting": ('  dates: ["2026-07-15"]\n  starting: "2026-01-01"\n  ref: P-{date}\n' + FIELDS, [
        (2, "schedule.starting: `dates` lists every period's date: remove `starting`")]),
    "open_before in months": ('  dates: ["2026-07-15"]\n  open_before: 2 months\n  ref: P-{date}\n' + FIELDS, [
        (2, "schedule.open_before: open each case a number of days or weeks before its date, not 2 months: "
            "e.g. '6 weeks' or '30 days'")]),
    "open_before without dates": ('  cron: "0 9 1 * *"\n  open_before: 6 weeks\n  ref: P-{date}\n' + FIELDS, [
        (2, "schedule.open_before: `open_before` opens each listed date's case early and goes with `dates`: "
            "remove it, or list the dates")]),
}


@pytest.mark.parametrize("name", list(BROKEN))
def test_a_broken_calendar_is_refused_with_its_line_and_fix(name: str) -> None:
    block, expected = BROKEN[name]
    with pytest.raises(InvalidDefinition) as caught:
        parse_definition(f"{MINIMAL}schedule:\n{block}", "m.yaml")
    assert [str(p) for p in caught.value.problems] == [f"m.yaml:{SCHEDULE_LINE + i}: {m}" for i, m in expected]


# --- time limits counted back from a recorded date --------------------------------------------------------

def _drafting_due(meeting: date) -> date:
    due = stage_due(PERFORMANCE, "drafting", {"meeting_date": meeting.isoformat()}, at("2026-01-05T10:00"))
    assert due is not None
    return due_date_of(due)


def test_the_performance_report_is_due_ten_working_days_before_its_meeting() -> None:
    assert PERFORMANCE.states["drafting"].time_limit_before == "meeting_date"
    assert _drafting_due(date(2026, 9, 23)) == date(2026, 9, 9)
    assert _drafting_due(date(2027, 6, 9)) == date(2027, 5, 25)  # the spring bank holiday, 31 May, skipped
    assert _drafting_due(date(2027, 1, 6)) == date(2026, 12, 18)  # Christmas, Boxing Day (28th) and New Year
    data = stage_due(PERFORMANCE, "data_collection", {"meeting_date": "2026-09-23"}, at("2026-08-12"))
    assert data is not None
    assert due_date_of(data) == date(2026, 9, 2)  # 15 working days before
    board = stage_due(PERFORMANCE, "board_meeting", {"meeting_date": "2026-09-23"}, at("2026-09-10"))
    assert board is not None
    assert due_date_of(board) == date(2026, 10, 7)  # the Board's response: 10 working days after


@given(meeting=st.dates(date(2024, 1, 1), date(2030, 12, 31)), amount=st.integers(0, 60),
       unit=st.sampled_from(["working_days", "days", "weeks"]))
@example(meeting=date(2027, 6, 9), amount=10, unit="working_days")
@example(meeting=date(2027, 1, 6), amount=10, unit="working_days")
@example(meeting=date(2026, 12, 28), amount=1, unit="working_days")  # a bank holiday meeting
@example(meeting=date(2026, 9, 23), amount=0, unit="working_days")
def test_a_deadline_before_a_date_is_never_after_it(meeting: date, amount: int, unit: str) -> None:
    d = replace(PERFORMANCE, states={**PERFORMANCE.states, "drafting": replace(
        PERFORMANCE.states["drafting"], time_limit=Duration(amount, unit))})  # type: ignore[arg-type]
    due = stage_due(d, "drafting", {"meeting_date": meeting.isoformat()}, datetime(2020, 1, 1, tzinfo=UTC))
    assert due is not None
    last_day = due_date_of(due)
    assert last_day <= meeting
    if unit == "working_days" and amount > 0:  # exactly `amount` working days from the deadline to the meeting
        assert is_working_day(last_day)
        days = [last_day + timedelta(days=n) for n in range((meeting - last_day).days)]
        assert sum(is_working_day(day) for day in days) == amount


CLOCKED = """name: clocked
title: Clocked
version: 1
roles:
  manager: Manager
open:
  roles: [manager]
  requires:
    note: {type: text}
    meeting_date: {type: date}
initial: start
states:
  start:
    label: Start
    owner: manager
  drafting:
    label: Drafting
    time_limit: {duration: 10 working days, before: BEFORE_FIELD}
    remind: 10 working days before
    owner: manager
  done:
    label: Done
    terminal: true
transitions:
  - trigger: begin
    from: start
    to: drafting
    roles: [manager]
  - trigger: reschedule
    from: drafting
    to: drafting
    roles: [manager]
    requires:
      new_date: {type: date}
  - trigger: finish
    from: drafting
    to: done
    roles: [manager]
"""


@pytest.mark.parametrize(("field", "message"), [
    ("nowhere", "unknown field 'nowhere': name a date field asked for by `open` or a transition (meeting_date, "
                "new_date)"),
    ("note", "field 'note' is a text field: a clock counts from a date field"),
    ("new_date", "field 'new_date' is not recorded on every way into state 'drafting': ask for it on the "
                 "transition into the state or earlier (or on the open)"),
])
def test_a_time_limit_before_a_field_is_checked_with_its_line(field: str, message: str) -> None:
    source = CLOCKED.replace("BEFORE_FIELD", field)
    with pytest.raises(InvalidDefinition) as caught:
        parse_definition(source, "clocked.yaml")
    line = next(i for i, text in enumerate(source.splitlines(), 1) if "before: " in text)
    assert [str(p) for p in caught.value.problems] == [
        f"clocked.yaml:{line}: states.drafting.time_limit.before: {message}"]


def test_a_reminder_may_be_as_long_as_a_time_limit_counted_back() -> None:
    d = parse_definition(CLOCKED.replace("BEFORE_FIELD", "meeting_date"), "clocked.yaml")
    assert (d.states["drafting"].time_limit_before, d.states["drafting"].time_limit_from) == ("meeting_date", None)
