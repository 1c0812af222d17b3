"""The fast decision path gives the same answers as the straightforward one it replaced.

The machine (one model per definition, the trigger's event fired directly), the transition index of a
definition, the cached working-day calendar and the ISO fast path of date parsing are each compared with
a plain reference: a fresh `transitions.Machine` per call, a scan of the transitions, the holidays
package asked day by day, and `strptime`. Behaviour only: nothing here is timed.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import fields
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import holidays
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from transitions import Machine, MachineError

from reviewflow.engine.core.conditions import GuardContext, unmet
from reviewflow.engine.core.decide import (
    Actor,
    CaseState,
    Move,
    _check_roles,
    _entering,
    _quote,
    plan_fire,
)
from reviewflow.engine.core.definition import (
    Condition,
    FieldSpec,
    OpenRule,
    StateDef,
    TransitionDef,
    WorkflowDefinition,
)
from reviewflow.engine.core.durations import (
    CALENDARS,
    add_working_days,
    is_working_day,
    local_date,
    working_days_between,
)
from reviewflow.engine.core.errors import FieldError, NotPermitted, TransitionNotAllowed
from reviewflow.engine.core.fields import parse_date, parse_fields
from reviewflow.engine.core.learning import EMBEDDED, VERIFIED, LearningSummary
from reviewflow.engine.core.machine import WorkflowMachine, machine_for
from reviewflow.engine.core.parse import parse_definition
from reviewflow.workflows import shipped_files

UNKNOWN_TRIGGER = "no_such_trigger"


def _shipped() -> list[WorkflowDefinition]:
    return [parse_definition(Path(p).read_text("utf-8"), str(p)) for p in shipped_files()]


def _handmade() -> WorkflowDefinition:
    """A definition the validator might not let through, to reach the corners: a (state, trigger) pair
    with two transitions, a source listed twice, a self-loop, a target state that requires a field and
    a transition with a condition."""
    spec = FieldSpec("why", "text")
    return WorkflowDefinition(
        name="corners", title="Corners", version=1, roles={"r": "R", "s": "S"},
        states={
            "a": StateDef("a", "A"),
            "b": StateDef("b", "B", requires=("why",)),
            "c": StateDef("c", "C"),
            "end": StateDef("end", "End", terminal=True),
        },
        initial="a",
        transitions=(
            TransitionDef("go", ("a",), "b", ("r",)),
            TransitionDef("go", ("a", "c"), "c", ("s",), requires=(spec,)),
            TransitionDef("stay", ("a", "a", "b"), "a", ("r",)),
            TransitionDef("check", ("b",), "c", ("r",), when=(Condition("fields_present", ["why"]),)),
            TransitionDef("finish", ("b", "c"), "end", ("r", "s")),
        ),
        open=OpenRule(("r",)),
    )


DEFINITIONS = [*_shipped(), _handmade()]
IDS = [d.name for d in DEFINITIONS]


# --- references: what the engine did before the fast path ----------------------------------------------

def reference_transition(d: WorkflowDefinition, state: str, trigger: str) -> TransitionDef | None:
    return next((t for t in d.transitions if state in t.sources and t.trigger == trigger), None)


def reference_fire(d: WorkflowDefinition, state: str, trigger: str, guard: Callable[[], bool]) -> str | None:
    """A fresh plain `transitions.Machine` for this one trigger, the guard named as its condition."""

    class Model:
        state: str

        def guards_hold(self) -> bool:
            return guard()

    model = Model()
    Machine(model=model, states=list(d.states), initial=state, auto_transitions=False,
            ignore_invalid_triggers=False,
            transitions=[{"trigger": t.trigger, "source": list(t.sources), "dest": t.dest,
                          "conditions": ["guards_hold"]} for t in d.transitions])
    try:
        return model.state if model.trigger(trigger) else None  # type: ignore[attr-defined]
    except (MachineError, AttributeError):
        return None


def reference_plan_fire(d: WorkflowDefinition, case: CaseState, trigger: str, actor: Actor,
                        raw: Mapping[str, str], now: datetime, learning: LearningSummary | None = None) -> Move:
    t = reference_transition(d, case.state, trigger)
    if t is None:
        leaving = [x for x in d.transitions if case.state in x.sources]
        possible = ", ".join(x.trigger for x in leaving) or "none (this is an end state)"
        if trigger in {x.trigger for x in d.transitions}:
            raise TransitionNotAllowed(f"{_quote(trigger)} is not possible from {_quote(case.state)}; "
                                       f"possible: {possible}")
        raise TransitionNotAllowed(f"{d.name} has no trigger {_quote(trigger)}; possible from "
                                   f"{_quote(case.state)}: {possible}")
    what = _quote(trigger)
    _check_roles(what, t.roles, actor)
    supplied = parse_fields(what, t.requires, raw)
    merged = {**case.fields, **supplied}
    reasons: list[str] = []

    def guard() -> bool:
        context = GuardContext(merged, d.states[t.dest], learning or LearningSummary(), case.state,
                               (local_date(now) - local_date(case.entered_at)).days)
        reasons.extend(unmet(t.when, context))
        missing = [f for f in d.states[t.dest].requires if merged.get(f) in (None, "")]
        if missing:
            reasons.append(f"state {_quote(t.dest)} requires {', '.join(missing)} to be set")
        return not reasons

    dest = reference_fire(d, case.state, trigger, guard)
    if dest is None:
        detail = "; ".join(reasons) or "the state machine refused it"
        raise TransitionNotAllowed(f"{what} is not possible yet: {detail}")
    due, notify = _entering(d, dest, now, merged)
    return Move(trigger, case.state, dest, supplied, merged, now, due, notify)


def _outcome(call: Callable[..., Any], *args: Any) -> Any:
    try:
        return call(*args)
    except (TransitionNotAllowed, NotPermitted, FieldError) as exc:
        return (type(exc).__name__, str(exc))


# --- the definition's transition index ------------------------------------------------------------------

@pytest.mark.parametrize("d", DEFINITIONS, ids=IDS)
def test_transition_lookup_matches_a_scan(d: WorkflowDefinition) -> None:
    for state in [*d.states, "not_a_state"]:
        assert d.transitions_from(state) == [t for t in d.transitions if state in t.sources]
        for trigger in [*sorted(d.triggers), UNKNOWN_TRIGGER]:
            assert d.transition(state, trigger) is reference_transition(d, state, trigger)


def test_a_definition_is_still_compared_by_identity_and_keeps_its_fields() -> None:
    d = _handmade()
    d.transition("a", "go")  # the index is built
    twin = _handmade()
    assert d == d
    assert d != twin
    assert hash(d) != hash(twin)
    assert machine_for(d) is machine_for(d)
    assert machine_for(d) is not machine_for(twin)
    assert [f.name for f in fields(d)] == [f.name for f in fields(twin)]
    assert all(not f.name.startswith("_") for f in fields(d))


def test_a_returned_list_of_transitions_is_the_callers_own() -> None:
    d = _handmade()
    d.transitions_from("a").clear()
    assert [t.trigger for t in d.transitions_from("a")] == ["go", "go", "stay"]


# --- the machine ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("d", DEFINITIONS, ids=IDS)
def test_the_machine_moves_and_refuses_as_a_fresh_plain_machine_does(d: WorkflowDefinition) -> None:
    machine = WorkflowMachine(d)
    for state in d.states:
        for trigger in [*sorted(d.triggers), UNKNOWN_TRIGGER]:
            for allow in (True, False):
                calls: list[str] = []
                expected_calls: list[str] = []

                def guard(allow: bool = allow, log: list[str] = calls) -> bool:
                    log.append("guard")
                    return allow

                def expected_guard(allow: bool = allow, log: list[str] = expected_calls) -> bool:
                    log.append("guard")
                    return allow

                got = machine.fire(state, trigger, guard)
                assert got == reference_fire(d, state, trigger, expected_guard), (state, trigger, allow)
                assert calls == expected_calls, (state, trigger, allow)


def test_the_machine_lists_the_triggers_from_a_state() -> None:
    d = _handmade()
    assert sorted(WorkflowMachine(d).triggers_from("a")) == ["go", "stay"]
    assert WorkflowMachine(d).triggers_from("end") == []


def test_an_unknown_state_is_an_error_whatever_the_trigger() -> None:
    machine = WorkflowMachine(_handmade())
    for trigger in ("go", UNKNOWN_TRIGGER):
        with pytest.raises(ValueError, match="not a registered state"):
            machine.fire("nowhere", trigger, lambda: True)


def test_an_initial_state_that_is_not_a_state_does_not_become_one() -> None:
    d = _handmade()
    bogus = WorkflowDefinition(name=d.name, title=d.title, version=1, roles=d.roles, states=d.states,
                               initial="limbo", transitions=d.transitions, open=d.open)
    machine = WorkflowMachine(bogus)
    with pytest.raises(ValueError, match="not a registered state"):
        machine.fire("limbo", "go", lambda: True)
    assert machine.fire("a", "go", lambda: True) == "b"
    empty = WorkflowDefinition(name="empty", title="Empty", version=1, roles={}, states={}, initial="limbo",
                               transitions=(), open=OpenRule(()))
    with pytest.raises(ValueError, match="not a registered state"):
        WorkflowMachine(empty).fire("limbo", "go", lambda: True)


def test_a_guard_that_raises_is_not_taken_for_a_refusal_and_the_machine_goes_on() -> None:
    machine = WorkflowMachine(_handmade())

    def broken() -> bool:
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        machine.fire("a", "go", broken)
    assert machine.fire("b", "finish", lambda: True) == "end"
    assert machine.fire("a", "stay", lambda: True) == "a"


def test_concurrent_fires_each_get_their_own_answer() -> None:
    d = next(x for x in DEFINITIONS if x.name == "serious_case_review")
    machine = machine_for(d)
    cases = [(state, trigger, allow) for state in d.states for trigger in [*sorted(d.triggers), UNKNOWN_TRIGGER]
             for allow in (True, False)]
    expected = {c: reference_fire(d, c[0], c[1], lambda allow=c[2]: allow) for c in cases}
    start = threading.Barrier(8)

    def worker(offset: int) -> list[tuple[tuple[str, str, bool], str | None]]:
        start.wait()
        out = []
        for i in range(len(cases) * 3):
            state, trigger, allow = case = cases[(i * 7 + offset) % len(cases)]

            def guard(allow: bool = allow) -> bool:
                time.sleep(0)  # let another thread in while the trigger runs
                return allow

            out.append((case, machine.fire(state, trigger, guard)))
        return out

    with ThreadPoolExecutor(8) as pool:
        results = [r for rs in pool.map(worker, range(8)) for r in rs]
    assert len(results) == 8 * len(cases) * 3
    for case, got in results:
        assert got == expected[case], case


# --- plan_fire as a whole -------------------------------------------------------------------------------

NOW = datetime(2026, 3, 9, 10, tzinfo=UTC)
FULL_LEARNING = LearningSummary(recommendations=("R1",), actions_by_status={VERIFIED: ("A1",), EMBEDDED: ("A2",)},
                                dissemination=1)


def _raw_for(specs: tuple[FieldSpec, ...]) -> dict[str, str]:
    sample = {"text": "because", "date": "2026-03-02", "yesno": "yes"}
    return {s.name: s.options[0] if s.type == "choice" else sample[s.type] for s in specs}


@pytest.mark.parametrize("d", DEFINITIONS, ids=IDS)
def test_plan_fire_gives_what_the_plain_path_gives(d: WorkflowDefinition) -> None:
    everyone = Actor("all", frozenset(d.roles))
    nobody = Actor("none", frozenset())
    required = {f for s in d.states.values() for f in s.requires}
    for state in [*d.states, "not_a_state"]:
        for case_fields in ({}, {f: "set" for f in required}):
            case = CaseState("X-1", d.name, d.version, state, case_fields,
                             datetime(2026, 3, 2, 9, tzinfo=UTC), None, 1)
            for trigger in [*sorted(d.triggers), UNKNOWN_TRIGGER]:
                t = reference_transition(d, state, trigger)
                raws = [{}, _raw_for(t.requires)] if t else [{}]
                for actor in (everyone, nobody):
                    for raw in raws:
                        for learning in (None, FULL_LEARNING):
                            args = (d, case, trigger, actor, raw, NOW, learning)
                            got, want = _outcome(plan_fire, *args), _outcome(reference_plan_fire, *args)
                            assert got == want, (state, trigger, actor.name, raw, learning)


def test_plan_fire_from_threads_gives_each_case_its_own_answer() -> None:
    d = _handmade()
    actor = Actor("all", frozenset(d.roles))
    cases = []
    for n in range(40):
        why = {"why": "set"} if n % 2 else {}
        cases.append((CaseState(f"X-{n}", d.name, d.version, "b" if n % 3 else "a", why,
                                datetime(2026, 3, 2, 9, tzinfo=UTC), None, 1),
                      "check" if n % 3 else "go"))
    expected = [_outcome(reference_plan_fire, d, c, tr, actor, {}, NOW) for c, tr in cases]

    def run(_: int) -> list[Any]:
        return [_outcome(plan_fire, d, c, tr, actor, {}, NOW) for c, tr in cases * 5]

    with ThreadPoolExecutor(6) as pool:
        for got in pool.map(run, range(6)):
            assert got == expected * 5


# --- the working-day calendar ---------------------------------------------------------------------------

_REFERENCE_BANKS: dict[str, Any] = {}


def _ref_is_working_day(day: date, calendar: str) -> bool:
    if day.weekday() >= 5:
        return False
    subdiv = CALENDARS[calendar]
    if subdiv is None:
        return True
    if calendar not in _REFERENCE_BANKS:
        _REFERENCE_BANKS[calendar] = holidays.country_holidays("GB", subdiv=subdiv)
    return day not in _REFERENCE_BANKS[calendar]


def _ref_add_working_days(start: date, count: int, calendar: str) -> date:
    day, step, remaining = start, timedelta(days=1 if count >= 0 else -1), abs(count)
    while remaining > 0:
        day += step
        if _ref_is_working_day(day, calendar):
            remaining -= 1
    return day


def _ref_working_days_between(start: date, end: date, calendar: str) -> int:
    if end < start:
        return -_ref_working_days_between(end, start, calendar)
    return sum(_ref_is_working_day(start + timedelta(days=n), calendar) for n in range(1, (end - start).days + 1))


DAYS = st.dates(min_value=date(1960, 1, 1), max_value=date(2090, 12, 31))
CALENDAR = st.sampled_from(sorted(CALENDARS))


@settings(max_examples=300, deadline=None)
@given(day=DAYS, calendar=CALENDAR)
@example(day=date(2026, 12, 25), calendar="england-and-wales")
@example(day=date(2027, 12, 28), calendar="scotland")
@example(day=date(2026, 3, 17), calendar="northern-ireland")
def test_is_working_day_matches_the_holidays_package(day: date, calendar: str) -> None:
    assert is_working_day(day, calendar) is _ref_is_working_day(day, calendar)


@settings(max_examples=300, deadline=None)
@given(start=DAYS, count=st.integers(-400, 400), calendar=CALENDAR)
@example(start=date(2026, 12, 24), count=5, calendar="england-and-wales")
@example(start=date(2027, 1, 5), count=-5, calendar="scotland")
@example(start=date(2026, 1, 3), count=0, calendar="weekends-only")
def test_add_working_days_matches_the_holidays_package(start: date, count: int, calendar: str) -> None:
    assert add_working_days(start, count, calendar) == _ref_add_working_days(start, count, calendar)
    assert add_working_days(start, count, calendar) == _ref_add_working_days(start, count, calendar)  # cached


@settings(max_examples=300, deadline=None)
@given(start=DAYS, span=st.integers(-500, 500), calendar=CALENDAR)
def test_working_days_between_matches_the_holidays_package(start: date, span: int, calendar: str) -> None:
    end = start + timedelta(days=span)
    assert working_days_between(start, end, calendar) == _ref_working_days_between(start, end, calendar)


def test_an_unknown_calendar_is_still_refused_on_a_weekday_only() -> None:
    saturday, monday = date(2026, 1, 3), date(2026, 1, 5)
    assert is_working_day(saturday, "atlantis") is False
    assert add_working_days(monday, 0, "atlantis") == monday
    with pytest.raises(KeyError):
        is_working_day(monday, "atlantis")
    with pytest.raises(KeyError):
        add_working_days(saturday, 1, "atlantis")
    with pytest.raises(KeyError):
        working_days_between(saturday, monday, "atlantis")


def test_the_calendar_agrees_from_many_threads_at_once() -> None:
    starts = [date(2031, 1, 1) + timedelta(days=n) for n in range(0, 366, 5)]
    expected = [_ref_add_working_days(s, 12, "scotland") for s in starts]
    with ThreadPoolExecutor(6) as pool:
        for got in pool.map(lambda _: [add_working_days(s, 12, "scotland") for s in starts], range(6)):
            assert got == expected


# --- dates typed in -------------------------------------------------------------------------------------

def _ref_parse_date(text: str) -> date:
    value = text.strip()
    for fmt in ("%Y-%m-%d", "%d/%m/%Y"):
        try:
            return datetime.strptime(value, fmt).date()
        except ValueError:
            continue
    raise FieldError(f"{text!r} is not a date: write it as 2026-03-31 (or 31/03/2026)")


def _date_outcome(parse: Callable[[str], date], text: str) -> Any:
    try:
        result = parse(text)
    except FieldError as exc:
        return ("refused", str(exc))
    assert type(result) is date
    return result


_DATE_TEXT = st.one_of(
    st.dates().map(date.isoformat),
    st.dates(min_value=date(1000, 1, 1)).map(lambda d: d.strftime("%d/%m/%Y")),
    st.builds("{:04d}-{:02d}-{:02d}".format, st.integers(0, 10000), st.integers(0, 13), st.integers(0, 32)),
    st.builds("{:02d}/{:02d}/{:04d}".format, st.integers(0, 32), st.integers(0, 13), st.integers(0, 10000)),
    st.text(alphabet="0123456789-/ W:T\t\n０١", max_size=14),
    st.text(max_size=12),
)


@settings(max_examples=500, deadline=None)
@given(text=_DATE_TEXT)
@example(text="2026-01-07")
@example(text=" 2026-01-07\n")
@example(text="20260107")
@example(text="2026-W02-3")
@example(text="2026-007")
@example(text="2026-1-7")
@example(text="2026-01-7")
@example(text="2026-02-30")
@example(text="2024-02-29")
@example(text="0000-01-01")
@example(text="0001-01-01")
@example(text="9999-12-31")
@example(text="2026-01-07T00:00")
@example(text="2026-01-07 ")
@example(text="２０２６-01-07")
@example(text="31/03/2026")
@example(text="31/02/2026")
@example(text="7/1/2026")
@example(text="07/01/ 2026")
@example(text="00/01/2026")
@example(text="")
def test_parse_date_matches_strptime(text: str) -> None:
    assert _date_outcome(parse_date, text) == _date_outcome(_ref_parse_date, text)
