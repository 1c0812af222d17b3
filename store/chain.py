"""The audit chain: every history, escalation-ledger and administration row is sealed when it is written.

A row's seal is HMAC-SHA256, with the audit key kept outside the database (`AuditKey`), over the previous
row of the same chain (history and ledger are two chains per case, the administration log one) and the
row's own content, including its position in the database-wide sequence. The `audit_head` row holds how
many rows are sealed, a running keyed hash over all seals in order and how many notifications were ever
queued, and is sealed itself (`head_mac`), so a deleted row (even the last of a case) leaves a gap. A
database made before keyed seals (`scheme` `sha256`) goes on sealing with plain SHA-256 until
`audit rekey` reseals it. Sealing happens in a `before_flush` hook (or, for
rows inserted with Core statements, in `seal_rows`), after taking the head row's lock: writers append
one at a time, so chains never fork.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
from collections.abc import Iterable
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any, cast

from sqlalchemy import bindparam, event, func, insert, select, update
from sqlalchemy.orm import Session as OrmSession

from reviewflow.engine.core.errors import StoreError
from reviewflow.engine.core.records import AuditFinding
from reviewflow.store.models import AdminEventRow, AuditHeadRow, EscalationRow, HistoryRow

HISTORY = "history"
LEDGER = "ledger"
ADMIN = "admin"
"""Administrators' changes: one chain for the whole database (its rows carry case id 0)."""

UNKEYED = "sha256"
"""The sealing scheme of databases made before keyed seals: plain SHA-256 (`audit rekey` moves them on)."""
KEYED = "hmac-sha256"
"""HMAC-SHA256 with the audit key, which is kept outside the database."""
KEY_ENV = "REVIEWFLOW_AUDIT_KEY_FILE"
AUDIT_KEY = "reviewflow_audit_key"
"""Where a session's `info` holds the database's `AuditKey` (set by store/db.py's Database)."""
_KEY_BYTES = 32


def create_key_file(path: str) -> None:
    """Make an audit key file at `path`: a fresh random key, mode 0600 whatever the umask (kept if another
    process made it first)."""
    try:
        handle = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process made it first: use theirs
        return
    except OSError as exc:
        raise StoreError(f"cannot create the audit key file {path} ({exc.strerror}): check the folder is "
                         f"writable, or name a key file with {KEY_ENV}") from None
    with os.fdopen(handle, "w") as out:
        out.write(secrets.token_hex(_KEY_BYTES) + "\n")


class AuditKey:
    """Where the audit key is kept, read when first needed: a configured file, else (SQLite) `<db file>.audit-key`.

    A missing file is created (mode 0600, a fresh random key) only while the database has nothing sealed with a
    key yet; afterwards a missing key is refused, since a new one could not verify what was sealed."""

    def __init__(self, file: str | None, beside: str | None) -> None:
        self.file = file or beside
        self.configured = bool(file)
        self._key: bytes | None = None

    def get(self, may_create: bool) -> bytes:
        if self._key is not None:
            return self._key
        if self.file is None:
            raise StoreError(f"no audit key: a PostgreSQL database needs a key file named by {KEY_ENV} or by "
                             "`key_file` in the [audit] section of reviewflow.toml (make one with "
                             "'openssl rand -hex 32 > FILE' and 'chmod 600 FILE'; keep a copy off the server)")
        if not os.path.exists(self.file):
            if not may_create:
                raise StoreError(f"the audit key file {self.file} is missing but this database's seals are keyed: "
                                 "restore the key file from where you keep its copy")
            create_key_file(self.file)
        self._key = self._read(self.file)
        return self._key

    @staticmethod
    def _read(path: str) -> bytes:
        try:
            with open(path, "rb") as source:
                raw = source.read().strip()
        except OSError as exc:
            raise StoreError(f"cannot read the audit key file {path} ({exc.strerror}): check its permissions") from None
        try:
            key = bytes.fromhex(raw.decode("ascii"))
        except (UnicodeDecodeError, ValueError):
            key = raw
        if len(key) < 16:
            raise StoreError(f"the audit key file {path} holds too short a key: write at least 32 random bytes "
                             "to it, e.g. 'openssl rand -hex 32 > FILE', before anything is sealed with it")
        return key


