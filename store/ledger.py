"""Due-case claims and the escalation ledger: an indexed query over due rows, claimed without overlap."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import bindparam, update
from sqlmodel import Session, col, select

from engine.durations import start_of_day
from store.models import CaseRow, EscalationRow


@dataclass(frozen=True)
class DueCase:
    """An open, unpaused case whose next reminder or ladder level is due."""

    case_id: int
    ref: str
    workflow: str
    version: int
    state: str
    entered_at: datetime
    due_at: datetime | None
    entry_seq: int
    next_check_at: datetime


@dataclass(frozen=True)
class LedgerEntry:
    ref: str
    entry_seq: int
    key: str
    level: int | None
    label: str
    state: str
    due_at: datetime
    scheduled_at: datetime
    fired_at: datetime
    roles: list[str]
    recipients: list[str]
    reason: str


def _due(row: CaseRow) -> DueCase:
    assert row.id is not None
    assert row.next_check_at is not None
    return DueCase(row.id, row.ref, row.workflow, row.version, row.state, row.entered_at, row.due_at,
                   row.entry_seq, row.next_check_at)


def claim_due(s: Session, now: datetime, limit: int, after: tuple[datetime, int] | None = None,
              lock: bool = True) -> list[DueCase]:
    """Up to `limit` cases due by `now`, oldest first.

    With `lock`, rows are taken FOR UPDATE SKIP LOCKED (PostgreSQL): concurrent sweeps never claim
    the same case, and a claimed case stays locked until this transaction ends. `after` pages a
    read-only preview by (next_check_at, id).
    """
    query = select(CaseRow).where(col(CaseRow.next_check_at) <= now)
    if after is not None:
        query = query.where((col(CaseRow.next_check_at) > after[0])
                            | ((col(CaseRow.next_check_at) == after[0]) & (col(CaseRow.id) > after[1])))
    query = query.order_by(col(CaseRow.next_check_at), col(CaseRow.id)).limit(limit)
    if lock:
        query = query.with_for_update(skip_locked=True)
    return [_due(r) for r in s.exec(query).all()]


def fired_keys(s: Session, case_id: int, entry_seq: int) -> set[str]:
    return set(s.exec(select(EscalationRow.key).where(
        EscalationRow.case_id == case_id, EscalationRow.entry_seq == entry_seq)).all())


def fired_keys_for(s: Session, entries: list[tuple[int, int]]) -> dict[tuple[int, int], set[str]]:
    """fired_keys for many (case id, stage entry) pairs in one query."""
    found: dict[tuple[int, int], set[str]] = {e: set() for e in entries}
    case_ids = sorted({case_id for case_id, _ in entries})
    if case_ids:
        rows = s.exec(select(EscalationRow.case_id, EscalationRow.entry_seq, EscalationRow.key)
                      .where(col(EscalationRow.case_id).in_(case_ids))).all()
        for case_id, entry_seq, key in rows:
            if (case_id, entry_seq) in found:
                found[(case_id, entry_seq)].add(key)
    return found


def record(s: Session, case: DueCase, key: str, level: int | None, label: str, scheduled_at: datetime,
           fired_at: datetime, roles: list[str], recipients: list[str], reason: str) -> None:
    assert case.due_at is not None
    s.add(EscalationRow(case_id=case.case_id, entry_seq=case.entry_seq, key=key, level=level, label=label,
                        state=case.state, due_at=case.due_at, scheduled_at=scheduled_at, fired_at=fired_at,
                        roles=roles, recipients=recipients, reason=reason))


def record_action(s: Session, case_id: int, what: str, due: date, key: str, level: int | None, label: str,
                  scheduled_at: datetime, fired_at: datetime, roles: list[str], recipients: list[str],
                  reason: str) -> None:
    """An overdue action's ladder level: entry 0 of its case, keyed by action, due date and level."""
    s.add(EscalationRow(case_id=case_id, entry_seq=0, key=key, level=level, label=label, state=what,
                        due_at=start_of_day(due + timedelta(days=1)), scheduled_at=scheduled_at,
                        fired_at=fired_at, roles=roles, recipients=recipients, reason=reason))


def set_next_checks(s: Session, when_by_case: dict[int, datetime | None]) -> None:
    """Set when the sweep must next look at each case, in one statement (executemany)."""
    if when_by_case:
        s.connection().execute(update(CaseRow).where(col(CaseRow.id) == bindparam("case_id"))
                               .values(next_check_at=bindparam("when")),
                               [{"case_id": c, "when": w} for c, w in when_by_case.items()])


def entries(s: Session, case_id: int, ref: str) -> list[LedgerEntry]:
    rows = s.exec(select(EscalationRow).where(EscalationRow.case_id == case_id)
                  .order_by(col(EscalationRow.fired_at), col(EscalationRow.id))).all()
    return [LedgerEntry(ref, r.entry_seq, r.key, r.level, r.label, r.state, r.due_at, r.scheduled_at,
                        r.fired_at, list(r.roles), list(r.recipients), r.reason) for r in rows]
