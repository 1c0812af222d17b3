"""The runtime state machine: one `transitions.Machine` per definition version.

This is the only module that imports `transitions`. Cases are attached for one trigger
and detached straight after, so a machine never holds thousands of models.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from functools import lru_cache

from transitions import Machine, MachineError

from engine.definition import WorkflowDefinition


class _Token:
    """The model attached while a trigger runs; its guard is supplied by the caller."""

    state: str

    def __init__(self, guard: Callable[[], bool]) -> None:
        self._guard = guard

    def guards_hold(self) -> bool:
        return self._guard()


class WorkflowMachine:
    """Fires triggers of one definition version on detached case states."""

    def __init__(self, definition: WorkflowDefinition) -> None:
        self.definition = definition
        self._lock = threading.Lock()
        self._machine = Machine(
            model=None,
            states=list(definition.states),
            transitions=[
                {"trigger": t.trigger, "source": list(t.sources), "dest": t.dest, "conditions": ["guards_hold"]}
                for t in definition.transitions
            ],
            initial=None,
            auto_transitions=False,
            ignore_invalid_triggers=False,
        )

    def fire(self, state: str, trigger: str, guard: Callable[[], bool]) -> str | None:
        """The state after `trigger` from `state`, or None when `guard` refused it."""
        token = _Token(guard)
        with self._lock:
            self._machine.add_model(token, initial=state)
            try:
                moved = token.trigger(trigger)  # type: ignore[attr-defined]
                return token.state if moved else None
            except (MachineError, AttributeError):
                return None
            finally:
                self._machine.remove_model(token)

    def triggers_from(self, state: str) -> list[str]:
        return list(self._machine.get_triggers(state))


@lru_cache(maxsize=256)
def machine_for(definition: WorkflowDefinition) -> WorkflowMachine:
    """The shared machine of a definition version (definitions are frozen and hashable)."""
    return WorkflowMachine(definition)
