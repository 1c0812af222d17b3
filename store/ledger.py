"""Due-case claims and the escalation ledger: an indexed query over due rows, claimed without overlap."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from types import SimpleNamespace
from typing import Any

from sqlalchemy import bindparam, insert, type_coerce, update
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from reviewflow.engine.core.durations import start_of_day
from reviewflow.engine.core.records import DueCase, LedgerEntry
from reviewflow.store.chain import LEDGER, seal_rows
from reviewflow.store.models import CaseRow, EscalationRow, UTCDateTime
from reviewflow.store.time_settings import recorded_at

_CASES: Any = CaseRow.__table__  # type: ignore[attr-defined]
_LEDGER: Any = EscalationRow.__table__  # type: ignore[attr-defined]


class SharedTime(UTCDateTime):
    """UTCDateTime for statements run over many rows that share a few times (the sweep's `now`, the
    checkpoints of a stage due on one day): each distinct time is converted once, not once per row.
    The values written and read are the same."""

    cache_ok = True

    def result_processor(self, dialect: Any, coltype: Any) -> Any:
        convert = super().result_processor(dialect, coltype)
        assert convert is not None  # UTCDateTime always converts
        # As the driver returns them (text on SQLite, naive datetimes on PostgreSQL): equal means the same.
        return lru_cache(maxsize=1024)(convert)

    def bind_processor(self, dialect: Any) -> Any:
        convert = super().bind_processor(dialect)
        assert convert is not None  # UTCDateTime always converts
        once = lru_cache(maxsize=1024)(convert)

        def process(value: datetime | None) -> Any:
            # Aware UTC times are equal only when they are the same instant: safe to look up.
            return once(value) if value is not None and value.tzinfo is UTC else convert(value)

        return process


class BulkInsert:
    """INSERT of many rows into `table` in one execution, its time columns `times` bound as SharedTime.

    Where the database can return ids from a many-row INSERT, the ids (unused) are asked for: SQLAlchemy
    then sends the rows as multi-row INSERTs, as a flush of ORM objects does, rather than through the
    driver's executemany (on PostgreSQL, psycopg's pipelined executemany reports a connection ended by the
    server as merely closed, hiding the server's reason; on SQLite it is also quicker).
    """

    def __init__(self, table: Any, times: Sequence[str]) -> None:
        self.plain = insert(table).values({name: bindparam(name, type_=SharedTime()) for name in times})
        self.returning = self.plain.returning(table.c.id)

    def run(self, s: Session, rows: list[dict[str, Any]]) -> None:
        connection = s.connection()
        many_returning = connection.dialect.insert_executemany_returning  # SQLite before 3.35 cannot
        connection.execute(self.returning if many_returning else self.plain, rows)


_INSERT = BulkInsert(_LEDGER, ("due_at", "scheduled_at", "fired_at", "recorded_at"))
_SET_NEXT = (update(_CASES).where(_CASES.c.id == bindparam("case_id"))
             .values(next_check_at=bindparam("when", type_=SharedTime())))


_CLAIM_COLUMNS = (_CASES.c.id, _CASES.c.ref, _CASES.c.workflow, _CASES.c.version, _CASES.c.state,
                  type_coerce(_CASES.c.entered_at, SharedTime()), type_coerce(_CASES.c.due_at, SharedTime()),
                  _CASES.c.entry_seq, type_coerce(_CASES.c.next_check_at, SharedTime()))
"""The columns of a case that a DueCase holds, in its fields' order."""


def claim_due(s: Session, now: datetime, limit: int, after: tuple[datetime, int] | None = None,
              lock: bool = True) -> list[DueCase]:
    """Up to `limit` cases due by `now`, oldest first.

    With `lock`, rows are taken FOR UPDATE SKIP LOCKED (PostgreSQL): concurrent sweeps never claim
    the same case, and a claimed case stays locked until this transaction ends. `after` pages a
    read-only preview by (next_check_at, id).
    """
    next_check, case_id = _CASES.c.next_check_at, _CASES.c.id
    query = sa_select(*_CLAIM_COLUMNS).where(next_check <= now)
    if after is not None:
        query = query.where((next_check > after[0]) | ((next_check == after[0]) & (case_id > after[1])))
    query = query.order_by(next_check, case_id).limit(limit)
    if lock:
        query = query.with_for_update(skip_locked=True)
    return [DueCase(*row) for row in s.connection().execute(query)]


