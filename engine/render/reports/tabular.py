"""A report for analysts: CSV (every table, or one with `--table`) and JSON (every figure)."""

from __future__ import annotations

import csv
import dataclasses
import io
import json
from datetime import date, datetime
from typing import Any

from reviewflow.engine.core.errors import InvalidValue
from reviewflow.engine.core.reports.layout import LIST_JOIN, Layout, Table


def _csv_value(value: Any) -> Any:
    if isinstance(value, date | datetime):
        return value.isoformat()
    if isinstance(value, tuple):
        return LIST_JOIN.join(value)
    return "" if value is None else value


def _write(writer: Any, t: Table) -> None:
    writer.writerow(t.columns)
    writer.writerows([_csv_value(v) for v in row] for row in t.rows)


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
        writer.writerow([f"[{t.name}]"])
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
