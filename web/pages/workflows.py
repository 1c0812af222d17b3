"""The workflow pages: every loaded review type (`/workflows`) and each one (`/workflows/{name}`) with its diagram,
stages, time limits, moves, guards and escalation ladders, as `reviewflow workflow show` and `workflow diagram`
give them. Anyone signed in may read them, as anyone may on the command line.

The diagram is an `<img>` of `/workflows/{name}/diagram.svg` (Graphviz's drawing, served as image/svg+xml: an
image runs no script and the page's Content-Security-Policy still holds); without Graphviz, the Mermaid text.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from reviewflow.engine.core.access import Identity
from reviewflow.web.pages.common import page, reviewflow, signed_in
from reviewflow.web.pages.workflow_view import can_draw, diagram_svg, mermaid, workflow_view

router = APIRouter(include_in_schema=False)

Who = Annotated[Identity, Depends(signed_in)]
Version = Annotated[int | None, Query(ge=1, le=2**31 - 1)]


@router.get("/workflows")
def workflows_page(request: Request, who: Who) -> Response:
    """Every loaded workflow, newest version of each."""
    rf = reviewflow(request)
    rows = [(stored, rf.definition(stored.name, stored.version)) for stored in rf.workflows()]
    return page(request, "workflows.html", rows=rows)


@router.get("/workflows/{name}")
def workflow_page(request: Request, who: Who, name: str, version: Version = None) -> Response:
    """One workflow (newest version, or `version`): diagram, stages, moves and ladders."""
    rf = reviewflow(request)
    definition = rf.definition(name, version)
    versions = sorted(v for (n, v) in rf.all_definitions() if n == name)
    drawn = can_draw()
    svg_href = f"/workflows/{quote(name, safe='')}/diagram.svg?version={definition.version}"
    return page(request, "workflow.html", flow=workflow_view(definition), versions=versions, legacy=definition.legacy,
                diagram_href=svg_href if drawn else None, mermaid=None if drawn else mermaid(definition))


@router.get("/workflows/{name}/diagram.svg")
def workflow_diagram(request: Request, who: Who, name: str, version: Version = None) -> Response:
    """The workflow's diagram drawn by Graphviz, as an SVG image."""
    definition = reviewflow(request).definition(name, version)
    return Response(diagram_svg(definition), media_type="image/svg+xml",
                    headers={"Cache-Control": "private, max-age=3600" if version else "no-cache",
                             "Content-Disposition": f'inline; filename="{definition.name}-v{definition.version}.svg"'})
