"""Grades on a case (engine/core/grading.py): recording one and listing them.

Recording is one transaction: the grade row (an earlier grade of the same subject marked replaced) and an event in
the case's sealed history (bumping its revision), from which `audit verify` rebuilds the current grades. Who may
grade comes from the definition's `grading: roles`.
"""

from __future__ import annotations

from dataclasses import dataclass

import structlog

from reviewflow.engine.core import grading as rules
from reviewflow.engine.core import limits
from reviewflow.engine.core.access import Identity
from reviewflow.engine.core.definition import WorkflowDefinition
from reviewflow.engine.core.errors import InvalidValue
from reviewflow.engine.core.grading import Grade
from reviewflow.engine.services.agencies import registered
from reviewflow.engine.services.case_records import find_case, ready_to_change, seen_by
from reviewflow.engine.services.context import ServiceContext
from reviewflow.store import grades as store
from reviewflow.store import repo

log = structlog.get_logger("reviewflow")


@dataclass(frozen=True)
class GradeRequest:
    """What a front end asks to record: the grade, its subject and a note."""

    grade: str
    agency: str | None = None
    standard: str | None = None
    school: str | None = None
    note: str | None = None


def _typed(text: str | None, field: str, limit: int) -> str | None:
    value = (text or "").strip()
    return limits.check(value, field, limit) if value else None


def _grading(d: WorkflowDefinition, ref: str) -> rules.GradingRules:
    if d.grading is None:
        raise InvalidValue(f"{d.name} cases are not graded (its definition has no `grading:`)", ref=ref,
                           value=d.name)
    return d.grading


class GradingService:
    """Grades on a case: one transaction each."""

    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx

    def record(self, ref: str, actor: str | Identity, asked: GradeRequest, revision: int | None = None) -> Grade:
        """Grade one subject of a case; grading it again replaces the grade shown (both stay in the history)."""
        agency = _typed(asked.agency, "agency", limits.AGENCY)
        school = _typed(asked.school, "school", limits.AGENCY)
        standard = _typed(asked.standard, "standard", limits.AGENCY)
        note = _typed(asked.note, "note", limits.NOTE)
        now = self.ctx.clock()
        with self.ctx.transaction() as s:
            record, d = find_case(self.ctx, s, ref)
            who = seen_by(self.ctx, s, record, d, actor)
            g = _grading(d, record.ref)
            rules.check_role(d, record.ref, who.name, who.roles)
            grade = rules.check_grade(g, record.ref, asked.grade)
            rules.check_subject(g, record.ref, {rules.AGENCY: agency, rules.STANDARD: standard,
                                                rules.SCHOOL: school})
            agency = registered(s, agency) if agency else None
            ready_to_change(self.ctx, s, record, revision, now, "grades")
            store.add(s, record.case_id, agency, standard, school, grade, note, who.recorded, now)
            fields = {k: v for k, v in (("grade", grade), ("agency", agency), ("standard", standard),
                                        ("school", school)) if v}
            repo.record_event(s, record.case, rules.GRADE_EVENT, now, who.recorded, note, fields)
            found = store.for_case(s, record.case_id)[-1]
        log.info("grade.recorded", ref=record.ref, grade=grade, actor=who.recorded)
        return found

    def of_case(self, ref: str, actor: str | Identity | None = None, earlier: bool = False) -> list[Grade]:
        """A case's grades (anyone who may see the case); with `earlier`, the replaced ones too."""
        with self.ctx.read() as s:
            record, d = find_case(self.ctx, s, ref)
            if actor is not None:
                seen_by(self.ctx, s, record, d, actor, write=False)
            return store.for_case(s, record.case_id, earlier)
