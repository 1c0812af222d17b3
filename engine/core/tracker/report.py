"""What a tracker import found and did: the bad rows with their reasons, and the counts written."""

from __future__ import annotations

from dataclasses import dataclass


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

    @property
    def bad_rows(self) -> list[int]:
        return sorted({p.row for p in self.problems})
