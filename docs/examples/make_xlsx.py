"""Build tracker.xlsx from tracker.csv: the same tracker as a board keeps it in Excel.

Dates become real date cells (shown as 31/01/2026), the header is bold and frozen. Run from anywhere:

    python docs/examples/make_xlsx.py
"""

from __future__ import annotations

import csv
import re
from datetime import datetime
from pathlib import Path

from openpyxl import Workbook
from openpyxl.styles import Font

HERE = Path(__file__).resolve().parent
DATE = re.compile(r"^\d{2}/\d{2}/\d{4}$")
MADE = datetime(2026, 3, 2, 9, 0)
"""The workbook's creation date (fixed, rather than the day it was rebuilt)."""


def cell(text: str) -> object:
    """A date cell for 31/01/2026, an empty cell for an empty string, text otherwise."""
    if DATE.match(text):
        return datetime.strptime(text, "%d/%m/%Y")
    return text or None


def build(source: Path = HERE / "tracker.csv", target: Path = HERE / "tracker.xlsx") -> Path:
    with source.open(encoding="utf-8", newline="") as f:
        rows = list(csv.reader(f))
    book = Workbook()
    sheet = book.active
    sheet.title = "Tracker"
    sheet.append(rows[0])
    for row in rows[1:]:
        sheet.append([cell(text) for text in row])
    for heading in sheet[1]:
        heading.font = Font(bold=True)
    for column in sheet.iter_cols(min_row=2):
        for c in column:
            if isinstance(c.value, datetime):
                c.number_format = "dd/mm/yyyy"
    for column in sheet.columns:
        longest = max(len(str(c.value)) if c.value is not None else 0 for c in column)
        sheet.column_dimensions[column[0].column_letter].width = min(60, max(10, longest + 2))
    sheet.freeze_panes = "A2"
    book.properties.creator = "reviewflow docs/examples/make_xlsx.py"
    book.properties.created = MADE
    book.properties.modified = MADE
    book.save(target)
    return target


if __name__ == "__main__":
    print(f"wrote {build()}")
