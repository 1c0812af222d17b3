"""Recurring reviews: the periods of a workflow's `schedule` and the references of their cases. Pure.

A period opens at one instant: with `every`, at 00:00 in England on its start date (period k starts
`starting` + k x `every`, counted from `starting` so 31 January stays month-end); with `cron`, at each
fire time of the expression in England. Periods are keyed by their local start ('2026-04-01', or
'2026-04-01T09:00' for cron), which is what makes each one open exactly once.
"""

from __future__ import annotations

import re
import string
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from itertools import islice, takewhile
from typing import TYPE_CHECKING, Any

from reviewflow.engine.core.definition import FieldSpec, Schedule, WorkflowDefinition
from reviewflow.engine.core.durations import LOCAL_ZONE, Duration, local_date, start_of_day
from reviewflow.engine.core.errors import FieldError
from reviewflow.engine.core.fields import parse_value
from reviewflow.engine.core.yamlsource import Path

if TYPE_CHECKING:
    from apscheduler.triggers.cron import CronTrigger

Found = Iterator[tuple[Path, str]]

PLACEHOLDERS = ("year", "month", "quarter", "date", "n")
"""What a `ref` (or a field value) may contain: {year} 2026, {month} 04, {quarter} 2 (calendar quarter),
{date} 2026-04-01 (the period's start) and {n} (the period's number, 1 for the first; `every` only)."""
_REF = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,63}$")
"""The case references the service accepts (engine.service.check_ref)."""
_SAMPLE = 30
"""How many periods validation checks for distinct, usable references."""
_SAMPLE_FROM = datetime(2026, 1, 1, tzinfo=UTC)
"""Where validation starts sampling a `cron` schedule without `starting` (any instant would do)."""
_JUST_BEFORE = timedelta(microseconds=1)
_EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)
WEEKDAY_NAMES = ("write the weekday field with names (mon, tue, ... sun, or a range such as mon-fri): "
                 "weekday numbers mean different days in different versions of cron")
CRON_EXAMPLE = "e.g. '0 9 1 1,4,7,10 *' (09:00 on the first day of each quarter)"


