"""The pure escalation core: checkpoints, reminders, what is due, pausing. No database, no clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from reviewflow.engine.core.durations import due_at, parse_duration
from reviewflow.engine.core.escalation import checkpoints, due_now, next_check, shift_for_pause
from reviewflow.engine.core.parse import parse_definition

from tests.conftest import FIXTURES

BASE = (FIXTURES / "minimal.yaml").read_text()


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def definition(extra: str = "", state_extra: str = "") -> object:
    text = BASE.replace("    time_limit: 1 month\n", f"    time_limit: 1 month\n{state_extra}")
    return parse_definition(text + extra, "minimal.yaml")


def test_ladder_times_and_owner_resolution() -> None:
    d = definition()
    state = d.states["on"]
    entered = at("2026-01-05T09:00")  # Monday, GMT
    due = due_at(entered, state.time_limit)
    assert due == at("2026-02-06T00:00")  # due Thursday 5 February, overdue from midnight
    points = checkpoints(d, state, entered, due)
    assert [(p.key, p.at, p.roles, p.level) for p in points] == [
        ("level-1", at("2026-02-06T00:00"), ("subgroup_chair",), 1),  # `owner` is the stage's owner
        ("level-2", at("2026-02-19T00:00"), ("subgroup_chair",), 2),  # 10 working days after 5 Feb
        ("level-3", at("2026-03-05T00:00"), ("board",), 3),
    ]


def test_reminder_counts_back_from_the_due_date() -> None:
    d = definition(state_extra="    remind: 10 working days before\n")
    state = d.states["on"]
    entered = at("2026-01-05T09:00")
    points = checkpoints(d, state, entered, due_at(entered, state.time_limit))
    assert (points[0].key, points[0].at, points[0].roles, points[0].level) == (
        "reminder", at("2026-01-22T00:00"), ("subgroup_chair",), None)


def test_workflow_default_reminder_is_skipped_when_already_past_on_entry() -> None:
    d = definition(extra="remind: 10 working days before\n")
    short = d.states["referral"]  # 5 working days: the reminder would fall before the stage began
    entered = at("2026-01-05T09:00")
    assert [p.key for p in checkpoints(d, short, entered, due_at(entered, short.time_limit))] == [
        "level-1", "level-2", "level-3"]
    assert checkpoints(d, d.states["closed"], entered, None) == []


def test_due_now_and_next_check() -> None:
    d = definition()
    entered = at("2026-01-05T09:00")
    points = checkpoints(d, d.states["on"], entered, due_at(entered, d.states["on"].time_limit))
    now = at("2026-02-20T12:00")
    assert [p.key for p in due_now(points, set(), now)] == ["level-1", "level-2"]
    assert [p.key for p in due_now(points, {"level-1"}, now)] == ["level-2"]
    assert next_check(points, {"level-1", "level-2"}) == at("2026-03-05T00:00")
    assert next_check(points, {"level-1", "level-2", "level-3"}) is None


def test_pause_moves_the_due_time_by_the_paused_time() -> None:
    due = at("2026-03-01T00:00")
    assert shift_for_pause(due, at("2026-02-01T10:00"), at("2026-02-11T10:00")) == at("2026-03-11T00:00")
    assert shift_for_pause(None, at("2026-02-01T10:00"), at("2026-02-11T10:00")) is None


@given(st.integers(min_value=0, max_value=2000), st.integers(min_value=1, max_value=60))
def test_levels_never_fire_before_the_stage_is_overdue_and_climb_in_order(offset: int, days: int) -> None:
    d = definition()
    entered = at("2026-01-01T08:00") + timedelta(days=offset)
    limit = parse_duration(f"{days} days")
    due = due_at(entered, limit)
    points = checkpoints(d, d.states["on"], entered, due)
    times = [p.at for p in points]
    assert times == sorted(times)
    assert all(t >= due for t in times)
