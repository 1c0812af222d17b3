"""Measured impact's pages, under `/cases/{ref}/`: record a measured value of an action's success measure, and
record training attendance on a learning theme. Form pages over one façade method each, as learning.py's."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from reviewflow.engine.core.measures import describe
from reviewflow.web.pages.case import case_link
from reviewflow.web.pages.common import reviewflow
from reviewflow.web.pages.learning import Field, Form, Values, Who, _show, _submit

router = APIRouter(include_in_schema=False)


def _measure_form(ref: str, number: str, measure: str = "") -> Form:
    return Form(f"Record a measured value of action {number}", f"{case_link(ref)}/actions/{number}/measure", (
        Field("value", "Measured value", hint="A number in the measure's unit, for example 85"),
        Field("date", "When was it measured?", "date", hint="For example 2026-09-30; not a day in the future"),
        Field("note", "Where the figure comes from (optional)", "textarea")), "Record the value",
        {"on": "date"}, intro=f"Measure: {measure}." if measure else "")


@router.get("/cases/{ref}/actions/{number}/measure")
def measure_form(request: Request, ref: str, number: str, who: Who) -> Response:
    action = reviewflow(request).action(ref, number, who)
    shown = describe(action.measure) if action.measure else ""
    return _show(request, who, ref, _measure_form(ref, action.number, shown), action=action)


@router.post("/cases/{ref}/actions/{number}/measure")
async def measure(request: Request, ref: str, number: str, who: Who) -> Response:
    def act(v: Values, revision: int, _raw: Any) -> str:
        return reviewflow(request).measure_action(ref, number, who, v.get("value", ""), v.get("date", ""),
                                                  v.get("note", "").strip() or None, revision=revision).number

    return await _submit(request, who, ref, lambda: _measure_form(ref, number.upper()), act, "measured")


def _training_form(request: Request, ref: str) -> Form:
    themes = tuple((t.key, t.label) for t in reviewflow(request).themes(include_retired=False))
    return Form("Record training attendance", f"{case_link(ref)}/training", (
        Field("theme", "Learning theme", "radios", themes),
        Field("attended", "How many attended?", hint="A whole number, for example 18"),
        Field("date", "When was it held?", "date", hint="For example 2026-09-30"),
        Field("course", "Course or session (optional)", hint="For example: Neglect toolkit refresher")),
        "Record the attendance")


@router.get("/cases/{ref}/training")
def training_form(request: Request, ref: str, who: Who) -> Response:
    return _show(request, who, ref, _training_form(request, ref))


@router.post("/cases/{ref}/training")
async def training(request: Request, ref: str, who: Who) -> Response:
    def act(v: Values, revision: int, _raw: Any) -> str:
        reviewflow(request).record_training(ref, who, v.get("theme", ""), v.get("attended", ""), v.get("date", ""),
                                            v.get("course") or None, revision=revision)
        return ""

    return await _submit(request, who, ref, lambda: _training_form(request, ref), act, "trained")
