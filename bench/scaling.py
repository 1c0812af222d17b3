"""Concurrent in-process fires on PostgreSQL with 1, 2 and 4 processes, and what the audit chain's head costs.

Each process is its own engine (`Reviewflow.connect`, spawned, connected and warmed up once) firing
`notify` on cases of its own, one after another; a round gives each of the first k processes the same
number of cases and starts them together. The rate is all their fires over the time from the first
start to the last end (`time.perf_counter`, the machine's monotonic clock, read in each process).

Every sealed row locks, reads and writes the database-wide audit head row (`store/chain.py`), so
writers queue for it from the lock to their commit. The `no-head` side runs the same engine with
only that changed, in its processes: the head is read without the lock, positions come from a
PostgreSQL sequence (no two rows get one), and the head's write is replaced by a statement of the
same round trip that writes nothing. Its rows are not a valid chain; the schema is the bench's own
and is dropped afterwards.
"""

from __future__ import annotations

import multiprocessing
import statistics
import time
from collections.abc import Iterator
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any, cast

from bench.config import Config
from bench.pg import problem, schema
from bench.report import Figure, Target, measured
from bench.seed import Seeder, at

NAMES = ("fire-scaling-postgres-2", "fire-scaling-postgres-4", "fire-scaling-audit-head")
GROWS = Target(">=", 1.3)
"""On this 2-core machine: 2 processes at least 1.3 x one, and 4 no less (the cores are the limit)."""
HEAD = Target(">=", 0.9)
"""With the head row locked, at least 0.9 x the rate without it: the lock is not the ceiling."""
PROCESSES = (1, 2, 4)
OPENED, NOW = "2026-01-05T10:00", "2026-01-07T10:00"
TRIGGER = "notify"
FIELDS = {"notification_date": "2026-01-07"}
POSITIONS = "rf_bench_positions"
POSITIONS_PER_FIRE = 100
"""The no-head side takes positions in blocks (one fire seals one history row; a block leaves room)."""
WARM = 10


def _patch_head(mode: str) -> None:
    """Leave the audit head as the store has it ("head"), or neither lock nor write it ("no-head")."""
    from sqlalchemy import text

    from reviewflow.store import chain

    saved: tuple[Any, Any] = getattr(chain, "_bench_saved", (chain._READ_HEAD, chain._WRITE_HEAD))
    chain._bench_saved = saved  # type: ignore[attr-defined]
    if mode == "head":
        chain._READ_HEAD, chain._WRITE_HEAD = saved
        return
    chain._READ_HEAD = cast(Any, text(f"SELECT (nextval('{POSITIONS}') - 1) * {POSITIONS_PER_FIRE}, ''"))
    chain._WRITE_HEAD = cast(Any, text("SELECT CAST(:head_seq AS bigint), CAST(:head_hash AS text)"))


def _process(url: str, pipe: Connection) -> None:
    """One engine in its own process: for each job, get ready, wait for "go", fire, report (start, end)."""
    from reviewflow.engine.core.clock import fixed_clock
    from reviewflow.engine.services.facade import Reviewflow
    from reviewflow.engine.services.logs import configure_logging

    configure_logging(level="warning")
    rf = Reviewflow.connect(url, fixed_clock(at(NOW)))
    try:
        while (job := pipe.recv()) is not None:
            mode, refs = job
            _patch_head(mode)
            pipe.send("ready")
            pipe.recv()
            start = time.perf_counter()
            for ref in refs:
                rf.fire(ref, TRIGGER, "la.duty", FIELDS)
            pipe.send((start, time.perf_counter()))
    finally:
        rf.db.dispose()