@dataclass(frozen=True)
class Period:
    """One period of a schedule: the case it opens is keyed by `key` and opens at `opens_at`."""

    key: str
    opens_at: datetime
    starts: date
    number: int | None = None

    @property
    def values(self) -> dict[str, Any]:
        """The placeholder values of this period."""
        return {"year": self.starts.year, "month": f"{self.starts.month:02d}",
                "quarter": (self.starts.month - 1) // 3 + 1, "date": self.starts.isoformat(), "n": self.number}


_EXAMPLE = Period("2026-04-01", start_of_day(date(2026, 4, 1)), date(2026, 4, 1), 1)


# --- periods ---------------------------------------------------------------------------------

@lru_cache(maxsize=64)
def cron_trigger(expr: str) -> CronTrigger:
    """APScheduler's trigger for a five-field expression, read on the wall clock; ValueError if unusable.

    The trigger runs in UTC, which has no clock changes, over England's wall-clock times (`_instant` turns each
    into the moment it happens): APScheduler 3's own time-zone arithmetic skips a whole week at the spring
    change for some expressions ('0 0 * * mon' from 21 March 2028 gives 3 April)."""
    from apscheduler.triggers.cron import CronTrigger

    fields = expr.split()
    if len(fields) == 5 and re.search(r"\d", fields[4]):
        raise ValueError(WEEKDAY_NAMES)
    return CronTrigger.from_crontab(expr, timezone=UTC)


_DST_LOOKBACK = timedelta(hours=2)
"""How far before the wall-clock time of `after` a search starts: a wall-clock time the spring change skips
(01:30 on the last Sunday of March) happens an hour on (02:30 BST), after the wall-clock times just past it."""


def _instant(wall: datetime) -> datetime:
    """The moment (aware UTC) a wall-clock time in England happens: a time repeated in the autumn at its first
    occurrence, a time the spring change skips an hour on."""
    return wall.replace(tzinfo=LOCAL_ZONE, fold=0).astimezone(UTC)


def _fire_after(trigger: CronTrigger, after: datetime) -> datetime | None:
    """The first fire time strictly after `after` (aware UTC), or None if it never fires again. Times that come
    out no later than one before them (those just after the spring change) are passed over."""
    wall = after.astimezone(LOCAL_ZONE).replace(tzinfo=UTC) - _DST_LOOKBACK
    while True:
        fire = trigger.get_next_fire_time(None, wall)
        if fire is None:
            return None
        moment = _instant(fire.replace(tzinfo=None))
        if moment > after:
            return moment
        wall = fire + timedelta(minutes=1)


def schedule_start(schedule: Schedule) -> datetime | None:
    """When the schedule's first period may open: 00:00 on `starting` (None for `cron` without it)."""
    return start_of_day(schedule.starting) if schedule.starting else None


def _every_periods(every: Duration, starting: date, after: datetime) -> Iterator[Period]:
    day = local_date(after)
    if every.unit == "months":
        gone = (day.year - starting.year) * 12 + day.month - starting.month
        k = max(0, gone // every.amount - 1)
    else:
        step = every.amount * (7 if every.unit == "weeks" else 1)
        k = max(0, (day - starting).days // step - 1)
    while True:
        starts = Duration(every.amount * k, every.unit).add_to(starting)
        opens = start_of_day(starts)
        if opens > after:
            yield Period(starts.isoformat(), opens, starts, k + 1)
        k += 1


def _cron_periods(expr: str, after: datetime) -> Iterator[Period]:
    trigger = cron_trigger(expr)
    fire = _fire_after(trigger, after)
    while fire is not None:
        local = fire.astimezone(LOCAL_ZONE)
        yield Period(local.strftime("%Y-%m-%dT%H:%M"), fire, local.date())
        fire = _fire_after(trigger, fire)


def date_opens_at(schedule: Schedule, day: date) -> datetime:
    """When the period of a listed date opens: 00:00 on the date, or `open_before` earlier."""
    before = schedule.open_before
    return start_of_day(before.subtract_from(day) if before is not None else day)


def _date_periods(schedule: Schedule, after: datetime) -> Iterator[Period]:
    for day in sorted(set(schedule.dates)):
        opens = date_opens_at(schedule, day)
        if opens > after:
            yield Period(day.isoformat(), opens, day)


def periods_after(schedule: Schedule, after: datetime) -> Iterator[Period]:
    """Every period opening strictly after `after`, oldest first (endless for a valid `every` or `cron`
    schedule; one per listed date for `dates`)."""
    if schedule.dates:
        return _date_periods(schedule, after)
    start = schedule_start(schedule)
    if start is not None and after < start:
        after = start - _JUST_BEFORE
    if schedule.every is not None and schedule.starting is not None:
        return _every_periods(schedule.every, schedule.starting, after)
    if schedule.cron is not None:
        return _cron_periods(schedule.cron, after)
    return iter(())


def due_periods(schedule: Schedule, since: datetime, now: datetime) -> list[Period]:
    """The periods whose opening time is in (since, now], oldest first: checks at t1 < t2 < ... see each once."""
    return list(takewhile(lambda p: p.opens_at <= now, periods_after(schedule, since)))


def next_period(schedule: Schedule, now: datetime) -> Period | None:
    """The first period opening after `now`."""
    return next(periods_after(schedule, now), None)


def catch_up_floor(schedule: Schedule, first_loaded: datetime, last_opened: datetime | None = None) -> datetime:
    """The instant after which periods may still open (pass it as `since` to `due_periods`).

    Periods before the schedule was first loaded are never opened (a new definition starting in 2020
    does not open years of old cases), nor periods before the newest one already opened.
    """
    floor = first_loaded - _JUST_BEFORE
    return max(floor, last_opened) if last_opened is not None else floor


def read_dates(raw: list[str], problems: list[tuple[Path, str]]) -> tuple[date, ...]:
    """The dates of a `schedule: {dates: [...]}` (a Board meeting calendar); each bad one goes to `problems`."""
    found: list[date] = []
    for i, text in enumerate(raw):
        try:
            day = date.fromisoformat(text)
        except ValueError:
            problems.append((("schedule", "dates", i), f"{text!r} is not a date: write YYYY-MM-DD, e.g. 2026-07-15"))
            continue
        if day in found:
            problems.append((("schedule", "dates", i), f"{text} is listed twice: each date opens one case; "
                                                       "remove the second"))
        found.append(day)
    return tuple(found)


# --- references and fields -------------------------------------------------------------------

def _pattern_problem(text: str, numbered: bool, rhythm: str = "cron") -> str | None:
    """Why `text` is not a usable pattern, or None: only known placeholders, no attribute or index access."""
    allowed = PLACEHOLDERS if numbered else tuple(p for p in PLACEHOLDERS if p != "n")
    names = ", ".join(f"{{{p}}}" for p in allowed)
    try:
        parts = [(name, spec, conversion) for _, name, spec, conversion in string.Formatter().parse(text)
                 if name is not None]
    except ValueError as exc:
        return f"{exc}: write a literal brace as {{{{ or }}}}; placeholders are {names}"
    for name, spec, conversion in parts:
        if name == "n" and not numbered:
            return ("{n} counts periods from `starting` and needs `every`: use {date} or {year}-{month} "
                    f"with `{rhythm}`")
        if name not in allowed:
            return f"unknown placeholder {{{name}}}: use {names}"
        if conversion or "{" in (spec or ""):
            return f"placeholder {{{name}}} has a conversion or a nested field: write it as {{{name}}}"
    try:
        render(text, _EXAMPLE)
    except ValueError as exc:
        return f"{exc}: write placeholders plainly, e.g. {{year}} or {{n:03}}"
    return None


def render(pattern: str, period: Period) -> str:
    """`pattern` with the period's placeholders filled in (the pattern was checked when loaded)."""
    return string.Formatter().vformat(pattern, (), period.values)


def case_ref(schedule: Schedule, period: Period) -> str:
    return render(schedule.ref, period)


def case_fields(schedule: Schedule, period: Period) -> dict[str, str]:
    """The field values the period's case opens with (placeholders filled in)."""
    return {name: render(value, period) for name, value in schedule.fields.items()}


# --- validation ------------------------------------------------------------------------------

def _numbered(s: Schedule) -> bool:
    """Whether {n} means something: periods counted from `starting` (`every`, not `cron` or `dates`)."""
    return s.cron is None and not s.dates


def _dates_problems(s: Schedule) -> Found:
    if s.every is not None or s.cron is not None:
        yield ("schedule", "dates"), ("give the periods' `dates` or a rhythm (`every` or `cron`), not both: "
                                      "remove one")
    if s.starting is not None:
        yield ("schedule", "starting"), "`dates` lists every period's date: remove `starting`"


def _open_before_problems(s: Schedule) -> Found:
    if s.open_before is None:
        return
    if not s.dates:
        yield ("schedule", "open_before"), ("`open_before` opens each listed date's case early and goes with "
                                            "`dates`: remove it, or list the dates")
    elif s.open_before.unit not in ("days", "weeks"):
        yield ("schedule", "open_before"), (f"open each case a number of days or weeks before its date, not "
                                            f"{s.open_before}: e.g. '6 weeks' or '30 days'")


def _rhythm(s: Schedule) -> Found:
    if s.dates:
        yield from _dates_problems(s)
    yield from _open_before_problems(s)
    if s.cron is None and s.every is None and not s.dates:
        yield ("schedule",), ("a schedule needs `every` (with `starting`), `cron` or `dates`: add e.g. `every: "
                              "3 months` and `starting: 2026-04-01`, `cron: '0 9 1 1,4,7,10 *'`, or "
                              "`dates: ['2026-07-15', '2026-09-23']`")
    if s.cron is not None and s.every is not None:
        yield ("schedule", "cron"), "give either `every` (with `starting`) or `cron`, not both"
    if s.every is not None:
        if s.starting is None:
            yield ("schedule", "every"), "`every` needs `starting`: the first period's start date, e.g. 2026-04-01"
        if s.every.unit == "working_days":
            yield ("schedule", "every"), (f"a schedule cannot repeat every {s.every}: use days, weeks, months "
                                          "or years, e.g. '3 months' or '1 year'")
        if s.every.amount == 0:
            yield ("schedule", "every"), "`every` must be at least 1 day: e.g. '3 months' or '1 year'"
    if s.cron is not None:
        yield from _cron_problems(s.cron)


def _cron_problems(expr: str) -> Found:
    try:
        trigger = cron_trigger(expr)
    except ValueError as exc:
        if str(exc) == WEEKDAY_NAMES:
            yield ("schedule", "cron"), f"{expr!r}: {WEEKDAY_NAMES}"
            return
        yield ("schedule", "cron"), (f"{expr!r} is not a usable cron expression ({exc}): write five fields, "
                                     f"minute hour day month weekday, in UK time, {CRON_EXAMPLE}")
        return
    if _fire_after(trigger, _SAMPLE_FROM) is None:
        yield ("schedule", "cron"), f"{expr!r} never fires (no such date): check the day and month, {CRON_EXAMPLE}"


def _sample(s: Schedule) -> list[Period]:
    if s.dates:
        return list(periods_after(s, _EARLIEST))  # every listed date
    start = schedule_start(s)
    return list(islice(periods_after(s, start - _JUST_BEFORE if start else _SAMPLE_FROM), _SAMPLE))


def _refs(s: Schedule, periods: list[Period]) -> Found:
    seen: dict[str, Period] = {}
    for p in periods:
        ref = case_ref(s, p)
        if not _REF.match(ref):
            yield ("schedule", "ref"), (f"ref {s.ref!r} gives {ref!r}, which is not a usable case reference: use "
                                        "letters, digits and . _ / - with no spaces (at most 64 characters), "
                                        "e.g. MACA-{year}-Q{quarter}")
            return
        if ref in seen and seen[ref].key != p.key:
            yield ("schedule", "ref"), (f"ref {s.ref!r} gives {ref!r} for the periods starting {seen[ref].key} and "
                                        f"{p.key}: add a placeholder that changes every period, e.g. "
                                        + ("{date}" if s.dates else "{quarter}, {month}, {date} or {n}"))
            return
        seen[ref] = p


def _fields(d: WorkflowDefinition, s: Schedule, sample: Period | None) -> Found:
    specs: dict[str, FieldSpec] = {f.name: f for f in d.open.requires}
    takes = ", ".join(f.describe() for f in specs.values()) or "no fields"
    for name, value in s.fields.items():
        spec = specs.get(name)
        problem = _pattern_problem(value, _numbered(s), _rhythm_name(s))
        if spec is None:
            yield ("schedule", "fields", name), f"the `open` rule does not take field {name!r}; it takes: {takes}"
        elif problem:
            yield ("schedule", "fields", name), problem
        elif sample is not None:
            try:
                parse_value(spec, render(value, sample))
            except FieldError as exc:
                yield ("schedule", "fields", name), str(exc)
    missing = [spec for name, spec in specs.items() if name not in s.fields]
    if missing:
        where: Path = ("schedule", "fields") if s.fields else ("schedule",)
        yield where, (f"the `open` rule requires {', '.join(f.describe() for f in missing)}: give "
                      f"{'it' if len(missing) == 1 else 'them'} under `schedule.fields`, e.g. "
                      f"{missing[0].name}: {_example(missing[0])}")


def _rhythm_name(s: Schedule) -> str:
    return "dates" if s.dates else "cron"


def _example(spec: FieldSpec) -> str:
    if spec.type == "choice":
        return spec.options[0] if spec.options else "..."
    return {"date": "'{date}'", "yesno": "'no'"}.get(spec.type, "...")


def check_schedule(d: WorkflowDefinition) -> Found:
    """Problems with a definition's `schedule` (none when it has no schedule)."""
    s = d.schedule
    if s is None:
        return
    rhythm = list(_rhythm(s))
    yield from rhythm
    problem = _pattern_problem(s.ref, _numbered(s), _rhythm_name(s))
    if problem:
        yield ("schedule", "ref"), problem
    sample = [] if rhythm else _sample(s)
    if sample and not problem:
        yield from _refs(s, sample)
    yield from _fields(d, s, sample[0] if sample else None)


def describe(schedule: Schedule) -> str:
    """'every 3 months from 2026-04-01', 'every 3 years from 2026-09-01', 'cron 0 9 1 * * (UK time)' or
    '7 listed dates, 6 weeks ahead'."""
    if schedule.dates:
        early = f", {schedule.open_before} ahead" if schedule.open_before else ""
        count = len(set(schedule.dates))
        return f"{count} listed date{'s' if count != 1 else ''}{early}"
    if schedule.cron is not None:
        return f"cron {schedule.cron} (UK time)" + (f" from {schedule.starting}" if schedule.starting else "")
    every = schedule.every
    if every is not None and every.unit == "months" and every.amount % 12 == 0:
        years = every.amount // 12
        return f"every {years} year{'s' if years != 1 else ''} from {schedule.starting}"
    return f"every {every} from {schedule.starting}"
