"""Recurring reviews: period maths, schedule validation, opening each period exactly once through the
service, the CLI, and the issue's done-when with real processes: two at once, and a worker restart that
spans periods, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import os
import re
import signal
from collections import Counter
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from reviewflow.engine.core.access import Identity
from reviewflow.engine.core.clock import SteppingClock
from reviewflow.engine.core.definition import Schedule
from reviewflow.engine.core.durations import LOCAL_ZONE, Duration, start_of_day
from reviewflow.engine.core.errors import InvalidDefinition, InvalidValue, NotPermitted
from reviewflow.engine.core.parse import parse_definition
from reviewflow.engine.core.recurring import Period, case_ref, catch_up_floor, describe, due_periods, next_period
from reviewflow.engine.services.facade import Reviewflow
from reviewflow.store.models import CaseRow, HistoryRow, ScheduleRunRow

from tests import test_worker
from tests.conftest import FIXTURES, pg_url_or_skip
from tests.databases import templates
from tests.seeding import at, connect
from tests.test_cli import Cli
from tests.test_worker import Proc, _wait_for

spawn = test_worker.spawn

MINIMAL = (FIXTURES / "minimal.yaml").read_text("utf-8")


def _utc(text: str) -> datetime:
    """An instant written as England's local time, as --now reads it."""
    return at(text)


def _every(amount: int, unit: str, starting: date, ref: str = "R-{n}") -> Schedule:
    return Schedule(ref=ref, every=Duration(amount, unit), starting=starting)  # type: ignore[arg-type]


def _keys(periods: list[Period]) -> list[str]:
    return [p.key for p in periods]


# --- 1. period maths -------------------------------------------------------------------------------

def test_quarterly_periods_open_at_midnight_in_england() -> None:
    s = _every(3, "months", date(2026, 4, 1), "MACA-{year}-Q{quarter}")
    periods = due_periods(s, _utc("2026-01-01"), _utc("2027-04-01T00:00"))
    assert [(p.key, p.number, case_ref(s, p)) for p in periods] == [
        ("2026-04-01", 1, "MACA-2026-Q2"), ("2026-07-01", 2, "MACA-2026-Q3"), ("2026-10-01", 3, "MACA-2026-Q4"),
        ("2027-01-01", 4, "MACA-2027-Q1"), ("2027-04-01", 5, "MACA-2027-Q2")]
    assert periods[0].opens_at == datetime(2026, 3, 31, 23, 0, tzinfo=UTC)  # 00:00 BST
    assert periods[3].opens_at == datetime(2027, 1, 1, 0, 0, tzinfo=UTC)  # 00:00 GMT
    assert next_period(s, _utc("2026-07-01T00:00")) == periods[2]  # a period opening exactly now is due, not next
    assert next_period(s, _utc("2026-06-30T23:59")) == periods[1]
    assert describe(s) == "every 3 months from 2026-04-01"


def test_month_end_starts_stay_month_end() -> None:
    monthly = _every(1, "months", date(2026, 1, 31), "M-{date}")
    keys = _keys(due_periods(monthly, _utc("2026-01-01"), _utc("2026-07-01")))
    assert keys == ["2026-01-31", "2026-02-28", "2026-03-31", "2026-04-30", "2026-05-31", "2026-06-30"]
    later = due_periods(monthly, _utc("2028-01-15"), _utc("2028-04-01"))  # found without walking from 2026
    assert [(p.key, p.number) for p in later] == [("2028-01-31", 25), ("2028-02-29", 26), ("2028-03-31", 27)]
    leap = _every(12, "months", date(2028, 2, 29), "Y-{year}")
    assert _keys(due_periods(leap, _utc("2028-01-01"), _utc("2032-12-31"))) == [
        "2028-02-29", "2029-02-28", "2030-02-28", "2031-02-28", "2032-02-29"]
    assert describe(leap) == "every 1 year from 2028-02-29"


def test_cron_fires_in_uk_time_and_the_repeated_autumn_hour_ends() -> None:
    quarterly = Schedule(ref="Q-{date}", cron="0 9 1 1,4,7,10 *")
    fires = due_periods(quarterly, _utc("2026-01-01"), _utc("2027-01-01T09:00"))
    assert [(p.key, p.opens_at.hour) for p in fires] == [
        ("2026-01-01T09:00", 9), ("2026-04-01T09:00", 8), ("2026-07-01T09:00", 8), ("2026-10-01T09:00", 8),
        ("2027-01-01T09:00", 9)]
    nightly = Schedule(ref="N-{date}", cron="30 1 * * *")  # 01:30 happens twice on 25 October 2026
    around = due_periods(nightly, _utc("2026-10-24T12:00"), _utc("2026-10-27T12:00"))
    assert [p.opens_at for p in around] == sorted(set(p.opens_at for p in around))
    assert Counter(p.key for p in around) == {"2026-10-25T01:30": 1, "2026-10-26T01:30": 1, "2026-10-27T01:30": 1}
    assert around[0].opens_at == datetime(2026, 10, 25, 0, 30, tzinfo=UTC)  # the first 01:30, still summer time
    spring = due_periods(nightly, _utc("2028-03-25T12:00"), _utc("2028-03-27T12:00"))  # 01:30 is skipped on the 26th
    assert [(p.key, p.opens_at) for p in spring] == [("2028-03-26T02:30", datetime(2028, 3, 26, 1, 30, tzinfo=UTC)),
                                                     ("2028-03-27T01:30", datetime(2028, 3, 27, 0, 30, tzinfo=UTC))]
    weekly = Schedule(ref="W-{date}", cron="0 0 * * mon")  # APScheduler's own zone arithmetic skipped 27 March
    assert _keys(due_periods(weekly, _utc("2028-03-21"), _utc("2028-04-04"))) == ["2028-03-27T00:00",
                                                                               "2028-04-03T00:00"]
    assert describe(nightly) == "cron 30 1 * * * (UK time)"


