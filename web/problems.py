"""Errors as RFC 9457 problem details (`application/problem+json`), in the command line's own words."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from reviewflow.engine.core.errors import ReviewflowError

MEDIA_TYPE = "application/problem+json"
TITLES = {
    "refused": "Refused", "usage": "Bad request", "not_found": "Not found", "unavailable": "Service unavailable",
    "forbidden": "Not permitted", "conflict": "Conflict", "unauthenticated": "Not signed in",
    "throttled": "Too many attempts", "stale": "Changed by someone else",
}


def problem(status: int, kind: str, detail: str, **extra: Any) -> JSONResponse:
    body = {"type": f"urn:reviewflow:problem:{kind}", "title": TITLES.get(kind, "Error"), "status": status,
            "detail": detail, **{k: v for k, v in extra.items() if v is not None}}
    headers = {}
    if status == 401:
        headers["WWW-Authenticate"] = 'Bearer realm="reviewflow"'
    if status == 429 and extra.get("retry_after"):
        headers["Retry-After"] = str(extra["retry_after"])
    return JSONResponse(body, status_code=status, media_type=MEDIA_TYPE, headers=headers)


def _jsonable(value: Any) -> Any:
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    return value if isinstance(value, str | int | float | bool) or value is None else str(value)


def reviewflow_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ReviewflowError)
    kind = "stale" if exc.http_status == 412 else exc.kind
    return problem(exc.http_status, kind, exc.message, **_jsonable(exc.data()))


def validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = exc.errors()
    first = errors[0] if errors else {}
    where = [str(p) for p in first.get("loc", ()) if p not in ("body", "query", "path", "header")]
    field = ".".join(where) or None
    detail = f"{field}: {first.get('msg', 'not valid')}" if field else str(first.get("msg", "the request is not valid"))
    return problem(400, "usage", detail, field=field,
                   errors=[{"field": ".".join(str(p) for p in e.get("loc", ())), "message": e.get("msg")}
                           for e in errors])


def http_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    kinds = {400: "usage", 401: "unauthenticated", 403: "forbidden", 404: "not_found", 405: "usage", 409: "conflict",
             412: "stale", 428: "usage"}
    return problem(exc.status_code, kinds.get(exc.status_code, "refused"), str(exc.detail))


def install(app: FastAPI) -> None:
    app.add_exception_handler(ReviewflowError, reviewflow_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
