"""Queries and writes. Rows are mapped to engine objects here; engine code never mutates rows."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from types import SimpleNamespace
from typing import Any

from sqlalchemy import bindparam, func, insert, update
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from reviewflow.engine.core.decide import Actor, CaseState, Move
from reviewflow.engine.core.errors import CaseNotFound, ConcurrentChange, UserExists, UserNotFound
from reviewflow.engine.core.records import CaseRecord, HistoryEntry, StoredDefinition, User
from reviewflow.engine.core.references import ref_key
from reviewflow.store.chain import HISTORY, genesis, seal_rows
from reviewflow.store.models import SCHEMA_VERSION, CaseRow, DefinitionRow, HistoryRow, UserRoleRow, UserRow, row_id
from reviewflow.store.time_settings import recorded_at

_CASES: Any = CaseRow.__table__  # type: ignore[attr-defined]
_HISTORY: Any = HistoryRow.__table__  # type: ignore[attr-defined]
_USERS: Any = UserRow.__table__  # type: ignore[attr-defined]
_ROLES: Any = UserRoleRow.__table__  # type: ignore[attr-defined]
"""The tables, for the hot paths that query them with Core statements (no ORM entities built)."""

# The hot path's statements, built once (SQLAlchemy then compiles each once and reuses it).
_CASE_BY_REF = sa_select(_CASES).where(_CASES.c.ref_key == bindparam("key"))
_CASE_TO_MOVE = sa_select(
    _CASES,
    sa_select(func.max(_HISTORY.c.seq)).where(_HISTORY.c.case_id == _CASES.c.id).scalar_subquery().label("last_seq"),
    sa_select(func.max(_HISTORY.c.at)).where(_HISTORY.c.case_id == _CASES.c.id).scalar_subquery().label("last_at"),
    sa_select(_HISTORY.c.hash).where(_HISTORY.c.case_id == _CASES.c.id, _HISTORY.c.chain_seq.is_not(None))
    .order_by(_HISTORY.c.chain_seq.desc()).limit(1).scalar_subquery().label("last_seal"),
).where(_CASES.c.ref_key == bindparam("key"))
_ACTOR = (sa_select(_USERS.c.id, _ROLES.c.role)
          .select_from(_USERS.outerjoin(_ROLES, _ROLES.c.user_id == _USERS.c.id))
          .where(_USERS.c.name == bindparam("name")))
_MOVE = update(_CASES).where(_CASES.c.id == bindparam("case_id_"), _CASES.c.revision == bindparam("read_revision"))
"""The columns to set are the other parameters given with it."""


def content_hash(source: str) -> str:
    return hashlib.sha256(source.encode("utf-8")).hexdigest()


def _definition(row: DefinitionRow) -> StoredDefinition:
    return StoredDefinition(row.name, row.version, row.title, row.content_hash, row.source,
                            row.source_name, row.loaded_at)


# --- definitions -----------------------------------------------------------------------------

def find_definition(s: Session, name: str, version: int | None = None) -> StoredDefinition | None:
    query = select(DefinitionRow).where(DefinitionRow.name == name)
    query = query.where(DefinitionRow.version == version) if version else query.order_by(
        col(DefinitionRow.version).desc())
    row = s.exec(query.limit(1)).first()
    return _definition(row) if row else None


def latest_definitions(s: Session) -> list[StoredDefinition]:
    newest = (select(DefinitionRow.name, func.max(DefinitionRow.version).label("v"))
              .group_by(DefinitionRow.name).subquery())
    rows = s.exec(select(DefinitionRow).join(
        newest, (col(DefinitionRow.name) == newest.c.name) & (col(DefinitionRow.version) == newest.c.v))
        .order_by(col(DefinitionRow.name))).all()
    return [_definition(r) for r in rows]


def all_definitions(s: Session) -> list[StoredDefinition]:
    return [_definition(r) for r in s.exec(select(DefinitionRow)).all()]


def definition_versions(s: Session, name: str) -> list[int]:
    return list(s.exec(select(DefinitionRow.version).where(DefinitionRow.name == name)
                       .order_by(col(DefinitionRow.version))).all())


# --- users -----------------------------------------------------------------------------------

def add_user(s: Session, name: str, roles: Sequence[str], email: str | None, now: datetime,
             agency: str | None = None) -> User:
    if s.exec(select(UserRow.id).where(UserRow.name == name)).first() is not None:
        raise UserExists(name)
    row = UserRow(name=name, email=email, agency=agency, created_at=now)
    s.add(row)
    s.flush()
    user_id = row_id(row.id)
    for role in dict.fromkeys(roles):
        s.add(UserRoleRow(user_id=user_id, role=role))
    return User(name, email, tuple(sorted(set(roles))), agency)


def grant_roles(s: Session, name: str, roles: Sequence[str]) -> User:
    row = s.exec(select(UserRow).where(UserRow.name == name)).first()
    if row is None:
        raise UserNotFound(name)
    held = set(_roles_of(s, row.id))
    for role in dict.fromkeys(roles):
        if role not in held:
            s.add(UserRoleRow(user_id=row_id(row.id), role=role))
    s.flush()
    return User(row.name, row.email, _roles_of(s, row.id), row.agency)


def last_change(s: Session, ref: str) -> datetime | None:
    """When the case's newest history row was written."""
    row = _case_row(s, ref)
    return s.exec(select(func.max(HistoryRow.at)).where(HistoryRow.case_id == row.id)).one()


