"""`reviewflow run`: the unattended worker.

Deadlines are our own rows, found by the sweep's indexed query, so the worker only has to tick:
each tick opens the recurring cases that are due, sweeps escalations, writes the daily digests that are
due, then delivers the outbox, and the next starts `interval` seconds after the last one started (at once
if it ran longer).
"""

from __future__ import annotations

import os
import signal
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import structlog
from sqlalchemy.exc import SQLAlchemyError

from reviewflow.engine.core.errors import ReviewflowError
from reviewflow.engine.services.context import ServiceContext
from reviewflow.engine.services.delivery import Deliverer
from reviewflow.engine.services.digest import DigestService
from reviewflow.engine.services.escalation import Sweeper
from reviewflow.engine.services.schedules import ScheduleRunner

log = structlog.get_logger("reviewflow.worker")


@dataclass
class TickResult:
    opened: int = 0
    fired: int = 0
    digests: int = 0
    sent: int = 0
    retrying: int = 0
    failed: int = 0
    error: str | None = None


class Worker:
    def __init__(self, ctx: ServiceContext, schedule: ScheduleRunner, sweeper: Sweeper, deliverer: Deliverer,
                 digests: DigestService | None = None) -> None:
        self.ctx = ctx
        self.digests = digests
        self.stop = threading.Event()
        self.schedule = schedule
        self.sweeper = sweeper
        self.deliverer = deliverer
        self.ticks = 0
        self.failing = 0
        self.stop_signal: int = signal.SIGTERM
        """The number of the signal that stopped the loop (a handler is given a plain int)."""

    def tick(self) -> TickResult:
        """Open the due recurring cases, then one sweep, the daily digests that are due, and one delivery round.

        A database fault (server down, connection dropped, SQLite locked) is one log line; the
        tick's transaction was rolled back, the pool is emptied, and the next tick reconnects and
        does the work again.
        """
        result = TickResult()
        self.ticks += 1
        try:
            result.opened = len(self.schedule.open_due().opened)
            report = self.sweeper.sweep(should_stop=self.stop.is_set)
            result.fired = len(report.fired)
            if self.digests is not None and not self.stop.is_set():
                result.digests = self.digests.run()
            if not self.stop.is_set():
                sent = self.deliverer.run()
                result.sent, result.retrying, result.failed = sent.sent, sent.retrying, sent.failed
        except (ReviewflowError, SQLAlchemyError) as exc:
            result.error = str(exc).splitlines()[0]
            self.failing += 1
            log.error("worker.tick_failed", tick=self.ticks, failed_in_a_row=self.failing, error=result.error,
                      hint="the tick was rolled back; reconnecting and retrying at the next tick")
            self.ctx.db.engine.dispose()
        else:
            if self.failing:
                log.warning("worker.recovered", tick=self.ticks, failed_ticks=self.failing)
                self.failing = 0
            log.info("worker.tick", tick=self.ticks, opened=result.opened, fired=result.fired,
                     digests=result.digests, sent=result.sent, retrying=result.retrying, failed=result.failed)
        return result


@contextmanager
def single_sqlite_worker(ctx: ServiceContext) -> Iterator[None]:
    """SQLite supports one worker: hold an OS lock beside the database file while running."""
    db = ctx.db
    if not db.is_sqlite or not db.path or db.path == ":memory:":
        yield
        return
    import fcntl

    lock_path = Path(f"{db.path}.worker.lock")
    handle: IO[str] = lock_path.open("a+")
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            raise ReviewflowError(
                f"another reviewflow worker ({holder}) is already running on {db.path}: SQLite supports one "
                "worker; stop the other one, or use PostgreSQL to run several") from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()} on {socket.gethostname()}\n")
        handle.flush()
        yield
    finally:
        handle.close()


def run_worker(worker: Worker, interval: float, once: bool = False) -> int:
    """Run ticks every `interval` seconds until SIGTERM or SIGINT; with `once`, one tick and return.

    The signal handler only sets an event (it must not log or take locks: it may interrupt a log
    write); the loop waits on that event between ticks, so a stop lets the batch in hand finish.
    """
    ctx = worker.ctx
    ctx.ensure_ready()
    with single_sqlite_worker(ctx):
        if once:
            return 1 if worker.tick().error else 0

        def stop(signum: int, _frame: Any) -> None:
            worker.stop_signal = signum
            worker.stop.set()

        previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)}
        log.info("worker.started", db=ctx.db.shown, interval_seconds=interval, pid=os.getpid())
        try:
            while not worker.stop.is_set():
                started = time.monotonic()
                worker.tick()
                worker.stop.wait(max(0.0, interval - (time.monotonic() - started)))
            log.info("worker.stopping", signal=signal.Signals(worker.stop_signal).name)
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        log.info("worker.stopped", ticks=worker.ticks)
    return 0
