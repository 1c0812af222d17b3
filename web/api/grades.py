"""`/api/v1/cases/{ref}/grades`: the grades given on a case, and recording one, under the same rules as the command
line (the definition's `grading:`). A new grade carries the case's `ETag` as `If-Match`; the answer carries the new
one."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response
from pydantic import BaseModel, Field

from reviewflow.engine.core import limits
from reviewflow.engine.core.access import Identity
from reviewflow.engine.core.grading import Grade, GradingRules
from reviewflow.engine.services.facade import Reviewflow
from reviewflow.engine.services.grading import GradeRequest
from reviewflow.web.api.cases import IfMatch, etag, revision_of
from reviewflow.web.security import identity, service

router = APIRouter(prefix="/cases", tags=["grades"])

Who = Annotated[Identity, Depends(identity)]
Service = Annotated[Reviewflow, Depends(service)]


class GradeOut(BaseModel):
    """A grade given on a case: `current` is false once the same subject was graded again."""

    grade: str = Field(examples=["good"])
    label: str = Field(examples=["Good"])
    agency: str | None = Field(None, examples=["Police"])
    standard: str | None = Field(None, examples=["training"])
    school: str | None = None
    good_or_better: bool
    note: str | None = None
    graded_at: datetime
    graded_by: str
    current: bool


class RecordGrade(BaseModel):
    grade: str = Field(min_length=1, max_length=60, description="A grade of the workflow's scale.",
                       examples=["good"])
    agency: str | None = Field(None, max_length=limits.AGENCY, description="The registered agency graded.",
                               examples=["Police"])
    standard: str | None = Field(None, max_length=limits.AGENCY, description="The standard (Section 11).")
    school: str | None = Field(None, max_length=limits.AGENCY, description="The school, as named (Section 175).")
    note: str | None = Field(None, max_length=limits.NOTE)


def _out(g: Grade, rules: GradingRules | None) -> GradeOut:
    return GradeOut(grade=g.grade, label=rules.label(g.grade) if rules else g.grade, agency=g.agency,
                    standard=g.standard, school=g.school, good_or_better=bool(rules and g.grade in rules.good_grades),
                    note=g.note, graded_at=g.graded_at, graded_by=g.graded_by, current=g.current)


def _answer(rf: Reviewflow, who: Identity, ref: str, response: Response, earlier: bool = False) -> list[GradeOut]:
    view = rf.case(ref, who)
    response.headers["ETag"] = etag(view.revision)
    rules = rf.definition(view.workflow, view.version).grading
    return [_out(g, rules) for g in rf.grades(ref, who, earlier)]


@router.get("/{ref}/grades", response_model=list[GradeOut], summary="The grades given on a case")
def list_grades(ref: str, rf: Service, who: Who, response: Response,
                earlier: Annotated[bool, Query(alias="all", description="Also the grades replaced.")] = False,
                ) -> list[GradeOut]:
    return _answer(rf, who, ref, response, earlier)


@router.post("/{ref}/grades", response_model=list[GradeOut], status_code=201,
             summary="Grade an agency, an agency against a standard, or a school")
def record_grade(ref: str, body: RecordGrade, rf: Service, who: Who, response: Response,
                 if_match: IfMatch = None) -> list[GradeOut]:
    rf.record_grade(ref, who, GradeRequest(body.grade, body.agency, body.standard, body.school, body.note),
                    revision=revision_of(if_match))
    return _answer(rf, who, ref, response)
