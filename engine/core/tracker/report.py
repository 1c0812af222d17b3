"""What a tracker import found and did: the bad rows with their reasons, and the counts written."""

from __future__ import annotations

from dataclasses import dataclass, field

from reviewflow.engine.core.tracker.planning import MissingOwner


@dataclass(frozen=True)
class RowProblem:
    row: int
    reason: str

    def __str__(self) -> str:
        return f"row {self.row}: {self.reason}"


@dataclass
class TrackerReport:
    file: str
    rows: int
    problems: list[RowProblem]
    skipped: list[int]
    """Good rows left out because another row of the same case is bad (--per-row)."""
    cases: int = 0
    recommendations: int = 0
    actions: int = 0
    dry_run: bool = False
    all_or_nothing: bool = True
    updated: int = 0
    """Cases already in the database that the sheet changed (`--update`)."""
    unchanged: int = 0
    """Cases already in the database that the sheet left as they were (`--update`)."""
    changes: list[str] = field(default_factory=list)
    """Each change to a case already in the database, as `REF: what: before -> after`."""
    missing_owners: list[MissingOwner] = field(default_factory=list)
    """Action owners the sheet names who are not registered users."""
    created_owners: list[str] = field(default_factory=list)
    """Those registered as action owners by `--create-owners`."""
    new_themes: list[str] = field(default_factory=list)
    """Learning themes the sheet names that are not on the partnership's list: the import adds them."""

    @property
    def bad_rows(self) -> list[int]:
        return sorted({p.row for p in self.problems})
