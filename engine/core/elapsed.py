"""How long a case has been in its stage, said the same way everywhere (case show, lists, pages): in working days
where the stage's limit is in working days, and never as a negative number. Pure: `now` is given."""

from __future__ import annotations

from datetime import datetime

from reviewflow.engine.core.durations import local_date, working_days_between


def _plural(n: int, unit: str) -> str:
    return f"{n} {unit}{'s' if n != 1 else ''}"


def clock_behind(entered_at: datetime, now: datetime) -> bool:
    """True when the time shown (`--now`, or a wrong clock) is before the stage was entered."""
    return now < entered_at


def time_in_stage(entered_at: datetime, now: datetime, time_limit: str | None, calendar: str) -> str:
    """'12 working days' (limit in working days), '40 days' (otherwise); when `now` is before the stage was
    entered, says so instead of giving a negative count."""
    if clock_behind(entered_at, now):
        return (f"not yet: the time shown ({local_date(now).isoformat()}) is before the stage was entered "
                f"({local_date(entered_at).isoformat()})")
    if time_limit and "working day" in time_limit:
        return _plural(working_days_between(local_date(entered_at), local_date(now), calendar), "working day")
    return _plural((local_date(now) - local_date(entered_at)).days, "day")
