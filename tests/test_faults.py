"""Faults, with real processes and real databases: a process killed inside a transaction, a
locked SQLite file, two processes racing on the same 1,000 cases, a PostgreSQL connection
dropped under a running worker, and databases that are missing, unreadable, wrong or down.

The SIGKILL-mid-sweep test that lands anywhere in a long sweep is in test_worker.py; here each
kill lands inside a transaction on purpose: the victim is a real `reviewflow` command that waits
on a PostgreSQL lock held by the test, or (on both databases) one run by a snippet whose
`before_commit` listener writes everything, says what its open transaction sees, and sleeps.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

import pytest
from sqlalchemy import select, text

from reviewflow.engine.core.definition import WorkflowDefinition
from reviewflow.store import chain
from reviewflow.store.models import AdminEventRow, AuditHeadRow, CaseRow, EscalationRow, HistoryRow, OutboxRow

from tests import test_worker
from tests.conftest import pg_url_or_skip
from tests.seeding import OPEN_FIELDS, OPENED, STATE, WORKFLOW, Seeded, at, connect, seed
from tests.test_worker import LATE, Proc, _assert_complete, _env, _run, _wait_for

spawn = test_worker.spawn
"""The fixture starting `reviewflow ARGS` processes, shared with the worker tests."""

FIRE_AT = "2026-01-07T10:00"
"""When the seeded cases (opened 5 Jan 2026) are moved on."""
NOTIFY = ["notify", "--as", "la.duty", "--field", "notification_date=2026-01-07"]
CONFLICT_CASES = 400
"""Cases both racing processes fire on."""
SIDES = {"notify": ("la.duty", "notification_date=2026-01-07"),
         "withdraw": ("a.khan", "withdrawal_reason=duplicate referral")}
"""The two conflicting triggers: from `notification`, notify leads on and withdraw ends the case."""
TABLES = {"cases": CaseRow, "case_history": HistoryRow, "outbox": OutboxRow, "escalations": EscalationRow,
          "audit_head": AuditHeadRow}

PAUSE_BEFORE_COMMIT = """
import json, sys, time
from sqlalchemy import event, text
from sqlalchemy.engine import Engine
from sqlmodel import Session

wrote = set()

@event.listens_for(Engine, "before_cursor_execute")
def _wrote(connection, _cursor, statement, _parameters, _context, _many):
    if statement.lstrip().split(None, 1)[0].upper() in ("INSERT", "UPDATE", "DELETE"):
        wrote.add(id(connection))

@event.listens_for(Session, "before_commit")
def _pause(session):
    session.flush()
    if id(session.connection()) in wrote:
        seen = {t: session.execute(text(f"SELECT count(*) FROM {t}")).scalar_one()
                for t in ("case_history", "outbox", "escalations")}
        print("inside " + json.dumps(seen), flush=True)
        time.sleep(3600)

from reviewflow.cli import main
sys.exit(main(sys.argv[1:]))
"""
"""`reviewflow ARGS`, stopping inside the first transaction that writes, just before COMMIT."""

FIRER = """
import json, sys
from reviewflow.engine.core.clock import fixed_clock, parse_instant
from reviewflow.engine.core.errors import ReviewflowError
from reviewflow.engine.services.facade import Reviewflow
from reviewflow.store.db import Database

url, now, trigger, actor, assignment, refs_file, out_file = sys.argv[1:]
name, value = assignment.split("=", 1)
refs = open(refs_file).read().split()
service = Reviewflow(Database(url), fixed_clock(parse_instant(now)))
service.ensure_ready()
print("ready", flush=True)
sys.stdin.readline()
outcomes = {}
for ref in refs:
    try:
        service.fire(ref, trigger, actor, {name: value})
        outcomes[ref] = ["ok", ""]
    except ReviewflowError as exc:
        outcomes[ref] = [type(exc).__name__, str(exc)]
with open(out_file, "w") as f:
    json.dump(outcomes, f)
