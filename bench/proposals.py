"""Prototypes of the fixes proposed in docs/performance.md, measured side by side with `--proposals`.

They live here, not in the engine, so that the figures before and after a fix come from one run.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from contextlib import contextmanager
from datetime import date
from typing import Any


class OneModelMachine:
    """engine.machine.WorkflowMachine with one model attached once, instead of add_model and
    remove_model around every trigger (which rebinds every trigger of the graph on each call)."""

    def __init__(self, definition: Any) -> None:
        from transitions import Machine, MachineError

        self._refused = (MachineError, AttributeError)
        self._lock = threading.Lock()
        self._guard: Callable[[], bool] = lambda: True
        outer = self

        class Token:
            state: str

            def guards_hold(self) -> bool:
                return outer._guard()

        self._token = Token()
        self._machine = Machine(
            model=self._token, states=list(definition.states), initial=definition.initial,
            transitions=[{"trigger": t.trigger, "source": list(t.sources), "dest": t.dest,
                          "conditions": ["guards_hold"]} for t in definition.transitions],
            auto_transitions=False, ignore_invalid_triggers=False)

    def fire(self, state: str, trigger: str, guard: Callable[[], bool]) -> str | None:
        with self._lock:
            self._guard = guard
            self._token.state = state
            try:
                return self._token.state if self._token.trigger(trigger) else None  # type: ignore[attr-defined]
            except self._refused:
                return None


_machines: dict[int, OneModelMachine] = {}


def _machine_for(d: Any) -> OneModelMachine:
    if id(d) not in _machines:
        _machines[id(d)] = OneModelMachine(d)
    return _machines[id(d)]


def _parse_date(text: str) -> Any:
    """engine.fields.parse_date with an ISO fast path before strptime."""
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        return _originals["parse_date"](text)


_originals: dict[str, Any] = {}


@contextmanager
def decision_fixes() -> Any:
    """Temporarily apply the proposed decision fixes: one model per machine (engine/machine.py),
    working-day arithmetic cached (engine/durations.py), ISO dates parsed without strptime
    (engine/fields.py)."""
    from functools import lru_cache

    import engine.decide as decide
    import engine.durations as durations
    import engine.fields as fields

    if "add_working_days" not in _originals:
        _originals.update(machine_for=decide.machine_for, add_working_days=durations.add_working_days,
                          parse_date=fields.parse_date)
        _originals["cached_add"] = lru_cache(maxsize=4096)(durations.add_working_days)
    decide.machine_for = _machine_for  # type: ignore[assignment]
    durations.add_working_days = _originals["cached_add"]
    fields.parse_date = _parse_date
    try:
        yield
    finally:
        decide.machine_for = _originals["machine_for"]
        durations.add_working_days = _originals["add_working_days"]
        fields.parse_date = _originals["parse_date"]


def engine_with_fixes(d: Any, make: Callable[[Any], Callable[[], Any]]) -> Callable[[], Any]:
    step = make(d)

    def run() -> Any:
        with decision_fixes():
            return step()

    return run


def lean_service(service: Any) -> Any:
    """The service with two proposed changes to engine/service.py, for the fire figures:

    - `definition(name, version)` cached per (name, version) in the process: a stored version's
      content never changes (loading other content under the same version is refused), so the
      lookup and hash of the YAML source on every call are not needed;
    - `fire` not reading the case back in a further transaction after writing it: here it returns
      None; in the service it would build the view from the record, the move and the history
      already in hand (the CLI prints that view).
    """
    from engine.service import Reviewflow

    class LeanReviewflow(Reviewflow):  # type: ignore[misc,valid-type]
        _cache: dict[tuple[str, int], Any] = {}

        def definition(self, name: str, version: int | None = None) -> Any:
            if version is None:
                return super().definition(name, version)
            key = (name, version)
            if key not in self._cache:
                self._cache[key] = super().definition(name, version)
            return self._cache[key]

        def case(self, ref: str, actor: str | None = None) -> Any:
            return None if getattr(self, "_in_fire", False) else super().case(ref, actor)

        def fire(self, *args: Any, **kwargs: Any) -> Any:
            self._in_fire = True
            try:
                return super().fire(*args, **kwargs)
            finally:
                self._in_fire = False

    lean = LeanReviewflow(service.db, service.clock, service.settings)
    return lean