def _head_hold(url: str, refs: list[str]) -> tuple[float, float]:
    """Median milliseconds a fire holds the head row (from its locking read to the commit) and a whole fire
    takes, one process alone."""
    from sqlalchemy import event
    from sqlalchemy.orm import Session

    from reviewflow.engine.core.clock import fixed_clock
    from reviewflow.engine.services.facade import Reviewflow

    rf = Reviewflow.connect(url, fixed_clock(at(NOW)))
    locked: list[float] = []
    holds: list[float] = []

    def lock(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if "audit_head" in statement and "FOR UPDATE" in statement:
            locked.append(time.perf_counter())

    def committed(_session: Any) -> None:
        if locked:
            holds.append(time.perf_counter() - locked.pop())

    event.listen(rf.db.engine, "before_cursor_execute", lock)
    event.listen(Session, "after_commit", committed)
    fires: list[float] = []
    try:
        for ref in refs:
            start = time.perf_counter()
            rf.fire(ref, TRIGGER, "la.duty", FIELDS)
            fires.append(time.perf_counter() - start)
    finally:
        event.remove(Session, "after_commit", committed)
        rf.db.dispose()
    if len(holds) != len(refs):
        raise RuntimeError(f"saw the head locked in {len(holds)} of {len(refs)} fires")
    return statistics.median(holds) * 1000, statistics.median(fires) * 1000


@dataclass
class Pool:
    """Four engine processes; a round runs the first k of them together."""

    pipes: list[Connection]
    processes: list[Any]
    refs: Iterator[str]

    @classmethod
    def start(cls, url: str, refs: Iterator[str]) -> Pool:
        context = multiprocessing.get_context("spawn")  # each process builds its own engine and connections
        pipes, processes = [], []
        for _ in range(max(PROCESSES)):
            ours, theirs = context.Pipe()
            process = context.Process(target=_process, args=(url, theirs), daemon=True)
            process.start()
            pipes.append(ours)
            processes.append(process)
        return cls(pipes, processes, refs)

    def rate(self, k: int, each: int, mode: str) -> float:
        """Fires per second of `k` processes each firing `each` cases of its own, started together."""
        pipes = self.pipes[:k]
        for pipe in pipes:
            pipe.send((mode, [next(self.refs) for _ in range(each)]))
        for pipe in pipes:
            if pipe.recv() != "ready":
                raise RuntimeError("an engine process did not get ready")
        for pipe in pipes:
            pipe.send("go")
        spans = [self._result(pipe) for pipe in pipes]
        return k * each / (max(end for _, end in spans) - min(start for start, _ in spans))

    def _result(self, pipe: Connection) -> tuple[float, float]:
        if not pipe.poll(600):
            raise RuntimeError("an engine process did not finish its fires within 10 minutes")
        found: tuple[float, float] = pipe.recv()
        return found

    def close(self) -> None:
        for pipe, process in zip(self.pipes, self.processes, strict=True):
            try:
                pipe.send(None)
            except OSError:
                pass
            process.join(timeout=30)
            if process.is_alive():
                process.terminate()


def fire_scaling_postgres(cfg: Config) -> list[Figure]:
    why = problem(cfg.pg_url)
    if why:
        return [Figure(name, HEAD if name.endswith("head") else GROWS, skipped=why) for name in NAMES]
    with schema(cfg.pg_url, "scaling") as url:
        return _run(cfg, url)


def _run(cfg: Config, url: str) -> list[Figure]:
    each, alone = cfg.size(150, 4), cfg.size(300, 10)
    modes = ("head", "no-head")
    per_round = sum(PROCESSES) * each * len(modes)
    seeder = Seeder.create(url)
    try:
        seeder.open("TPL-1", OPENED)
        seeder.copy("TPL-1", "C", cfg.repeat * per_round + max(PROCESSES) * WARM * len(modes) + alone)
        with seeder.service.db.engine.begin() as conn:
            from sqlalchemy import text

            conn.execute(text(f"CREATE SEQUENCE {POSITIONS} START 10000000"))
    finally:
        seeder.close()
    refs = iter(f"C{i:07d}" for i in range(1, 10_000_000))
    hold = _head_hold(url, [next(refs) for _ in range(alone)])
    pool = Pool.start(url, refs)
    try:
        for mode in modes:
            pool.rate(max(PROCESSES), WARM, mode)
        cfg.progress(f"fire-scaling-postgres: {max(PROCESSES)} engine processes up and warm")
        runs = [(k, mode) for mode in modes for k in PROCESSES]
        rates: dict[tuple[int, str], list[float]] = {run: [] for run in runs}
        for r in range(cfg.repeat):
            for k, mode in runs if r % 2 == 0 else runs[::-1]:
                rates[(k, mode)].append(pool.rate(k, each, mode))
    finally:
        pool.close()
    return _figures(cfg, rates, each, hold)


def _figures(cfg: Config, rates: dict[tuple[int, str], list[float]], each: int,
             hold: tuple[float, float]) -> list[Figure]:
    def shown(mode: str) -> str:
        return ", ".join(f"{k}: {statistics.median(rates[(k, mode)]):,.0f}" for k in PROCESSES)

    sizes = f"{each} fires per process x {cfg.repeat}"
    head, no_head = f"fires/s with the head: {shown('head')}", f"without: {shown('no-head')}"
    top = max(PROCESSES)
    return [
        measured(NAMES[0], GROWS, "2 processes", rates[(2, "head")], "1 process", rates[(1, "head")], "fires/s",
                 note=f"{sizes}; {head}"),
        measured(NAMES[1], GROWS, "4 processes", rates[(4, "head")], "1 process", rates[(1, "head")], "fires/s",
                 note=f"{sizes}; {no_head}"),
        measured(NAMES[2], HEAD, "head", rates[(top, "head")], "no-head", rates[(top, "no-head")], "fires/s",
                 note=f"{top} processes; the head row locked, read and written by every fire vs positions from "
                      f"a sequence and no head; at 2 processes {_ratio(rates, 2):.2f}, at 1 {_ratio(rates, 1):.2f}; "
                      f"alone, a fire holds the head {hold[0]:.2f} ms of its {hold[1]:.2f} ms (from its lock to the "
                      f"commit): at most {1000 / hold[0]:,.0f} fires/s through the head"),
    ]


def _ratio(rates: dict[tuple[int, str], list[float]], k: int) -> float:
    return statistics.median(rates[(k, "head")]) / statistics.median(rates[(k, "no-head")])
