"""What every page shares: the façade, the signed-in person, rendering a template, the CSRF check, and the
pages shown for errors.

Pages call the same façade methods as the API, as the person signed in with the `rf_session` cookie, so every
rule and every refusal is the services' own. A person who is not signed in is sent to the sign-in page and
back; a case they may not see is "not found", exactly as one that does not exist.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import jinja2
import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from reviewflow.engine.core import limits
from reviewflow.engine.core.access import Identity
from reviewflow.engine.core.durations import DEFAULT_CALENDAR, LOCAL_ZONE
from reviewflow.engine.core.elapsed import time_in_stage as stage_time
from reviewflow.engine.core.errors import CaseNotFound, NotSignedIn, ReviewflowError
from reviewflow.engine.core.learning import WORKING, is_overdue, kind_label
from reviewflow.engine.core.measures import describe
from reviewflow.engine.core.records import Action, CaseView
from reviewflow.engine.core.reports.stages import (
    DUE_SOON,
    DUE_SOON_WORKING_DAYS,
    NO_LIMIT,
    ON_TIME,
    OVERDUE,
    PAUSED,
    RAG_LABELS,
    rag,
    working_days,
)
from reviewflow.engine.services.facade import Reviewflow
from reviewflow.web import problems
from reviewflow.web.security import CSRF_FIELD, SESSION_COOKIE, Caller
from reviewflow.web.security import check_csrf as check_caller_csrf

log = structlog.get_logger("reviewflow")

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
API_PREFIXES = ("/api/", "/auth/", "/calendar/")
"""Paths whose errors stay problem documents (JSON); every other path gets an HTML page."""
_SAFE_NEXT = re.compile(r"^/(?![/\\])[A-Za-z0-9._~!$&'()*+,;=:@%/?-]*$")

ErrorList = list[dict[str, str]]
"""Form errors as the templates take them: [{"field": name, "text": message}, ...]."""


class SignInRequired(Exception):
    """Raised by `signed_in` for a request without a valid session: answered by a redirect to /sign-in."""

    def __init__(self, next_path: str) -> None:
        super().__init__(next_path)
        self.next_path = next_path


# --- the façade and the person ---------------------------------------------------------------------

def reviewflow(request: Request) -> Reviewflow:
    """The façade the application was made with."""
    found: Reviewflow = request.app.state.reviewflow
    return found


def requested_path(request: Request) -> str:
    """The path and query of `request`, as a `next` for after signing in."""
    query = request.url.query
    return request.url.path + (f"?{query}" if query else "")


def safe_next(value: str | None) -> str:
    """`value` when it is a path on this site (never another site: no open redirect), else My work."""
    if value and len(value) <= 500 and _SAFE_NEXT.match(value):
        return value
    return "/"


def signed_in(request: Request) -> Identity:
    """The person signed in with the session cookie (a FastAPI dependency); anyone else is sent to sign in."""
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        raise SignInRequired(requested_path(request) if request.method == "GET" else request.url.path)
    try:
        who = reviewflow(request).identify_session(token)
    except NotSignedIn:
        raise SignInRequired(requested_path(request) if request.method == "GET" else request.url.path) from None
    request.state.identity = who
    request.state.session_token = token
    return who


def current_identity(request: Request) -> Identity | None:
    """The person `signed_in` found for this request, if any."""
    found: Identity | None = getattr(request.state, "identity", None)
    return found


def csrf_token_of(request: Request) -> str | None:
    """The CSRF token of this request's session (forms carry it as the hidden field `csrf_token`)."""
    token = getattr(request.state, "session_token", None) or request.cookies.get(SESSION_COOKIE)
    return Caller(Identity("-"), token).csrf if token else None


def check_csrf(request: Request, form: Mapping[str, Any]) -> None:
    """Refuse a form that does not carry the session's CSRF token, as the API refuses it (a 403 page)."""
    who = current_identity(request) or Identity("-")
    token = getattr(request.state, "session_token", None) or request.cookies.get(SESSION_COOKIE)
    value = form.get(CSRF_FIELD)
    check_caller_csrf(request, Caller(who, token or ""), value if isinstance(value, str) else None)
    forget_counts(request, who)


# --- rendering -------------------------------------------------------------------------------------

def _date(value: date | datetime | str | None) -> str:
    """'5 January 2026' (GOV.UK style); an instant is shown on its date in England."""
    if value is None or value == "":
        return ""
    if isinstance(value, str):
        try:
            value = date.fromisoformat(value[:10])
        except ValueError:
            return str(value)
    if isinstance(value, datetime):
        value = value.astimezone(LOCAL_ZONE).date()
    return f"{value.day} {value:%B %Y}"


def _datetime(value: datetime | None) -> str:
    """'5 January 2026, 09:30' in England's time."""
    if value is None:
        return ""
    local = value.astimezone(LOCAL_ZONE)
    return f"{local.day} {local:%B %Y, %H:%M}"


