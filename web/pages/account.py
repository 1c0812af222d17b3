"""Your account (`/account`): who you are registered as, how your notifications reach you (one e-mail each, or
a daily digest), and the private address of your calendar feed of due dates (made or replaced here, shown once)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response

from reviewflow.engine.core.access import Identity
from reviewflow.engine.core.errors import ReviewflowError
from reviewflow.web.pages.common import check_csrf, error_list, form_values, page, redirect, reviewflow, signed_in

router = APIRouter(include_in_schema=False)
Who = Annotated[Identity, Depends(signed_in)]

NOTIFY_CHOICES = (("immediate", "An e-mail for each notification, as it happens"),
                  ("daily", "One e-mail a day listing them (a daily digest)"))


def _account_page(request: Request, who: Identity, *, status: int = 200, errors: list[dict[str, str]] | None = None,
                  calendar_address: str | None = None, done: str | None = None) -> HTMLResponse:
    rf = reviewflow(request)
    account = rf.account(who.name, who)
    return page(request, "account.html", status=status, account=account, errors=errors or [],
                values={"notify": account.notify}, notify_choices=NOTIFY_CHOICES,
                calendar_made_at=rf.calendar_made_at(who), calendar_address=calendar_address,
                done=done or request.query_params.get("done"))


@router.get("/account")
def account(request: Request, who: Who) -> HTMLResponse:
    """The account page of the person signed in."""
    return _account_page(request, who)


@router.post("/account/notifications")
async def notifications(request: Request, who: Who) -> Response:
    """Choose immediate e-mails or a daily digest."""
    form = await request.form()
    check_csrf(request, form)
    choice = form_values(form).get("notify", "")
    try:
        reviewflow(request).set_notification_preference(who, who.name, choice)
    except ReviewflowError as exc:
        return _account_page(request, who, status=422, errors=error_list(exc, {"notify": "notify"}, "notify"))
    return redirect("/account?done=notifications")


@router.post("/account/calendar")
async def calendar(request: Request, who: Who) -> Response:
    """Make the calendar feed's address, or replace it (the old address stops working at once). The address is
    shown on this answer only: it is a secret, like a password."""
    form = await request.form()
    check_csrf(request, form)
    rf = reviewflow(request)
    secret = rf.calendar_url_secret(who, reset=rf.calendar_made_at(who) is not None)
    return _account_page(request, who, calendar_address=rf.calendar_url(secret), done="calendar")
