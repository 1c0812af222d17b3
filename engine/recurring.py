"""Recurring reviews: the periods of a workflow's `schedule` and the references of their cases. Pure."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from engine.yamlsource import Path

if TYPE_CHECKING:
    from engine.definition import WorkflowDefinition

Found = Iterator[tuple[Path, str]]


def check_schedule(d: WorkflowDefinition) -> Found:
    """Problems with a definition's `schedule` (none when it has no schedule)."""
    sched = d.schedule
    if sched is None:
        return
    if (sched.cron is None) == (sched.every is None and "every" not in ()):
        if sched.cron is None and sched.every is None:
            yield ("schedule",), "a schedule needs `every` (with `starting`) or `cron`: add one"
    if sched.cron is not None and sched.every is not None:
        yield ("schedule", "cron"), "give either `every` (with `starting`) or `cron`, not both"
    if sched.every is not None and sched.starting is None:
        yield ("schedule", "every"), "`every` needs `starting`: the first period's start date, e.g. 2026-04-01"
