"""A real `reviewflow serve` process on 127.0.0.1, and an HTTP client that signs in as a browser would.

The session cookie is Secure (it never travels in the clear); browsers send it to http://127.0.0.1 because
a loopback address counts as secure, but Python's cookie jar does not, so `Browser` carries it by hand.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from tests.servers import free_port

SCRIPT = Path(sys.executable).with_name("reviewflow")


@contextmanager
def serving(db_url: str, *extra: str, config: Path | None = None, env: dict[str, str] | None = None,
            now: str | None = None) -> Iterator[str]:
    """`reviewflow serve` on a free port of 127.0.0.1 until the block ends; yields its base URL."""
    port = free_port()
    environment = {k: v for k, v in os.environ.items()
                   if not k.startswith("REVIEWFLOW_") or k == "REVIEWFLOW_AUDIT_KEY_FILE"}  # the test data's key
    environment.update(env or {})
    command = [str(SCRIPT), "--db", db_url, *(["--config", str(config)] if config else []),
               *(["--now", now] if now else []), "serve", "--port", str(port), *extra]
    process = subprocess.Popen(command, env=environment, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        with httpx.Client(timeout=2) as probe:  # one client: each new one reads the CA bundle again
            while True:
                try:
                    probe.get(f"{base}/api/v1/openapi.json")
                    break
                except httpx.TransportError:
                    if process.poll() is not None or time.monotonic() > deadline:
                        out, err = process.communicate(timeout=5)
                        raise AssertionError(f"reviewflow serve did not start: {out}{err}") from None
                    time.sleep(0.1)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:  # pragma: no cover - a stuck server
            process.kill()


class Browser:
    """Requests as one person: signed in with a password (session cookie and CSRF token), or with a token."""

    def __init__(self, base: str, token: str | None = None) -> None:
        self.base = base
        self.client = httpx.Client(base_url=base, timeout=30, follow_redirects=False)
        self.session: str | None = None
        self.csrf: str | None = None
        self.token = token

    def sign_in(self, name: str, password: str) -> httpx.Response:
        answer = self.client.post("/api/v1/session", json={"name": name, "password": password})
        if answer.status_code == 200:
            self.session = answer.cookies.get("rf_session") or _cookie(answer, "rf_session")
            self.csrf = answer.json()["csrf_token"]
        return answer

    def request(self, method: str, path: str, csrf: bool = True, **kw: Any) -> httpx.Response:
        headers = dict(kw.pop("headers", {}))
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        if self.session:
            headers["Cookie"] = f"rf_session={self.session}"
            if csrf and self.csrf and method not in ("GET", "HEAD"):
                headers["X-CSRF-Token"] = self.csrf
        return self.client.request(method, path, headers=headers, **kw)

    def get(self, path: str, **kw: Any) -> httpx.Response:
        return self.request("GET", path, **kw)

    def post(self, path: str, **kw: Any) -> httpx.Response:
        return self.request("POST", path, **kw)

    def write(self, method: str, ref: str, path: str, body: dict[str, Any], **kw: Any) -> httpx.Response:
        """A change to case `ref` made on the revision just read (its ETag as If-Match)."""
        tag = self.get(f"/api/v1/cases/{ref}").headers.get("ETag", "")
        return self.request(method, path, json=body, headers={"If-Match": tag}, **kw)


def _cookie(answer: httpx.Response, name: str) -> str | None:
    for header in answer.headers.get_list("set-cookie"):
        key, _, rest = header.partition("=")
        if key.strip() == name:
            return rest.split(";", 1)[0]
    return None
