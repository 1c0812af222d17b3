"""Periods of recurring workflows whose cases are open: claimed once, by whichever worker gets there first."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeAlias

from sqlmodel import Session, col, select

from reviewflow.engine.core.records import ScheduleRun
from reviewflow.store.models import ScheduleRunRow

if TYPE_CHECKING:
    from sqlalchemy.dialects import postgresql, sqlite

_DialectInsert: TypeAlias = "Callable[[Any], postgresql.Insert | sqlite.Insert]"
"""`insert` of the PostgreSQL or the SQLite dialect: both have INSERT ... ON CONFLICT DO NOTHING."""


def claim(s: Session, workflow: str, period: str, case_ref: str, scheduled_for: datetime, now: datetime,
          late: bool) -> bool:
    """Record that `period` of `workflow` is being opened; False when it already was (by anyone).

    INSERT ... ON CONFLICT DO NOTHING: a concurrent claim of the same period waits for the first to
    commit and then inserts nothing, so exactly one transaction opens the period's case.
    """
    # The dialect's module is imported here, not at start-up: a command that opens nothing needs neither.
    insert: _DialectInsert
    if s.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as insert_postgresql
        insert = insert_postgresql
    else:
        from sqlalchemy.dialects.sqlite import insert as insert_sqlite
        insert = insert_sqlite
    statement = insert(ScheduleRunRow).values(
        workflow=workflow, period=period, case_ref=case_ref, scheduled_for=scheduled_for, opened_at=now,
        late=late).on_conflict_do_nothing(index_elements=["workflow", "period"]).returning(col(ScheduleRunRow.id))
    return s.execute(statement).first() is not None


def runs(s: Session, workflow: str | None = None) -> list[ScheduleRun]:
    query = select(ScheduleRunRow)
    if workflow:
        query = query.where(ScheduleRunRow.workflow == workflow)
    rows = s.exec(query.order_by(col(ScheduleRunRow.workflow), col(ScheduleRunRow.period))).all()
    return [ScheduleRun(r.workflow, r.period, r.case_ref, r.scheduled_for, r.opened_at, r.late) for r in rows]


def latest(s: Session, workflow: str) -> ScheduleRun | None:
    found = runs(s, workflow)
    return found[-1] if found else None
