"""The runtime state machine: one `transitions.Machine` per definition version.

This is the only module that imports `transitions`. Each machine has one model (a token) attached
when it is built; a trigger sets the token to the case's state, under the machine's lock, and fires
the trigger's event on it, so the machine never holds a model per case and never rebinds triggers.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from functools import lru_cache

from transitions import Machine, MachineError

from reviewflow.engine.core.definition import WorkflowDefinition


class _Token:
    """The one model of a machine; it holds the state of the case whose trigger is running."""

    state: str


def _guard_holds(guard: Callable[[], bool]) -> bool:
    """The condition of every transition: the caller's guard, passed along with the trigger."""
    return guard()


class WorkflowMachine:
    """Fires triggers of one definition version on detached case states."""

    def __init__(self, definition: WorkflowDefinition) -> None:
        self.definition = definition
        self._lock = threading.Lock()
        self._token = _Token()
        states = list(definition.states)
        # The token's state is set before every trigger, so it may start in any state; not in an initial
        # state that is not one of the definition's, which the machine would add as a state of its own.
        start = definition.initial if definition.initial in definition.states else next(iter(states), None)
        self._machine = Machine(
            model=self._token if start is not None else None,
            states=states,
            transitions=[
                {"trigger": t.trigger, "source": list(t.sources), "dest": t.dest, "conditions": [_guard_holds]}
                for t in definition.transitions
            ],
            initial=start,
            auto_transitions=False,
            ignore_invalid_triggers=False,
            send_event=False,
            queued=False,
        )
        self._events = self._machine.events

    def fire(self, state: str, trigger: str, guard: Callable[[], bool]) -> str | None:
        """The state after `trigger` from `state`, or None when `guard` refused it.

        Also None when the definition has no such trigger, or it does not leave `state`;
        ValueError when `state` is not a state of the definition.
        """
        event = self._events.get(trigger)
        token = self._token
        with self._lock:
            if event is None:
                self._machine.get_state(state)  # an unknown state is a ValueError, as for a known trigger
                return None
            token.state = state
            try:
                moved = event.trigger(token, guard)
                return token.state if moved else None
            except (MachineError, AttributeError):
                return None

    def triggers_from(self, state: str) -> list[str]:
        return list(self._machine.get_triggers(state))


@lru_cache(maxsize=256)
def machine_for(definition: WorkflowDefinition) -> WorkflowMachine:
    """The shared machine of a definition version (definitions are frozen and hashable)."""
    return WorkflowMachine(definition)
