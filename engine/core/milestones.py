"""The model of statutory clocks that span stages: milestones and recurring progress checks.

Declared in a workflow as `milestones:` and `progress_checks:`; worked out by `statutory.py`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from reviewflow.engine.core.durations import Duration

if TYPE_CHECKING:
    from reviewflow.engine.core.definition import EscalationLevel

OUTCOMES = ("on_track", "concerns", "off_track")
"""What a progress check may find, as `reviewflow case check --outcome` takes it."""
CHECK_EVENT = "progress_check"
"""The history trigger of a recorded progress-check outcome (an event within the stage, not a move)."""


@dataclass(frozen=True)
class Milestone:
    """A deadline counted from a recorded date, running while the case is in any of `during`."""

    name: str
    label: str
    due: Duration
    start_field: str
    """The date field the deadline counts from."""
    during: tuple[str, ...]
    owner: str | None = None
    """The role reminded before the deadline and meant by `owner` in its ladder."""
    remind: Duration | None = None
    escalation: tuple[EscalationLevel, ...] = ()


@dataclass(frozen=True)
class ProgressCheck:
    """A check of a case's progress every `every` while it is in any of `during`."""

    name: str
    label: str
    every: Duration
    during: tuple[str, ...]
    notify: tuple[str, ...]
    recorded_by: tuple[str, ...]
    start_field: str | None = None
    """Count from this date field; None: from when the case first entered one of `during`."""
    missed_after: Duration | None = None
    """An outcome not recorded this long after a check is due escalates to `escalate`."""
    escalate: tuple[str, ...] = ()
