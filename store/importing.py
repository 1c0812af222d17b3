"""Writes for importing: whole tables from a dump, and cases placed straight into a stage from a tracker.

Read-only queries and inserts over the SQLModel tables; the checks live in engine.dump and engine.tracker.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, func, insert, select, text, update
from sqlalchemy.engine import CursorResult
from sqlmodel import Session, SQLModel, col

from reviewflow.engine.core.records import NewAction
from reviewflow.engine.core.references import ref_key
from reviewflow.store.models import ActionRow, CaseRow, DefinitionRow, HistoryRow, RecommendationRow
from reviewflow.store.time_settings import recorded_at

_CHUNK = 500
"""Rows per multi-row INSERT or IN (...) list: well under SQLite's limit on bound values."""


# --- whole tables (export and import of a dump) ----------------------------------------------------

def tables() -> list[Table]:
    """Every table reviewflow defines, parents before children (so inserts in this order satisfy foreign keys)."""
    return list(SQLModel.metadata.sorted_tables)


def snapshot(s: Session) -> None:
    """Make every read of this (read) transaction see the database at one moment: on PostgreSQL by
    REPEATABLE READ; a SQLite read transaction already does. Call before the first query."""
    if s.get_bind().dialect.name == "postgresql":
        s.connection(execution_options={"isolation_level": "REPEATABLE READ"})


def table_rows(s: Session, table: Table) -> list[dict[str, Any]]:
    """Every row of `table` as {column: value}, ordered by primary key."""
    keys = list(table.primary_key.columns) or list(table.columns)
    result = s.execute(select(table).order_by(*keys))
    return [dict(row) for row in result.mappings()]


def row_counts(s: Session) -> dict[str, int]:
    return {t.name: int(s.execute(select(func.count()).select_from(t)).scalar_one()) for t in tables()}


def clear_definitions(s: Session) -> int:
    """Remove the workflow definitions (those `init` loaded into a new database); return how many."""
    count = int(s.execute(select(func.count()).select_from(DefinitionRow)).scalar_one())
    s.execute(DefinitionRow.__table__.delete())  # type: ignore[attr-defined]
    return count


def clear_tables(s: Session, names: Sequence[str]) -> None:
    """Empty the tables named, children before parents."""
    for table in reversed(tables()):
        if table.name in names:
            s.execute(table.delete())


def insert_rows(s: Session, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    """Insert rows exactly as given, primary keys included."""
    for start in range(0, len(rows), _CHUNK):
        s.execute(insert(table), list(rows[start:start + _CHUNK]))


def reset_sequences(s: Session) -> None:
    """On PostgreSQL, move each id sequence past the highest id, so new rows get fresh ids after an import
    that kept its ids. SQLite needs nothing: a new row takes the highest id plus one."""
    if s.get_bind().dialect.name != "postgresql":
        return
    for table in tables():
        column = table.autoincrement_column
        if column is None:
            continue
        s.execute(text(f'SELECT setval(pg_get_serial_sequence(:table, :column), '
                       f'COALESCE((SELECT MAX("{column.name}") FROM "{table.name}"), 0) + 1, false)'),
                  {"table": table.name, "column": column.name})


# --- cases placed in a stage (tracker import) -------------------------------------------------------

@dataclass(frozen=True)
class NewCase:
    """A case as a tracker knows it: already in `state` since `entered_at`."""

    ref: str
    workflow: str
    version: int
    state: str
    terminal: bool
    fields: dict[str, Any]
    actor: str
    opened_at: datetime
    entered_at: datetime
    due_at: datetime | None
    next_check_at: datetime | None
    note: str
    subgroup: str | None = None
    """Its workflow's sub-group, recorded in the sealed import row as `@subgroup` (store/subgroups.py)."""


def existing_refs(s: Session, refs: Iterable[str]) -> set[str]:
    """Which of `refs` are already case references, letter case and trailing punctuation aside (their keys)."""
    by_key: dict[str, list[str]] = {}
    for ref in dict.fromkeys(refs):
        by_key.setdefault(ref_key(ref), []).append(ref)
    keys = list(by_key)
    found: set[str] = set()
    for start in range(0, len(keys), _CHUNK):
        chunk = keys[start:start + _CHUNK]
        for key in s.execute(select(col(CaseRow.ref_key)).where(col(CaseRow.ref_key).in_(chunk))).scalars():
            found.update(by_key[key])
    return found


def _insert(s: Session, model: Any, **values: Any) -> int:
    """One row by a plain INSERT (no ORM object to build and flush); returns its id."""
    # An INSERT's result is a CursorResult; Session.execute is annotated with the general Result.
    result = cast("CursorResult[Any]", s.execute(insert(model.__table__).values(**values)))
    key = result.inserted_primary_key
    assert key is not None, "a single-row INSERT without RETURNING has an inserted primary key"
    return int(key[0])


def insert_case(s: Session, case: NewCase) -> int:
    """The case row and its one history row (seq 1, trigger `import`, entering the stage); returns its id.

    The history row goes through the session, so the audit chain seals it when the session flushes.
    """
    case_id = _insert(s, CaseRow, ref=case.ref, ref_key=ref_key(case.ref), workflow=case.workflow,
                      version=case.version, state=case.state,
                      is_open=not case.terminal, fields=dict(case.fields), opened_by=case.actor,
                      opened_at=case.opened_at, entered_at=case.entered_at, due_at=case.due_at,
                      closed_at=case.entered_at if case.terminal else None, entry_seq=1,
                      next_check_at=case.next_check_at, subgroup=case.subgroup)
    sealed = {**case.fields, "@subgroup": case.subgroup} if case.subgroup else dict(case.fields)
    s.add(HistoryRow(case_id=case_id, seq=1, at=case.entered_at, actor=case.actor, trigger="import",
                     from_state=None, to_state=case.state, fields=sealed, note=case.note,
                     recorded_at=recorded_at(s)))
    return case_id


def insert_recommendation(s: Session, case_id: int, number: str, text: str, themes: Sequence[str],
                          agencies: Sequence[str], actor: str, now: datetime) -> int:
    return _insert(s, RecommendationRow, case_id=case_id, number=number, text=text, themes=list(themes),
                   agencies=list(agencies), created_by=actor, created_at=now)


def insert_actions(s: Session, case_id: int, recommendation_id: int, actions: Sequence[NewAction], actor: str,
                   now: datetime) -> None:
    rows = [{"case_id": case_id, "recommendation_id": recommendation_id, "number": a.number,
             "description": a.description, "owner_agency": a.owner_agency, "owner": a.owner, "due_date": a.due_date,
             "success_measure": a.success_measure, "status": a.status, "status_reason": a.status_reason,
             "created_by": actor, "created_at": now, "updated_at": now, "next_check_at": a.next_check_at}
            for a in actions]
    if rows:
        s.execute(insert(ActionRow.__table__), rows)  # type: ignore[attr-defined]


def set_case_fields(s: Session, case_id: int, fields: dict[str, Any]) -> None:
    """The case's field values, as a tracker update left them (its history row records the change)."""
    s.execute(update(CaseRow).where(col(CaseRow.id) == case_id).values(fields=dict(fields)))