def test_catch_up_never_reaches_before_the_first_load_or_the_last_opened_period() -> None:
    old = _every(1, "months", date(2020, 1, 1), "M-{year}-{month}")
    loaded = _utc("2026-05-10T14:00")
    assert _keys(due_periods(old, catch_up_floor(old, loaded), _utc("2026-07-02"))) == ["2026-06-01", "2026-07-01"]
    opened = _utc("2026-06-01T00:00")
    assert _keys(due_periods(old, catch_up_floor(old, loaded, opened), _utc("2026-07-02"))) == ["2026-07-01"]
    at_load = catch_up_floor(old, _utc("2026-06-01T00:00"))  # loaded the very instant a period opens
    assert _keys(due_periods(old, at_load, _utc("2026-06-02"))) == ["2026-06-01"]


def _brute_force(s: Schedule, since: datetime, now: datetime) -> list[str]:
    """Period starts from `starting` + k x `every`, k = 0, 1, ..., one at a time."""
    assert s.every is not None
    assert s.starting is not None
    out, k = [], 0
    while (opens := start_of_day(Duration(s.every.amount * k, s.every.unit).add_to(s.starting))) <= now:
        if opens > since:
            out.append(opens.astimezone(LOCAL_ZONE).date().isoformat())
        k += 1
    return out


STARTS = st.dates(date(2024, 1, 1), date(2027, 12, 31)) | st.sampled_from(
    [date(2026, 1, 31), date(2028, 2, 29), date(2026, 8, 31), date(2026, 3, 29), date(2026, 10, 25)])
EVERY = st.builds(_every, st.integers(1, 6), st.sampled_from(["days", "weeks", "months"]), STARTS)
CRON = st.sampled_from(["0 9 1 1,4,7,10 *", "30 1 * * *", "0 0 * * mon", "15 */6 * * *", "0 9 last * *",
                        "0 9 29 2 *"]).map(lambda expr: Schedule(ref="C-{date}", cron=expr))


@settings(max_examples=150, deadline=None)
@given(schedule=EVERY | CRON, first=st.dates(date(2023, 6, 1), date(2028, 6, 1)),
       hours=st.lists(st.integers(0, 24 * 120), min_size=1, max_size=8))
@example(schedule=Schedule(ref="C-{date}", cron="30 1 * * *"), first=date(2028, 3, 26), hours=[1, 2])  # 01:30 on
# the spring clock change does not exist: it opens at 02:30 BST, and a check at 02:00 BST must still see it
def test_every_period_is_due_exactly_once_whatever_the_checks(schedule: Schedule, first: date,
                                                               hours: list[int]) -> None:
    """Checks at t0 < t1 < ... < tn (whole hours from a midnight, so often exactly at an opening) see
    every period opening in (t0, tn] once, in order, and no other."""
    t0 = start_of_day(first)
    checks = [t0, *sorted({t0 + timedelta(hours=h) for h in hours})]
    seen: list[Period] = []
    for since, now in zip(checks, checks[1:], strict=False):
        seen.extend(due_periods(schedule, since, now))
    whole = due_periods(schedule, checks[0], checks[-1])
    assert seen == whole
    assert all(a.opens_at < b.opens_at for a, b in zip(seen, seen[1:], strict=False))
    assert all(checks[0] < p.opens_at <= checks[-1] for p in seen)
    if schedule.every is not None:
        assert _keys(whole) == _brute_force(schedule, checks[0], checks[-1])
    following = next_period(schedule, checks[-1])
    assert following is not None
    assert following.opens_at > checks[-1]
    assert not whole or following.opens_at > whole[-1].opens_at


# --- 2. validation ---------------------------------------------------------------------------------

SCHEDULE_LINE = MINIMAL.count("\n") + 1
"""The line of `schedule:` when a block is appended to tests/fixtures/minimal.yaml."""
QUARTERLY = '  every: 3 months\n  starting: "2026-04-01"\n'
POLICE = "  fields: {notifying_agency: Police}\n"
CRON_HELP = ("write five fields, minute hour day month weekday, in UK time, "
             "e.g. '0 9 1 1,4,7,10 *' (09:00 on the first day of each quarter)")
