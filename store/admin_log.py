"""The administration log: every change an administrator makes, sealed in the audit chain."""

from __future__ import annotations

from datetime import datetime
from types import SimpleNamespace
from typing import Any

from sqlalchemy import func, insert, select
from sqlmodel import Session

from reviewflow.engine.core.records import AdminEvent
from reviewflow.store.chain import ADMIN, seal_rows
from reviewflow.store.models import AdminEventRow
from reviewflow.store.time_settings import recorded_at

_T: Any = AdminEventRow.__table__  # type: ignore[attr-defined]


def record(s: Session, at: datetime, actor: str, action: str, target: str, details: dict[str, Any]) -> int:
    """Append one event (sealed with the rows of its transaction); returns its number."""
    seq = (s.connection().execute(select(func.max(_T.c.seq))).scalar() or 0) + 1
    row = SimpleNamespace(case_id=0, seq=seq, at=at, actor=actor, action=action, target=target,
                          details=details, recorded_at=recorded_at(s), chain_seq=None, hash=None)
    seal_rows(s, ADMIN, [row])
    values = {k: v for k, v in vars(row).items() if k != "case_id"}
    s.connection().execute(insert(_T), values)
    return seq


def events(s: Session, limit: int = 500, target: str | None = None) -> list[AdminEvent]:
    """The newest events first."""
    query = select(_T).order_by(_T.c.seq.desc()).limit(limit)
    if target is not None:
        query = query.where(_T.c.target == target)
    return [AdminEvent(r.seq, r.at, r.actor, r.action, r.target, dict(r.details), r.recorded_at)
            for r in s.connection().execute(query)]
