"""Opening a case (`/cases/new`): the review types the person signed in may open, the current ones apart from the
legacy ones (engine/core/legacy.py), and for each a form of its opening fields. A legacy review type's form has a
box to confirm the case is a historical one; the services refuse it unchecked, naming the current review type.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from reviewflow.engine.core.access import Identity
from reviewflow.engine.core.definition import FieldSpec, WorkflowDefinition
from reviewflow.engine.core.errors import NotPermitted, ReviewflowError
from reviewflow.web.pages.case import case_link, kind_of, status_of
from reviewflow.web.pages.common import check_csrf, error_list, form_values, page, redirect, reviewflow, signed_in

router = APIRouter(include_in_schema=False)
Who = Annotated[Identity, Depends(signed_in)]
CONFIRM = "confirm_legacy"
"""The form field of the legacy confirmation (a name no workflow field takes)."""
NOTE = "open_note"


def _may_open(who: Identity, d: WorkflowDefinition) -> bool:
    return who.admin or bool(who.roles & set(d.open.roles))


def _openable(request: Request, who: Identity) -> list[WorkflowDefinition]:
    rf = reviewflow(request)
    found = [rf.definition(w.name, w.version) for w in rf.workflows()]
    return sorted((d for d in found if _may_open(who, d)), key=lambda d: d.title.lower())


@router.get("/cases/new")
def choose_workflow(request: Request, who: Who) -> Response:
    """The review types the person may open: current ones first, legacy ones apart."""
    flows = _openable(request, who)
    return page(request, "case_new.html", current=[d for d in flows if d.legacy is None],
                legacy=[d for d in flows if d.legacy is not None])


def _specs(d: WorkflowDefinition) -> list[dict[str, object]]:
    specs: list[dict[str, object]] = []
    for s in d.open.requires:
        specs.append({"spec": s, "kind": kind_of(s), "label": s.label or s.name.replace("_", " ").capitalize()})
        if s.reason_if_no:
            specs.append({"spec": FieldSpec(s.reason_name, "text"), "kind": "textarea", "label": "If no, why not?"})
    return specs


def _open_page(request: Request, who: Identity, workflow: str, *, errors: list[dict[str, str]] | None = None,
               values: dict[str, str] | None = None, status: int = 200) -> Response:
    d = reviewflow(request).definition(workflow)
    if not _may_open(who, d):
        raise NotPermitted(f"opening a {d.name} case needs one of the roles {', '.join(d.open.roles)}: ask someone "
                           "who holds one", allowed=d.open.roles, workflow=d.name)
    return page(request, "case_open.html", status=status, flow=d, specs=_specs(d), errors=errors or [],
                values=values or {}, confirm=CONFIRM, note=NOTE, action=f"/cases/new/{quote(d.name, safe='')}")


@router.get("/cases/new/{workflow}")
def open_form(request: Request, workflow: str, who: Who) -> Response:
    """The form of a new case of `workflow`: its reference, its opening fields and a note."""
    return _open_page(request, who, workflow)


@router.post("/cases/new/{workflow}")
async def open_case(request: Request, workflow: str, who: Who) -> Response:
    """Open the case as the person signed in; a refusal shows the form again with the engine's message."""
    form = await request.form()
    check_csrf(request, form)
    values = form_values(form)
    rf = reviewflow(request)
    d = rf.definition(workflow)
    fields = {s.name: values[s.name] for s in d.open.requires if s.name in values}
    fields.update({s.reason_name: values[s.reason_name] for s in d.open.requires
                   if s.reason_if_no and values.get(s.reason_name, "").strip()})
    ref = values.get("ref", "").strip()
    try:
        rf.open_case(d.name, ref, who, fields, values.get(NOTE, "").strip() or None,
                     legacy=values.get(CONFIRM) == "yes")
    except ReviewflowError as exc:
        known = {s.name: s.name for s in d.open.requires} | {"ref": "ref", "legacy": CONFIRM}
        return _open_page(request, who, workflow, errors=error_list(exc, known, "ref"), values=values,
                          status=status_of(exc))
    return redirect(case_link(ref))