def session_key(session: OrmSession, may_create: bool = False) -> bytes:
    """The audit key of the database `session` works on."""
    source = session.info.get(AUDIT_KEY)
    if not isinstance(source, AuditKey):
        raise StoreError("no audit key is known for this database session: open it through reviewflow's Database")
    return source.get(may_create)


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
    """The sealed content of a history, ledger or administration row (columns as the database returns them).

    The server's `recorded_at` is sealed when the row has one: rows written before it was kept have none and
    keep their seals."""
    found = _columns(kind, row)
    recorded = getattr(row, "recorded_at", None)
    if recorded is not None:
        found["recorded_at"] = _iso(recorded)
    return found


def _columns(kind: str, row: Any) -> dict[str, Any]:
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


@lru_cache(maxsize=8)
def _keyed(key: bytes) -> Any:
    return hmac.new(key, digestmod=hashlib.sha256)


def digest(key: bytes | None, text: str) -> str:
    """SHA-256 of `text` (unkeyed, the old scheme) or its HMAC-SHA256 with `key`."""
    if key is None:
        return hashlib.sha256(text.encode()).hexdigest()
    mac = _keyed(key).copy()
    mac.update(text.encode())
    return str(mac.hexdigest())


def seal(previous: str, kind: str, row: Any, key: bytes | None = None) -> str:
    body = _JSON.encode(content(kind, row))
    return digest(key, f"{previous}\n{body}")


def fold(head: str, row_seal: str, key: bytes | None = None) -> str:
    """The running head hash after one more sealed row."""
    return digest(key, f"{head}\n{row_seal}")


def head_mac(key: bytes, seq: int, head_hash: str, queued: int) -> str:
    """The keyed seal of the head row itself: how many rows are sealed, their running hash, and how many
    notifications were ever queued (so a deleted notification, or a rewound head, is found)."""
    return digest(key, f"reviewflow:head:{KEYED}:{seq}:{head_hash}:{queued}")


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
_READ_HEAD = (select(_HEAD.c.seq, _HEAD.c.hash, _HEAD.c.scheme, _HEAD.c.queued).where(_HEAD.c.id == 1)
              .with_for_update())
_NEW_HEAD = insert(_HEAD).values(id=1, seq=0, hash="", scheme=KEYED, queued=0)
_WRITE_HEAD = update(_HEAD).where(_HEAD.c.id == 1).values(
    seq=bindparam("head_seq"), hash=bindparam("head_hash"), queued=bindparam("head_queued"), mac=bindparam("head_mac"))


_HEAD_HELD = "reviewflow_head"
"""Where a session's `info` keeps the head as this transaction last read or wrote it: the row stays locked until
the transaction ends, so no other writer can change it meanwhile."""


def _lock_head(session: OrmSession) -> tuple[int, str, bytes | None, int]:
    """Lock the head row (making it on a new database): (sealed rows, running hash, key or None, queued)."""
    held = session.info.get(_HEAD_HELD)
    if held is not None:
        return cast(tuple[int, str, bytes | None, int], held)
    connection = session.connection()
    head = connection.execute(_READ_HEAD).first()
    if head is None:
        connection.execute(_NEW_HEAD)
        seq, running, scheme, queued = 0, "", KEYED, 0
    else:
        seq, running, scheme, queued = (*head, KEYED, 0)[:4]  # (a benchmark reads the first two alone)
    key = session_key(session, may_create=seq == 0 and not queued) if scheme == KEYED else None
    session.info[_HEAD_HELD] = (seq, running, key, queued or 0)
    return seq, running, key, queued or 0