"""
"""Fire one trigger on every case in a file, once stdin says go; write each outcome as JSON."""

HOLD_SQLITE_LOCK = """
import sqlite3, sys
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute(sys.argv[2])
conn.execute("SELECT count(*) FROM cases").fetchone()
print("held", flush=True)
sys.stdin.readline()
conn.execute("COMMIT")
"""
"""Another process's transaction on a SQLite file (BEGIN IMMEDIATE: the write lock; BEGIN: a reader)."""


class Child:
    """A Python snippet in its own process: output in files, stdin a pipe to say go."""

    def __init__(self, folder: Path, name: str, code: str, args: list[str], env: dict[str, str]) -> None:
        self.out_path, self.err_path = folder / f"{name}.out", folder / f"{name}.err"
        self._out: IO[bytes] = self.out_path.open("wb")
        self._err: IO[bytes] = self.err_path.open("wb")
        self.popen = subprocess.Popen([sys.executable, "-c", code, *args], env=env, cwd=folder,
                                      stdin=subprocess.PIPE, stdout=self._out, stderr=self._err,
                                      start_new_session=True)

    @property
    def stdout(self) -> str:
        return self.out_path.read_text("utf-8", errors="replace")

    @property
    def stderr(self) -> str:
        return self.err_path.read_text("utf-8", errors="replace")

    def alive(self) -> bool:
        return self.popen.poll() is None

    def line(self, prefix: str, timeout: float) -> str:
        """Wait for a line of output starting with `prefix`; fail if the process ends first."""
        deadline = time.monotonic() + timeout
        while True:
            found = [ln for ln in self.stdout.splitlines() if ln.startswith(prefix)]
            if found:
                return found[0][len(prefix):]
            if not self.alive():
                pytest.fail(f"the child exited ({self.popen.returncode}) before printing {prefix!r}; "
                            f"stderr:\n{self.stderr[-3000:]}")
            if time.monotonic() > deadline:
                pytest.fail(f"no {prefix!r} from the child after {timeout} s; stderr:\n{self.stderr[-3000:]}")
            time.sleep(0.02)

    def go(self) -> None:
        assert self.popen.stdin is not None
        self.popen.stdin.write(b"go\n")
        self.popen.stdin.flush()

    def sigkill(self) -> None:
        self.popen.send_signal(signal.SIGKILL)
        assert self.popen.wait(timeout=10) == -signal.SIGKILL

    def wait(self, timeout: float) -> int:
        try:
            return self.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            pytest.fail(f"the child was still running after {timeout} s; stderr:\n{self.stderr[-3000:]}")

    def close(self) -> None:
        if self.alive():
            self.popen.kill()
            self.popen.wait(timeout=10)
        if self.popen.stdin:
            self.popen.stdin.close()
        self._out.close()
        self._err.close()


@pytest.fixture
def child(tmp_path: Path) -> Iterator[Callable[..., Child]]:
    """Start Python snippets; any still running at the end of the test is killed."""
    started: list[Child] = []

    def start(code: str, *args: str, env: dict[str, str] | None = None, name: str | None = None) -> Child:
        proc = Child(tmp_path, name or f"child{len(started)}", code, list(args), env or _env(""))
        started.append(proc)
        return proc

    yield start
    for proc in started:
        proc.close()


