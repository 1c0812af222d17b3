"""My work (`/`, also `/my-work`): the stages I own through my roles, the actions my agency or I own, and the
evidence awaiting my decision; overdue first, then soonest due (`Reviewflow.my_work`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse

from reviewflow.engine.core.access import Identity
from reviewflow.web.pages.common import action_status, case_status, page, reviewflow, signed_in

router = APIRouter(include_in_schema=False)
Who = Annotated[Identity, Depends(signed_in)]


@router.get("/")
@router.get("/my-work")
def my_work(request: Request, who: Who) -> HTMLResponse:
    """Everything waiting on the person signed in."""
    work = reviewflow(request).my_work(who)
    stages = [{"view": v, "status": case_status(v)} for v in work.stages]
    actions = [{"action": a, "status": action_status(a, work.today)} for a in work.actions]
    return page(request, "my_work.html", work=work, stages=stages, actions=actions, evidence=work.evidence)
