"""Cases (`/cases`): the cases the person signed in may see, filtered by workflow, stage, overdue, learning
theme and agency, searched by reference, a page at a time."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse

from reviewflow.engine.core.access import Identity
from reviewflow.engine.core.errors import ReviewflowError
from reviewflow.engine.core.records import CaseView
from reviewflow.web.pages.common import case_status, error_list, page, reviewflow, signed_in, time_in_stage

router = APIRouter(include_in_schema=False)
Who = Annotated[Identity, Depends(signed_in)]
PER_PAGE = 25
FILTERS = ("workflow", "stage", "overdue", "theme", "agency", "ref", "closed")


@dataclass(frozen=True)
class Filters:
    """The list's filters, as given in the query string."""

    workflow: str = ""
    stage: str = ""
    overdue: bool = False
    theme: str = ""
    agency: str = ""
    ref: str = ""
    closed: bool = False

    def query(self, page: int | None = None) -> str:
        """The query string of these filters (and a page), for links."""
        values = {"workflow": self.workflow, "stage": self.stage, "overdue": "yes" if self.overdue else "",
                  "theme": self.theme, "agency": self.agency, "ref": self.ref, "closed": "yes" if self.closed else ""}
        if page and page > 1:
            values["page"] = str(page)
        return urlencode({k: v for k, v in values.items() if v})


def _stage_options(request: Request, workflow: str) -> list[tuple[str, str]]:
    """(stage name, label) of the chosen workflow's stages, or of every workflow's."""
    rf = reviewflow(request)
    found: dict[str, str] = {}
    for stored in rf.workflows():
        if workflow and stored.name != workflow:
            continue
        for name, state in rf.definition(stored.name, stored.version).states.items():
            found.setdefault(name, state.label if workflow else f"{state.label} ({name})")
    return sorted(found.items(), key=lambda item: item[1].lower())


@router.get("/cases")
def cases(request: Request, who: Who, workflow: str = Query("", max_length=100),
          stage: str = Query("", max_length=100), overdue: str = Query("", max_length=5),
          theme: str = Query("", max_length=60), agency: str = Query("", max_length=120),
          ref: str = Query("", max_length=64), closed: str = Query("", max_length=5),
          page_number: int = Query(1, alias="page", ge=1, le=100000)) -> HTMLResponse:
    """The cases the person may see, filtered and a page at a time."""
    rf = reviewflow(request)
    chosen = Filters(workflow.strip(), stage.strip(), overdue == "yes", theme.strip(), agency.strip(), ref.strip(),
                     closed == "yes")
    errors: list[dict[str, str]] = []
    views: list[CaseView] = []
    try:
        views = rf.cases(chosen.workflow or None, chosen.stage or None, chosen.overdue,
                         include_closed=chosen.closed, actor=who, theme=chosen.theme or None,
                         agency=chosen.agency or None)
    except ReviewflowError as exc:
        errors = error_list(exc, {"workflow": "workflow", "theme": "theme", "agency": "agency"}, "workflow")
    if chosen.ref:
        views = [v for v in views if chosen.ref.casefold() in v.ref.casefold()]
    total = len(views)
    pages = max(1, -(-total // PER_PAGE))
    current = min(page_number, pages)
    shown = views[(current - 1) * PER_PAGE:current * PER_PAGE]
    rows = [{"view": v, "status": case_status(v), "in_stage": time_in_stage(v)} for v in shown]
    workflows = [(w.name, w.title) for w in sorted(rf.workflows(), key=lambda w: w.title.lower())]
    return page(request, "cases.html", status=400 if errors else 200, errors=errors, rows=rows, total=total,
                filters=chosen, values={k: getattr(chosen, k) for k in FILTERS}, workflows=workflows,
                stages=_stage_options(request, chosen.workflow if not errors else ""), current=current, pages=pages,
                previous_link=f"/cases?{chosen.query(current - 1)}" if current > 1 else None,
                next_link=f"/cases?{chosen.query(current + 1)}" if current < pages else None)