PLACES = "{year}, {month}, {quarter}, {date}, {n}"
BROKEN: dict[str, tuple[str, list[tuple[int, str]]]] = {
    "neither every nor cron": ("  ref: X-{year}\n" + POLICE, [
        (0, "schedule: a schedule needs `every` (with `starting`), `cron` or `dates`: add e.g. `every: 3 months` "
            "and `starting: 2026-04-01`, `cron: '0 9 1 1,4,7,10 *'`, or `dates: ['2026-07-15', '2026-09-23']`")]),
    "both every and cron": (QUARTERLY + "  cron: '0 9 1 * *'\n  ref: X-{date}\n" + POLICE, [
        (3, "schedule.cron: give either `every` (with `starting`) or `cron`, not both")]),
    "every without starting": ("  every: 3 months\n  ref: X-{year}-{quarter}\n" + POLICE, [
        (1, "schedule.every: `every` needs `starting`: the first period's start date, e.g. 2026-04-01")]),
    "working days": ('  every: 5 working days\n  starting: "2026-04-01"\n  ref: X-{n}\n' + POLICE, [
        (1, "schedule.every: a schedule cannot repeat every 5 working days: use days, weeks, months or years, "
            "e.g. '3 months' or '1 year'")]),
    "every zero": ('  every: 0 months\n  starting: "2026-04-01"\n  ref: X-{n}\n' + POLICE, [
        (1, "schedule.every: `every` must be at least 1 day: e.g. '3 months' or '1 year'")]),
    "cron out of range": ("  cron: '0 25 * * *'\n  ref: X-{date}\n" + POLICE, [
        (1, "schedule.cron: '0 25 * * *' is not a usable cron expression (Error validating expression '25': the "
            f"last value (25) is higher than the maximum value (23)): {CRON_HELP}")]),
    "cron four fields": ("  cron: '0 9 1 *'\n  ref: X-{date}\n" + POLICE, [
        (1, "schedule.cron: '0 9 1 *' is not a usable cron expression (Wrong number of fields; got 4, expected 5): "
            f"{CRON_HELP}")]),
    "cron weekday number": ("  cron: '0 9 * * 1'\n  ref: X-{date}\n" + POLICE, [
        (1, "schedule.cron: '0 9 * * 1': write the weekday field with names (mon, tue, ... sun, or a range such as "
            "mon-fri): weekday numbers mean different days in different versions of cron")]),
    "cron never fires": ("  cron: '0 9 31 2 *'\n  ref: X-{date}\n" + POLICE, [
        (1, "schedule.cron: '0 9 31 2 *' never fires (no such date): check the day and month, e.g. "
            "'0 9 1 1,4,7,10 *' (09:00 on the first day of each quarter)")]),
    "cron numbered": ("  cron: '0 9 1 * *'\n  ref: X-{n}\n" + POLICE, [
        (2, "schedule.ref: {n} counts periods from `starting` and needs `every`: use {date} or {year}-{month} "
            "with `cron`")]),
    "unknown placeholder": (QUARTERLY + "  ref: X-{week}\n" + POLICE, [
        (3, f"schedule.ref: unknown placeholder {{week}}: use {PLACES}")]),
    "attribute access": (QUARTERLY + "  ref: X-{date.year}\n" + POLICE, [
        (3, f"schedule.ref: unknown placeholder {{date.year}}: use {PLACES}")]),
    "index access": (QUARTERLY + "  ref: X-{date[0]}\n" + POLICE, [
        (3, f"schedule.ref: unknown placeholder {{date[0]}}: use {PLACES}")]),
    "conversion": (QUARTERLY + "  ref: X-{date!r}\n" + POLICE, [
        (3, "schedule.ref: placeholder {date} has a conversion or a nested field: write it as {date}")]),
    "unclosed brace": (QUARTERLY + "  ref: X-{year\n" + POLICE, [
        (3, f"schedule.ref: expected '}}' before end of string: write a literal brace as {{{{ or }}}}; placeholders "
            f"are {PLACES}")]),
    "bad format": (QUARTERLY + "  ref: X-{year:q}-{n}\n" + POLICE, [
        (3, "schedule.ref: Unknown format code 'q' for object of type 'int': write placeholders plainly, "
            "e.g. {year} or {n:03}")]),
    "space in ref": (QUARTERLY + "  ref: MACA {year}-Q{quarter}\n" + POLICE, [
        (3, "schedule.ref: ref 'MACA {year}-Q{quarter}' gives 'MACA 2026-Q2', which is not a usable case "
            "reference: use letters, digits and . _ / - with no spaces (at most 64 characters), "
            "e.g. MACA-{year}-Q{quarter}")]),
    "same ref twice": (QUARTERLY + "  ref: MACA-{year}\n" + POLICE, [
        (3, "schedule.ref: ref 'MACA-{year}' gives 'MACA-2026' for the periods starting 2026-04-01 and 2026-07-01: "
            "add a placeholder that changes every period, e.g. {quarter}, {month}, {date} or {n}")]),
    "monthly without year": ('  every: 1 month\n  starting: "2026-04-01"\n  ref: M-{month}\n' + POLICE, [
        (3, "schedule.ref: ref 'M-{month}' gives 'M-04' for the periods starting 2026-04-01 and 2027-04-01: "
            "add a placeholder that changes every period, e.g. {quarter}, {month}, {date} or {n}")]),
    "field missing": (QUARTERLY + "  ref: X-{n}\n", [
        (0, "schedule: the `open` rule requires notifying_agency (text): give it under `schedule.fields`, "
            "e.g. notifying_agency: ...")]),
    "field unknown": (QUARTERLY + "  ref: X-{n}\n  fields:\n    notifying_agency: Police\n    colour: red\n", [
        (6, "schedule.fields.colour: the `open` rule does not take field 'colour'; "
            "it takes: notifying_agency (text)")]),
    "field empty": (QUARTERLY + "  ref: X-{n}\n  fields:\n    notifying_agency: ''\n", [
        (5, "schedule.fields.notifying_agency: field 'notifying_agency' is empty: give it a value")]),
    "field placeholder": (QUARTERLY + "  ref: X-{n}\n  fields:\n    notifying_agency: 'from {week}'\n", [
        (5, f"schedule.fields.notifying_agency: unknown placeholder {{week}}: use {PLACES}")]),
}


