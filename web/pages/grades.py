"""The case page's grades (engine/services/grading.py): the table of grades given, and the form that records one,
without JavaScript."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from reviewflow.engine.core.access import Identity
from reviewflow.engine.core.definition import WorkflowDefinition
from reviewflow.engine.core.errors import ReviewflowError
from reviewflow.engine.core.grading import AGENCY, SCHOOL, STANDARD, roles_of
from reviewflow.engine.core.records import CaseView
from reviewflow.engine.services.facade import Reviewflow
from reviewflow.engine.services.grading import GradeRequest
from reviewflow.web.pages.case import Who, case_link, refused, revision_of
from reviewflow.web.pages.common import check_csrf, form_values, page, redirect, reviewflow

router = APIRouter(include_in_schema=False)
FIELDS = {"grade": "grade", "agency": "agency", "standard": "standard", "school": "school", "note": "note"}


def grading_context(rf: Reviewflow, who: Identity, view: CaseView, d: WorkflowDefinition) -> dict[str, Any]:
    """What the case page shows of the grades: the current ones, and whether the person may record one."""
    if d.grading is None:
        return {"grades": [], "grading": None, "may_grade": False}
    return {"grades": rf.grades(view.ref, who), "grading": d.grading,
            "may_grade": view.is_open and bool(who.roles & set(roles_of(d)))}


def _grade_page(request: Request, who: Identity, ref: str, *, errors: list[dict[str, str]] | None = None,
                values: dict[str, str] | None = None, status: int = 200, stale: bool = False) -> Response:
    rf = reviewflow(request)
    view = rf.case(ref, who)
    d = rf.definition(view.workflow, view.version)
    kept = values or {}
    g = d.grading
    return page(request, "grade.html", status=status, view=view, errors=errors or [], values=kept,
                revision=kept.get("revision") or view.revision, stale=stale,
                per=g.per if g else (), scale=list(g.scale) if g else [], standards=list(g.standards) if g else [],
                agencies=rf.agencies(who) if g and AGENCY in g.per else [], AGENCY=AGENCY, STANDARD=STANDARD,
                SCHOOL=SCHOOL)


@router.get("/cases/{ref}/grade")
def grade_form(request: Request, ref: str, who: Who) -> Response:
    return _grade_page(request, who, ref)


@router.post("/cases/{ref}/grade")
async def record_grade(request: Request, ref: str, who: Who) -> Response:
    """Record a grade for an agency, an agency against a standard, or a school."""
    form = await request.form()
    check_csrf(request, form)
    values = form_values(form)
    asked = GradeRequest(values.get("grade", ""), values.get("agency") or None, values.get("standard") or None,
                         values.get("school") or None, values.get("note") or None)
    try:
        reviewflow(request).record_grade(ref, who, asked, revision=revision_of(form))
    except ReviewflowError as exc:
        return refused(request, exc, lambda **kw: _grade_page(request, who, ref, **kw), FIELDS, "grade", values,
                       ref, who)
    return redirect(case_link(ref, "graded"))
