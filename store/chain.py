"""The audit chain: every history and escalation-ledger row is sealed when it is written.

A row's seal is SHA-256 over the previous row of the same case's chain (history and ledger are two
chains per case) and the row's own content, including its position in the database-wide sequence.
The `audit_head` row holds how many rows are sealed and a running hash over all seals in order, so a
deleted row (even the last of a case) leaves a gap. Sealing happens in a `before_flush` hook (or, for
rows inserted with Core statements, in `seal_rows`), after taking the head row's lock: writers append
one at a time, so chains never fork.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import bindparam, event, func, insert, select, update
from sqlalchemy.orm import Session as OrmSession

from reviewflow.engine.core.records import AuditFinding
from reviewflow.store.models import AdminEventRow, AuditHeadRow, EscalationRow, HistoryRow

HISTORY = "history"
LEDGER = "ledger"
ADMIN = "admin"
"""Administrators' changes: one chain for the whole database (its rows carry case id 0)."""


def _iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    if value.tzinfo is UTC:  # as the store reads and writes times; rows sealed together share many
        return _utc_iso(value)
    return value.astimezone(UTC).isoformat()


@lru_cache(maxsize=4096)
def _utc_iso(value: datetime) -> str:
    return value.isoformat()


def content(kind: str, row: Any) -> dict[str, Any]:
    """The sealed content of a history, ledger or administration row (columns as the database returns them)."""
    if kind == ADMIN:
        return {"seq": row.seq, "at": _iso(row.at), "actor": row.actor, "action": row.action, "target": row.target,
                "details": row.details, "chain_seq": row.chain_seq}
    if kind == HISTORY:
        return {"case_id": row.case_id, "seq": row.seq, "at": _iso(row.at), "actor": row.actor,
                "trigger": row.trigger, "from_state": row.from_state, "to_state": row.to_state,
                "fields": row.fields, "note": row.note, "chain_seq": row.chain_seq}
    return {"case_id": row.case_id, "entry_seq": row.entry_seq, "key": row.key, "level": row.level,
            "label": row.label, "state": row.state, "due_at": _iso(row.due_at), "fired_at": _iso(row.fired_at),
            "scheduled_at": _iso(row.scheduled_at), "roles": row.roles, "recipients": row.recipients,
            "reason": row.reason, "chain_seq": row.chain_seq}


def genesis(kind: str, case_id: int) -> str:
    """The 'previous seal' of a case chain's first row."""
    return hashlib.sha256(f"reviewflow:{kind}:{case_id}".encode()).hexdigest()


_JSON = json.JSONEncoder(sort_keys=True, ensure_ascii=False, separators=(",", ":"))
"""What json.dumps(..., sort_keys=True, ensure_ascii=False, separators=(",", ":")) writes, made once."""


def seal(previous: str, kind: str, row: Any) -> str:
    body = _JSON.encode(content(kind, row))
    return hashlib.sha256(f"{previous}\n{body}".encode()).hexdigest()


def fold(head: str, row_seal: str) -> str:
    """The running head hash after one more sealed row."""
    return hashlib.sha256(f"{head}\n{row_seal}".encode()).hexdigest()


def _last_seals_query(model: Any) -> Any:
    """The newest seal of each case's chain among the cases bound to `case_ids`."""
    table = model.__table__
    t = table.c
    newest = (select(t.case_id, func.max(t.chain_seq).label("last"))
              .where(t.case_id.in_(bindparam("case_ids", expanding=True)), t.chain_seq.is_not(None))
              .group_by(t.case_id).subquery())
    return (select(t.case_id, t.hash).select_from(table)
            .join(newest, (t.case_id == newest.c.case_id) & (t.chain_seq == newest.c.last)))


_LAST_SEALS = {HISTORY: _last_seals_query(HistoryRow), LEDGER: _last_seals_query(EscalationRow)}
_ADMIN: Any = AdminEventRow.__table__  # type: ignore[attr-defined]
_LAST_ADMIN_SEAL = (select(_ADMIN.c.hash).where(_ADMIN.c.chain_seq.is_not(None))
                    .order_by(_ADMIN.c.chain_seq.desc()).limit(1))


def _last_seals(s: OrmSession, kind: str, case_ids: set[int]) -> dict[int, str]:
    """The newest seal of each case's chain, in one query."""
    if kind == ADMIN:
        return {0: s.connection().execute(_LAST_ADMIN_SEAL).scalar() or genesis(ADMIN, 0)}
    rows = s.connection().execute(_LAST_SEALS[kind], {"case_ids": sorted(case_ids)}).all()
    found = {case_id: row_seal for case_id, row_seal in rows}
    return {case_id: found.get(case_id) or genesis(kind, case_id) for case_id in case_ids}


def _order(kind: str, row: Any) -> tuple[str, int, int, str]:
    """Where a row goes among the rows sealed together: history first, then by case, row and key."""
    return (kind, row.case_id or 0, getattr(row, "seq", 0) or 0, row.key if kind == LEDGER else "")


