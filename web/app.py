"""The ASGI application `reviewflow serve` runs: the HTTP API under /api/v1, single sign-on under /auth,
and (from the web app) the pages. Every route calls the one `Reviewflow` façade as the person signed in."""

from __future__ import annotations

import os
from pathlib import Path

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from reviewflow.engine.services.facade import Reviewflow
from reviewflow.web import problems

API_PREFIX = "/api/v1"
API_DESCRIPTION = """The reviewflow API: a practitioner's work (my work, cases, moves, pauses, recommendations,
actions, evidence, verification, impact, dissemination) and the Board report, as the person signed in
may see and do it. Authenticate with a personal API token (`Authorization: Bearer rf_...`, made with
`reviewflow token create`) or a session (`POST /api/v1/session`, then send the `X-CSRF-Token` it gives
with every change). Errors are RFC 9457 problem details. Every change to a case carries the case's
`ETag` as `If-Match`; a stale one is refused with 412. See docs/api.md."""


def create_app(rf: Reviewflow, secure_cookies: bool = True) -> FastAPI:
    """The application over the façade `rf` (one per process: it holds the database connection pool)."""
    from reviewflow.web import calendar
    from reviewflow.web.api import admin, agencies, cases, clocks, files, grades, people, returns, risks, subgroups
    from reviewflow.web.api import themes as learning_themes
    from reviewflow.web.sso import router as sso_router

    app = FastAPI(title="reviewflow", version=_version(), description=API_DESCRIPTION,
                  openapi_url=f"{API_PREFIX}/openapi.json", docs_url=None, redoc_url=None)
    app.state.reviewflow = rf
    app.state.secure_cookies = secure_cookies
    app.openapi = lambda: openapi_document(app)  # type: ignore[method-assign]
    problems.install(app)
    for router in (people.router, cases.router, files.router, admin.router, agencies.router, subgroups.router,
                   returns.router, clocks.router, grades.router, risks.router, learning_themes.router):
        app.include_router(router, prefix=API_PREFIX)
    app.include_router(sso_router)
    app.include_router(calendar.router)
    _install_pages(app)
    return app


def _install_pages(app: FastAPI) -> None:
    """The web pages, when this build has them."""
    try:
        from reviewflow.web.pages import install
    except ImportError:
        return
    install(app)


PROBLEM_STATUSES = {
    400: "The request is not well formed (e.g. no If-Match on a change, or a body that does not fit).",
    401: "No credentials, or ones that are not valid.",
    403: "Not permitted: the role, a read-only token, or a missing CSRF token.",
    404: "No such case, action or evidence, or not one the caller may see.",
    409: "It exists already.",
    412: "The case changed since the caller read it: nothing was written.",
    422: "Refused by a rule, or a value cannot be used.",
    429: "Too many failed sign-ins: wait Retry-After seconds.",
    503: "The database cannot be reached.",
}
PROBLEM_SCHEMA = {
    "type": "object", "required": ["type", "title", "status", "detail"],
    "properties": {"type": {"type": "string"}, "title": {"type": "string"}, "status": {"type": "integer"},
                   "detail": {"type": "string"}, "ref": {"type": "string"}, "state": {"type": "string"},
                   "trigger": {"type": "string"}, "field": {"type": "string"}, "value": {},
                   "allowed": {"type": "array", "items": {"type": "string"}}},
    "additionalProperties": True,
}


def openapi_document(app: FastAPI) -> dict[str, object]:
    """The API's OpenAPI document, as served at /api/v1/openapi.json (and kept in docs/openapi.json): every
    operation lists the problem documents it may answer with."""
    if app.openapi_schema:
        return app.openapi_schema
    document = get_openapi(title=app.title, version="1", description=app.description, routes=app.routes)
    document.setdefault("components", {}).setdefault("schemas", {})["Problem"] = PROBLEM_SCHEMA
    document["components"]["schemas"].pop("HTTPValidationError", None)
    document["components"]["schemas"].pop("ValidationError", None)
    problem = {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
    for operations in document.get("paths", {}).values():
        for operation in operations.values():
            responses = operation.setdefault("responses", {})
            for status, description in PROBLEM_STATUSES.items():
                responses[str(status)] = {"description": description, "content": problem}
    app.openapi_schema = document
    return document


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("reviewflow")
    except PackageNotFoundError:  # pragma: no cover - a source tree never installed
        return "0"


def app_from_environment() -> FastAPI:
    """The application as each `reviewflow serve` worker process builds it: database, settings and clock from
    the environment `serve` sets (REVIEWFLOW_DB, REVIEWFLOW_CONFIG, REVIEWFLOW_NOW)."""
    from reviewflow.engine.core.clock import fixed_clock, parse_instant
    from reviewflow.engine.services.context import running_clock, system_clock
    from reviewflow.engine.services.logs import configure_logging
    from reviewflow.engine.services.settings import load_settings

    configure_logging(json=os.environ.get("REVIEWFLOW_LOG_JSON") == "1",
                      level="info" if os.environ.get("REVIEWFLOW_VERBOSE") == "1" else "warning")
    config = os.environ.get("REVIEWFLOW_CONFIG")
    settings = load_settings(Path(config) if config else None, os.environ)
    now = os.environ.get("REVIEWFLOW_NOW")
    clock, wall = system_clock, None
    if now:
        start = parse_instant(now)
        if os.environ.get("REVIEWFLOW_NOW_RUNS") == "1":  # the served demo: its simulated time is its server's
            clock = wall = running_clock(start)
        else:
            clock = fixed_clock(start)
    rf = Reviewflow.connect(os.environ.get("REVIEWFLOW_DB", "sqlite:///reviewflow.db"), clock, settings, wall)
    rf.ensure_ready()
    return create_app(rf)
