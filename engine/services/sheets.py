"""Reading a tracker spreadsheet: a .csv or .xlsx file's cells, made into a `Sheet` by the core.

CSV files are decoded as UTF-8 (with or without its byte-order mark) or else Windows-1252; .xlsx
workbooks are read with openpyxl, values only, from the sheet the mapping names or the first one.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

from reviewflow.engine.core.errors import InvalidValue, Problem
from reviewflow.engine.core.tracker.cells import Sheet, sheet_from_rows
from reviewflow.engine.core.tracker.mapping import InvalidMapping, TrackerMapping


def _decode(data: bytes, name: str) -> str:
    if data.startswith(b"\xef\xbb\xbf"):
        return data.decode("utf-8-sig")
    for encoding in ("utf-8", "cp1252"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise InvalidValue(f"{name} is not readable as UTF-8 or Windows-1252 text: save it again as "
                       "'CSV UTF-8 (comma delimited)'")


def _csv_rows(path: Path, delimiter: str) -> list[tuple[Any, ...]]:
    try:
        text = _decode(path.read_bytes(), path.name)
    except OSError as exc:
        raise InvalidValue(f"cannot read {path}: {exc.strerror or exc}") from None
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    rows: list[tuple[Any, ...]] = []
    try:
        rows.extend(tuple(r) for r in reader)
    except csv.Error as exc:
        raise InvalidValue(f"{path.name} row {len(rows) + 1} is not readable as CSV ({exc}): check its quotes, "
                           "or save the file again from the spreadsheet") from None
    return rows


def _xlsx_rows(path: Path, mapping: TrackerMapping) -> list[tuple[Any, ...]]:
    from zipfile import BadZipFile

    import openpyxl
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except OSError as exc:
        raise InvalidValue(f"cannot read {path}: {exc.strerror or exc}") from None
    except (BadZipFile, InvalidFileException, KeyError, ValueError) as exc:
        raise InvalidValue(f"{path.name} is not a readable .xlsx workbook ({exc}): save it from the spreadsheet as "
                           ".xlsx, or as CSV") from None
    try:
        if mapping.sheet is not None and mapping.sheet not in book.sheetnames:
            raise InvalidMapping([Problem(mapping.file, "sheet", f"{path.name} has no sheet {mapping.sheet!r}; its "
                                          f"sheets: {', '.join(book.sheetnames)}", mapping.lines.get(("sheet",)))])
        sheet = book[mapping.sheet] if mapping.sheet else book.worksheets[0]
        return [tuple(r) for r in sheet.iter_rows(min_row=1, values_only=True)]
    finally:
        book.close()


def read_sheet(path: Path, mapping: TrackerMapping) -> Sheet:
    """The header and non-blank rows of a .csv or .xlsx file."""
    suffix = path.suffix.lower()
    if suffix == ".csv":
        rows = _csv_rows(path, mapping.delimiter)
    elif suffix in (".xlsx", ".xlsm"):
        rows = _xlsx_rows(path, mapping)
    else:
        raise InvalidValue(f"{path.name}: give a .csv or .xlsx file (save a .xls or .ods file as .xlsx first)")
    return sheet_from_rows(path.name, rows)
