"""Records of the files attached to evidence, and the history rows that say who attached and who opened them.

Only the records live here; the bytes are kept in the evidence folder by the service that reads and writes it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, col, select

from reviewflow.engine.core.errors import NotFound
from reviewflow.engine.core.records import EvidenceFile
from reviewflow.store.models import ActionRow, CaseRow, EvidenceFileRow, EvidenceRow, HistoryRow, row_id
from reviewflow.store.time_settings import recorded_at

_FILES = (select(EvidenceFileRow, EvidenceRow.number, ActionRow.number, CaseRow.ref)
          .join(EvidenceRow, col(EvidenceRow.id) == col(EvidenceFileRow.evidence_id))
          .join(ActionRow, col(ActionRow.id) == col(EvidenceRow.action_id))
          .join(CaseRow, col(CaseRow.id) == col(EvidenceFileRow.case_id)))


def _file(row: EvidenceFileRow, evidence: str, action: str, ref: str) -> EvidenceFile:
    return EvidenceFile(row_id(row.id), ref, evidence, action, row.name, row.media_type, row.size, row.sha256,
                        row.uploaded_by, row.uploaded_at, row.case_id, row.evidence_id)


def add_file(s: Session, case_id: int, evidence_id: int, values: dict[str, Any], actor: str,
             now: datetime) -> int:
    """Record a file attached to evidence; its id."""
    row = EvidenceFileRow(case_id=case_id, evidence_id=evidence_id, uploaded_by=actor, uploaded_at=now, **values)
    s.add(row)
    s.flush()
    return row_id(row.id)


def files_of_case(s: Session, case_id: int) -> list[EvidenceFile]:
    """Every file attached to the case's evidence, in the order they were attached."""
    rows = s.exec(_FILES.where(col(EvidenceFileRow.case_id) == case_id)
                  .order_by(col(EvidenceFileRow.id))).all()
    return [_file(*r) for r in rows]


def find_file(s: Session, case_id: int, ref: str, file_id: int) -> EvidenceFile:
    """File `file_id` of the case, or not found (a file of another case is not found either)."""
    found = s.exec(_FILES.where(col(EvidenceFileRow.case_id) == case_id,
                                col(EvidenceFileRow.id) == file_id)).first()
    if found is None:
        raise NotFound(f"case {ref} has no file {file_id}: see the case's evidence for its files", ref=ref,
                       field="file", value=file_id)
    return _file(*found)


def lock_case(s: Session, case_id: int) -> None:
    """Hold the case's row until the transaction ends, so two writers never take the same history seq."""
    s.exec(select(CaseRow.id).where(col(CaseRow.id) == case_id).with_for_update())


def record_read(s: Session, case_id: int, state: str, trigger: str, at: datetime, actor: str,
                fields: dict[str, Any]) -> None:
    """Append a history row (sealed like every other) for something done to the case that changes none of its
    records, such as opening a file: the case's revision stays, so nobody's open form goes stale."""
    lock_case(s, case_id)
    seq = (s.exec(select(func.max(HistoryRow.seq)).where(col(HistoryRow.case_id) == case_id)).one() or 0) + 1
    s.add(HistoryRow(case_id=case_id, seq=seq, at=at, actor=actor, trigger=trigger, from_state=state,
                     to_state=state, fields=fields, note=None, recorded_at=recorded_at(s)))
    s.flush()
