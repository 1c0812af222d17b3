"""Setting a password with a one-time set-up code (`/set-password`): the end of an administrator's password reset
(or of registering someone), for a person who is not signed in. The code is the secret: it is long and random,
used once, and expires (`[security] setup_code_hours`)."""

from __future__ import annotations

from typing import Annotated

import structlog
from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from reviewflow.engine.core.errors import ReviewflowError
from reviewflow.web.pages.common import ErrorList, page, redirect, reviewflow

log = structlog.get_logger("reviewflow")
router = APIRouter(include_in_schema=False)

Text = Annotated[str, Form()]


def _form(request: Request, status: int = 200, errors: ErrorList | None = None,
          values: dict[str, str] | None = None) -> Response:
    return page(request, "admin/set_password.html", status=status, errors=errors or [], values=values or {},
                person=None, minimum=reviewflow(request).settings.security.password_min_length)


@router.get("/set-password")
def set_password_form(request: Request) -> Response:
    """The form: the code from the administrator, and the new password twice."""
    return _form(request)


@router.post("/set-password")
def set_password(request: Request, code: Text = "", password: Text = "", confirm: Text = "") -> Response:
    """Set the password; then sign in with it. A refusal says why by the field, and nothing is written."""
    values = {"code": code.strip()}
    errors: ErrorList = []
    if not values["code"]:
        errors.append({"field": "code", "text": "Enter the set-up code your administrator gave you"})
    if not password:
        errors.append({"field": "password", "text": "Enter a new password"})
    elif password != confirm:
        errors.append({"field": "confirm", "text": "The two passwords are not the same: type the new one twice"})
    if errors:
        return _form(request, 422, errors, values)
    try:
        name = reviewflow(request).use_setup_code(values["code"], password)
    except ReviewflowError as exc:
        field = exc.field if exc.field in ("code", "password") else "code"
        return _form(request, 422, [{"field": field, "text": exc.message}], values)
    log.info("page.password_set", user=name)
    return redirect("/sign-in?password_set=1")