def _roles_of(s: Session, user_id: int | None) -> tuple[str, ...]:
    return tuple(s.exec(select(UserRoleRow.role).where(UserRoleRow.user_id == user_id)
                        .order_by(UserRoleRow.role)).all())


def get_user(s: Session, name: str) -> User:
    row = s.exec(select(UserRow).where(UserRow.name == name)).first()
    if row is None:
        raise UserNotFound(name)
    return User(row.name, row.email, _roles_of(s, row.id), row.agency)


def get_actor(s: Session, name: str) -> Actor:
    """A registered user and their roles, in one query."""
    rows = s.connection().execute(_ACTOR, {"name": name}).all()
    if not rows:
        raise UserNotFound(name)
    return Actor(name, frozenset(role for _, role in rows if role is not None))


def list_users(s: Session, active: bool = False) -> list[User]:
    """Every registered person, or (`active`) those who are not disabled."""
    query = select(UserRow).order_by(UserRow.name)
    if active:
        query = query.where(col(UserRow.disabled_at).is_(None))
    rows = s.exec(query).all()
    return [User(r.name, r.email, _roles_of(s, r.id), r.agency) for r in rows]


def users_with_role(s: Session, role: str) -> list[User]:
    rows = s.exec(select(UserRow).join(UserRoleRow, col(UserRoleRow.user_id) == col(UserRow.id))
                  .where(UserRoleRow.role == role).order_by(UserRow.name)).all()
    return [User(r.name, r.email, _roles_of(s, r.id), r.agency) for r in rows]


# --- cases -----------------------------------------------------------------------------------

def _case_state(row: CaseRow) -> CaseState:
    return CaseState(row.ref, row.workflow, row.version, row.state, dict(row.fields),
                     row.entered_at, row.due_at, row.revision)


def _case_row(s: Session, ref: str) -> CaseRow:
    row = s.exec(select(CaseRow).where(CaseRow.ref_key == ref_key(ref))).first()
    if row is None:
        raise CaseNotFound(ref)
    return row


def case_exists(s: Session, ref: str) -> str | None:
    """The reference of the case whose reference has the same key as `ref` (core/references.py), if there is one."""
    return s.exec(select(CaseRow.ref).where(CaseRow.ref_key == ref_key(ref))).first()


def get_case(s: Session, ref: str) -> CaseState:
    return _case_state(_case_row(s, ref))


def without_meta(fields: Any) -> dict[str, Any]:
    """A history row's fields without what it records about the case itself (keys starting with '@', such as
    the sub-group it was opened in: store/subgroups.py)."""
    return {k: v for k, v in dict(fields or {}).items() if not k.startswith("@")}


def record_of(row: Any) -> CaseRecord:
    """A CaseRow, or a row of the `cases` table's columns."""
    return CaseRecord(_case_state(row), row.is_open, row.opened_by, row.opened_at, row.closed_at,
                      row.entry_seq, row.paused_at, row.pause_reason, row.next_check_at, row.id or 0,
                      subgroup=getattr(row, "subgroup", None), pause_until=getattr(row, "pause_until", None),
                      pause_note=getattr(row, "pause_note", None))


def get_case_record(s: Session, ref: str) -> CaseRecord:
    """One case by reference (a plain Core query on the session's connection: no ORM entity is built)."""
    row = s.connection().execute(_CASE_BY_REF, {"key": ref_key(ref)}).first()
    if row is None:
        raise CaseNotFound(ref)
    return record_of(row)


@dataclass(frozen=True)
class CaseToMove:
    """A case about to move on, with what its move appends to: the newest history row's seq and time,
    and the newest seal of its history chain (store/chain.py)."""

    record: CaseRecord
    last_seq: int
    last_at: datetime | None
    last_seal: str


def case_to_move(s: Session, ref: str) -> CaseToMove:
    """`get_case_record`, the newest history row's seq and time, and the history chain's tip, in one query."""
    row = s.connection().execute(_CASE_TO_MOVE, {"key": ref_key(ref)}).first()
    if row is None:
        raise CaseNotFound(ref)
    return CaseToMove(record_of(row), row.last_seq or 0, row.last_at, row.last_seal or genesis(HISTORY, row.id))


