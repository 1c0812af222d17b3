"""Agencies' returns on cases: one row per (case, agency), rows made into records (engine/core/records.py)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from typing import Any

from sqlalchemy import bindparam, insert, select, update
from sqlmodel import Session

from reviewflow.engine.core.agencies import agency_key
from reviewflow.engine.core.records import AgencyReturn, DueReturn
from reviewflow.engine.core.returns import ReturnsSummary, summarise
from reviewflow.store.ledger import SharedTime
from reviewflow.store.models import AgencyReturnRow, CaseRow

_T: Any = AgencyReturnRow.__table__  # type: ignore[attr-defined]
_CASES: Any = CaseRow.__table__  # type: ignore[attr-defined]
_SET_NEXT = (update(_T).where(_T.c.id == bindparam("return_id"))
             .values(next_check_at=bindparam("when", type_=SharedTime())))
_COLUMNS = (_CASES.c.ref, _T.c.agency, _T.c.requested_on, _T.c.due_date, _T.c.status, _T.c.returned_on,
            _T.c.reason, _T.c.requested_by, _CASES.c.workflow, _T.c.case_id, _T.c.id)
"""The columns an AgencyReturn holds, in its fields' order."""


def _records(rows: Iterable[Any]) -> list[AgencyReturn]:
    return [AgencyReturn(*row) for row in rows]


def _joined() -> Any:
    return select(*_COLUMNS).select_from(_T.join(_CASES, _CASES.c.id == _T.c.case_id))


def for_case(s: Session, case_id: int) -> list[AgencyReturn]:
    """A case's returns, by agency name."""
    query = _joined().where(_T.c.case_id == case_id).order_by(_T.c.agency_key)
    return _records(s.connection().execute(query))


def find(s: Session, case_id: int, agency: str) -> AgencyReturn | None:
    query = _joined().where(_T.c.case_id == case_id, _T.c.agency_key == agency_key(agency))
    found = _records(s.connection().execute(query))
    return found[0] if found else None


def add(s: Session, case_id: int, agencies: list[str], requested_on: date, due: date, by: str, now: datetime,
        next_check: datetime | None) -> None:
    """Record requests of each agency (each already checked to be new on the case)."""
    if agencies:
        s.connection().execute(insert(_T), [
            {"case_id": case_id, "agency_key": agency_key(a), "agency": a, "requested_on": requested_on,
             "due_date": due, "status": "requested", "requested_by": by, "updated_at": now,
             "next_check_at": next_check} for a in agencies])


def change(s: Session, return_id: int, now: datetime, **values: Any) -> None:
    """Mark a return in or excuse it: its ladder stops."""
    s.connection().execute(update(_T).where(_T.c.id == return_id).values(updated_at=now, next_check_at=None,
                                                                         **values))


def claim_due(s: Session, now: datetime, limit: int, after: tuple[datetime, int] | None = None,
              lock: bool = True) -> list[DueReturn]:
    """Up to `limit` requested returns of open cases whose next ladder level is due by `now`, oldest first;
    with `lock`, taken FOR UPDATE SKIP LOCKED (PostgreSQL), so concurrent sweeps never claim the same one.
    `after` pages a read-only preview by (next_check_at, id)."""
    next_check, return_id = _T.c.next_check_at, _T.c.id
    query = (select(return_id, _T.c.case_id, _CASES.c.ref, _CASES.c.workflow, _CASES.c.version, _T.c.agency,
                    _T.c.due_date, next_check)
             .select_from(_T.join(_CASES, _CASES.c.id == _T.c.case_id))
             .where(next_check <= now, _T.c.status == "requested", _CASES.c.is_open.is_(True)))
    if after is not None:
        query = query.where((next_check > after[0]) | ((next_check == after[0]) & (return_id > after[1])))
    query = query.order_by(next_check, return_id).limit(limit)
    if lock:
        query = query.with_for_update(of=_T, skip_locked=True)
    return [DueReturn(*row) for row in s.connection().execute(query)]


def set_next_checks(s: Session, when_by_return: dict[int, datetime | None]) -> None:
    if when_by_return:
        s.connection().execute(_SET_NEXT, [{"return_id": r, "when": w} for r, w in when_by_return.items()])


def outstanding(s: Session, case_ids: Iterable[int] | None = None) -> list[AgencyReturn]:
    """Requested returns (neither in nor excused) of open cases, by agency then due date."""
    query = _joined().where(_T.c.status == "requested", _CASES.c.is_open.is_(True))
    if case_ids is not None:
        query = query.where(_T.c.case_id.in_(list(case_ids)))
    return _records(s.connection().execute(query.order_by(_T.c.agency_key, _T.c.due_date, _CASES.c.ref)))


def all_rows(s: Session, case_ids: Iterable[int]) -> dict[int, list[tuple[str, str, date, date | None]]]:
    """(agency key, status, due date, returned on) of each return of the cases, for the audit."""
    found: dict[int, list[tuple[str, str, date, date | None]]] = {}
    rows = s.connection().execute(select(_T.c.case_id, _T.c.agency_key, _T.c.status, _T.c.due_date,
                                         _T.c.returned_on).where(_T.c.case_id.in_(list(case_ids))))
    for case_id, key, status, due, returned_on in rows:
        found.setdefault(case_id, []).append((key, status, due, returned_on))
    return found


def summary(s: Session, case_id: int, today: date) -> ReturnsSummary:
    """A case's returns as guards see them (engine/core/conditions.py `all_returns_in`)."""
    return summarise(((r.agency, r.status, r.due_date) for r in for_case(s, case_id)), today)
