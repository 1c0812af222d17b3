"""Escalation sweeps on SQLite: how one sweep scales with the size of the case table, and how fast it
records escalations compared with raw SQL doing the same reads and writes.

The due cases are copies of a serious case review opened on Monday 5 January 2026: at 09:00 on
14 January its first ladder level (the stage owner, at the due date) is due, once. The other
cases are copies of one opened on 2 March, due long after. Between repeats the fired rows are
deleted and the due cases' next check restored, outside the timing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from bench.config import Config
from bench.profiling import profile
from bench.raw import Raw
from bench.report import Figure, Target, measured, timed
from bench.seed import Seeder, at

NOW = "2026-01-14T09:00"
SEALS = ("chain_seq", "hash")
"""Audit-chain columns the engine fills in when it writes a ledger row; the raw sweep leaves them empty."""
DUE_OPENED, LATER_OPENED = "2026-01-05T10:00", "2026-03-02T10:00"


def stored_time(raw: Raw, when: datetime) -> Any:
    """`when` as the store writes it (naive UTC; SQLAlchemy's text format on SQLite)."""
    naive = when.astimezone(UTC).replace(tzinfo=None)
    return f"{naive:%Y-%m-%d %H:%M:%S}.{naive.microsecond:06d}" if raw.is_sqlite else naive


@dataclass
class SweepDb:
    """A seeded database with `due` cases due at NOW among `size`, and the means to reset it."""

    size: int
    due: int
    seeder: Seeder
    raw: Raw
    first_check: Any
    marks: tuple[int, int]  # highest escalation and outbox ids before any sweep

    @classmethod
    def create(cls, url: str, size: int, due: int, progress: Callable[[str], None]) -> SweepDb:
        progress(f"seeding {size:,} cases ({due:,} due)")
        seeder = Seeder.create(url)
        seeder.open("DUE", DUE_OPENED)
        seeder.open("LATER", LATER_OPENED)
        seeder.copy("DUE", "D", due - 1, history=False, progress=progress)
        seeder.copy("LATER", "L", size - due - 1, history=False, progress=progress)
        seeder.clock.now = at(NOW)
        raw = Raw(url)
        first = raw.one("SELECT next_check_at FROM cases WHERE ref = ?", ["DUE"])[0]
        marks = (raw.one("SELECT COALESCE(MAX(id), 0) FROM escalations")[0],
                 raw.one("SELECT COALESCE(MAX(id), 0) FROM outbox")[0])
        return cls(size, due, seeder, raw, first, marks)

    def reset(self) -> None:
        with self.raw.tx() as tx:
            tx.execute("DELETE FROM escalations WHERE id > ?", [self.marks[0]])
            tx.execute("DELETE FROM outbox WHERE id > ?", [self.marks[1]])
            tx.execute("UPDATE cases SET next_check_at = ? WHERE ref = 'DUE' OR ref LIKE 'D0%'", [self.first_check])
        if self.raw.is_sqlite:
            self.raw.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def engine_sweep(self) -> int:
        from reviewflow.engine.services.escalation import Sweeper

        return self._check(Sweeper(self.seeder.service.ctx).sweep())

    def _check(self, report: Any) -> int:
        if len(report.fired) != self.due:
            raise RuntimeError(f"the sweep fired {len(report.fired)} escalations, expected {self.due}")
        return len(report.fired)

    def close(self) -> None:
        self.raw.close()
        self.seeder.close()


def sweep_scaling(cfg: Config) -> list[Figure]:
    sizes = [cfg.size(10_000, 300), cfg.size(100_000, 1_000), cfg.size(1_000_000, 3_000)]
    due = cfg.size(1_000, 50)
    dbs = [SweepDb.create(cfg.sqlite_url(f"sweep-{n}"), n, due, cfg.progress) for n in sizes]
    try:
        times: dict[int, list[float]] = {n: [] for n in sizes}
        for db in dbs:  # warm up each database once
            db.engine_sweep()
        for r in range(cfg.repeat):
            order = dbs if r % 2 == 0 else dbs[::-1]
            for db in order:
                db.reset()
                times[db.size].append(timed(db.engine_sweep) * 1000)
        small, big = sizes[0], sizes[-1]
        dbs[-1].reset()
        profile(cfg, "sweep-scaling", dbs[-1].engine_sweep)
        import statistics

        middle = statistics.median(times[sizes[1]])
        return [measured("sweep-scaling", Target("<=", 1.5), f"{big:,} cases", times[big], f"{small:,} cases",
                         times[small], "ms", note=f"{due:,} due; {sizes[1]:,} cases: {middle:,.0f} ms")]
    finally:
        for db in dbs:
            db.close()


class RawSweep:
    """The sweep's reads and writes in plain SQL: claim due rows in batches, check what already fired,
    insert the ledger row and the notifications, move the next check on; one transaction per batch."""

    def __init__(self, db: SweepDb, batch: int) -> None:
        self.db, self.raw, self.batch = db, db.raw, batch
        raw = db.raw
        self.now = stored_time(raw, at(NOW))
        case_id = raw.one("SELECT id FROM cases WHERE ref = 'DUE'")[0]
        esc = raw.columns("SELECT * FROM escalations WHERE case_id = ?", [case_id])[0]
        self.esc_cols = [c for c in esc if c not in ("id", "case_id", *SEALS)]
        self.esc_values = [esc[c] for c in self.esc_cols]
        rows = raw.columns("SELECT * FROM outbox WHERE case_id = ? AND event = 'escalation'", [case_id])
        self.out_cols = [c for c in rows[0] if c not in ("id", "case_id", "key")]
        self.outbox = [(row["key"].removeprefix("DUE"), [row[c] for c in self.out_cols]) for row in rows]
        self.next_check = raw.one("SELECT next_check_at FROM cases WHERE id = ?", [case_id])[0]
        self.per_case = len(rows)

    def sweep(self) -> int:
        raw, fired = self.raw, 0
        insert_esc = (f"INSERT INTO escalations (case_id, {', '.join(self.esc_cols)}) "
                      f"VALUES (?, {', '.join('?' for _ in self.esc_cols)})")
        insert_out = (f"INSERT INTO outbox (case_id, key, {', '.join(self.out_cols)}) "
                      f"VALUES (?, ?, {', '.join('?' for _ in self.out_cols)})")
        while True:
            with raw.tx() as tx:
                due = tx.rows("SELECT id, ref, entry_seq FROM cases WHERE next_check_at <= ? "
                              "ORDER BY next_check_at, id LIMIT ?", [self.now, self.batch])
                if not due:
                    break
                for case_id, ref, entry_seq in due:
                    tx.rows("SELECT key FROM escalations WHERE case_id = ? AND entry_seq = ?", [case_id, entry_seq])
                    tx.execute(insert_esc, [case_id, *self.esc_values])
                    for suffix, values in self.outbox:
                        tx.execute(insert_out, [case_id, f"{ref}{suffix}", *values])
                    tx.execute("UPDATE cases SET next_check_at = ? WHERE id = ?", [self.next_check, case_id])
                    fired += 1
        return fired


def sweep_throughput(cfg: Config) -> list[Figure]:
    size, due = cfg.size(10_000, 300), cfg.size(2_000, 50)
    db = SweepDb.create(cfg.sqlite_url("sweep-throughput"), size, due, cfg.progress)
    try:
        db.engine_sweep()  # warm-up, and the values the raw sweep writes
        base = RawSweep(db, db.seeder.service.settings.batch_size)
        engine_rates: list[float] = []
        raw_rates: list[float] = []
        sides: list[tuple[Callable[[], int], list[float]]] = [(db.engine_sweep, engine_rates),
                                                              (base.sweep, raw_rates)]
        for r in range(cfg.repeat):
            for sweep, rates in sides if r % 2 == 0 else sides[::-1]:
                db.reset()
                fired = 0

                def once(sweep: Callable[[], int] = sweep) -> None:
                    nonlocal fired
                    fired = sweep()

                seconds = timed(once)
                if fired != due:
                    raise RuntimeError(f"a sweep recorded {fired} escalations, expected {due}")
                rates.append(fired / seconds)
        db.reset()
        profile(cfg, "sweep-throughput", db.engine_sweep)
        return [measured("sweep-throughput", Target(">=", 0.3), "engine", engine_rates, "raw", raw_rates,
                         "escalations/s", note=f"{due:,} due among {size:,}, {base.per_case} notifications each")]
    finally:
        db.close()