def list_cases(s: Session, workflow: str | None = None, state: str | None = None,
               overdue_at: datetime | None = None, include_closed: bool = True, seen: Any = None) -> list[CaseRecord]:
    """Cases in opening order; `seen` is a condition on the cases table saying which the reader may see."""
    query = select(CaseRow)
    if seen is not None:
        query = query.where(seen)
    if workflow:
        query = query.where(CaseRow.workflow == workflow)
    if state:
        query = query.where(CaseRow.state == state)
    if overdue_at is not None:
        query = query.where(CaseRow.is_open == True, col(CaseRow.due_at) <= overdue_at,  # noqa: E712
                            col(CaseRow.paused_at).is_(None))
    elif not include_closed:
        query = query.where(CaseRow.is_open == True)  # noqa: E712
    rows = s.exec(query.order_by(col(CaseRow.opened_at), col(CaseRow.ref))).all()
    return [record_of(r) for r in rows]


def _history(case_id: int, seq: int, move: Move, actor: str, note: str | None,
             recorded: datetime | None = None) -> HistoryRow:
    return HistoryRow(case_id=case_id, seq=seq, at=move.at, actor=actor, trigger=move.trigger,
                      from_state=move.source, to_state=move.dest, fields=dict(move.supplied), note=note,
                      recorded_at=recorded)


def insert_case(s: Session, ref: str, workflow: str, version: int, move: Move, actor: str,
                terminal: bool, note: str | None, next_check_at: datetime | None) -> int:
    row = CaseRow(ref=ref, ref_key=ref_key(ref), workflow=workflow, version=version, state=move.dest,
                  is_open=not terminal,
                  fields=dict(move.fields), opened_by=actor, opened_at=move.at, entered_at=move.at,
                  due_at=move.due_at, closed_at=move.at if terminal else None, entry_seq=1,
                  next_check_at=next_check_at)
    s.add(row)
    s.flush()
    case_id = row_id(row.id)
    s.add(_history(case_id, 1, move, actor, note, recorded_at(s)))
    return case_id


def _update_if_unchanged(s: Session, case: CaseState, **values: Any) -> int:
    """Update the case only if it is still at the revision it was read at; return its id."""
    result = s.execute(
        update(CaseRow)
        .where(col(CaseRow.ref) == case.ref, col(CaseRow.revision) == case.revision)
        .values(revision=case.revision + 1, **values)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        raise ConcurrentChange(case.ref)
    return row_id(s.exec(select(CaseRow.id).where(CaseRow.ref == case.ref)).one())


def _next_seq(s: Session, case_id: int) -> int:
    return (s.exec(select(func.max(HistoryRow.seq)).where(HistoryRow.case_id == case_id)).one() or 0) + 1


_INSERT_HISTORY = insert(_HISTORY)


def apply_move(s: Session, read: CaseToMove, move: Move, actor: str, terminal: bool,
               note: str | None, next_check_at: datetime | None) -> tuple[int, int]:
    """Write a transition (a new stage entry) on the case as `case_to_move` read it; return (case id,
    history seq of the entry).

    The update is refused if the case's revision has moved on since it was read, so what was read
    (its last history row and seal) still holds when the history row is appended and sealed.
    """
    case, case_id, seq = read.record.case, read.record.case_id, read.last_seq + 1
    result = s.connection().execute(_MOVE, {
        "case_id_": case_id, "read_revision": case.revision, "revision": case.revision + 1, "state": move.dest,
        "fields": dict(move.fields), "entered_at": move.at, "due_at": move.due_at, "is_open": not terminal,
        "closed_at": move.at if terminal else None, "entry_seq": seq, "paused_at": None, "pause_reason": None,
        "pause_until": None, "pause_note": None, "next_check_at": next_check_at})
    if result.rowcount != 1:
        raise ConcurrentChange(case.ref)
    row = SimpleNamespace(case_id=case_id, seq=seq, at=move.at, actor=actor, trigger=move.trigger,
                          from_state=move.source, to_state=move.dest, fields=dict(move.supplied), note=note,
                          recorded_at=recorded_at(s), chain_seq=None, hash=None)
    seal_rows(s, HISTORY, [row], {case_id: read.last_seal})
    s.connection().execute(_INSERT_HISTORY, {**vars(row), "fields_schema": SCHEMA_VERSION})
    return case_id, seq


def record_event(s: Session, case: CaseState, trigger: str, at: datetime, actor: str,
                 note: str | None, fields: dict[str, Any], **values: Any) -> int:
    """An event within the current stage (a pause, a resume, a learning record): update the case's
    columns in `values`, bump its revision (refused if it changed since read) and append a history row."""
    case_id = _update_if_unchanged(s, case, **values)
    s.add(HistoryRow(case_id=case_id, seq=_next_seq(s, case_id), at=at, actor=actor, trigger=trigger,
                     from_state=case.state, to_state=case.state, fields=fields, note=note,
                     recorded_at=recorded_at(s)))
    return case_id


def history(s: Session, ref: str) -> list[HistoryEntry]:
    row = _case_row(s, ref)
    rows = s.exec(select(HistoryRow).where(HistoryRow.case_id == row.id).order_by(col(HistoryRow.seq))).all()
    return [HistoryEntry(h.seq, h.at, h.actor, h.trigger, h.from_state, h.to_state, without_meta(h.fields), h.note,
                         h.case_id, h.recorded_at) for h in rows]
