"""A tracker spreadsheet as read: its header and non-blank rows, and how its cells read as text and compare.

The file itself is read by the service (`engine/services/sheets.py`); this module takes the cells it found.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any

from reviewflow.engine.core.errors import InvalidValue


def norm(value: Any) -> str:
    """How cells and mapping keys are compared: trimmed, spaces collapsed, case ignored."""
    return " ".join(cell_text(value).split()).casefold()


def cell_text(value: Any) -> str:
    """A cell as text: spreadsheets give numbers, dates and booleans as well as text."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == time(0) else value.isoformat(sep=" ")
    if isinstance(value, date):
        return value.isoformat()
    return str(value).strip()


@dataclass(frozen=True)
class Sheet:
    name: str
    header: list[str]
    rows: list[tuple[int, tuple[Any, ...]]]
    """(spreadsheet row number, cells) of every row that is not blank."""

    def column(self, heading: str) -> int:
        """The position of the first column headed `heading` (compared as `norm` does)."""
        return next(i for i, h in enumerate(self.header) if norm(h) == norm(heading))


def sheet_from_rows(name: str, rows: list[tuple[Any, ...]]) -> Sheet:
    """The header (row 1) and the non-blank rows of a file's rows, numbered as the spreadsheet numbers them."""
    if not rows or not any(cell_text(c) for c in rows[0]):
        raise InvalidValue(f"{name} has no header: row 1 must hold the column headings")
    header = [cell_text(c) for c in rows[0]]
    body = [(number, r) for number, r in enumerate(rows[1:], 2) if any(cell_text(c) for c in r)]
    return Sheet(name, header, body)
