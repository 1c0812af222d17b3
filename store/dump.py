"""The dump: every table and column as one JSON text, and back exactly (`reviewflow export`, `import dump`).

The dump is written from the table metadata (`store.importing.tables()`), so a column added later is
exported and imported without a change here. Datetimes are ISO 8601 with their offset, dates ISO, JSON
columns JSON; rows are in primary-key order, one per line, so two dumps of the same data are identical
apart from `exported_at`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Column, Date, DateTime, Integer, String, Table
from sqlalchemy.types import TypeDecorator

from reviewflow.engine.core.errors import InvalidValue
from reviewflow.engine.core.notices import redact_url, redact_urls
from reviewflow.engine.core.references import ref_key
from reviewflow.store import importing
from reviewflow.store.models import UTCDateTime

FORMAT = "reviewflow-dump"
FORMAT_VERSION = 1
"""Bumped when the layout of the file (not the set of tables or columns) changes."""
REPLACED_ON_IMPORT = ("workflow_definitions", "admin_events", "audit_head", "users", "user_roles", "auth_sessions",
                      "api_tokens", "setup_codes", "login_failures", "database_settings", "agencies", "subgroups",
                      "learning_themes")
"""The tables a new database already holds rows of (what `init` makes: the definitions, the first administrator,
the log of both, the register of agencies, the sub-groups the definitions name, the shipped learning themes): the
dump's rows replace them."""
_MAX_LISTED = 20


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("reviewflow")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree that was never installed
        return "unknown"


_KINDS = ((JSON, "json"), (DateTime, "datetime"), (Date, "date"), (Boolean, "bool"), (Integer, "int"),
          (String, "str"))


def _kind(column: Column[Any]) -> str:
    """What a column holds, from its SQL type (a decorated type by what it stores)."""
    sql_type = column.type.impl_instance if isinstance(column.type, TypeDecorator) else column.type
    return next((name for base, name in _KINDS if isinstance(sql_type, base)), "any")


def _encode(column: Column[Any], value: Any) -> Any:
    """The JSON form of one stored value: every exported cell passes through here."""
    if value is None:
        return None
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


# --- export ----------------------------------------------------------------------------------------

def _sort_key(table: Table) -> Any:
    keys = [c.name for c in table.primary_key.columns] or [c.name for c in table.columns]
    return lambda row: tuple((v is None, v) for v in (row[k] for k in keys))


def _lines(header: Mapping[str, Any], tables: Mapping[str, list[dict[str, Any]]]) -> Iterator[str]:
    yield "{\n"
    for key, value in header.items():
        yield f"  {json.dumps(key)}: {json.dumps(value, ensure_ascii=False)},\n"
    yield '  "tables": {'
    for i, (name, rows) in enumerate(tables.items()):
        yield ("\n" if i == 0 else ",\n") + f"    {json.dumps(name)}: ["
        for j, row in enumerate(rows):
            yield ("\n" if j == 0 else ",\n") + "      " + json.dumps(row, ensure_ascii=False)
        yield "\n    ]" if rows else "]"
    yield "\n  }\n}\n"


def _without_secrets(row: dict[str, Any]) -> dict[str, Any]:
    """An outbox row with any webhook URL (for a chat tool, the credential) cut to scheme://host/…."""
    return {**row, "address": redact_url(row.get("address")) if row.get("channel") == "webhook" else row.get("address"),
            "last_error": redact_urls(row.get("last_error"))}


def dump_text(s: Any, now: datetime) -> tuple[str, dict[str, int]]:
    """Every row of every table as dump text, read in the caller's (read) transaction at one moment,
    and the row count of each table."""
    tables: dict[str, list[dict[str, Any]]] = {}
    importing.snapshot(s)
    for table in importing.tables():
        rows = sorted(importing.table_rows(s, table), key=_sort_key(table))
        tables[table.name] = [{c.name: _encode(c, row[c.name]) for c in table.columns} for row in rows]
    if "outbox" in tables:
        tables["outbox"] = [_without_secrets(row) for row in tables["outbox"]]
    counts = {name: len(rows) for name, rows in tables.items()}
    header = {"format": FORMAT, "format_version": FORMAT_VERSION, "reviewflow_version": _version(),
              "exported_at": now.isoformat(), "counts": counts}
    return "".join(_lines(header, tables)), counts


# --- reading a dump --------------------------------------------------------------------------------

def _decode_datetime(column: Column[Any], value: Any) -> datetime:
    expected = ValueError("an ISO date-time with its offset, e.g. 2026-01-05T09:00:00+00:00")
    try:
        parsed = datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        raise expected from None
    if parsed is None or (isinstance(column.type, UTCDateTime) and parsed.tzinfo is None):
        raise expected
    return parsed


def _decode_date(value: Any) -> date:
    expected = ValueError("an ISO date, e.g. 2026-01-05")
    if not isinstance(value, str) or len(value) != 10:
        raise expected
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise expected from None


_PLAIN: dict[str, tuple[type, str]] = {"int": (int, "a whole number"), "bool": (bool, "true or false"),
                                       "str": (str, "text")}


def _decode(column: Column[Any], value: Any) -> Any:
    """The stored value of one dump cell; ValueError naming what was expected."""
    kind = _kind(column)
    if value is None or kind in ("json", "any"):
        return value
    if kind == "datetime":
        return _decode_datetime(column, value)
    if kind == "date":
        return _decode_date(value)
    expected, words = _PLAIN[kind]
    if not isinstance(value, expected) or (expected is int and isinstance(value, bool)):
        raise ValueError(words)
    return value