def _rows(url: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of the tables a transition or a sweep writes, in id order."""
    tables = {name: model.__table__ for name, model in TABLES.items()}  # type: ignore[attr-defined]
    with connect(url) as conn:
        return {name: [tuple(r) for r in conn.execute(select(t).order_by(t.c.id))] for name, t in tables.items()}


def _is_postgres(url: str) -> bool:
    return url.startswith("postgresql")


def _libpq(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://")


def _case(url: str, ref: str) -> tuple[str, int, list[tuple[int, str, str | None, str]]]:
    """(state, revision, [(seq, trigger, from_state, to_state)]) of one case."""
    cases, history = CaseRow.__table__, HistoryRow.__table__  # type: ignore[attr-defined]
    with connect(url) as conn:
        case = conn.execute(select(cases.c.id, cases.c.state, cases.c.revision).where(cases.c.ref == ref)).one()
        rows = conn.execute(select(history.c.seq, history.c.trigger, history.c.from_state, history.c.to_state)
                            .where(history.c.case_id == case.id).order_by(history.c.seq)).all()
    return case.state, case.revision, [tuple(r) for r in rows]  # type: ignore[misc]


def _sqlite_ok(url: str) -> None:
    if not _is_postgres(url):
        with connect(url) as conn:
            assert conn.execute(text("PRAGMA integrity_check")).scalar_one() == "ok"


# --- 1. killed inside a transaction ---------------------------------------------------------------

def test_sigkill_inside_a_transition_keeps_nothing(db_url: str, child: Callable[..., Child]) -> None:
    seed(db_url, 3)
    before = _rows(db_url)
    victim = child(PAUSE_BEFORE_COMMIT, "--now", FIRE_AT, "case", "fire", "SCR-00001", *NOTIFY, env=_env(db_url))
    seen = json.loads(victim.line("inside ", timeout=60))
    # Inside its open transaction the victim had written the move, its history row and its notices.
    assert seen["case_history"] == len(before["case_history"]) + 1
    assert seen["outbox"] > len(before["outbox"])
    victim.sigkill()

    assert _rows(db_url) == before
    _sqlite_ok(db_url)
    again = _run(db_url, "--now", FIRE_AT, "case", "fire", "SCR-00001", *NOTIFY)
    assert again.returncode == 0, again.stderr
    state, revision, history = _case(db_url, "SCR-00001")
    assert (state, revision) == ("subgroup_consideration", 2)
    assert history == [(1, "open", None, STATE), (2, "notify", STATE, "subgroup_consideration")]


def test_sigkill_inside_a_sweep_batch_keeps_nothing(db_url: str, child: Callable[..., Child]) -> None:
    seeded = seed(db_url, 40)
    per_case = len(seeded.due_points(at(LATE)))
    before = _rows(db_url)
    victim = child(PAUSE_BEFORE_COMMIT, "--now", LATE, "escalate", env=_env(db_url, REVIEWFLOW_BATCH_SIZE="10"))
    seen = json.loads(victim.line("inside ", timeout=60))
    assert seen["escalations"] == 10 * per_case  # the first batch's levels, not yet committed
    assert seen["outbox"] > len(before["outbox"])
    victim.sigkill()

    assert _rows(db_url) == before  # no ledger row, no notice, no case's next check moved
    _sqlite_ok(db_url)
    finish = _run(db_url, "--now", LATE, "run", "--once")
    assert finish.returncode == 0, finish.stderr
    _assert_complete(seeded, LATE)


def _backend(admin: Any, app: str, query: str) -> int | None:
    """pid of the backend named `app` waiting on a lock while running a statement starting `query`."""
    row = admin.execute("SELECT pid FROM pg_stat_activity WHERE application_name = %s AND wait_event_type = 'Lock' "
                        "AND query LIKE %s", (app, f"{query}%")).fetchone()
    return row[0] if row else None


def _gone(admin: Any, app: str) -> bool:
    return admin.execute("SELECT count(*) FROM pg_stat_activity WHERE application_name = %s",
                         (app,)).fetchone()[0] == 0


@pytest.mark.postgres
def test_sigkill_of_the_cli_blocked_inside_its_transaction_keeps_nothing(spawn: Callable[..., Proc]) -> None:
    """No hook at all: the test locks the outbox table, so `reviewflow case fire` stops inside its
    transaction with the case updated and the history row written; then it is killed."""
    import psycopg

    url = pg_url_or_skip()
    seed(url, 3)
    before = _rows(url)
    app = f"rf-victim-{uuid.uuid4().hex[:8]}"
    with psycopg.connect(_libpq(url), autocommit=True) as admin, psycopg.connect(_libpq(url)) as blocker:
        blocker.execute("LOCK TABLE outbox IN EXCLUSIVE MODE")
        victim = spawn(f"{url}&application_name={app}", "--now", FIRE_AT, "case", "fire", "SCR-00001", *NOTIFY)
        _wait_for("the fire to wait on the outbox lock", lambda: _backend(admin, app, "INSERT INTO outbox") is not None,
                  60, victim)
        pid = _backend(admin, app, "INSERT INTO outbox")
        held = {r[0] for r in admin.execute("SELECT relation::regclass::text FROM pg_locks WHERE pid = %s AND "
                                            "granted AND mode = 'RowExclusiveLock'", (pid,))}
        assert {"cases", "case_history"} <= held, held  # it had updated the case and written its history
        victim.signal(signal.SIGKILL)
        assert victim.wait(timeout=10) == -signal.SIGKILL
        blocker.rollback()
        _wait_for("the killed client's backend to end", lambda: _gone(admin, app), 30)

    assert _rows(url) == before
    assert _case(url, "SCR-00001")[:2] == (STATE, 1)


# --- 2. a locked SQLite file -----------------------------------------------------------------------

def _sqlite_path(url: str) -> str:
    return url.removeprefix("sqlite:///").split("?")[0]


def test_sqlite_writer_waits_for_the_lock_then_writes(tmp_path: Path, spawn: Callable[..., Proc],
                                                      child: Callable[..., Child]) -> None:
    url = f"sqlite:///{tmp_path / 'reviewflow.db'}"
    seed(url, 2)
    holder = child(HOLD_SQLITE_LOCK, _sqlite_path(url), "BEGIN IMMEDIATE")
    holder.line("held", timeout=30)
    writer = spawn(f"{url}?timeout=120", "--now", FIRE_AT, "case", "fire", "SCR-00001", *NOTIFY)
    db_file = (tmp_path / "reviewflow.db").resolve()
    opened = Path(f"/proc/{writer.pid}/fd")

    def has_db_open() -> bool:
        try:
            return any(Path(os.readlink(fd)) == db_file for fd in opened.iterdir())
        except OSError:
            return False

    _wait_for("the writer to open the database", has_db_open, 60, writer)
    time.sleep(1.0)  # let it reach BEGIN IMMEDIATE and the busy wait
    assert writer.alive(), writer.stderr  # it cannot have written: the lock is held
    assert _case(url, "SCR-00001")[1] == 1
    holder.go()
    assert holder.wait(timeout=10) == 0
    assert writer.wait(timeout=60) == 0, writer.stderr
    assert "Error" not in writer.stderr
    assert _case(url, "SCR-00001")[:2] == ("subgroup_consideration", 2)


@pytest.mark.parametrize("command", [
    pytest.param(["case", "fire", "SCR-00001", *NOTIFY], id="fire"),
    pytest.param(["case", "open", WORKFLOW, "--legacy", "--ref", "SCR-NEW", "--as", "la.duty",
                  *[a for k, v in OPEN_FIELDS.items() for a in ("--field", f"{k}={v}")]], id="open"),
    pytest.param(["escalate"], id="sweep"),
])
def test_sqlite_lock_held_too_long_is_one_line_and_writes_nothing(tmp_path: Path, child: Callable[..., Child],
                                                                  command: list[str]) -> None:
    url = f"sqlite:///{tmp_path / 'reviewflow.db'}"
    seed(url, 2)
    before = _rows(url)
    holder = child(HOLD_SQLITE_LOCK, _sqlite_path(url), "BEGIN IMMEDIATE")
    holder.line("held", timeout=30)
    started = time.monotonic()
    result = _run(f"{url}?timeout=1.5", "--now", LATE if command == ["escalate"] else FIRE_AT, *command)
    waited = time.monotonic() - started
    assert holder.alive()
    holder.go()
    assert holder.wait(timeout=10) == 0

    assert (result.returncode, result.stdout) == (4, "")
    assert result.stderr == (f"Error: the database {url}?timeout=1.5 is locked by another process: "
                             "try again in a moment\n")
    assert waited >= 1.5  # it waited for the lock before giving up
    assert _rows(url) == before


def test_sqlite_reader_does_not_hold_up_a_writer(tmp_path: Path, child: Callable[..., Child]) -> None:
    """WAL: a long read (a report, a backup) neither blocks BEGIN IMMEDIATE nor the COMMIT."""
    url = f"sqlite:///{tmp_path / 'reviewflow.db'}"
    seed(url, 2)
    reader = child(HOLD_SQLITE_LOCK, _sqlite_path(url), "BEGIN")
    reader.line("held", timeout=30)
    result = _run(f"{url}?timeout=0", "--now", FIRE_AT, "case", "fire", "SCR-00001", *NOTIFY)
    assert reader.alive()
    reader.go()
    assert reader.wait(timeout=10) == 0
    assert result.returncode == 0, result.stderr
    assert _case(url, "SCR-00001")[:2] == ("subgroup_consideration", 2)


def test_a_bad_sqlite_timeout_is_one_line(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'reviewflow.db'}?timeout=soon"
    result = _run(url, "case", "list")
    assert (result.returncode, result.stdout) == (4, "")
    assert result.stderr == ("Error: timeout='soon' in the database URL is not a number of seconds: write e.g. "
                             "sqlite:///reviewflow.db?timeout=10 (how long to wait for another writer)\n")


# --- 3. two processes fire conflicting triggers on the same cases ----------------------------------

Outcomes = dict[str, dict[str, list[str]]]
"""{trigger: {ref: [outcome, message]}}; outcome is "ok" or the error's class name."""


def _outcomes(tmp_path: Path, child: Callable[..., Child], url: str, refs: list[str]) -> Outcomes:
    """Run one process per side over every case at once."""
    refs_file = tmp_path / "refs.txt"
    refs_file.write_text("\n".join(refs))
    procs = {trigger: child(FIRER, url, FIRE_AT, trigger, actor, field, str(refs_file),
                            str(tmp_path / f"{trigger}.json"), env=_env(url), name=trigger)
             for trigger, (actor, field) in SIDES.items()}
    for proc in procs.values():
        proc.line("ready", timeout=60)
    for proc in procs.values():
        proc.go()
    for proc in procs.values():
        assert proc.wait(timeout=600) == 0, proc.stderr[-3000:]
    return {trigger: json.loads((tmp_path / f"{trigger}.json").read_text()) for trigger in SIDES}


def _row_problems(d: WorkflowDefinition, case: Any, history: list[Any]) -> list[str]:
    """Consecutive history, each row leaving the state the one before entered, the case where the last left it."""
    problems: list[str] = []
    seqs = [h.seq for h in history]
    if seqs != list(range(1, len(history) + 1)):
        problems.append(f"history seqs {seqs}")
    if not history or (history[0].trigger, history[0].to_state) != ("open", STATE):
        return [*problems, "history does not start with the opening"]
    problems += [f"seq {b.seq} leaves {b.from_state}, but seq {a.seq} entered {a.to_state}"
                 for a, b in zip(history, history[1:], strict=False) if b.from_state != a.to_state]
    if (case.state, case.revision, case.entry_seq) != (history[-1].to_state, len(history), len(history)):
        problems.append(f"case at {case.state} rev {case.revision} entry {case.entry_seq}, "
                        f"history ends at {history[-1].to_state} after {len(history)} rows")
    if case.is_open == d.states[case.state].terminal:
        problems.append(f"is_open {case.is_open} in {case.state}")
    return problems


def _order_problems(d: WorkflowDefinition, history: list[Any], outcome: dict[str, list[str]]) -> list[str]:
    """The moves in history order are a serial run of the fired triggers, and each process was told the truth."""
    problems: list[str] = []
    applied = [h.trigger for h in history[1:]]
    path = [STATE]
    for trigger in applied:
        t = d.transition(path[-1], trigger)
        if t is None:
            return [f"{trigger} applied from {path[-1]}, where it is not possible"]
        path.append(t.dest)
    for trigger, (kind, message) in outcome.items():
        if applied.count(trigger) != (1 if kind == "ok" else 0):
            problems.append(f"{trigger} reported {kind} but appears {applied.count(trigger)} time(s) in the history")
        if kind == "TransitionNotAllowed" and all(d.transition(s, trigger) for s in path[1:]):
            problems.append(f"{trigger} refused ({message}) though possible all along {path}")
        if kind not in ("ok", "TransitionNotAllowed", "ConcurrentChange"):
            problems.append(f"{trigger} failed with {kind}: {message}")
    return problems


def _check_race(seeded: Seeded, outcomes: Outcomes) -> None:
    cases_t, history_t, outbox_t = (CaseRow.__table__, HistoryRow.__table__,  # type: ignore[attr-defined]
                                    OutboxRow.__table__)  # type: ignore[attr-defined]
    with connect(seeded.url) as conn:
        cases = {r.id: r for r in conn.execute(select(cases_t))}
        histories: dict[int, list[Any]] = {case_id: [] for case_id in cases}
        for h in conn.execute(select(history_t).order_by(history_t.c.case_id, history_t.c.seq)):
            histories[h.case_id].append(h)
        notices = {(r.case_id, int(r.key.split(":")[1])) for r in conn.execute(
            select(outbox_t.c.case_id, outbox_t.c.key).where(outbox_t.c.event == "entered_state"))}
    d = seeded.definition
    problems = [f"{case.ref}: {p}" for case_id, case in cases.items()
                for p in [*_row_problems(d, case, histories[case_id]),
                          *_order_problems(d, histories[case_id], {t: outcomes[t][case.ref] for t in SIDES})]]
    assert not problems, f"{len(problems)} problems, e.g. {problems[:5]}"
    expected = {(case_id, h.seq) for case_id, rows in histories.items() for h in rows
                if h.seq > 1 and d.notify.get(h.to_state)}
    assert {n for n in notices if n[1] > 1} == expected  # one set of notices per move, none for a lost one
    _check_chain(seeded.url, histories)


def _check_chain(url: str, histories: dict[int, list[Any]]) -> None:
    """Every row the racing processes wrote is sealed after the row before it in its case (copies of the
    seeded case start unsealed), at its own place in the database-wide chain, which folds to the head."""
    sealed: list[tuple[int, str]] = []
    key = chain.AuditKey(os.environ[chain.KEY_ENV], None).get(may_create=False)  # the test run's key
    for case_id, rows in histories.items():
        previous = chain.genesis(chain.HISTORY, case_id)
        for h in rows:
            if h.hash is None:
                assert h.seq == 1, f"case {case_id} row {h.seq} was written unsealed"
                continue
            assert h.hash == chain.seal(previous, chain.HISTORY, h, key), f"case {case_id} row {h.seq}: chain forked"
            previous = h.hash
            sealed.append((h.chain_seq, h.hash))
    with connect(url) as conn:
        head = conn.execute(select(AuditHeadRow.__table__)).one()  # type: ignore[attr-defined]
        ledger = EscalationRow.__table__  # type: ignore[attr-defined]
        admin = AdminEventRow.__table__  # type: ignore[attr-defined]
        for table in (ledger, admin):
            sealed += [(r.chain_seq, r.hash) for r in conn.execute(select(table.c.chain_seq, table.c.hash))]
    assert chain.check_sequence(sealed, head.seq, head.hash, key) is None


def test_conflicting_triggers_on_the_same_cases_serialise(db_url: str, tmp_path: Path,
                                                          child: Callable[..., Child]) -> None:
    seeded = seed(db_url, CONFLICT_CASES)
    started = time.monotonic()
    outcomes = _outcomes(tmp_path, child, db_url, sorted(seeded.cases.values()))
    took = time.monotonic() - started
    _check_race(seeded, outcomes)

    split = Counter((outcomes["notify"][ref][0], outcomes["withdraw"][ref][0]) for ref in seeded.cases.values())
    print(f"\n[{db_url.split(':')[0].split('+')[0]}] {CONFLICT_CASES} cases, 2 processes, {took:.1f} s: "
          + ", ".join(f"notify {a} / withdraw {b}: {n}" for (a, b), n in split.most_common()))
    refusals = {f"{trigger} {kind}": message for trigger, side in outcomes.items()
                for kind, message in side.values() if kind != "ok"}
    for what, message in refusals.items():  # the loser is told plainly what happened
        if what.endswith("ConcurrentChange"):
            assert re.fullmatch(r"case (SCR-\d{5}) changed since you loaded it; try again "
                                r"\(see 'reviewflow case show \1' for its current state\)", message), message
        else:
            assert (what, message) == ("notify TransitionNotAllowed", "`notify` is not possible from `withdrawn`; "
                                       "possible: none (this is an end state)")
    assert sum(n for (a, b), n in split.items() if "ok" in (a, b)) == CONFLICT_CASES  # every case moved once at least


# --- 4. a PostgreSQL connection dropped under `reviewflow run` -------------------------------------

def _open_case(url: str, ref: str) -> None:
    fields = [a for k, v in OPEN_FIELDS.items() for a in ("--field", f"{k}={v}")]
    result = _run(url, "--now", OPENED, "case", "open", WORKFLOW, "--legacy", "--ref", ref, "--as", "la.duty",
                  *fields)
    assert result.returncode == 0, result.stderr


def _fired(url: str, ref: str) -> list[str]:
    esc, cases = EscalationRow.__table__, CaseRow.__table__  # type: ignore[attr-defined]
    with connect(url) as conn:
        return list(conn.execute(select(esc.c.key).join(cases, cases.c.id == esc.c.case_id)
                                 .where(cases.c.ref == ref)).scalars())


@pytest.mark.postgres
def test_worker_logs_a_dropped_connection_reconnects_and_carries_on(spawn: Callable[..., Proc]) -> None:
    import psycopg

    url = pg_url_or_skip()
    seeded = seed(url, 5)
    levels = len(seeded.due_points(at(LATE)))
    app = f"rf-worker-{uuid.uuid4().hex[:8]}"
    worker = spawn(f"{url}&application_name={app}", "--log-json", "-v", "--now", LATE, "run", "--interval", "1")
    _wait_for("the first tick", lambda: len(_fired(url, "SCR-00004")) == levels, 60, worker)

    with psycopg.connect(_libpq(url), autocommit=True) as admin:
        # (a) dropped while idle between ticks: found by the pre-ping, logged, replaced
        def terminate_idle() -> bool:
            # idle for a while: in the pool between ticks, not checked out by a tick between two statements
            return admin.execute("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                                 "WHERE application_name = %s AND state = 'idle' "
                                 "AND state_change < clock_timestamp() - interval '300 milliseconds'",
                                 (app,)).fetchone()[0] > 0

        def dropped_and_found() -> bool:
            # The worker's tick may hold its connection at the moment we look (then only connections it is
            # not using are idle): drop whatever is idle, give the next ticks a moment, and try again.
            if "db.connection_lost" in worker.stderr:
                return True
            if terminate_idle():
                deadline = time.monotonic() + 3
                while time.monotonic() < deadline and "db.connection_lost" not in worker.stderr:
                    time.sleep(0.05)
            return "db.connection_lost" in worker.stderr

        _wait_for("the worker to find its idle connection dead", dropped_and_found, 60, worker)
        _open_case(url, "SCR-IDLE")
        _wait_for("the case opened after the drop to escalate", lambda: len(_fired(url, "SCR-IDLE")) == levels,
                  60, worker)

        # (b) dropped in the middle of a tick: the sweep waits on a lock, its backend is terminated
        with psycopg.connect(_libpq(url)) as blocker:
            blocker.execute("LOCK TABLE escalations IN EXCLUSIVE MODE")
            _open_case(url, "SCR-MID")
            _wait_for("the sweep to wait on the ledger", lambda: _backend(admin, app, "INSERT INTO escalations")
                      is not None, 60, worker)
            admin.execute("SELECT pg_terminate_backend(%s)", (_backend(admin, app, "INSERT INTO escalations"),))
            _wait_for("the tick to fail", lambda: "worker.tick_failed" in worker.stderr, 30, worker)
            blocker.rollback()
        _wait_for("the next tick to redo the work", lambda: len(_fired(url, "SCR-MID")) == levels, 60, worker)

    assert worker.alive()
    worker.signal(signal.SIGTERM)
    assert worker.wait(timeout=30) == 0, worker.stderr
    events = [json.loads(line) for line in worker.stderr.splitlines() if line.startswith("{")]
    assert len(events) == len(worker.stderr.splitlines()), "a log line that is not JSON: " + worker.stderr[-2000:]
    names = Counter(e["event"] for e in events)
    assert names["db.connection_lost"] == 1
    assert names["worker.tick_failed"] == 1, "\n".join(
        f"{e['event']} {e.get('tick')} {e.get('error', '')[:200]}" for e in events
        if e["event"] not in ("sweep.batch", "schedule.run", "delivery.smtp_not_configured", "worker.tick"))
    assert names["worker.recovered"] == 1
    failed = next(e for e in events if e["event"] == "worker.tick_failed")
    assert "terminating connection due to administrator command" in failed["error"]
    for ref in ("SCR-00000", "SCR-IDLE", "SCR-MID"):
        assert sorted(_fired(url, ref)) == sorted(p.key for p in seeded.due_points(at(LATE))), ref


# --- 5. a database that is missing, unreadable, wrong or down --------------------------------------

def _garbage(folder: Path) -> str:
    (folder / "notes.db").write_text("minutes of the March board meeting\n" * 40)
    return f"sqlite:///{folder / 'notes.db'}"


def _folder(folder: Path) -> str:
    (folder / "db").mkdir()
    return f"sqlite:///{folder / 'db'}"


def _unreadable(folder: Path) -> str:
    (folder / "locked.db").write_bytes(b"")
    (folder / "locked.db").chmod(0)
    return f"sqlite:///{folder / 'locked.db'}"


PG_DOWN = "postgresql+psycopg://postgres@127.0.0.1:1/test"
FAULTY: dict[str, tuple[Callable[[Path], str], list[str], str]] = {
    # name: (make the URL in a folder, the command, how the one line starts after "Error: ")
    "garbage-file": (_garbage, ["case", "list"], "sqlite:///{tmp}/notes.db is not a usable reviewflow database "
                     "(file is not a database): check --db or REVIEWFLOW_DB names the right file"),
    "folder-not-file": (_folder, ["case", "list"],
                        "cannot open the database sqlite:///{tmp}/db: check the folder exists and is writable"),
    "unreadable-file": (_unreadable, ["case", "list"], "cannot open the database sqlite:///{tmp}/locked.db"),
    "bad-sqlite-url": (lambda _: "sqlite://user@host/reviewflow.db", ["case", "list"],
                       "'sqlite://user@host/reviewflow.db' is not a usable database URL (Invalid SQLite URL"),
    "pg-no-such-database": (lambda _: "postgresql+psycopg://postgres@127.0.0.1:5432/rf_no_such_db", ["case", "list"],
                            "cannot use the database postgresql+psycopg://postgres@127.0.0.1:5432/rf_no_such_db: "
                            "database \"rf_no_such_db\" does not exist: check the URL"),
    "pg-no-such-user": (lambda _: "postgresql+psycopg://rf_nobody@127.0.0.1:5432/test", ["case", "list"],
                        "cannot use the database postgresql+psycopg://rf_nobody@127.0.0.1:5432/test: role "
                        "\"rf_nobody\" does not exist"),
    "pg-unknown-host": (lambda _: "postgresql+psycopg://postgres@rf-no-such-host.invalid/test", ["case", "list"],
                        "cannot reach the database postgresql+psycopg://postgres@rf-no-such-host.invalid/test "
                        "(failed to resolve host"),
    "pg-down-worker": (lambda _: PG_DOWN, ["run", "--once"], f"cannot reach the database {PG_DOWN} (connection failed"),
    "pg-down-fire": (lambda _: PG_DOWN, ["case", "fire", "SCR-1", *NOTIFY],
                     f"cannot reach the database {PG_DOWN} (connection failed"),
}
"""Faults test_cli.py does not already cover (a missing file or folder, no driver, not a URL, an
empty file, and a closed port are there), each run as the real console script."""


@pytest.mark.parametrize("name", list(FAULTY))
def test_database_faults_are_one_line_and_exit_1(tmp_path: Path, name: str) -> None:
    make, command, expected = FAULTY[name]
    if name == "unreadable-file" and os.geteuid() == 0:
        pytest.skip("root reads a file of mode 000")
    url = make(tmp_path)
    listing = sorted(p.name for p in tmp_path.iterdir())
    result = _run(url, *command, timeout=60)
    assert (result.returncode, result.stdout) == (4, ""), result.stderr
    assert result.stderr.startswith("Error: " + expected.replace("{tmp}", str(tmp_path))), result.stderr
    assert result.stderr.count("\n") == 1, result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == listing  # nothing created beside it