@pytest.mark.parametrize("name", list(BROKEN))
def test_broken_schedule_is_refused_with_its_line_and_fix(name: str) -> None:
    block, expected = BROKEN[name]
    with pytest.raises(InvalidDefinition) as caught:
        parse_definition(f"{MINIMAL}schedule:\n{block}", "m.yaml")
    assert [str(p) for p in caught.value.problems] == [f"m.yaml:{SCHEDULE_LINE + i}: {m}" for i, m in expected]


def test_placeholders_in_fields_are_checked_against_the_field_type() -> None:
    text = MINIMAL.replace("notifying_agency: {type: text, label: Which agency referred the case}",
                           "audit_date: {type: date, label: When}")
    good = parse_definition(text + "schedule:\n" + QUARTERLY + "  ref: A-{n:03}\n  fields: {audit_date: '{date}'}\n")
    assert good.schedule is not None
    assert good.schedule.fields == {"audit_date": "{date}"}
    with pytest.raises(InvalidDefinition) as caught:
        parse_definition(text + "schedule:\n" + QUARTERLY + "  ref: A-{n}\n  fields: {audit_date: 'Q{quarter}'}\n",
                         "m.yaml")
    assert [p.message for p in caught.value.problems] == [
        "field 'audit_date': 'Q2' is not a date: write it as 2026-03-31 (or 31/03/2026)"]


@pytest.mark.parametrize("name", ["multi_agency_case_audit", "section_11_audit", "section_175_audit", "annual_report",
                                  "performance_report", "child_death_learning"])
def test_shipped_audits_have_a_schedule(name: str) -> None:
    root = Path(__file__).resolve().parent.parent / "workflows"
    d = parse_definition((root / f"{name}.yaml").read_text("utf-8"), name)
    assert d.schedule is not None


# --- 3. the service: each period once ---------------------------------------------------------------

DAILY = MINIMAL.replace("name: minimal", "name: daily_check").replace("title: Minimal review", "title: Daily check")
DAILY_SCHEDULE = """schedule:
  every: 1 day
  starting: "2026-01-05"
  ref: DAY-{date}
  fields:
    notifying_agency: schedule of {date}
  note: Opened by the daily schedule
"""


def _load(service: Reviewflow, text: str, name: str = "daily.yaml") -> None:
    service.load_workflow_text(text, name)


def _history(service: Reviewflow, ref: str) -> list[tuple[str, str | None]]:
    return [(h.actor, h.note) for h in service.case(ref).history]


def test_each_period_opens_once_as_time_moves_on(service: Reviewflow, clock: SteppingClock) -> None:
    clock.now = _utc("2026-01-04T12:00")
    _load(service, DAILY + DAILY_SCHEDULE)
    runner = service.schedules
    opened: list[str] = []
    for now in ["2026-01-05T00:20", "2026-01-05T00:20", "2026-01-06T03:00", "2026-01-06T03:00", "2026-01-09T00:30"]:
        clock.now = _utc(now)
        report = runner.open_due()
        assert (report.failed, report.taken) == ([], [])
        opened += [o.ref for o in report.opened]
    assert opened == ["DAY-2026-01-05", "DAY-2026-01-06", "DAY-2026-01-07", "DAY-2026-01-08", "DAY-2026-01-09"]
    runs = service.schedule_runs("daily_check")
    assert [(r.period, r.case_ref, r.late) for r in runs] == [
        ("2026-01-05", "DAY-2026-01-05", False), ("2026-01-06", "DAY-2026-01-06", True),
        ("2026-01-07", "DAY-2026-01-07", True), ("2026-01-08", "DAY-2026-01-08", True),
        ("2026-01-09", "DAY-2026-01-09", False)]
    assert _history(service, "DAY-2026-01-05") == [("schedule", "Opened by the daily schedule")]
    assert _history(service, "DAY-2026-01-07") == [("schedule", "Opened by the daily schedule; opened late: period "
                                                    "2026-01-07 was due 2026-01-07 00:00, when no worker was running")]
    view = service.case("DAY-2026-01-08")
    assert (view.state, view.opened_by, dict(view.fields)) == (
        "referral", "schedule", {"notifying_agency": "schedule of 2026-01-08"})


def test_dry_run_and_list_show_what_is_due_without_opening(service: Reviewflow, clock: SteppingClock) -> None:
    clock.now = _utc("2026-01-04T12:00")
    _load(service, DAILY + DAILY_SCHEDULE)
    clock.now = _utc("2026-01-06T09:00")
    runner = service.schedules
    preview = runner.open_due(dry_run=True)
    assert [(o.ref, o.late) for o in preview.opened] == [("DAY-2026-01-05", True), ("DAY-2026-01-06", True)]
    assert service.schedule_runs() == []
    (daily,) = [u for u in runner.upcoming() if u.workflow == "daily_check"]
    assert (daily.next_ref, daily.next_at, daily.last_ref) == ("DAY-2026-01-07", _utc("2026-01-07T00:00"), None)
    assert [d.ref for d in daily.due] == ["DAY-2026-01-05", "DAY-2026-01-06"]
    runner.open_due()
    (daily,) = [u for u in runner.upcoming() if u.workflow == "daily_check"]
    assert (daily.last_ref, daily.last_late, daily.due) == ("DAY-2026-01-06", True, [])


