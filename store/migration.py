"""Definition versions and case migrations: the reads and writes behind them."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import func, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from reviewflow.engine.core.errors import StoreError
from reviewflow.engine.core.migration import TRIGGER, MigrationInterrupted, MigrationPlan, OpenCase
from reviewflow.engine.core.records import StoredDefinition
from reviewflow.store.models import CaseRow, DefinitionRow, EscalationRow, HistoryRow
from reviewflow.store.time_settings import recorded_at

CHUNK = 500
"""Case ids per IN (...) list: well inside every database's limit on bound values."""
T = TypeVar("T")


class VersionTaken(StoreError):
    """Another load stored the same version of the workflow at the same moment."""


def _chunks(items: Sequence[T]) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), CHUNK):
        yield items[start:start + CHUNK]


# --- definition versions -----------------------------------------------------------------------

def stored_versions(s: Session, name: str) -> list[StoredDefinition]:
    """Every stored version of workflow `name`, oldest first."""
    rows = s.exec(select(DefinitionRow).where(DefinitionRow.name == name).order_by(col(DefinitionRow.version))).all()
    return [StoredDefinition(r.name, r.version, r.title, r.content_hash, r.source, r.source_name, r.loaded_at)
            for r in rows]


def add_version(s: Session, name: str, version: int, title: str, source: str, source_name: str,
                digest: str, now: datetime) -> None:
    """Store a new version whose `content_hash` is the hash of its meaning (`engine.diff.meaning_hash`)."""
    s.add(DefinitionRow(name=name, version=version, title=title, content_hash=digest, source=source,
                        source_name=source_name, loaded_at=now))
    try:
        s.flush()
    except IntegrityError:
        raise VersionTaken(f"{source_name}: version {version} of {name} was stored by another load at the "
                           "same moment: load the file again") from None


# --- migrations ----------------------------------------------------------------------------------

def open_cases(s: Session, workflow: str, except_version: int) -> list[OpenCase]:
    """Open cases of `workflow` on any version but `except_version`, with their last change and the
    escalation keys already fired in their current stage entry."""
    rows = s.exec(select(CaseRow).where(CaseRow.workflow == workflow, CaseRow.is_open == True,  # noqa: E712
                                        CaseRow.version != except_version)
                  .order_by(col(CaseRow.opened_at), col(CaseRow.ref))).all()
    ids = [r.id for r in rows]
    last: dict[Any, datetime] = {}
    fired: dict[tuple[Any, int], set[str]] = {}
    for chunk in _chunks(ids):
        last.update(s.exec(select(HistoryRow.case_id, func.max(HistoryRow.at))
                           .where(col(HistoryRow.case_id).in_(chunk)).group_by(col(HistoryRow.case_id))).all())
        for case_id, entry_seq, key in s.exec(select(EscalationRow.case_id, EscalationRow.entry_seq,
                                                     EscalationRow.key).where(col(EscalationRow.case_id).in_(chunk))):
            fired.setdefault((case_id, entry_seq), set()).add(key)
    return [OpenCase(r.id or 0, r.ref, r.version, r.state, dict(r.fields), r.entered_at, r.due_at, r.paused_at,
                     r.revision, last.get(r.id), frozenset(fired.get((r.id, r.entry_seq), ())))
            for r in rows]


def _next_seqs(s: Session, ids: Sequence[int]) -> dict[int, int]:
    found: dict[int, int] = {}
    for chunk in _chunks(ids):
        found.update(s.exec(select(HistoryRow.case_id, func.max(HistoryRow.seq))
                            .where(col(HistoryRow.case_id).in_(chunk)).group_by(col(HistoryRow.case_id))).all())
    return {case_id: found.get(case_id, 0) + 1 for case_id in ids}


def apply(s: Session, plan: MigrationPlan, actor: str) -> None:
    """Write every move of `plan`, or none: a case changed since it was read stops the whole migration.

    The cases are updated first and their history rows added after, in one flush, so the audit chain
    seals them all at once.
    """
    seqs = _next_seqs(s, [m.case_id for m in plan.moves])
    cases = CaseRow.__table__  # type: ignore[attr-defined]
    conn = s.connection()
    for m in plan.moves:
        result = conn.execute(
            update(cases)
            .where(cases.c.id == m.case_id, cases.c.revision == m.revision, cases.c.is_open == True)  # noqa: E712
            .values(revision=m.revision + 1, version=plan.to_version, state=m.to_state, due_at=m.due_at,
                    next_check_at=m.next_check_at))
        if result.rowcount != 1:
            raise MigrationInterrupted(m.ref, plan.workflow, plan.to_version)
    s.add_all([HistoryRow(case_id=m.case_id, seq=seqs[m.case_id], at=plan.at, actor=actor, trigger=TRIGGER,
                          from_state=m.from_state, to_state=m.to_state,
                          fields={"from_version": m.from_version, "to_version": plan.to_version},
                          note=f"{plan.workflow} v{m.from_version} -> v{plan.to_version}",
                          recorded_at=recorded_at(s)) for m in plan.moves])
    s.flush()