@dataclass
class _Reader:
    """Checks a parsed dump, collecting every problem before refusing."""

    source: str
    problems: list[str]

    def header(self, data: Any) -> Mapping[str, Any]:
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise InvalidValue(f"{self.source} is not a reviewflow dump (it has no \"format\": \"{FORMAT}\"): "
                               "make one with 'reviewflow export --format json'")
        version = data.get("format_version")
        if version != FORMAT_VERSION:
            newer = isinstance(version, int) and not isinstance(version, bool) and version > FORMAT_VERSION
            raise InvalidValue(f"{self.source} is a dump of format version {version!r}; this reviewflow reads "
                               f"version {FORMAT_VERSION}" + (": upgrade reviewflow to import it" if newer else ""))
        if not isinstance(data.get("tables"), dict):
            raise InvalidValue(f"{self.source} has no \"tables\" object: the file is incomplete; export it again")
        return data

    def table(self, name: str, rows: Any, known: Mapping[str, Table], counts: Mapping[str, Any]) -> list[dict]:
        table = known.get(name)
        if table is None:
            self.problems.append(f"table {name!r} is not a reviewflow table (known: {', '.join(known)}): "
                                 "the dump comes from another program or a newer reviewflow")
            return []
        if not isinstance(rows, list):
            self.problems.append(f"table {name}: expected a list of rows")
            return []
        if name in counts and counts[name] != len(rows):
            self.problems.append(f"table {name}: the header counts {counts[name]} rows but the file holds "
                                 f"{len(rows)}: the file is incomplete or was edited; export it again")
        return [self.row(table, i, row) for i, row in enumerate(rows, 1)]

    def row(self, table: Table, number: int, row: Any) -> dict[str, Any]:
        where = f"table {table.name} row {number}"
        if not isinstance(row, dict):
            self.problems.append(f"{where}: expected an object of column values")
            return {}
        for name in row:
            if name not in table.columns:
                self.problems.append(f"{where}: table {table.name} has no column {name!r} (its columns: "
                                     f"{', '.join(table.columns.keys())}): the dump comes from a newer reviewflow")
        decoded: dict[str, Any] = {}
        for column in table.columns:
            if column.name not in row:
                if not (column.nullable or column.default is not None or column.server_default is not None
                        or column is table.autoincrement_column):
                    self.problems.append(f"{where}: no value for column {column.name}, which is required")
                continue
            value = row[column.name]
            if value is None and not column.nullable:
                self.problems.append(f"{where}: column {column.name} is empty (null) but is required")
                continue
            try:
                decoded[column.name] = _decode(column, value)
            except ValueError as exc:
                self.problems.append(f"{where}: column {column.name} holds {value!r}; expected {exc}")
        return decoded


def read_dump(text: str, source: str) -> tuple[Mapping[str, Any], dict[str, list[dict[str, Any]]]]:
    """The header and the decoded rows of each table; InvalidValue listing every problem found."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidValue(f"{source} is not a reviewflow dump: not JSON ({exc.msg} at line {exc.lineno}, "
                           f"column {exc.colno})") from None
    reader = _Reader(source, [])
    header = reader.header(data)
    known = {t.name: t for t in importing.tables()}
    found_counts = header.get("counts")
    counts: Mapping[str, Any] = found_counts if isinstance(found_counts, dict) else {}
    rows = {name: reader.table(name, value, known, counts) for name, value in header["tables"].items()}
    for case in rows.get("cases", []):  # a dump from before reference keys has none; a key is always its ref's
        if isinstance(case.get("ref"), str):
            case["ref_key"] = ref_key(case["ref"])
    if reader.problems:
        shown = reader.problems[:_MAX_LISTED]
        more = len(reader.problems) - len(shown)
        raise InvalidValue(f"{source} cannot be imported:\n  " + "\n  ".join(shown)
                           + (f"\n  ... and {more} more" if more else ""))
    return header, rows


# --- import ----------------------------------------------------------------------------------------

def _refuse_data(shown: str, held: Mapping[str, int]) -> InvalidValue:
    first = [name for name in ("cases", "users") if name in held]
    rest = sum(n for name, n in held.items() if name not in first)
    what = ", ".join([f"{held[name]} {name}" for name in first] + ([f"{rest} other rows"] if rest else []))
    return InvalidValue(f"the database {shown} already holds data ({what}): a dump is imported only into a new "
                        "database; create one with 'reviewflow --db NEW_URL init' and import into that")


def load_rows(s: Any, rows: Mapping[str, list[dict[str, Any]]], shown: str) -> int:
    """Insert a dump's rows into an empty database in the caller's transaction, keeping every id; returns
    how many workflow definitions (those `init` loaded) the dump's replaced."""
    held = {name: n for name, n in importing.row_counts(s).items() if n and name not in REPLACED_ON_IMPORT}
    if held:
        raise _refuse_data(shown, held)
    replaced = importing.clear_definitions(s)
    importing.clear_tables(s, REPLACED_ON_IMPORT)
    for table in importing.tables():
        importing.insert_rows(s, table, rows.get(table.name, []))
    importing.reset_sequences(s)
    return replaced