def test_a_new_definition_does_not_open_years_of_old_periods(service: Reviewflow, clock: SteppingClock) -> None:
    monthly = DAILY_SCHEDULE.replace("every: 1 day", "every: 1 month").replace('"2026-01-05"', '"2020-01-01"')
    _load(service, DAILY + monthly.replace("DAY-{date}", "M-{year}-{month}"))  # loaded 5 January 2026, 09:00
    runner = service.schedules
    assert runner.open_due().opened == []
    clock.now = _utc("2026-02-01T00:10")
    assert [(o.ref, o.late) for o in runner.open_due().opened] == [("M-2026-02", False)]


def test_adding_a_schedule_to_a_loaded_workflow_does_not_open_old_periods(service: Reviewflow,
                                                                         clock: SteppingClock) -> None:
    _load(service, DAILY)  # version 1, no schedule, loaded 5 January 2026
    clock.now = _utc("2026-03-10T12:00")
    _load(service, DAILY.replace("version: 1", "version: 2") + DAILY_SCHEDULE, "daily-v2.yaml")
    clock.now = _utc("2026-03-12T09:00")
    report = service.schedules.open_due()
    assert [o.ref for o in report.opened if o.workflow == "daily_check"] == ["DAY-2026-03-11", "DAY-2026-03-12"]


def test_a_changed_rhythm_does_not_back_fill(service: Reviewflow, clock: SteppingClock) -> None:
    clock.now = _utc("2026-01-01T00:00")
    quarterly = (DAILY_SCHEDULE.replace("every: 1 day", "every: 3 months").replace("2026-01-05", "2026-01-01")
                 .replace("DAY-{date}", "Q-{year}-{quarter}"))
    _load(service, DAILY + quarterly)
    clock.now = _utc("2026-04-01T00:30")
    runner = service.schedules
    assert [o.ref for o in runner.open_due().opened if o.workflow == "daily_check"] == ["Q-2026-1", "Q-2026-2"]
    monthly = quarterly.replace("every: 3 months", "every: 1 month").replace("Q-{year}-{quarter}", "M-{year}-{month}")
    _load(service, DAILY.replace("version: 1", "version: 2") + monthly, "daily-v2.yaml")
    clock.now = _utc("2026-05-02T09:00")
    assert [o.ref for o in runner.open_due().opened if o.workflow == "daily_check"] == ["M-2026-05"]  # not Feb or Mar


def test_a_period_that_cannot_open_stays_due(service: Reviewflow, clock: SteppingClock) -> None:
    clock.now = _utc("2026-01-04T12:00")
    _load(service, DAILY + DAILY_SCHEDULE)
    service.add_user("a.khan", ["business_manager"])
    service.open_case("daily_check", "DAY-2026-01-05", "a.khan", {"notifying_agency": "Police"})
    clock.now = _utc("2026-01-06T09:00")
    runner = service.schedules
    report = runner.open_due()
    assert report.opened == []
    assert [(f.ref, f.period) for f in report.failed] == [("DAY-2026-01-05", "2026-01-05")]
    assert report.failed[0].error.startswith("case DAY-2026-01-05 already has the reference of daily_check's "
                                             "period 2026-01-05 (DAY-2026-01-05): if it is that period's review, "
                                             "record so with 'reviewflow schedule cover daily_check 2026-01-05 "
                                             "DAY-2026-01-05'")
    assert service.schedule_runs() == []  # the claim was rolled back with the case
    (daily,) = [u for u in runner.upcoming() if u.workflow == "daily_check"]
    assert [d.ref for d in daily.due] == ["DAY-2026-01-05", "DAY-2026-01-06"]


def test_shipped_audits_open_on_their_rhythm(service: Reviewflow, clock: SteppingClock) -> None:
    clock.now = _utc("2026-10-01T00:30")  # loaded 5 January 2026
    report = service.schedules.open_due()
    audits = ("multi_agency_case_audit", "section_11_audit", "section_175_audit")
    assert [(o.ref, o.late) for o in report.opened if o.workflow in audits] == [
        ("MACA-2026-Q2", True), ("MACA-2026-Q3", True), ("MACA-2026-Q4", False), ("S11-2026", True),
        ("S175-2026", True)]
    assert dict(service.case("MACA-2026-Q3").fields) == {
        "audit_period": "quarter starting 2026-07-01", "audit_theme": "to be agreed at case selection"}
    assert dict(service.case("S175-2026").fields) == {"academic_year": "from September 2026",
                                                      "issue_date": "2026-09-01"}
    assert service.case("S11-2026").fields["issue_date"] == "2026-09-01"


# --- 4. the CLI ---------------------------------------------------------------------------------------

