"""Who is asking: a personal API token (`Authorization: Bearer`) or a signed-in session (a cookie).

The façade establishes the identity; this module only carries the credentials to it. Writes made
with a session cookie must carry the session's CSRF token (header `X-CSRF-Token`, or the form field
`csrf_token`); a token in the `Authorization` header cannot be sent by another site, so needs none.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from urllib.parse import urlsplit

from fastapi import Depends, Request, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from reviewflow.engine.core.access import Identity
from reviewflow.engine.core.errors import NotPermitted, NotSignedIn
from reviewflow.engine.services.accounts import csrf_token
from reviewflow.engine.services.facade import Reviewflow

SESSION_COOKIE = "rf_session"
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

bearer = HTTPBearer(auto_error=False, description="A personal API token: `reviewflow token create`.")


def service(request: Request) -> Reviewflow:
    """The façade the application was made with."""
    found: Reviewflow = request.app.state.reviewflow
    return found


def from_another_site(request: Request) -> bool:
    """A browser's request sent from a page of another site (its Origin names another host, or is opaque): the
    sign-in form refuses it, so no other site can sign someone in under an account of its choosing. A request
    with no Origin (not from a browser's cross-site form) is not refused here."""
    origin = request.headers.get("origin")
    if origin is None:
        return False
    return origin == "null" or urlsplit(origin).netloc.lower() != request.headers.get("host", "").lower()


def client_address(request: Request) -> str:
    """The caller's address, for throttling (behind a proxy, the proxy passes it on; see docs/deploy.md)."""
    return request.client.host if request.client else "unknown"


@dataclass(frozen=True)
class Caller:
    """The person asking, and how: `session_token` is set when they came with a session cookie."""

    identity: Identity
    session_token: str | None = None

    @property
    def csrf(self) -> str | None:
        return csrf_token(self.session_token) if self.session_token else None


def _caller(request: Request, credentials: HTTPAuthorizationCredentials | None, rf: Reviewflow) -> Caller:
    if credentials is not None:
        if credentials.scheme.lower() != "bearer":
            raise NotSignedIn("send a personal API token as 'Authorization: Bearer TOKEN'")
        return Caller(rf.identify_token(credentials.credentials))
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        raise NotSignedIn("sign in first, or send a personal API token as 'Authorization: Bearer TOKEN'")
    return Caller(rf.identify_session(token), token)


def check_csrf(request: Request, caller: Caller, form_value: str | None = None) -> None:
    """Refuse a write that came with a session cookie but without the session's CSRF token."""
    if request.method in SAFE_METHODS or caller.session_token is None:
        return
    given = request.headers.get(CSRF_HEADER) or form_value or ""
    expected = caller.csrf or ""
    if not given or not hmac.compare_digest(given, expected):
        raise NotPermitted("this change did not carry the page's security token (CSRF): reload the page and try "
                           "again", field=CSRF_FIELD)


def caller(request: Request, credentials: HTTPAuthorizationCredentials | None = Depends(bearer),
           rf: Reviewflow = Depends(service)) -> Caller:
    """The signed-in caller of an API request (a write with a session cookie must carry its CSRF token)."""
    found = _caller(request, credentials, rf)
    check_csrf(request, found)
    return found


def identity(found: Caller = Depends(caller)) -> Identity:
    return found.identity


def set_session_cookie(response: Response, token: str, max_age: int, secure: bool = True) -> None:
    """The session cookie: HttpOnly (no script reads it), Secure, SameSite=Lax (no cross-site writes)."""
    response.set_cookie(SESSION_COOKIE, token, max_age=max_age, httponly=True, secure=secure, samesite="lax",
                        path="/")


def clear_session_cookie(response: Response, secure: bool = True) -> None:
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, secure=secure, samesite="lax")
