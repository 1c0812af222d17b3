"""`/calendar/SECRET.ics`: a person's private calendar feed of due dates, for calendar programs to subscribe to.

The secret in the address is the only credential (calendar programs cannot sign in); it is made and reset
with `reviewflow calendar url` or from the web pages, and a feed whose address was reset, or whose owner is
disabled, is not found.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Response

from reviewflow.engine.services.facade import Reviewflow
from reviewflow.web.security import service

router = APIRouter(tags=["calendar"])

MEDIA_TYPE = "text/calendar"


@router.get("/calendar/{secret}.ics", summary="A person's calendar feed of due dates", response_class=Response,
            include_in_schema=False)  # for calendar programs, beside the API (see docs/api.md#calendar-feed)
def calendar_feed(secret: Annotated[str, Path(max_length=100, description="The feed's secret, from "
                                                                          "'reviewflow calendar url'.")],
                  rf: Annotated[Reviewflow, Depends(service)]) -> Response:
    return Response(rf.calendar_feed(secret), media_type=f"{MEDIA_TYPE}; charset=utf-8", headers={
        "Cache-Control": "private, max-age=300", "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer", "Content-Disposition": 'inline; filename="reviewflow.ics"'})
