"""The web pages: server-rendered HTML over the same façade as the API, served by `reviewflow serve`.

`install(app)` mounts the static files at /static, adds the security headers to every answer, turns errors on
the pages' paths into HTML pages, and includes the router of each page module (and, when this build has
them, the Board, workflow and administration pages).
"""

from __future__ import annotations

import importlib
from pathlib import Path
from types import ModuleType

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

STATIC = Path(__file__).resolve().parent.parent / "static"
PAGE_MODULES = ("auth", "work", "cases", "case_open", "case", "checks", "grades", "risks", "learning", "measures",
                "account")
"""Page modules always present (their routers are included in this order)."""
OPTIONAL_MODULES = ("board", "workflows", "admin")
"""Page modules included when this build has them."""

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; font-src 'self'; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
}
"""On every answer: nothing runs or loads from another site, no inline script or style, no framing."""


class SecurityHeaders:
    """ASGI middleware adding `SECURITY_HEADERS` to every answer, and `Cache-Control: no-store` to every answer
    but the static files (pages hold case records: a shared computer's back button must not show them)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        static = str(scope.get("path", "")).startswith("/static/")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                for name, value in SECURITY_HEADERS.items():
                    if name.lower().encode() not in present:
                        headers.append((name.lower().encode(), value.encode()))
                if not static and b"cache-control" not in present:
                    headers.append((b"cache-control", b"no-store"))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _optional(name: str) -> ModuleType | None:
    """A page module another part of this build may add; None when it is not there."""
    full = f"{__name__}.{name}"
    try:
        return importlib.import_module(full)
    except ImportError as exc:
        if exc.name == full:
            return None
        raise


def install(app: FastAPI) -> None:
    """Add the web pages to the application `create_app` made."""
    from reviewflow.web.pages.common import install_error_pages

    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.add_middleware(SecurityHeaders)
    install_error_pages(app)
    modules = [importlib.import_module(f"{__name__}.{name}") for name in PAGE_MODULES]
    modules += [m for m in (_optional(name) for name in OPTIONAL_MODULES) if m is not None]
    for module in modules:
        app.include_router(module.router)
    app.state.page_paths = {getattr(route, "path", "") for m in modules for route in m.router.routes}
