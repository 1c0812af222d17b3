"""Risks on cases' risk registers: one row per risk and one per scoring, made into records (engine/core/risks.py)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlmodel import Session

from reviewflow.engine.core.references import ref_key
from reviewflow.engine.core.risks import OPEN, Risk, RiskScore
from reviewflow.store.models import CaseRow, RiskRow, RiskScoreRow

_R: Any = RiskRow.__table__  # type: ignore[attr-defined]
_S: Any = RiskScoreRow.__table__  # type: ignore[attr-defined]
_CASES: Any = CaseRow.__table__  # type: ignore[attr-defined]
_COLUMNS = (_R.c.id, _CASES.c.ref, _R.c.number, _R.c.title, _R.c.owner, _R.c.owner_agency, _R.c.controls,
            _R.c.status, _R.c.added_by, _R.c.closed_reason, _R.c.closed_on, _CASES.c.workflow, _R.c.case_id)


def _number_order(number: str) -> int:
    return int(number[1:]) if number[1:].isdigit() else 0


def _records(s: Session, rows: list[Any]) -> list[Risk]:
    ids = [row[0] for row in rows]
    scores: dict[int, list[RiskScore]] = {}
    if ids:
        query = (select(_S.c.risk_id, _S.c.likelihood, _S.c.impact, _S.c.scored_on, _S.c.scored_by, _S.c.note)
                 .where(_S.c.risk_id.in_(ids)).order_by(_S.c.risk_id, _S.c.seq))
        for risk_id, *score in s.connection().execute(query):
            scores.setdefault(risk_id, []).append(RiskScore(*score))
    found = [Risk(ref, number, title, owner, agency, controls, status, tuple(scores.get(risk_id, ())), by, reason,
                  closed_on, workflow, case_id)
             for risk_id, ref, number, title, owner, agency, controls, status, by, reason, closed_on, workflow, case_id
             in rows if scores.get(risk_id)]
    return sorted(found, key=lambda r: (ref_key(r.ref), _number_order(r.number)))


def _joined() -> Any:
    return select(*_COLUMNS).select_from(_R.join(_CASES, _CASES.c.id == _R.c.case_id))


def for_case(s: Session, case_id: int) -> list[Risk]:
    """A case's risks, R1 first."""
    return _records(s, list(s.connection().execute(_joined().where(_R.c.case_id == case_id))))


def for_cases(s: Session, case_ids: Iterable[int] | None = None, only_open: bool = False) -> list[Risk]:
    """The risks of the cases (None: of every case), by case reference then number."""
    query = _joined()
    if case_ids is not None:
        query = query.where(_R.c.case_id.in_(list(case_ids)))
    if only_open:
        query = query.where(_R.c.status == OPEN)
    return _records(s, list(s.connection().execute(query)))


def numbers(s: Session, case_id: int) -> list[str]:
    return [n for (n,) in s.connection().execute(select(_R.c.number).where(_R.c.case_id == case_id))]


def _risk_id(s: Session, case_id: int, number: str) -> int:
    found = s.connection().execute(select(_R.c.id).where(_R.c.case_id == case_id, _R.c.number == number)).first()
    assert found is not None, f"risk {number} of case {case_id} was read in this transaction"
    return int(found[0])


def add(s: Session, case_id: int, number: str, values: dict[str, Any], score: tuple[int, int], on: date, by: str,
        now: datetime) -> None:
    """A new risk (title, owner, owner_agency, controls in `values`) with its first scoring."""
    inserted = s.connection().execute(insert(_R).values(case_id=case_id, number=number, status=OPEN, added_by=by,
                                                        updated_at=now, **values))
    key = inserted.inserted_primary_key
    assert key is not None
    risk_id = key[0]
    _score(s, risk_id, 1, score, on, by, None, now)


def _score(s: Session, risk_id: int, seq: int, score: tuple[int, int], on: date, by: str, note: str | None,
           now: datetime) -> None:
    s.connection().execute(insert(_S).values(risk_id=risk_id, seq=seq, likelihood=score[0], impact=score[1],
                                             scored_on=on, scored_by=by, note=note, scored_at=now))


def rescore(s: Session, case_id: int, number: str, score: tuple[int, int], on: date, by: str, note: str | None,
            now: datetime) -> None:
    """A review's new scoring of a risk."""
    risk_id = _risk_id(s, case_id, number)
    seq = s.connection().execute(select(func.max(_S.c.seq)).where(_S.c.risk_id == risk_id)).scalar() or 0
    _score(s, risk_id, int(seq) + 1, score, on, by, note, now)
    s.connection().execute(update(_R).where(_R.c.id == risk_id).values(updated_at=now))


def close(s: Session, case_id: int, number: str, reason: str, on: date, now: datetime) -> None:
    s.connection().execute(update(_R).where(_R.c.case_id == case_id, _R.c.number == number)
                           .values(status="closed", closed_reason=reason, closed_on=on, updated_at=now))


def audit_rows(s: Session, case_ids: Iterable[int]) -> dict[int, dict[str, tuple[str, str, tuple[Any, ...]]]]:
    """For the audit, by case and number: (owner, status, ((likelihood, impact), ...) in order)."""
    found: dict[int, dict[str, tuple[str, str, tuple[Any, ...]]]] = {}
    for risk in for_cases(s, case_ids):
        found.setdefault(risk.case_id, {})[risk.number] = (
            risk.owner, risk.status, tuple((x.likelihood, x.impact) for x in risk.scores))
    bare = select(_R.c.case_id, _R.c.number, _R.c.owner, _R.c.status).where(
        _R.c.case_id.in_(list(case_ids)), ~select(_S.c.id).where(_S.c.risk_id == _R.c.id).exists())
    for case_id, number, owner, status in s.connection().execute(bare):
        found.setdefault(case_id, {})[number] = (owner, status, ())  # a risk whose scorings were deleted
    return found


def rename_agency(s: Session, old: str, new: str) -> None:
    """A registered agency renamed: the risks it owns follow (history rows keep what they said)."""
    s.connection().execute(update(_R).where(_R.c.owner_agency == old).values(owner_agency=new))
