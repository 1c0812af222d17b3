"""What the administration pages show, made ready for their templates: a definition's problems beside the lines
they are on, the differences between two versions grouped as `reviewflow workflow diff` groups them, and the
administration log's details as short text."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from reviewflow.engine.core.diff import DefinitionDiff
from reviewflow.engine.core.errors import Problem

DIFF_GROUPS = (("state", "Stages"), ("transition", "Moves"), ("role", "Roles"), ("escalation", "Escalation ladder"),
               ("learning", "Learning loop"), ("learning escalation", "Learning escalation ladder"),
               ("schedule", "Schedule"), ("setting", "Settings"), ("notify", "Notifications"))
CHANGE_TAGS = {"added": "govuk-tag--green", "removed": "govuk-tag--red", "changed": "govuk-tag--yellow"}
SOURCE_LINE_WIDTH = 160


@dataclass(frozen=True)
class ProblemRow:
    line: int | None
    path: str
    message: str
    source: str
    """The text of the line the problem is on (cut short), so the person sees what to change."""


@dataclass(frozen=True)
class ChangeRow:
    change: str
    tag: str
    name: str
    details: tuple[str, ...]


@dataclass(frozen=True)
class DiffGroup:
    title: str
    changes: tuple[ChangeRow, ...]


def problem_rows(problems: Iterable[Problem], text: str) -> list[ProblemRow]:
    """Each problem with the line of the file it points at."""
    lines = text.splitlines()
    rows = []
    for p in problems:
        source = lines[p.line - 1] if p.line and 0 < p.line <= len(lines) else ""
        source = source if len(source) <= SOURCE_LINE_WIDTH else source[:SOURCE_LINE_WIDTH - 1] + "…"
        rows.append(ProblemRow(p.line, p.path, p.message, source))
    return rows


def diff_groups(diff: DefinitionDiff) -> list[DiffGroup]:
    """The differences by kind (stages, moves, roles, ladders, the rest), each added, removed or changed."""
    groups = []
    for kind, title in DIFF_GROUPS:
        changes = tuple(ChangeRow(c.change, CHANGE_TAGS.get(c.change, ""), c.name, c.details)
                        for c in diff.changes if c.kind == kind)
        if changes:
            groups.append(DiffGroup(title, changes))
    return groups


def details_text(details: Mapping[str, Any]) -> str:
    """An administration log entry's details as one line: 'roles: a, b; email: x'."""
    parts = []
    for key, value in details.items():
        if isinstance(value, list | tuple):
            shown = ", ".join(str(v) for v in value) or "none"
        elif isinstance(value, bool):
            shown = "yes" if value else "no"
        else:
            shown = "none" if value is None else str(value)
        parts.append(f"{key.replace('_', ' ')}: {shown}")
    return "; ".join(parts)
