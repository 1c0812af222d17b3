"""A real `reviewflow serve` process on 127.0.0.1 for the API figures, and personal API tokens to call it with."""

from __future__ import annotations

import socket
import ssl
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from reviewflow.engine.core.access import Identity
from reviewflow.engine.services.accounts import os_account
from reviewflow.engine.services.facade import Reviewflow

from bench.startup import _env, reviewflow_command

HOST = "127.0.0.1"
READY_SECONDS = 60
TLS = ssl.create_default_context()
"""One TLS context for every client the bench makes: each httpx client would otherwise read the CA bundle again
(50 ms), which the clients of the API figures did dozens of times (the servers are plain HTTP)."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


@contextmanager
def serving(db_url: str, now: str, workers: int, logs: Path) -> Iterator[str]:
    """`reviewflow serve` with `workers` processes on a free port until the block ends; yields its base URL.

    The server's clock is fixed at `now` (`--now`), as the in-process side's is; its stderr goes to `logs`.
    """
    port = free_port()
    command = [*reviewflow_command(), "--db", db_url, "--now", now, "serve", "--port", str(port),
               "--workers", str(workers)]
    with logs.open("w", encoding="utf-8") as err:
        process = subprocess.Popen(command, env=_env(), stdout=subprocess.DEVNULL, stderr=err)
        base = f"http://{HOST}:{port}"
        try:
            _wait_ready(process, base, logs)
            yield base
        finally:
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)


def _wait_ready(process: subprocess.Popen[bytes], base: str, logs: Path) -> None:
    """Wait until the server answers (every worker process: each one builds the application on start)."""
    deadline = time.monotonic() + READY_SECONDS
    with httpx.Client(timeout=5, verify=TLS) as probe:
        while True:
            try:
                if probe.get(f"{base}/api/v1/openapi.json").status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                tail = logs.read_text("utf-8", errors="replace").strip().splitlines()[-5:]
                raise RuntimeError(f"reviewflow serve did not start: {' | '.join(tail)}")
            time.sleep(0.1)


def admin(rf: Reviewflow) -> Identity:
    """The administrator the seeder registered (the operating-system account running the bench)."""
    found = rf.identify_os(os_account())
    if found is None:
        raise RuntimeError("the bench database has no administrator for this operating-system account")
    return found


def token_for(rf: Reviewflow, name: str, scope: str) -> tuple[str, Identity]:
    """A personal API token for `name`, and the identity it establishes in-process."""
    made = rf.create_token(admin(rf), name, "bench", scope, days=30)
    return made.secret, rf.identify_token(made.secret)


def warm(clients: list[httpx.Client], path: str) -> None:
    """Open each client's keep-alive connection (and let every server worker take requests) before timing."""
    for client in clients:
        answer = client.get(path)
        if answer.status_code != 200:
            raise RuntimeError(f"GET {path} answered {answer.status_code}: {answer.text[:300]}")
