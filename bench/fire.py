"""Transition throughput: the engine's `fire` against a raw driver doing the same writes.

Each side fires `notify` (notification -> subgroup_consideration) once on each of its own N
seeded cases, one transaction per fire. The baseline reads the case's id and revision, updates the
case, inserts the history row and as many outbox rows as the engine queued, with the values the
engine wrote for a warm-up case.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bench.config import Config
from bench.pg import problem, schema
from bench.profiling import profile
from bench.raw import Raw
from bench.report import Figure, Target, measured, timed
from bench.seed import Seeder, at

TRIGGER = "notify"
FIELDS = {"notification_date": "2026-01-07"}
TARGET = Target(">=", 0.5)

CASE_SET = ("state", "fields", "entered_at", "due_at", "is_open", "closed_at", "entry_seq", "paused_at",
            "pause_reason", "next_check_at")
HISTORY_COLS = ("seq", "at", "actor", '"trigger"', "from_state", "to_state", "fields", "fields_schema", "note")
OUTBOX_COLS = ("event", "role", "channel", "recipient", "address", "payload", "status", "attempts",
               "created_at", "next_attempt_at")


class Baseline:
    """The raw writes of one fire, with the values the engine wrote for `sample`."""

    def __init__(self, raw: Raw, sample: str) -> None:
        self.raw = raw
        case = raw.columns(f"SELECT id, {', '.join(CASE_SET)} FROM cases WHERE ref = ?", [sample])[0]
        self.case_values = [case[c] for c in CASE_SET]
        hist = raw.columns(f"SELECT {', '.join(HISTORY_COLS)} FROM case_history WHERE case_id = ? "
                           "ORDER BY seq DESC LIMIT 1", [case["id"]])[0]
        self.history = list(hist.values())
        self.outbox = [(row.pop("key").removeprefix(sample), list(row.values())) for row in raw.columns(
            f"SELECT key, {', '.join(OUTBOX_COLS)} FROM outbox WHERE case_id = ?", [case["id"]])]
        self.update = (f"UPDATE cases SET {', '.join(f'{c} = ?' for c in CASE_SET)}, revision = ? "
                       "WHERE id = ? AND revision = ?")
        self.insert_history = (f"INSERT INTO case_history (case_id, {', '.join(HISTORY_COLS)}) "
                               f"VALUES (?, {', '.join('?' for _ in HISTORY_COLS)})")
        self.insert_outbox = (f"INSERT INTO outbox (key, case_id, {', '.join(OUTBOX_COLS)}) "
                              f"VALUES (?, ?, {', '.join('?' for _ in OUTBOX_COLS)})")

    def fire_in_session(self, db: Any, ref: str) -> None:
        """The same statements through the store's own SQLAlchemy session and transaction (the floor
        under any engine fire that goes through `Database.transaction()`)."""
        raw = self.raw
        with db.transaction() as s:
            conn = s.connection()

            def run(statement: str, params: list[Any]) -> Any:
                return conn.exec_driver_sql(raw.sql(statement), tuple(raw.value(p) for p in params))

            case_id, revision = run("SELECT id, revision FROM cases WHERE ref = ?", [ref]).one()
            run(self.update, [*self.case_values, revision + 1, case_id, revision])
            run(self.insert_history, [case_id, *self.history])
            for suffix, values in self.outbox:
                run(self.insert_outbox, [f"{ref}{suffix}", case_id, *values])

    def fire(self, ref: str) -> None:
        with self.raw.tx() as tx:
            case_id, revision = tx.one("SELECT id, revision FROM cases WHERE ref = ?", [ref])
            tx.execute(self.update, [*self.case_values, revision + 1, case_id, revision])
            tx.execute(self.insert_history, [case_id, *self.history])
            for suffix, values in self.outbox:
                tx.execute(self.insert_outbox, [f"{ref}{suffix}", case_id, *values])


class Sides:
    """The engine, the raw baseline and the floor (the raw statements through the store's session),
    each on its own cases."""

    def __init__(self, seeder: Seeder, raw: Raw | None, per_side: int) -> None:
        self.service = seeder.service
        self.raw = raw
        self.base: Baseline | None = None
        self.engine_refs = iter(f"E{i:07d}" for i in range(1, 2 * per_side + 1))
        self.base_refs = iter(f"B{i:07d}" for i in range(1, 2 * per_side + 1))

    def engine(self, count: int) -> None:
        for _ in range(count):
            self.service.fire(next(self.engine_refs), TRIGGER, "la.duty", FIELDS)

    def baseline(self, count: int) -> None:
        assert self.base is not None
        for _ in range(count):
            self.base.fire(next(self.base_refs))

    def session_floor(self, count: int) -> None:
        assert self.base is not None
        for _ in range(count):
            self.base.fire_in_session(self.service.db, next(self.base_refs))


def _statements(engine: Any, work: Callable[[], None]) -> int:
    """How many SQL statements `work` sends (BEGIN and COMMIT included)."""
    from sqlalchemy import event

    sent: list[str] = []

    def count(*_: Any) -> None:
        sent.append("")

    event.listen(engine, "before_cursor_execute", count)
    try:
        work()
    finally:
        event.remove(engine, "before_cursor_execute", count)
    return len(sent) + 1  # SQLAlchemy's COMMIT goes to the driver directly


def _run(cfg: Config, name: str, url: str) -> list[Figure]:
    n, warm = cfg.size(200, 8), cfg.size(20, 2)
    per_side = n * cfg.repeat + warm + (n if cfg.profile_dir else 0) + 1
    seeder = Seeder.create(url)
    sides = Sides(seeder, None, per_side)
    try:
        seeder.open("TPL-1", "2026-01-05T10:00")
        seeder.copy("TPL-1", "E", 2 * per_side)
        seeder.copy("TPL-1", "B", 2 * per_side)
        seeder.clock.now = at("2026-01-07T10:00")
        sides.engine(warm)
        sides.raw = Raw(url)
        sides.base = Baseline(sides.raw, "E0000001")
        sides.baseline(warm)
        statements = _statements(seeder.service.db.engine, lambda: sides.engine(1))
        rates: dict[str, list[float]] = {"engine": [], "raw": [], "session": []}
        runs = [("engine", sides.engine), ("raw", sides.baseline), ("session", sides.session_floor)]
        for r in range(cfg.repeat):
            for key, side in runs if r % 2 == 0 else runs[::-1]:
                rates[key].append(n / timed(lambda side=side: side(n)))  # type: ignore[misc]
        profile(cfg, name, lambda: sides.engine(n))
        raw_statements = 4 + len(sides.base.outbox)  # BEGIN, select, update, history, outbox rows, COMMIT
        return [
            measured(name, TARGET, "engine", rates["engine"], "raw", rates["raw"], "fires/s",
                     note=f"{n} fires x {cfg.repeat}, {len(sides.base.outbox)} outbox rows each; "
                          f"{statements} statements per engine fire, {raw_statements + 1} raw"),
            measured(f"{name}-floor", TARGET, "session", rates["session"], "raw", rates["raw"], "fires/s",
                     note="the raw statements through the store's session: the least a fire through SQLAlchemy costs"),
        ]
    finally:
        if sides.raw is not None:
            sides.raw.close()
        seeder.close()


def fire_sqlite(cfg: Config) -> list[Figure]:
    return _run(cfg, "fire-sqlite", cfg.sqlite_url("fire"))


def fire_postgres(cfg: Config) -> list[Figure]:
    why = problem(cfg.pg_url)
    if why:
        return [Figure("fire-postgres", TARGET, skipped=why), Figure("fire-postgres-floor", TARGET, skipped=why)]
    with schema(cfg.pg_url, "fire") as url:
        return _run(cfg, "fire-postgres", url)


