"""Engine decision cost without I/O: `plan_fire` against a bare `transitions.Machine` trigger on the
same graph, and against python-statemachine (when the `bench` extra is installed).

Each side fires `notify` (notification -> subgroup_consideration of the serious case review)
and is put back in `notification` for the next call; the engine side also checks the role, parses
the supplied date, runs the guards and computes the new stage's due date, as it does for a real fire.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.config import Config
from bench.report import Figure, Target, measured, timed

TRIGGER, SOURCE = "notify", "notification"
RAW = {"notification_date": "2026-01-07"}


def scr_definition() -> Any:
    from reviewflow.engine.core.parse import parse_definition
    from reviewflow.workflows import shipped_files

    path = next(p for p in shipped_files() if p.stem == "serious_case_review")
    return parse_definition(Path(path).read_text("utf-8"), str(path))


def engine_side(d: Any) -> Callable[[], Any]:
    from reviewflow.engine.core.decide import Actor, CaseState, plan_fire

    now = datetime(2026, 1, 7, 10, tzinfo=UTC)
    case = CaseState("SCR-2026-001", d.name, d.version, SOURCE,
                     {"notifying_agency": "Police", "incident_date": "2026-01-02", "incident_type": "child_died"},
                     datetime(2026, 1, 5, 10, tzinfo=UTC), None, 1)
    actor = Actor("la.duty", frozenset({"la_notifier"}))
    return lambda: plan_fire(d, case, TRIGGER, actor, RAW, now)


def transitions_side(d: Any) -> Callable[[], Any]:
    from transitions import Machine

    class Model:
        state: str

    model = Model()
    Machine(model=model, states=list(d.states), initial=SOURCE, auto_transitions=False,
            transitions=[{"trigger": t.trigger, "source": list(t.sources), "dest": t.dest} for t in d.transitions])
    fire = getattr(model, TRIGGER)

    def step() -> None:
        fire()
        model.state = SOURCE

    return step


def statemachine_side(d: Any) -> Callable[[], Any]:
    """The same graph as a python-statemachine class (events named after the triggers)."""
    from statemachine import State, StateMachine

    leaving = {s for t in d.transitions for s in t.sources}
    states = {name: State(name, value=name, initial=name == d.initial, final=name not in leaving)
              for name in d.states}
    events: dict[str, Any] = {}
    for t in d.transitions:
        for source in t.sources:
            move = states[source].to(states[t.dest])
            events[t.trigger] = events[t.trigger] | move if t.trigger in events else move
    attrs: dict[str, Any] = {f"s_{k}": v for k, v in states.items()}
    attrs.update({f"e_{k}": v for k, v in events.items()})
    machine_class = type(StateMachine)("ScrMachine", (StateMachine,), attrs)
    sm = machine_class()
    event = f"e_{TRIGGER}"

    def step() -> None:
        sm.send(event)
        sm.current_state_value = SOURCE

    return step


def _per_call_us(step: Callable[[], Any], calls: int) -> float:
    return timed(lambda: [step() for _ in range(calls)]) / calls * 1e6


def compare(cfg: Config, sides: dict[str, Callable[[], Any]], calls: int) -> dict[str, list[float]]:
    """Microseconds per call of each side, `cfg.repeat` times, the sides interleaved."""
    for step in sides.values():
        _per_call_us(step, max(calls // 10, 1))  # warm up
    samples: dict[str, list[float]] = {name: [] for name in sides}
    for r in range(cfg.repeat):
        order = list(sides.items())
        for name, step in order if r % 2 == 0 else order[::-1]:
            samples[name].append(_per_call_us(step, calls))
    return samples


def decision(cfg: Config) -> list[Figure]:
    d = scr_definition()
    sides: dict[str, Callable[[], Any]] = {"engine": engine_side(d), "transitions": transitions_side(d)}
    missing = None
    try:
        sides["python-statemachine"] = statemachine_side(d)
    except ImportError:
        missing = "python-statemachine is not installed: pip install -e '.[bench]'"
    calls = cfg.size(2000, 50)
    s = compare(cfg, sides, calls)
    per = "us/call"
    figures = [measured("decision-vs-transitions", Target("<=", 3), "engine", s["engine"], "transitions",
                        s["transitions"], per, note=f"{calls} calls x {cfg.repeat}")]
    if missing:
        figures.append(Figure("decision-vs-statemachine", Target("<", 1), skipped=missing))
    else:
        figures.append(measured("decision-vs-statemachine", Target("<", 1), "engine", s["engine"],
                                "python-statemachine", s["python-statemachine"], per))
    from bench.profiling import profile

    profile(cfg, "decision", lambda: _per_call_us(sides["engine"], calls))
    return figures