def _words(value: object) -> str:
    """'evidence_submitted' -> 'evidence submitted'."""
    return str(value or "").replace("_", " ")


def _held_role(value: object) -> str:
    """A role as held: 'subgroup_chair@audit' -> 'subgroup chair (audit sub-group only)'."""
    from reviewflow.engine.core.subgroups import describe

    return _words(describe(str(value or "")))


def _value(value: object) -> str:
    """A field value as a person reads it: yes/no for booleans, dates in words."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        return _date(value)
    return "" if value is None else str(value)


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATES)), autoescape=True,
                             trim_blocks=True, lstrip_blocks=True)
    env.filters.update(date=_date, datetime=_datetime, words=_words, value=_value, held_role=_held_role,
                       measure_text=describe, kind_label=kind_label)
    env.globals.update(maxlength=limits.FORM_FIELDS, textarea_maxlength=limits.FIELD_VALUE)
    return env


ENV = _environment()


def partnership(request: Request) -> str:
    return reviewflow(request).settings.web.partnership


COUNTS_FOR = timedelta(seconds=60)
"""How long the navigation's counts are kept for a person between pages: working them out is a whole My work
list (most of a case page's time, for someone who sees every case). My work itself always works them out, and
a form the person sends forgets them, so their own changes show at once and others' within a minute."""


def _counts_kept(request: Request) -> dict[str, tuple[datetime, dict[str, int]]]:
    kept: dict[str, tuple[datetime, dict[str, int]]] | None = getattr(request.app.state, "nav_counts", None)
    if kept is None:
        kept = request.app.state.nav_counts = {}
    return kept


def forget_counts(request: Request, who: Identity) -> None:
    """The person changed something: their counts are worked out afresh on the next page."""
    _counts_kept(request).pop(who.name, None)


def navigation_counts(request: Request, who: Identity | None, work: Any = None) -> dict[str, int] | None:
    """The counts the navigation shows beside My work (None when nobody is signed in)."""
    if who is None:
        return None
    cached: dict[str, int] | None = getattr(request.state, "counts", None)
    if cached is not None and work is None:
        return cached
    rf = reviewflow(request)
    now, kept = rf.clock(), _counts_kept(request)
    if work is None and who.name in kept and now - kept[who.name][0] < COUNTS_FOR:
        request.state.counts = kept[who.name][1]
        return request.state.counts
    if work is None:
        try:
            work = rf.my_work(who)
        except ReviewflowError:
            return None
    counts = {"all": work.count, "stages": len(work.stages), "actions": len(work.actions),
              "evidence": len(work.evidence), "overdue": work.overdue_stages + work.overdue_actions}
    request.state.counts = counts
    kept[who.name] = (now, counts)
    return counts


NAV = (("/", "My work"), ("/cases", "Cases"), ("/board", "Board"), ("/workflows", "Workflows"),
       ("/admin", "Administration"))
"""The navigation, in order; a link shows when this build serves its page (`install` notes the pages' paths),
Administration to administrators only."""


def nav_links(request: Request, who: Identity | None) -> list[dict[str, str]]:
    """The navigation links for `who`."""
    served: set[str] = getattr(request.app.state, "page_paths", set())
    return [{"href": href, "label": label} for href, label in NAV
            if href in served and (href != "/admin" or (who is not None and who.admin))]


def page(request: Request, template: str, *, status: int = 200, headers: Mapping[str, str] | None = None,
         **context: Any) -> HTMLResponse:
    """Render `template` with what every page needs: the person signed in, the navigation counts, the form
    token, the partnership's name, the current path."""
    who = context.pop("person", None) or current_identity(request)
    settings = reviewflow(request).settings.web
    values = {
        "request": request, "person": who, "csrf_token": csrf_token_of(request) if who else None,
        "counts": navigation_counts(request, who, context.get("work")), "partnership": settings.partnership,
        "logo": bool(settings.logo), "path": request.url.path, "nav_links": nav_links(request, who),
        "errors": [], "values": {},
        **context,
    }
    html = ENV.get_template(template).render(values)
    return HTMLResponse(html, status_code=status, headers=dict(headers or {}))


def problem_page(request: Request, status: int, title: str, messages: list[str] | None = None, *,
                 headers: Mapping[str, str] | None = None) -> HTMLResponse:
    """An error page: 404 for anything not found or not visible, 403 when not permitted, 422 with the
    engine's messages, and so on."""
    return page(request, "problem.html", status=status, headers=headers, title=title, messages=messages or [])


def redirect(path: str) -> RedirectResponse:
    """POST-redirect-GET: a 303 to a page on this site."""
    return RedirectResponse(path, status_code=303)


# --- how a case and an action stand, in words and colour ----------------------------------------------

RAG_TAGS = {OVERDUE: "govuk-tag--red", DUE_SOON: "govuk-tag--yellow", ON_TIME: "govuk-tag--green",
            PAUSED: "govuk-tag--grey", NO_LIMIT: "govuk-tag--grey", "closed": "govuk-tag--grey"}


def case_status(view: CaseView) -> dict[str, str]:
    """The case's RAG status: its key, its words (never colour alone) and its tag's colour class."""
    if not view.is_open:
        key, label = "closed", "Closed"
    else:
        key = rag(view.due_at, view.paused_at is not None, view.now, view.calendar)
        label = RAG_LABELS[key]
        if key == OVERDUE and view.working_days_overdue:
            label = f"Overdue by {view.working_days_overdue} working day{'s' if view.working_days_overdue != 1 else ''}"
    return {"key": key, "label": label, "tag": RAG_TAGS[key]}


def time_in_stage(view: CaseView) -> str:
    """How long the case has been in its stage: in working days where the stage's limit is in working days (the
    same words as `case show`; never negative)."""
    return stage_time(view.entered_at, view.now, view.time_limit, view.calendar)


def action_status(action: Action, today: date) -> dict[str, str]:
    """An action's status as its tag shows it: overdue and due soon while it is being worked, else its status."""
    if is_overdue(action.facts(), today):
        days = working_days(action.due_date, today, DEFAULT_CALENDAR)  # as the action's ladder counts
        return {"key": OVERDUE, "label": f"Overdue by {days} working day{'s' if days != 1 else ''}",
                "tag": RAG_TAGS[OVERDUE]}
    if action.status in WORKING and working_days(today, action.due_date, DEFAULT_CALENDAR) <= DUE_SOON_WORKING_DAYS:
        return {"key": DUE_SOON, "label": f"Due {_date(action.due_date)}", "tag": RAG_TAGS[DUE_SOON]}
    colour = {"verified": "govuk-tag--green", "impact_evaluated": "govuk-tag--green", "embedded": "govuk-tag--green",
              "evidence_submitted": ""}.get(action.status, "govuk-tag--grey")
    return {"key": action.status, "label": _words(action.status).capitalize(), "tag": colour}


# --- form errors -----------------------------------------------------------------------------------

def error_list(exc: ReviewflowError, known: Mapping[str, str] | None = None, fallback: str = "") -> ErrorList:
    """One error for the form: the engine's message by the field it names (`known` maps the engine's field
    names to the form's, when they differ); a message naming no field of the form goes by `fallback`."""
    field = exc.field or ""
    if known is not None:
        field = known.get(field, fallback)
    return [{"field": field or fallback, "text": exc.message}]


def form_values(form: Mapping[str, Any]) -> dict[str, str]:
    """What was typed, to show again (never the CSRF token, never a file)."""
    return {k: v for k, v in form.items() if isinstance(v, str) and k != CSRF_FIELD}


# --- errors as pages ------------------------------------------------------------------------------

_TITLES = {400: "There is a problem with the request", 401: "Sign in", 403: "You cannot do that",
           404: "Page not found", 409: "Someone else changed this", 412: "Someone else changed this",
           422: "That could not be done", 429: "Too many attempts", 503: "Sorry, the service is unavailable"}


def _is_api(request: Request) -> bool:
    return request.url.path.startswith(API_PREFIXES)


def _reviewflow_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ReviewflowError)
    if _is_api(request):
        return problems.reviewflow_error(request, exc)
    status = exc.http_status
    if status == 401:
        return redirect(f"/sign-in?next={quote(safe_next(requested_path(request)))}")
    if isinstance(exc, CaseNotFound):
        messages = [f"There is no case {exc.ref} that you may see. Check the reference, or find the case in the "
                    "list of cases."]
    else:
        messages = [exc.message]
    headers = {"Retry-After": str(exc.more["retry_after"])} if status == 429 and exc.more.get("retry_after") else {}
    log.info("page.refused", path=request.url.path, status=status, kind=exc.kind)
    return problem_page(request, status, _TITLES.get(status, "That could not be done"), messages, headers=headers)


def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    if _is_api(request):
        return problems.http_error(request, exc)
    status = exc.status_code
    text = "If you typed the address, check it is right." if status == 404 else str(exc.detail)
    return problem_page(request, status, _TITLES.get(status, "There is a problem"), [text],
                        headers=getattr(exc, "headers", None))


def _validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    if _is_api(request):
        return problems.validation_error(request, exc)
    first = exc.errors()[0] if exc.errors() else {}
    where = ".".join(str(p) for p in first.get("loc", ()) if p not in ("query", "path", "body"))
    return problem_page(request, 400, _TITLES[400], [f"{where}: {first.get('msg', 'not valid')}" if where
                                                     else str(first.get("msg", "the request is not valid"))])


def _sign_in_required(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, SignInRequired)
    return redirect(f"/sign-in?next={quote(safe_next(exc.next_path))}")


def install_error_pages(app: FastAPI) -> None:
    """Errors on the pages' paths become HTML pages; the API's stay problem documents."""
    app.add_exception_handler(ReviewflowError, _reviewflow_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(SignInRequired, _sign_in_required)
