"""Signing in and out: `/sign-in` (a password, or the partnership's single sign-on when it is configured) and
`/sign-out`. Throttling is the services': a locked sign-in says for how long and answers 429 with Retry-After."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, Response

from reviewflow.engine.core.errors import NotSignedIn, Throttled
from reviewflow.web.pages.common import check_csrf, form_values, page, redirect, reviewflow, safe_next
from reviewflow.web.security import (
    SESSION_COOKIE,
    clear_session_cookie,
    client_address,
    from_another_site,
    set_session_cookie,
)

router = APIRouter(include_in_schema=False)


def _sign_in_page(request: Request, status: int = 200, errors: list[dict[str, str]] | None = None,
                  values: dict[str, str] | None = None, headers: dict[str, str] | None = None) -> Response:
    oidc = reviewflow(request).settings.oidc
    values = values or {}
    return page(request, "sign_in.html", status=status, headers=headers, errors=errors or [], values=values,
                next=safe_next(values.get("next") or request.query_params.get("next")),
                sso_label=oidc.label if oidc else None,
                signed_out=request.query_params.get("signed_out") == "1",
                password_set=request.query_params.get("password_set") == "1", person=None)


@router.get("/sign-in")
def sign_in_form(request: Request) -> Response:
    """The sign-in page."""
    return _sign_in_page(request)


@router.post("/sign-in")
async def sign_in(request: Request) -> Response:
    """Check the name and password (throttled), start a session, go on to the page asked for."""
    form = await request.form()
    values = form_values(form)
    values.pop("password", None)
    name, password = str(form.get("name") or "").strip(), str(form.get("password") or "")
    errors = [e for e in ({"field": "name", "text": "Enter your user name"} if not name else None,
                          {"field": "password", "text": "Enter your password"} if not password else None) if e]
    if errors:
        return _sign_in_page(request, 400, errors, values)
    if from_another_site(request):
        return _sign_in_page(request, 403, [{"field": "name", "text": "This sign-in was sent from another site: "
                                             "open this site's sign-in page and sign in there"}], values)
    rf = reviewflow(request)
    try:
        signed = rf.sign_in(name, password, client_address(request))
    except Throttled as exc:
        retry = str(exc.more.get("retry_after", 900))
        return _sign_in_page(request, 429, [{"field": "name", "text": exc.message}], values, {"Retry-After": retry})
    except NotSignedIn as exc:
        return _sign_in_page(request, 401, [{"field": "password" if exc.field == "password" else "name",
                                             "text": exc.message}], values)
    response = redirect(safe_next(values.get("next")))
    max_age = int((signed.expires_at - rf.clock()).total_seconds())
    set_session_cookie(response, signed.token, max_age, request.app.state.secure_cookies)
    return response


@router.post("/sign-out")
async def sign_out(request: Request) -> Response:
    """End the session (the form carries its CSRF token, so no other site can sign a person out)."""
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        request.state.session_token = token
        check_csrf(request, await request.form())
        reviewflow(request).sign_out(token)
    response = redirect("/sign-in?signed_out=1")
    clear_session_cookie(response, request.app.state.secure_cookies)
    return response


@router.get("/favicon.ico")
def favicon() -> Response:
    """No icon: answered without an error page, so browsers stop asking."""
    return Response(status_code=204, headers={"Cache-Control": "max-age=86400"})


@router.get("/logo")
def logo(request: Request) -> Response:
    """The partnership's logo (`[web] logo`), when one is set."""
    path = reviewflow(request).settings.web.logo
    if not path or not Path(path).is_file():
        return Response(status_code=404)
    return FileResponse(path, headers={"Cache-Control": "max-age=3600"})
