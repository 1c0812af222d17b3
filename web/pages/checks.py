"""The form that records the outcome of a case's progress check (engine/services/clocks.py), without JavaScript."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from reviewflow.engine.core.access import Identity
from reviewflow.engine.core.errors import ReviewflowError
from reviewflow.engine.core.milestones import OUTCOMES
from reviewflow.web.pages.case import Who, case_link, refused, revision_of
from reviewflow.web.pages.common import check_csrf, form_values, page, redirect, reviewflow

router = APIRouter(include_in_schema=False)
OUTCOME_LABELS = {"on_track": "On track", "concerns": "Some concerns", "off_track": "Off track"}


def _check_page(request: Request, who: Identity, ref: str, *, errors: list[dict[str, str]] | None = None,
                values: dict[str, str] | None = None, status: int = 200, stale: bool = False) -> Response:
    rf = reviewflow(request)
    view = rf.case(ref, who)
    d = rf.definition(view.workflow, view.version)
    kept = values or {}
    checks = [(c.name, c.label) for c in d.progress_checks if view.state in c.during]
    return page(request, "check.html", status=status, view=view, errors=errors or [], values=kept,
                revision=kept.get("revision") or view.revision, stale=stale, checks=checks,
                outcomes=[(o, OUTCOME_LABELS[o]) for o in OUTCOMES])


@router.get("/cases/{ref}/check")
def check_form(request: Request, ref: str, who: Who) -> Response:
    return _check_page(request, who, ref)


@router.post("/cases/{ref}/check")
async def record_check(request: Request, ref: str, who: Who) -> Response:
    """Record the outcome of the latest progress check of the case waiting for one."""
    form = await request.form()
    check_csrf(request, form)
    values = form_values(form)
    rf = reviewflow(request)
    try:
        rf.record_check(ref, who, values.get("outcome", ""), values.get("note", "").strip() or None,
                        values.get("check", "").strip() or None, revision=revision_of(form))
    except ReviewflowError as exc:
        return refused(request, exc, lambda **kw: _check_page(request, who, ref, **kw),
                       {"outcome": "outcome", "note": "note", "check": "check"}, "outcome", values, ref, who)
    return redirect(case_link(ref, "checked"))
