"""A report as an Excel workbook for analysts: a cover sheet, then one sheet per table with typed cells.

Numbers are numbers, dates are dates (shown as yyyy-mm-dd) and a list is one text of its items, so a
spreadsheet can sum, sort and filter the figures without retyping them. The key figures, which the
layout holds as text, become numbers again ("12" a whole number, "66.7%" a percentage).
"""

from __future__ import annotations

import io
import re
from datetime import UTC, date, datetime
from typing import Any
from zipfile import ZIP_DEFLATED, ZipFile

from reviewflow.engine.core.reports.layout import EMPTY_CELL, LIST_JOIN, Cell, Layout, Table
from reviewflow.engine.render.escape import cell_text

MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
DATE_FORMAT = "yyyy-mm-dd"
PERCENT_FORMAT = "0.0%"
SHEET_NAME_LENGTH = 31
"""Excel refuses a longer sheet name."""
_BAD_SHEET_CHARACTERS = re.compile(r"[\[\]:*?/\\]")
_WHOLE = re.compile(r"-?\d+")
_PERCENT = re.compile(r"(-?\d+(?:\.\d+)?)%")
_ILLEGAL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")
"""Control characters an XLSX file cannot hold (openpyxl refuses them): dropped from text cells."""


def xlsx_value(value: Cell) -> Any:
    """A layout cell as a typed spreadsheet value: numbers and dates kept, lists joined, no value empty."""
    if value is None:
        return None
    if isinstance(value, tuple):
        value = LIST_JOIN.join(value)
    if isinstance(value, str):
        text = _ILLEGAL.sub("", value).replace("\r\n", "\n").replace("\r", "\n")
        return cell_text(text) if text.strip() else None
    return value


def _as_text(cell: Any, value: Any) -> None:
    """Keep every text a text: a value from a case must never become a formula (openpyxl would make one of a
    text starting with '='; `xlsx_value` has already given a formula-looking text a leading `'`)."""
    if isinstance(value, str):
        cell.data_type = "s"


def figure_value(text: str) -> Any:
    """A key figure (held as text) as a number where it is one: '12' -> 12, '66.7%' -> 0.667, '–' -> empty."""
    if text == EMPTY_CELL:
        return None
    if _WHOLE.fullmatch(text):
        return int(text)
    found = _PERCENT.fullmatch(text)
    if found:
        return float(found.group(1)) / 100
    return xlsx_value(text)


def sheet_name(name: str, taken: set[str]) -> str:
    """A valid, unique sheet name for table `name` (at most 31 characters, none of []:*?/\\)."""
    base = _BAD_SHEET_CHARACTERS.sub("_", name)[:SHEET_NAME_LENGTH] or "table"
    chosen, number = base, 2
    while chosen.casefold() in taken:
        suffix = f"~{number}"
        chosen, number = base[:SHEET_NAME_LENGTH - len(suffix)] + suffix, number + 1
    taken.add(chosen.casefold())
    return chosen


def _style(cell: Any, value: Any) -> None:
    if isinstance(value, datetime):
        cell.number_format = f"{DATE_FORMAT} hh:mm"
    elif isinstance(value, date):
        cell.number_format = DATE_FORMAT


def _widths(sheet: Any, rows: list[list[Any]]) -> None:
    from openpyxl.utils import get_column_letter

    for index in range(max((len(r) for r in rows), default=0)):
        longest = max((len(str(r[index])) for r in rows if index < len(r) and r[index] is not None), default=8)
        sheet.column_dimensions[get_column_letter(index + 1)].width = min(max(longest + 2, 8), 60)


def _table_sheet(book: Any, t: Table, name: str) -> None:
    from openpyxl.styles import Font

    sheet = book.create_sheet(name)
    columns = [cell_text(c) for c in t.columns]
    sheet.append(columns)
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    rows: list[list[Any]] = [columns]
    for row in t.rows:
        values = [figure_value(v) if t.name == "key_figures" and isinstance(v, str) and i == 1 else xlsx_value(v)
                  for i, v in enumerate(row)]
        sheet.append(values)
        rows.append(values)
        for cell, value in zip(sheet[sheet.max_row], values, strict=False):
            _style(cell, value)
            _as_text(cell, value)
            if t.name == "key_figures" and isinstance(value, float):
                cell.number_format = PERCENT_FORMAT
    sheet.freeze_panes = "A2"
    _widths(sheet, rows)


def _cover(book: Any, layout: Layout, sheets: list[tuple[str, Table]]) -> None:
    from openpyxl.styles import Font

    cover = book.active
    cover.title = "report"
    cover.append([layout.title])
    cover["A1"].font = Font(bold=True, size=14)
    for line in layout.header:
        cover.append([xlsx_value(line)])
    cover.append([])
    cover.append(["sheet", "what it holds", "rows"])
    for cell in cover[cover.max_row]:
        cell.font = Font(bold=True)
    for name, t in sheets:
        cover.append([name, t.title, len(t.rows)])
    cover.append([])
    cover.append(["How these figures are worked out"])
    cover[cover.max_row][0].font = Font(bold=True)
    for line in layout.method:
        cover.append([xlsx_value(line)])
    for row in cover.iter_rows():
        for cell in row:
            _as_text(cell, cell.value)
    cover.column_dimensions["A"].width = 34
    cover.column_dimensions["B"].width = 60


def render_xlsx(layout: Layout, generated_at: datetime | None = None) -> bytes:
    """Every table of the report as a sheet of its own, after a cover sheet listing them."""
    from openpyxl import Workbook
    from openpyxl.writer.excel import ExcelWriter

    book = Workbook()
    taken = {"report"}
    sheets = [(sheet_name(t.name, taken), t) for t in layout.tables()]
    _cover(book, layout, sheets)
    for name, t in sheets:
        _table_sheet(book, t, name)
    book.properties.title = layout.title
    book.properties.creator = "reviewflow"
    if generated_at is not None:  # the report's own time, not the clock of the machine writing the file
        stamp = generated_at if generated_at.tzinfo is None else generated_at.astimezone(UTC).replace(tzinfo=None)
        book.properties.created = book.properties.modified = stamp
    buffer = io.BytesIO()
    with ZipFile(buffer, "w", ZIP_DEFLATED, allowZip64=True) as archive:
        ExcelWriter(book, archive).save()
    return buffer.getvalue()