def test_schedule_list_and_run_on_the_command_line(db_url: str, tmp_path: Path) -> None:
    daily = tmp_path / "daily.yaml"
    daily.write_text(DAILY + DAILY_SCHEDULE, "utf-8")
    run = Cli(db_url)
    run("init", "--workflows", str(daily), now="2026-01-04T12:00")
    listed = run("schedule", "list", now="2026-01-06T09:00")
    lines = listed.stdout.splitlines()
    first = next(i for i, line in enumerate(lines) if line.startswith("daily_check "))
    assert lines[first] == ("daily_check                    every 1 day from 2026-01-05        next DAY-2026-01-07 at "
                            "2026-01-07 00:00; last none yet")
    assert lines[first + 1:first + 3] == [
        f"{'':<30} DUE NOW, not opened: DAY-2026-01-05 (period 2026-01-05, due 2026-01-05 00:00)",
        f"{'':<30} DUE NOW, not opened: DAY-2026-01-06 (period 2026-01-06, due 2026-01-06 00:00)"]
    assert any(line.startswith("multi_agency_case_audit        every 3 months from 2026-04-01 ") for line in lines)
    assert listed.stderr == ("2 period(s) due and not opened: run 'reviewflow schedule run', or start the worker "
                             "('reviewflow run')\n")

    preview = run("schedule", "run", "--dry-run", now="2026-01-06T09:00")
    assert preview.stdout.splitlines() == [
        "would open DAY-2026-01-05       daily_check, period 2026-01-05 (late: due 2026-01-05 00:00)",
        "would open DAY-2026-01-06       daily_check, period 2026-01-06 (late: due 2026-01-06 00:00)"]
    assert preview.stderr == "2 case(s) would open at 2026-01-06 09:00\n"
    done = json.loads(run("schedule", "run", "--json", now="2026-01-06T09:00").stdout)
    assert [(o["ref"], o["late"]) for o in done["opened"]] == [("DAY-2026-01-05", True), ("DAY-2026-01-06", True)]
    again = run("schedule", "run", now="2026-01-06T09:00")
    assert (again.stdout, again.stderr) == ("", "0 case(s) opened at 2026-01-06 09:00\n")
    rows = json.loads(run("schedule", "list", "--json", now="2026-01-06T09:00").stdout)
    (mine,) = [r for r in rows if r["workflow"] == "daily_check"]
    assert (mine["last_ref"], mine["next_ref"], mine["due"]) == ("DAY-2026-01-06", "DAY-2026-01-07", [])


def test_schedule_run_that_cannot_open_exits_1(db_url: str, tmp_path: Path) -> None:
    daily = tmp_path / "daily.yaml"
    daily.write_text(DAILY + DAILY_SCHEDULE, "utf-8")
    run = Cli(db_url)
    run("init", "--workflows", str(daily), now="2026-01-04T12:00")
    run("user", "add", "a.khan", "--role", "business_manager")
    run("case", "open", "daily_check", "--ref", "DAY-2026-01-05", "--as", "a.khan", "--field", "notifying_agency=x",
        now="2026-01-04T12:00")
    result = run("schedule", "run", now="2026-01-05T09:00", ok=False)
    assert result.exit_code == 1
    assert "not opened: DAY-2026-01-05 (daily_check, period 2026-01-05): case DAY-2026-01-05 already has the " \
           "reference of daily_check's period 2026-01-05 (DAY-2026-01-05): if it is that period's review, record " \
           "so with 'reviewflow schedule cover daily_check 2026-01-05 DAY-2026-01-05'; otherwise give the other " \
           "case another reference" in result.stderr.splitlines()
    assert result.stdout == ""


# --- 5. done when: real processes -------------------------------------------------------------------

START = "2026-01-04T12:00"
"""When the daily schedule is loaded (its first period opens at 00:00 on 5 January 2026)."""


def _day_refs(first: str, last: str) -> list[str]:
    day, end, out = date.fromisoformat(first), date.fromisoformat(last), []
    while day <= end:
        out.append(f"DAY-{day.isoformat()}")
        day += timedelta(days=1)
    return out


def _init_daily(url: str, folder: Path) -> None:
    """`init` with the daily workflow at START, in this process (the processes under test are the ones that
    open the periods): a copy of a database built so once per process."""

    def build(new: str) -> None:
        daily = folder / "daily.yaml"
        daily.write_text(DAILY + DAILY_SCHEDULE, "utf-8")
        Cli(new)("init", "--workflows", str(daily), now=START)

    templates().copy(url, f"test_recurring: init with daily.yaml at {START}", build)


def _cases(url: str) -> list[str]:
    with connect(url) as conn:
        return list(conn.execute(select(CaseRow.ref).where(CaseRow.workflow == "daily_check")).scalars())  # type: ignore[arg-type]


def _assert_each_once(url: str, refs: list[str], late: dict[str, bool] | None = None) -> None:
    """Each period has one case, one schedule run and one opening entry in its history; nothing else opened."""
    with connect(url) as conn:
        runs = conn.execute(select(ScheduleRunRow.case_ref, ScheduleRunRow.late)  # type: ignore[call-overload]
                            .where(ScheduleRunRow.workflow == "daily_check")).all()
        opens = conn.execute(select(CaseRow.ref, HistoryRow.note).join(CaseRow, CaseRow.id == HistoryRow.case_id)  # type: ignore[arg-type]
                             .where(CaseRow.workflow == "daily_check")).all()
    cases = _cases(url)
    assert sorted(cases) == refs, f"missing {set(refs) - set(cases)}, extra {set(cases) - set(refs)}"
    assert sorted(r for r, _ in runs) == refs
    assert sorted(r for r, _ in opens) == refs  # one history row each: opened once, never moved
    for ref, was_late in (late or {}).items():
        note = dict(opens)[ref] or ""
        assert dict(runs)[ref] is was_late
        assert ("opened late: period" in note) is was_late, note


