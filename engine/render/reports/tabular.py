"""A report for analysts: CSV (every table, or one with `--table`) and JSON (every figure).

No CSV cell can start a formula in the spreadsheet that opens it (see `escape.cell_text`)."""

from __future__ import annotations

import csv
import dataclasses
import io
import json
from datetime import date, datetime
from typing import Any

from reviewflow.engine.core.errors import InvalidValue
from reviewflow.engine.core.reports.layout import LIST_JOIN, Layout, Table
from reviewflow.engine.render.escape import cell_text


def csv_value(value: Any) -> Any:
    """A cell as CSV writes it: dates ISO, lists joined, no value empty, numbers as numbers, and a text that a
    spreadsheet would run as a formula (=, +, -, @, tab, CR first) made inert with a leading `'`."""
    if isinstance(value, date | datetime):
        return value.isoformat()
    if isinstance(value, tuple):
        value = LIST_JOIN.join(value)
    if isinstance(value, str):
        return cell_text(value)
    return "" if value is None else value


def _write(writer: Any, t: Table) -> None:
    writer.writerow([cell_text(c) for c in t.columns])
    writer.writerows([csv_value(v) for v in row] for row in t.rows)


def render_csv(layout: Layout, table: str | None = None) -> str:
    """One table as plain CSV, or every table, each under a `[name]` row and followed by a blank line."""
    tables = layout.tables()
    out = io.StringIO()
    writer = csv.writer(out)  # lines end in CRLF (RFC 4180), so a field holding a lone CR is quoted too
    if table is not None:
        chosen = next((t for t in tables if t.name == table), None)
        if chosen is None:
            raise InvalidValue(f"no table {table!r} in this report; tables: {', '.join(t.name for t in tables)}")
        _write(writer, chosen)
        return out.getvalue()
    for t in tables:
        writer.writerow([cell_text(f"[{t.name}]")])
        _write(writer, t)
        writer.writerow([])
    return out.getvalue()


def plain(value: Any) -> Any:
    """Dataclasses (with their computed properties), dates and tuples as plain JSON values."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        data = {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
        for name, member in vars(type(value)).items():
            if isinstance(member, property):
                data[name] = plain(getattr(value, name))
        return data
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [plain(v) for v in value]
    return value


def render_json(kind: str, report: Any) -> str:
    return json.dumps({"report": kind, "figures": plain(report)}, indent=2, ensure_ascii=False) + "\n"
