"""Grades given on cases (engine/core/grading.py): one row per grade, the earlier one of a subject marked replaced;
rows made into `Grade` records."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select, update
from sqlmodel import Session

from reviewflow.engine.core.grading import Grade, subject_key
from reviewflow.store.models import CaseRow, GradeRow

_T: Any = GradeRow.__table__  # type: ignore[attr-defined]
_CASES: Any = CaseRow.__table__  # type: ignore[attr-defined]
_COLUMNS = (_CASES.c.ref, _CASES.c.workflow, _T.c.grade, _T.c.agency, _T.c.standard, _T.c.school, _T.c.note,
            _T.c.graded_at, _T.c.graded_by, _T.c.replaced_at.is_(None), _T.c.case_id)
"""The columns a Grade holds, in its fields' order."""


def _records(rows: Iterable[Any]) -> list[Grade]:
    return [Grade(ref=r[0], workflow=r[1], grade=r[2], agency=r[3], standard=r[4], school=r[5], note=r[6],
                  graded_at=r[7], graded_by=r[8], current=bool(r[9]), case_id=r[10]) for r in rows]


def _joined() -> Any:
    return select(*_COLUMNS).select_from(_T.join(_CASES, _CASES.c.id == _T.c.case_id)).order_by(_T.c.id)


def for_case(s: Session, case_id: int, earlier: bool = False) -> list[Grade]:
    """A case's grades in the order given: the current ones, or with `earlier` the replaced ones too."""
    query = _joined().where(_T.c.case_id == case_id)
    if not earlier:
        query = query.where(_T.c.replaced_at.is_(None))
    return _records(s.connection().execute(query))


def everything(s: Session) -> list[Grade]:
    """Every grade ever given, replaced ones too, in the order given (for the reports)."""
    return _records(s.connection().execute(_joined()))


def add(s: Session, case_id: int, agency: str | None, standard: str | None, school: str | None, grade: str,
        note: str | None, by: str, now: datetime) -> None:
    """A new grade of its subject: an earlier grade of the same subject is marked replaced."""
    key = subject_key(agency, standard, school)
    s.connection().execute(update(_T).where(_T.c.case_id == case_id, _T.c.subject_key == key,
                                            _T.c.replaced_at.is_(None)).values(replaced_at=now))
    s.connection().execute(insert(_T), [{"case_id": case_id, "subject_key": key, "agency": agency,
                                         "standard": standard, "school": school, "grade": grade, "note": note,
                                         "graded_by": by, "graded_at": now}])


def current_rows(s: Session, case_ids: Iterable[int]) -> dict[int, dict[str, str]]:
    """Each case's current grade by subject key, for the audit."""
    found: dict[int, dict[str, str]] = {}
    rows = s.connection().execute(select(_T.c.case_id, _T.c.subject_key, _T.c.grade)
                                  .where(_T.c.case_id.in_(list(case_ids)), _T.c.replaced_at.is_(None)))
    for case_id, key, grade in rows:
        found.setdefault(case_id, {})[key] = grade
    return found
