"""Building the statutory clocks of a definition: `time_limit: {duration, from | before}`, `milestones:` and
`progress_checks:` (schema-valid data in, model out; duration problems collected by the builder)."""

from __future__ import annotations

from typing import Any, Protocol

from reviewflow.engine.core.definition import EscalationLevel
from reviewflow.engine.core.durations import Duration
from reviewflow.engine.core.milestones import Milestone, ProgressCheck
from reviewflow.engine.core.yamlsource import Path

_PLACEHOLDER = Duration(1, "days")
"""Stands in for an unreadable duration, whose problem the builder has already recorded."""


class Builder(Protocol):
    def duration(self, raw: str | None, path: Path) -> Duration | None: ...

    def reminder(self, raw: str | None, path: Path) -> Duration | None: ...

    def ladder(self, levels: list[dict[str, Any]], path: Path) -> tuple[EscalationLevel, ...]: ...


def limit_text(raw: Any) -> str | None:
    """The duration of a state's `time_limit`, written plainly or as `{duration: ..., from: FIELD}`."""
    return raw.get("duration") if isinstance(raw, dict) else raw


def limit_path(raw: Any, state: str) -> Path:
    return ("states", state, "time_limit", "duration") if isinstance(raw, dict) else ("states", state, "time_limit")


def limit_from(raw: Any) -> str | None:
    """The date field a state's `time_limit` counts from, if it names one."""
    return raw.get("from") if isinstance(raw, dict) else None


def limit_before(raw: Any) -> str | None:
    """The date field a state's `time_limit` counts back from (`before: FIELD`), if it names one."""
    return raw.get("before") if isinstance(raw, dict) else None


def milestones(b: Builder, raw: dict[str, Any] | None) -> tuple[Milestone, ...]:
    found = []
    for name, m in (raw or {}).items():
        path: Path = ("milestones", name)
        found.append(Milestone(
            name=name, label=m.get("label", name.replace("_", " ")),
            due=b.duration(m["due"], (*path, "due")) or _PLACEHOLDER, start_field=m["from"],
            during=tuple(m["during"]), owner=m.get("owner"), remind=b.reminder(m.get("remind"), (*path, "remind")),
            escalation=b.ladder(m.get("escalation", []), (*path, "escalation"))))
    return tuple(found)


def progress_checks(b: Builder, raw: dict[str, Any] | None) -> tuple[ProgressCheck, ...]:
    found = []
    for name, c in (raw or {}).items():
        path: Path = ("progress_checks", name)
        found.append(ProgressCheck(
            name=name, label=c.get("label", name.replace("_", " ")),
            every=b.duration(c["every"], (*path, "every")) or _PLACEHOLDER, during=tuple(c["during"]),
            notify=tuple(c["notify"]), recorded_by=tuple(c["recorded_by"]), start_field=c.get("from"),
            missed_after=b.duration(c.get("missed_after"), (*path, "missed_after")),
            escalate=tuple(c.get("escalate", ()))))
    return tuple(found)