def _both_at_once(url: str, now: str, spawn: Callable[..., Proc]) -> list[tuple[int, int]]:
    """Two `schedule run` processes started together; (cases opened, periods found taken) of each."""
    procs = [spawn(url, "--now", now, "schedule", "run", name=f"run-{now[:10]}-{i}") for i in range(2)]
    codes = [p.wait(timeout=120) for p in procs]
    assert codes == [0, 0], "\n".join(p.stderr[-2000:] for p in procs)
    return [(p.stdout.count("opened "), p.stderr.count("already opened by another worker")) for p in procs]


def _worker(url: str, now: str, spawn: Callable[..., Proc], name: str) -> Proc:
    return spawn(url, "-v", "--now", now, "run", "--interval", "1", name=name)


def _stop(proc: Proc) -> None:
    proc.signal(signal.SIGTERM)
    assert proc.wait(timeout=30) == 0, proc.stderr[-3000:]
    for trouble in ("Traceback", "tick_failed", "open_failed"):
        assert trouble not in proc.stderr, proc.stderr[-3000:]


def test_two_processes_then_a_restart_open_each_period_once(db_url: str, tmp_path: Path,
                                                            spawn: Callable[..., Proc]) -> None:
    """SQLite runs one worker (an OS lock), so two `schedule run` processes race; then a worker restart."""
    _init_daily(db_url, tmp_path)
    split = _both_at_once(db_url, "2026-02-15T09:00", spawn)
    assert sum(opened for opened, _ in split) == 42
    _assert_each_once(db_url, _day_refs("2026-01-05", "2026-02-15"))
    split2 = _both_at_once(db_url, "2026-03-01T09:00", spawn)
    assert sum(opened for opened, _ in split2) == 14
    _assert_each_once(db_url, _day_refs("2026-01-05", "2026-03-01"))

    worker = _worker(db_url, "2026-03-01T12:00", spawn, "before")
    _wait_for("a worker tick", lambda: "worker.tick " in worker.stderr, 30, worker)
    _stop(worker)
    assert "opened=0" in worker.stderr
    # Down for two period starts (2 and 3 March); back 30 minutes after the second.
    worker = _worker(db_url, "2026-03-03T00:30", spawn, "after")
    _wait_for("the missed periods", lambda: len(_cases(db_url)) == 58, 30, worker)
    _wait_for("a second tick", lambda: worker.stderr.count("worker.tick ") >= 2, 30, worker)
    _stop(worker)
    _assert_each_once(db_url, _day_refs("2026-01-05", "2026-03-03"),
                      {"DAY-2026-03-01": True, "DAY-2026-03-02": True, "DAY-2026-03-03": False})
    print(f"\n[{db_url.split(':')[0].split('+')[0]}] two `schedule run` processes (opened, found taken): {split} "
          f"then {split2}; the restarted worker opened the 2 missed ones")


def _two_workers(url: str, now: str, last: str, spawn: Callable[..., Proc]) -> list[int]:
    """Two `reviewflow run` workers at `now` until every period up to `last` is open; how many each opened."""
    count = len(_day_refs("2026-01-05", last))
    workers = [_worker(url, now, spawn, f"w{i}-{now[:10]}") for i in range(2)]
    _wait_for(f"the periods up to {last}", lambda: len(_cases(url)) == count, 60, workers[0])
    for w in workers:
        _wait_for("two ticks of each worker", lambda w=w: w.stderr.count("worker.tick ") >= 2, 30, w)
    for w in workers:
        _stop(w)
    return [sum(int(n) for n in re.findall(r"worker\.tick .*?opened=(\d+)", w.stderr)) for w in workers]


@pytest.mark.postgres
def test_two_workers_on_postgres_open_each_period_once(tmp_path: Path, spawn: Callable[..., Proc]) -> None:
    """Two workers per round, time moved across several periods, the last round after a gap of two periods."""
    url = pg_url_or_skip()
    _init_daily(url, tmp_path)
    splits = []
    for now, last, new in [("2026-02-15T09:00", "2026-02-15", 42), ("2026-03-01T09:00", "2026-03-01", 14),
                           ("2026-03-03T00:30", "2026-03-03", 2)]:
        split = _two_workers(url, now, last, spawn)
        assert sum(split) == new, split
        splits.append(split)
        _assert_each_once(url, _day_refs("2026-01-05", last))
    _assert_each_once(url, _day_refs("2026-01-05", "2026-03-03"), {"DAY-2026-03-02": True, "DAY-2026-03-03": False})
    print(f"\n[postgres] two workers per round opened {splits} cases")


# --- 6. a period covered by a case opened by hand ------------------------------------------------------

def _hand_opened(service: Reviewflow, clock: SteppingClock, ref: str = "DAY-2026-01-05") -> None:
    clock.now = _utc("2026-01-04T12:00")
    _load(service, DAILY + DAILY_SCHEDULE)
    service.add_user("a.khan", ["business_manager"])
    service.add_user("d.osei", ["subgroup_chair"])
    service.open_case("daily_check", ref, "a.khan", {"notifying_agency": "Police"})


