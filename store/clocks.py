"""What the statutory clocks (milestones, progress checks) read of many cases at once: their fields and
histories, as records."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from sqlmodel import Session, col, select

from reviewflow.engine.core.records import HistoryEntry
from reviewflow.store.models import CaseRow, HistoryRow


def histories(s: Session, case_ids: Collection[int]) -> dict[int, list[HistoryEntry]]:
    """Each case's history, in order (one query)."""
    found: dict[int, list[HistoryEntry]] = {case_id: [] for case_id in case_ids}
    if not found:
        return found
    rows = s.exec(select(HistoryRow).where(col(HistoryRow.case_id).in_(sorted(found)))
                  .order_by(col(HistoryRow.case_id), col(HistoryRow.seq))).all()
    for h in rows:
        found[h.case_id].append(HistoryEntry(h.seq, h.at, h.actor, h.trigger, h.from_state, h.to_state,
                                             dict(h.fields or {}), h.note, h.case_id, h.recorded_at))
    return found


def fields_of(s: Session, case_ids: Collection[int]) -> dict[int, dict[str, Any]]:
    """Each case's fields (one query)."""
    if not case_ids:
        return {}
    rows = s.exec(select(CaseRow.id, CaseRow.fields).where(col(CaseRow.id).in_(sorted(case_ids)))).all()
    return {int(case_id or 0): dict(fields or {}) for case_id, fields in rows}
