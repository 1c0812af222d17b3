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

from reviewflow.engine.core.errors import ReviewflowError, StoreError
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
        self.lock: SqliteWorkerLock | None = None
        """On SQLite, the lock on the database file the worker started on (`run_worker` sets it)."""

    def _same_file(self, result: TickResult) -> bool:
        """Whether the tick may go on: the SQLite file at the database's path is still the one the worker holds.

        A file deleted or replaced under the worker (a restore) would otherwise be written to for ever through
        the connections still open on it. A missing file skips the tick (it is not made anew, empty); a new file
        is taken over: `db.file_replaced`, every connection dropped, the lock moved to it. When another worker
        already holds the new file, this one stops.
        """
        assert self.lock is not None
        now = file_id(self.lock.path)
        if now == self.lock.held:
            return True
        shown = self.ctx.db.shown
        if now is None:
            result.error = f"the database file {self.lock.path} is missing: restore it, or stop the worker"
            log.error("db.file_missing", tick=self.ticks, db=shown, hint="skipping ticks until the file is back")
            return False
        log.warning("db.file_replaced", tick=self.ticks, db=shown, was=f"{self.lock.held}", now=f"{now}",
                    hint="the file was deleted or replaced (a restore?): reconnecting to the new file")
        self.ctx.forget_database()
        try:
            self.lock.take()
        except ReviewflowError as exc:
            result.error = exc.message
            log.error("worker.lock_lost", tick=self.ticks, db=shown, error=exc.message)
            self.stop.set()
            return False
        return True

    def tick(self) -> TickResult:
        """Open the due recurring cases, then one sweep, the daily digests that are due, and one delivery round.

        A database fault (server down, connection dropped, SQLite locked) is one log line; the
        tick's transaction was rolled back, the pool is emptied, and the next tick reconnects and
        does the work again.
        """
        result = TickResult()
        self.ticks += 1
        if self.lock is not None and not self._same_file(result):
            return result
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


FileId = tuple[int, int]
"""A file's identity, (st_dev, st_ino): the same for every path that reaches it (symlink, relative path, hard link)."""


def _sqlite_file(ctx: ServiceContext) -> str | None:
    """The SQLite database file the worker works on; None for PostgreSQL or an in-memory database."""
    db = ctx.db
    if not db.is_sqlite or not db.path or db.path == ":memory:" or db.path.startswith("file:"):
        return None
    return db.path


def file_id(path: str) -> FileId | None:
    """The identity of the file at `path` (following symlinks); None when there is none."""
    try:
        found = os.stat(path)
    except FileNotFoundError:
        return None
    return found.st_dev, found.st_ino


class SqliteWorkerLock:
    """SQLite supports one worker: an OS lock held on the database file itself (so every path that reaches the
    file finds it held) and on a lock file beside its real path, which names the holder.

    The lock is `flock`, which on a local file system is independent of the record locks SQLite takes on the
    same file; reviewflow's SQLite databases are in WAL mode, which needs a local file system anyway.
    """

    def __init__(self, path: str) -> None:
        self.path = path
        self.held: FileId | None = None
        self._file: int | None = None
        self._note: IO[str] | None = None

    def take(self) -> FileId:
        """Lock the file now at `path` (again, after it was replaced); ReviewflowError naming the holder when
        another worker has it."""
        import fcntl

        real = os.path.realpath(self.path)
        named = f"{real}.worker.lock"
        kept = self._note is not None and self._note.name == named  # this worker holds the lock file already
        note = self._note if kept and self._note is not None else Path(named).open("a+")
        file: int | None = None
        try:
            file = os.open(real, os.O_RDONLY)
            fcntl.flock(file, fcntl.LOCK_EX | fcntl.LOCK_NB)
            if not kept:
                fcntl.flock(note.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except FileNotFoundError:
            self._drop(note, file, kept)
            raise StoreError(f"no database at {self.path}: run 'reviewflow init' first, or pass --db") from None
        except BlockingIOError:
            note.seek(0)
            holder = note.read().strip() or "another process"
            self._drop(note, file, kept)
            raise ReviewflowError(
                f"another reviewflow worker ({holder}) is already running on {self.path}: SQLite supports one "
                "worker; stop the other one, or use PostgreSQL to run several", db=self.path) from None
        stat = os.fstat(file)
        note.seek(0)
        note.truncate()
        note.write(f"pid {os.getpid()} on {socket.gethostname()}\n")
        note.flush()
        if self._file is not None:
            os.close(self._file)
        if self._note is not None and not kept:
            self._note.close()
        self._file, self._note, self.held = file, note, (stat.st_dev, stat.st_ino)
        return self.held

    @staticmethod
    def _drop(note: IO[str], file: int | None, kept: bool) -> None:
        """Close what a refused `take` opened (a flock belongs to its open file: closing it lets go)."""
        if file is not None:
            os.close(file)
        if not kept:
            note.close()

    def release(self) -> None:
        if self._file is not None:
            os.close(self._file)
        if self._note is not None:
            self._note.close()
        self._file = self._note = self.held = None


@contextmanager
def single_sqlite_worker(ctx: ServiceContext) -> Iterator[SqliteWorkerLock | None]:
    """Hold the SQLite worker lock while running (nothing to hold for PostgreSQL)."""
    path = _sqlite_file(ctx)
    if path is None:
        yield None
        return
    lock = SqliteWorkerLock(path)
    lock.take()
    try:
        yield lock
    finally:
        # The connections go first: closing a file this process opened on the database drops the locks SQLite
        # holds on it through any other (POSIX record locks are the process's, not the descriptor's).
        ctx.db.engine.dispose()
        lock.release()


def run_worker(worker: Worker, interval: float, once: bool = False) -> int:
    """Run ticks every `interval` seconds until SIGTERM or SIGINT; with `once`, one tick and return.

    The signal handler only sets an event (it must not log or take locks: it may interrupt a log
    write); the loop waits on that event between ticks, so a stop lets the batch in hand finish.
    """
    ctx = worker.ctx
    ctx.ensure_ready()
    with single_sqlite_worker(ctx) as lock:
        worker.lock = lock
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