def test_a_failing_period_is_tried_again_after_a_growing_wait(service: Reviewflow, clock: SteppingClock) -> None:
    _hand_opened(service, clock)
    clock.now = _utc("2026-01-05T09:00")
    runner = service.schedules
    assert [f.period for f in runner.open_due().failed] == ["2026-01-05"]
    for minutes in (1, 4):  # within the first wait (5 minutes): not tried, nothing reported
        clock.now = _utc("2026-01-05T09:00") + timedelta(minutes=minutes)
        assert runner.open_due().failed == []
    clock.now = _utc("2026-01-05T09:06")
    assert [f.period for f in runner.open_due().failed] == ["2026-01-05"]  # tried again, then 10 minutes
    clock.now = _utc("2026-01-05T09:15")
    assert runner.open_due().failed == []
    (daily,) = [u for u in runner.upcoming() if u.workflow == "daily_check"]
    assert [b.error for b in daily.blocked] == [
        "case DAY-2026-01-05 already has the reference of daily_check's period 2026-01-05 (DAY-2026-01-05): if it "
        "is that period's review, record so with 'reviewflow schedule cover daily_check 2026-01-05 DAY-2026-01-05'; "
        "otherwise give the other case another reference"]


def test_covering_a_period_with_a_hand_opened_case_stops_the_attempts(service: Reviewflow,
                                                                      clock: SteppingClock) -> None:
    _hand_opened(service, clock, "day-2026-01-05.")  # the period's reference, but for letter case and a dot
    clock.now = _utc("2026-01-05T09:00")
    runner = service.schedules
    assert [f.period for f in runner.open_due().failed] == ["2026-01-05"]
    covered = service.cover_period("daily_check", "2026-01-05", "DAY-2026-01-05", by=Identity("a.khan"))
    assert (covered.period, covered.case_ref) == ("2026-01-05", "day-2026-01-05.")
    assert [(r.period, r.case_ref) for r in service.schedule_runs("daily_check")] == [
        ("2026-01-05", "day-2026-01-05.")]
    clock.now = _utc("2026-01-05T23:00")
    report = runner.open_due()
    assert (report.opened, report.failed) == ([], [])
    (daily,) = [u for u in runner.upcoming() if u.workflow == "daily_check"]
    assert (daily.due, daily.blocked, daily.last_ref) == ([], [], "day-2026-01-05.")
    clock.now = _utc("2026-01-06T00:30")
    assert [o.ref for o in runner.open_due().opened] == ["DAY-2026-01-06"]  # the next period opens as usual


def test_cover_is_refused_for_the_wrong_person_period_or_case(service: Reviewflow, clock: SteppingClock) -> None:
    _hand_opened(service, clock)
    service.open_case("minimal", "M-1", "a.khan", {"notifying_agency": "Police"})
    clock.now = _utc("2026-01-06T09:00")
    with pytest.raises(NotPermitted) as chair:
        service.cover_period("daily_check", "2026-01-05", "DAY-2026-01-05", by=Identity("d.osei"))
    assert "administrators and business managers" in chair.value.message
    with pytest.raises(InvalidValue) as later:
        service.cover_period("daily_check", "2026-01-06", "DAY-2026-01-05", by=Identity("a.khan"))
    assert later.value.message.startswith("daily_check's period to cover now is 2026-01-05")
    with pytest.raises(InvalidValue) as other:
        service.cover_period("daily_check", "2026-01-05", "M-1", by=Identity("a.khan"))
    assert "is a minimal case, not a daily_check one" in other.value.message
    with pytest.raises(InvalidValue):
        service.cover_period("minimal", "2026-01-05", "M-1", by=Identity("a.khan"))
    assert service.schedule_runs() == []


def test_schedule_cover_on_the_command_line_then_the_worker_logs_no_failure(tmp_path: Path,
                                                                            spawn: Callable[..., Proc]) -> None:
    url = f"sqlite:///{tmp_path / 'reviewflow.db'}"
    _init_daily(url, tmp_path)
    run = Cli(url)
    run("user", "add", "a.khan", "--role", "business_manager")
    run("case", "open", "daily_check", "--ref", "DAY-2026-01-05", "--as", "a.khan", "--field",
        "notifying_agency=x", now="2026-01-04T13:00")
    now = "2026-01-05T09:00"
    key = {k: v for k, v in os.environ.items() if k == "REVIEWFLOW_AUDIT_KEY_FILE"}  # the workers seal with it too
    worker = spawn(url, "-v", "--now", now, "run", "--interval", "1", name="before", **key)
    _wait_for("three ticks", lambda: worker.stderr.count("worker.tick ") >= 3, 30, worker)
    assert worker.stderr.count("schedule.open_failed") == 1  # once, not at every tick
    listed = run("schedule", "list", now=now)
    assert "CANNOT OPEN DAY-2026-01-05: case DAY-2026-01-05 already has the reference" in listed.stdout
    covered = run("schedule", "cover", "daily_check", "2026-01-05", "day-2026-01-05", now=now)
    assert covered.stdout == "daily_check period 2026-01-05 is covered by case DAY-2026-01-05\n"
    ticks = worker.stderr.count("worker.tick ")
    _wait_for("two more ticks", lambda: worker.stderr.count("worker.tick ") >= ticks + 2, 30, worker)
    assert worker.stderr.count("schedule.open_failed") == 1
    worker.signal(signal.SIGTERM)
    assert worker.wait(timeout=30) == 0, worker.stderr[-3000:]
    fresh = spawn(url, "-v", "--now", now, "run", "--interval", "1", name="after", **key)  # no memory of the failure
    _wait_for("a tick", lambda: "worker.tick " in fresh.stderr, 30, fresh)
    _stop(fresh)
    assert _cases(url) == ["DAY-2026-01-05"]