def _pending(session: OrmSession) -> list[tuple[str, Any]]:
    rows: list[tuple[str, HistoryRow | EscalationRow]] = [
        (HISTORY, o) for o in session.new if isinstance(o, HistoryRow) and o.hash is None]
    rows += [(LEDGER, o) for o in session.new if isinstance(o, EscalationRow) and o.hash is None]
    return sorted(rows, key=lambda r: _order(*r))


_HEAD: Any = AuditHeadRow.__table__  # type: ignore[attr-defined]
_READ_HEAD = select(_HEAD.c.seq, _HEAD.c.hash).where(_HEAD.c.id == 1).with_for_update()
_NEW_HEAD = insert(_HEAD).values(id=1, seq=0, hash="")
_WRITE_HEAD = update(_HEAD).where(_HEAD.c.id == 1).values(seq=bindparam("head_seq"), hash=bindparam("head_hash"))


def _seal(session: OrmSession, pending: list[tuple[str, Any]], known: dict[int, str] | None = None) -> None:
    """Seal `pending` rows in their order: lock and read the head once, read the newest seal of each
    of their cases' chains in one query per kind, seal each row after the one before it, fold every
    seal into the head and write it (Core statements on the session's connection: no flush)."""
    connection = session.connection()
    head = connection.execute(_READ_HEAD).first()
    if head is None:
        connection.execute(_NEW_HEAD)
    seq, running = head if head is not None else (0, "")
    tips: dict[tuple[str, int], str] = {}
    for kind, row in pending:
        if known and row.case_id in known:
            tips[(kind, row.case_id)] = known[row.case_id]
    for kind in (HISTORY, LEDGER, ADMIN):
        case_ids = {row.case_id for k, row in pending if k == kind and (kind, row.case_id) not in tips}
        if case_ids:
            tips.update({(kind, c): h for c, h in _last_seals(session, kind, case_ids).items()})
    for kind, row in pending:
        key = (kind, row.case_id)
        seq += 1
        row.chain_seq = seq
        row.hash = seal(tips[key], kind, row)
        tips[key] = row.hash
        running = fold(running, row.hash)
    connection.execute(_WRITE_HEAD, {"head_seq": seq, "head_hash": running})


@event.listens_for(OrmSession, "before_flush")
def _seal_new_rows(session: OrmSession, _context: Any, _instances: Any) -> None:
    pending = _pending(session)
    if pending:
        _seal(session, pending)


def seal_rows(session: OrmSession, kind: str, rows: Iterable[Any], known: dict[int, str] | None = None) -> None:
    """Seal history or ledger rows about to be inserted without the ORM (so without the before_flush
    hook), exactly as a flush would have sealed them together: same order, same seals, same head.

    `rows` need the columns of `content` as attributes; their `chain_seq` and `hash` are set here.
    `known` gives the newest seal of a case's `kind` chain when the caller has read it in this
    transaction and holds the case against other writers (its revision-checked update is done);
    other cases' are read here. Whatever the session still holds unflushed is flushed (and sealed)
    first, so chains never fork.
    """
    pending = sorted(((kind, row) for row in rows), key=lambda r: _order(*r))
    if pending:
        session.flush()
        _seal(session, pending, known)


# --- verification -------------------------------------------------------------------------------

def check_case(ref: str, kind: str, rows: Iterable[Any], case_id: int) -> AuditFinding | None:
    """The first break in one case's chain (rows in write order), or None."""
    previous = genesis(kind, case_id)
    last_seq = 0
    numbered = kind in (HISTORY, ADMIN)
    noun = "event" if kind == ADMIN else "row"
    for row in rows:
        label = f"{noun} {row.seq}" if numbered else f"entry {row.key}"
        if numbered and row.seq != last_seq + 1:
            return AuditFinding(ref, kind, f"{noun} {last_seq + 1}", "is missing: deleted outside reviewflow")
        last_seq = getattr(row, "seq", last_seq)
        if row.hash is None or row.chain_seq is None:
            return AuditFinding(ref, kind, label, "has no seal: inserted outside reviewflow")
        if seal(previous, kind, row) != row.hash:
            what = ("does not match its seal: it was edited outside reviewflow" if numbered else
                    "does not match its seal: it was edited, or an entry before it deleted, outside reviewflow")
            return AuditFinding(ref, kind, label, what)
        previous = row.hash
    return None


def check_sequence(seals: list[tuple[int, str]], head_seq: int, head_hash: str) -> str | None:
    """The database-wide check: positions 1..head_seq, each once, folding to the head hash."""
    running = ""
    expected = 1
    for position, row_seal in sorted(seals):
        if position != expected:
            if position < expected:
                return f"position {position} appears twice: a row was inserted outside reviewflow"
            return f"position {expected} is missing: a sealed row was deleted outside reviewflow"
        running = fold(running, row_seal)
        expected += 1
    if expected - 1 != head_seq:
        return (f"the chain head says {head_seq} rows are sealed but {expected - 1} were found: "
                "the last rows were deleted outside reviewflow")
    if running != head_hash:
        return "the chain head's hash does not match the sealed rows: rows were altered outside reviewflow"
    return None