def _write_head(session: OrmSession, seq: int, running: str, key: bytes | None, queued: int) -> None:
    session.connection().execute(_WRITE_HEAD, {"head_seq": seq, "head_hash": running, "head_queued": queued,
                                               "head_mac": head_mac(key, seq, running, queued) if key else None})
    session.info[_HEAD_HELD] = (seq, running, key, queued)


def forget_head(session: OrmSession) -> None:
    """Drop the head this transaction holds in memory (after writing the head row by other means)."""
    session.info.pop(_HEAD_HELD, None)


@event.listens_for(OrmSession, "after_transaction_end")
def _release_head(session: OrmSession, transaction: Any) -> None:
    if transaction.parent is None:  # the outermost transaction ended: its lock on the head is gone
        session.info.pop(_HEAD_HELD, None)
        session.info.pop(_QUEUED, None)


_QUEUED = "reviewflow_queued"


def note_queued(session: OrmSession, count: int) -> None:
    """Count `count` more notifications queued: added to the head (and sealed with it) as the transaction
    commits, so the head is still the last row a writer locks, as when rows are sealed."""
    session.info[_QUEUED] = session.info.get(_QUEUED, 0) + count


@event.listens_for(OrmSession, "before_commit")
def _count_queued(session: OrmSession) -> None:
    count = session.info.pop(_QUEUED, 0)
    if count:
        seq, running, key, queued = _lock_head(session)
        _write_head(session, seq, running, key, queued + count)


def _seal(session: OrmSession, pending: list[tuple[str, Any]], known: dict[int, str] | None = None) -> None:
    """Seal `pending` rows in their order: lock and read the head once, read the newest seal of each
    of their cases' chains in one query per kind, seal each row after the one before it, fold every
    seal into the head and write it (Core statements on the session's connection: no flush)."""
    seq, running, key, queued = _lock_head(session)
    tips: dict[tuple[str, int], str] = {}
    for kind, row in pending:
        if known and row.case_id in known:
            tips[(kind, row.case_id)] = known[row.case_id]
    for kind in (HISTORY, LEDGER, ADMIN):
        case_ids = {row.case_id for k, row in pending if k == kind and (kind, row.case_id) not in tips}
        if case_ids:
            tips.update({(kind, c): h for c, h in _last_seals(session, kind, case_ids).items()})
    for kind, row in pending:
        tip = (kind, row.case_id)
        seq += 1
        row.chain_seq = seq
        row.hash = seal(tips[tip], kind, row, key)
        tips[tip] = row.hash
        running = fold(running, row.hash, key)
    _write_head(session, seq, running, key, queued)


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

def check_case(ref: str, kind: str, rows: Iterable[Any], case_id: int, key: bytes | None = None) -> AuditFinding | None:
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
        if seal(previous, kind, row, key) != row.hash:
            what = ("does not match its seal: it was edited outside reviewflow" if numbered else
                    "does not match its seal: it was edited, or an entry before it deleted, outside reviewflow")
            return AuditFinding(ref, kind, label, what)
        previous = row.hash
    return None


def check_sequence(seals: list[tuple[int, str]], head_seq: int, head_hash: str, key: bytes | None = None) -> str | None:
    """The database-wide check: positions 1..head_seq, each once, folding to the head hash."""
    running = ""
    expected = 1
    for position, row_seal in sorted(seals):
        if position != expected:
            if position < expected:
                return f"position {position} appears twice: a row was inserted outside reviewflow"
            return f"position {expected} is missing: a sealed row was deleted outside reviewflow"
        running = fold(running, row_seal, key)
        expected += 1
    if expected - 1 != head_seq:
        return (f"the chain head says {head_seq} rows are sealed but {expected - 1} were found: "
                "the last rows were deleted outside reviewflow")
    if running != head_hash:
        return "the chain head's hash does not match the sealed rows: rows were altered outside reviewflow"
    return None
