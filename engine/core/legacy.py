"""Legacy review types (`legacy:` in a definition): a review type no longer commissioned under current guidance
(e.g. the Serious Case Review of Working Together 2015). Its cases open only when the opener confirms a historical
case; no workflow may route to it. Pure: no clock, database or file."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any

from reviewflow.engine.core.errors import ReviewflowError

if TYPE_CHECKING:
    from reviewflow.engine.core.definition import WorkflowDefinition
    from reviewflow.engine.core.yamlsource import Path


@dataclass(frozen=True)
class Legacy:
    """`legacy: {since: 2019-09-29, replaced_by: rapid_review_lcspr, note: Working Together 2015}`."""

    replaced_by: str
    since: date | None = None
    note: str = ""

    def describe(self) -> str:
        """'legacy (Working Together 2015), replaced by rapid_review_lcspr'."""
        guidance = f" ({self.note})" if self.note else ""
        return f"legacy{guidance}, replaced by {self.replaced_by}"


Catalogue = Mapping[str, "Legacy | None"]
"""Every workflow that can be checked against (shipped or loaded), by name: its `legacy`, or None."""


class LegacyWorkflow(ReviewflowError):
    """A new case of a legacy review type, opened without confirming it records a historical case."""

    def __init__(self, workflow: str, legacy: Legacy) -> None:
        why = ", ".join(filter(None, [legacy.note, f"none commissioned since {legacy.since.year}"
                                      if legacy.since else ""]))
        super().__init__(f"{workflow} is a legacy review type{f' ({why})' if why else ''}: open a "
                         f"{legacy.replaced_by} instead, or pass --legacy to record a historical case",
                         field="legacy", value=workflow, workflow=workflow, replaced_by=legacy.replaced_by)


def parse_legacy(raw: Mapping[str, Any] | None) -> Legacy | None:
    """The `legacy:` mapping (schema-valid) as a Legacy; a bad `since` date is left to `since_problem`."""
    if raw is None:
        return None
    since = raw.get("since")
    if isinstance(since, str):
        try:
            since = date.fromisoformat(since)
        except ValueError:
            since = None
    return Legacy(str(raw["replaced_by"]), since if isinstance(since, date) else None, str(raw.get("note", "")))


def catalogue_entry(data: Any) -> tuple[str, Legacy | None] | None:
    """(name, legacy) read from a definition's plain data without checking the rest; None when it has no name."""
    if not isinstance(data, dict) or not isinstance(data.get("name"), str):
        return None
    raw = data.get("legacy")
    ok = isinstance(raw, dict) and isinstance(raw.get("replaced_by"), str)
    return data["name"], parse_legacy(raw) if ok else None


def since_problem(raw: Any) -> tuple[Path, str] | None:
    """A `legacy.since` that looks like a date but is not one."""
    since = raw.get("since") if isinstance(raw, dict) else None
    if not isinstance(since, str):
        return None
    try:
        date.fromisoformat(since)
    except ValueError:
        return ("legacy", "since"), f"{since!r} is not a date: write YYYY-MM-DD, e.g. 2019-09-29"
    return None


def require_confirmed(d: WorkflowDefinition, legacy: bool) -> None:
    """Refuse a new case of a legacy workflow unless the opener confirmed it records a historical case."""
    if d.legacy is not None and not legacy:
        raise LegacyWorkflow(d.name, d.legacy)


def routed_targets(d: WorkflowDefinition) -> Iterator[tuple[int, str, int, str]]:
    """(transition index, field name, option index, workflow) for every workflow a routing transition may open."""
    for i, t in enumerate(d.transitions):
        spec = t.field(t.opens.workflow_field) if t.opens is not None else None
        if spec is not None:
            for j, option in enumerate(spec.options):
                yield i, spec.name, j, option


# --- validation --------------------------------------------------------------------------------------------

def check_legacy(d: WorkflowDefinition, known: Catalogue | None = None) -> Iterator[tuple[Path, str]]:
    """`legacy.replaced_by` names another workflow, known and current when `known` is given; no routing opens a
    legacy workflow (this one, or one `known` marks legacy)."""
    if d.legacy is not None:
        target = d.legacy.replaced_by
        if target == d.name:
            yield ("legacy", "replaced_by"), f"{d.name} cannot replace itself: name the current review type"
        elif known is not None and target not in known:
            yield (("legacy", "replaced_by"),
                   f"unknown workflow {target!r}: name a shipped or loaded workflow ({', '.join(sorted(known))})")
        elif known is not None and known[target] is not None:
            yield ("legacy", "replaced_by"), f"{target} is itself legacy: name a current review type"
    for i, name, j, option in routed_targets(d):
        found = d.legacy if option == d.name else (known or {}).get(option)
        if found is not None:
            guidance = f" ({found.note})" if found.note else ""
            yield (("transitions", i, "requires", name, "options", j),
                   f"{option} is a legacy review type{guidance}: a routing may not open one; "
                   f"route to {found.replaced_by} instead")
