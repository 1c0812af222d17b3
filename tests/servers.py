"""Real receiving servers on 127.0.0.1 for the delivery tests: an SMTP server and a webhook endpoint.

Plain helpers (not fixtures): each test starts what it needs and stops it in a `finally` or fixture.
"""

from __future__ import annotations

import json
import logging
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import structlog
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from structlog.testing import capture_logs

HOST = "127.0.0.1"


@contextmanager
def all_logs() -> Iterator[list[dict[str, Any]]]:
    """Every structlog event, whatever level an earlier `configure_logging` (e.g. by the CLI) set."""
    saved = structlog.get_config()
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.NOTSET))
    try:
        with capture_logs() as logs:
            yield logs
    finally:
        structlog.configure(**saved)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on (connections to it are refused)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


@dataclass(frozen=True)
class Received:
    """One e-mail as the SMTP server got it."""

    mail_from: str
    rcpt_tos: list[str]
    raw: bytes

    @property
    def message(self) -> EmailMessage:
        parsed = message_from_bytes(self.raw.replace(b"\r\n", b"\n"), policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        return parsed

    def header(self, name: str) -> str:
        """A header as a mail client shows it (unfolded, no surrounding blanks)."""
        return str(self.message[name]).strip()

    @property
    def text(self) -> str:
        """The decoded plain-text body."""
        return str(self.message.get_content())


class _Recorder:
    def __init__(self, server: SmtpServer) -> None:
        self.server = server

    async def handle_RCPT(self, smtp: SMTP, session: Session, envelope: Envelope, address: str,
                          rcpt_options: list[str]) -> str:
        if address in self.server.reject:
            return "550 5.1.1 mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, smtp: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.original_content or b""
        self.server.received.append(Received(str(envelope.mail_from), list(envelope.rcpt_tos), content))
        return "250 Message accepted for delivery"


class SmtpServer:
    """aiosmtpd on 127.0.0.1 recording every envelope; can be started, stopped and started again
    on the same port (so a test can take the mail server down and bring it back)."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.received: list[Received] = []
        self.reject: set[str] = set()
        self._controller: Controller | None = None

    @property
    def running(self) -> bool:
        return self._controller is not None

    def start(self) -> SmtpServer:
        if self._controller is None:
            controller = Controller(_Recorder(self), hostname=HOST, port=self.port)
            controller.start()
            self._controller = controller
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def to(self, address: str) -> list[Received]:
        return [r for r in self.received if address in r.rcpt_tos]


@dataclass(frozen=True)
class Request:
    """One POST as the webhook endpoint got it."""

    path: str
    headers: dict[str, str]
    raw: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.raw)


class WebhookServer:
    """http.server on 127.0.0.1 in a thread, recording POSTs; answers `status` (200 unless changed)."""

    def __init__(self) -> None:
        self.requests: list[Request] = []
        self.status = 200
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                length = int(self.headers.get("Content-Length", "0"))
                raw = self.rfile.read(length)
                owner.requests.append(Request(self.path, dict(self.headers.items()), raw))
                self.send_response(owner.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - signature of the base
                pass

        self._server = ThreadingHTTPServer((HOST, 0), Handler)
        self.port = int(self._server.server_address[1])
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        self._stopped = False

    def url(self, path: str = "/hook") -> str:
        return f"http://{HOST}:{self.port}{path}"

    def stop(self) -> None:
        """Stop listening: further connections are refused."""
        if not self._stopped:
            self._server.shutdown()
            self._server.server_close()
            self._thread.join()
            self._stopped = True