def fired_keys(s: Session, case_id: int, entry_seq: int) -> set[str]:
    return set(s.exec(select(EscalationRow.key).where(
        EscalationRow.case_id == case_id, EscalationRow.entry_seq == entry_seq)).all())


def fired_keys_for(s: Session, entries: list[tuple[int, int]]) -> dict[tuple[int, int], set[str]]:
    """fired_keys for many (case id, stage entry) pairs in one query."""
    found: dict[tuple[int, int], set[str]] = {e: set() for e in entries}
    case_ids = sorted({case_id for case_id, _ in entries})
    if case_ids:
        rows = s.connection().execute(select(_LEDGER.c.case_id, _LEDGER.c.entry_seq, _LEDGER.c.key)
                                      .where(_LEDGER.c.case_id.in_(case_ids)))
        for case_id, entry_seq, key in rows:
            if (case_id, entry_seq) in found:
                found[(case_id, entry_seq)].add(key)
    return found


def entry(case: DueCase, key: str, level: int | None, label: str, scheduled_at: datetime, fired_at: datetime,
          roles: Sequence[str], recipients: Sequence[str], reason: str) -> LedgerEntry:
    """A stage's reminder or ladder level, once per (case, stage entry, key)."""
    assert case.due_at is not None
    return LedgerEntry(case.case_id, case.entry_seq, key, level, label, case.state, case.due_at, scheduled_at,
                       fired_at, tuple(roles), tuple(recipients), reason, case.ref)


def action_entry(case_id: int, what: str, due: date, key: str, level: int | None, label: str,
                 scheduled_at: datetime, fired_at: datetime, roles: Sequence[str], recipients: Sequence[str],
                 reason: str) -> LedgerEntry:
    """An overdue action's ladder level: entry 0 of its case, keyed by action, due date and level."""
    return LedgerEntry(case_id, 0, key, level, label, what, start_of_day(due + timedelta(days=1)), scheduled_at,
                       fired_at, tuple(roles), tuple(recipients), reason)


_COLUMNS = ("case_id", "entry_seq", "key", "level", "label", "state", "due_at", "scheduled_at", "fired_at",
            "roles", "recipients", "reason")


def record_many(s: Session, entries: Sequence[LedgerEntry]) -> None:
    """Insert ledger rows in the given order with one statement, sealed into the audit chain exactly as a
    flush of the same rows as ORM objects would have sealed them (which these rows do not go through)."""
    if entries:
        recorded = recorded_at(s)
        rows = [SimpleNamespace(**{c: getattr(e, c) for c in _COLUMNS}, recorded_at=recorded, chain_seq=None,
                                hash=None) for e in entries]
        for row in rows:
            row.roles, row.recipients = list(row.roles), list(row.recipients)
        seal_rows(s, LEDGER, rows)
        _INSERT.run(s, [vars(row) for row in rows])


def set_next_checks(s: Session, when_by_case: dict[int, datetime | None]) -> None:
    """Set when the sweep must next look at each case, in one statement (executemany)."""
    if when_by_case:
        s.connection().execute(_SET_NEXT, [{"case_id": c, "when": w} for c, w in when_by_case.items()])


def entries(s: Session, case_id: int, ref: str) -> list[LedgerEntry]:
    rows = s.exec(select(EscalationRow).where(EscalationRow.case_id == case_id)
                  .order_by(col(EscalationRow.fired_at), col(EscalationRow.id))).all()
    return [LedgerEntry(case_id, r.entry_seq, r.key, r.level, r.label, r.state, r.due_at, r.scheduled_at,
                        r.fired_at, tuple(r.roles), tuple(r.recipients), r.reason, ref, r.recorded_at) for r in rows]


def fired_after(s: Session, case_id: int, entry_seq: int, at: datetime) -> list[LedgerEntry]:
    """The reminders and ladder levels of one stage entry that were sent after `at`, oldest first."""
    rows = s.exec(select(EscalationRow).where(EscalationRow.case_id == case_id, EscalationRow.entry_seq == entry_seq,
                                              col(EscalationRow.fired_at) > at)
                  .order_by(col(EscalationRow.fired_at), col(EscalationRow.id))).all()
    return [LedgerEntry(case_id, r.entry_seq, r.key, r.level, r.label, r.state, r.due_at, r.scheduled_at,
                        r.fired_at, tuple(r.roles), tuple(r.recipients), r.reason, "", r.recorded_at) for r in rows]
