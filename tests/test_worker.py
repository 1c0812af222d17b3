"""The unattended worker as real processes: signals, the single SQLite worker, crashes mid-sweep,
concurrent sweeps on PostgreSQL, and the dry-run preview. Time is fixed with --now throughout."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO

import pytest

from tests.conftest import pg_url_or_skip
from tests.seeding import Seeded, at, connect, ledger_count, seed, snapshot

EXE = Path(sys.executable).with_name("reviewflow")
LATE = "2026-03-02T09:00"
"""Every ladder level of the seeded cases (13 Jan, 26 Jan, 9 Feb 2026) is due by then."""
EARLY = "2026-01-20T09:00"
"""Only the first ladder level is due by then."""
SUMMARY = re.compile(r"^(\d+) escalation\(s\) fired at .+ \((\d+) case\(s\) checked\)$", re.MULTILINE)


def _env(url: str, **extra: str) -> dict[str, str]:
    """The test's environment without any REVIEWFLOW_* setting of the caller's, plus the database."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("REVIEWFLOW_") or k == "REVIEWFLOW_AUDIT_KEY_FILE"}
    return {**env, "REVIEWFLOW_DB": url, **extra}


class Proc:
    """A `reviewflow` child process with its output in files (no pipe can fill up and stall it)."""

    def __init__(self, folder: Path, name: str, args: list[str], env: dict[str, str]) -> None:
        self.out_path, self.err_path = folder / f"{name}.out", folder / f"{name}.err"
        self._out: IO[bytes] = self.out_path.open("wb")
        self._err: IO[bytes] = self.err_path.open("wb")
        self.popen = subprocess.Popen([str(EXE), *args], env=env, cwd=folder, stdout=self._out, stderr=self._err,
                                      stdin=subprocess.DEVNULL, start_new_session=True)
        self.pid = self.popen.pid

    @property
    def stderr(self) -> str:
        return self.err_path.read_text("utf-8", errors="replace")

    @property
    def stdout(self) -> str:
        return self.out_path.read_text("utf-8", errors="replace")

    def alive(self) -> bool:
        return self.popen.poll() is None

    def signal(self, signum: int) -> None:
        self.popen.send_signal(signum)

    def wait(self, timeout: float) -> int:
        try:
            return self.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            pytest.fail(f"reviewflow (pid {self.pid}) still running after {timeout} s; stderr:\n{self.stderr[-3000:]}")

    def kill(self) -> None:
        if self.alive():
            self.popen.kill()
            self.popen.wait(timeout=10)

    def close(self) -> None:
        self.kill()
        self._out.close()
        self._err.close()


@pytest.fixture
def spawn(tmp_path: Path) -> Iterator[Callable[..., Proc]]:
    """Start `reviewflow ARGS` processes; any still running at the end of the test is killed."""
    started: list[Proc] = []

    def start(url: str, *args: str, name: str | None = None, **env: str) -> Proc:
        proc = Proc(tmp_path, name or f"proc{len(started)}", list(args), _env(url, **env))
        started.append(proc)
        return proc

    yield start
    for proc in started:
        proc.close()


def _wait_for(what: str, check: Callable[[], bool], timeout: float, proc: Proc | None = None,
              every: float = 0.05) -> None:
    """Poll `check` until it holds; fail after `timeout` seconds or as soon as `proc` has exited."""
    deadline = time.monotonic() + timeout
    while not check():
        if proc is not None and not proc.alive():
            pytest.fail(f"reviewflow exited ({proc.popen.returncode}) before {what}; stderr:\n{proc.stderr[-3000:]}")
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout} s waiting for {what}"
                        + (f"; stderr:\n{proc.stderr[-3000:]}" if proc else ""))
        time.sleep(every)


def _ledger_rows(url: str) -> int:
    with connect(url) as conn:
        return ledger_count(conn)


def _run(url: str, *args: str, timeout: float = 120, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(EXE), *args], env=_env(url, **env), capture_output=True, text=True,
                          timeout=timeout, check=False, stdin=subprocess.DEVNULL)


def _sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'reviewflow.db'}"


def _assert_complete(seeded: Seeded, now: str) -> None:
    """Every due level fired exactly once, every case's next check moved past it, one notice per person."""
    when = at(now)
    snap = snapshot(seeded.url)
    duplicates = [row for row, n in Counter(snap.ledger).items() if n > 1]
    assert not duplicates, f"{len(duplicates)} ledger rows fired twice, e.g. {duplicates[:3]}"
    expected = seeded.expected_ledger(when)
    missing = expected - set(snap.ledger)
    assert not missing, f"{len(missing)} due levels never fired, e.g. {sorted(missing)[:3]}"
    assert set(snap.ledger) == expected
    assert len(snap.ledger) == len(expected)
    nexts = set(snap.next_checks.values())
    assert nexts == {seeded.expected_next_check(when)}, f"next_check_at values left: {sorted(map(str, nexts))[:5]}"
    dup_keys = [k for k, n in Counter(snap.outbox_keys).items() if n > 1]
    assert not dup_keys, f"duplicate notifications: {dup_keys[:3]}"
    assert set(snap.outbox_keys) == seeded.expected_outbox_keys(when)


# --- 1. start, tick, stop on a signal -------------------------------------------------------------

@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_worker_ticks_and_stops_cleanly_on_signal(tmp_path: Path, spawn: Callable[..., Proc],
                                                  signum: signal.Signals) -> None:
    url = _sqlite_url(tmp_path)
    seeded = seed(url, 5)
    expected = len(seeded.expected_ledger(at(LATE)))
    worker = spawn(url, "-v", "--now", LATE, "run", "--interval", "1")
    _wait_for("the first tick to fire the due levels", lambda: _ledger_rows(url) == expected, 30, worker)
    _wait_for("a second tick from the scheduler", lambda: worker.stderr.count("worker.tick ") >= 2, 30, worker)

    started = time.monotonic()
    worker.signal(signum)
    code = worker.wait(timeout=15)
    took = time.monotonic() - started

    err = worker.stderr
    assert code == 0, err
    assert took < 5, f"took {took:.1f} s to stop"
    assert f"signal={signum.name}" in err
    assert re.search(r"worker\.stopped\s+ticks=\d+", err), err
    assert "Traceback" not in err
    assert _ledger_rows(url) == expected  # later ticks at the same --now fired nothing more
    _assert_complete(seeded, LATE)


def _assert_whole_cases(seeded: Seeded) -> int:
    """After an interrupted sweep: each case has all its due levels, its next check and its notices, or none."""
    per_case = len(seeded.due_points(at(LATE)))
    partial = snapshot(seeded.url)
    by_case = Counter(case_id for case_id, _, _ in partial.ledger)
    assert set(by_case.values()) <= {per_case}
    moved = {case_id for case_id, when in partial.next_checks.items() if when != seeded.first_check}
    assert moved == set(by_case)
    assert len(partial.outbox_keys) == len(set(partial.outbox_keys))
    assert {k.split(":")[0] for k in partial.outbox_keys} == {seeded.cases[c] for c in by_case}
    return len(partial.ledger)


def test_sigterm_during_first_sweep_stops_after_the_batch(tmp_path: Path, spawn: Callable[..., Proc]) -> None:
    url = _sqlite_url(tmp_path)
    seeded = seed(url, 3000)
    expected = len(seeded.expected_ledger(at(LATE)))
    worker = spawn(url, "-v", "--now", LATE, "run", "--interval", "60", REVIEWFLOW_BATCH_SIZE="20")
    _wait_for("the first sweep to be part way", lambda: _ledger_rows(url) > 0, 60, worker, every=0.02)
    worker.signal(signal.SIGTERM)
    assert worker.wait(timeout=15) == 0, worker.stderr
    err = worker.stderr
    assert "worker.stopped" in err
    assert "Traceback" not in err
    stopped_at = _assert_whole_cases(seeded)
    assert 0 < stopped_at < expected, "the sweep went on to the end after SIGTERM"

    finish = _run(url, "--now", LATE, "run", "--once", timeout=120)
    assert finish.returncode == 0, finish.stderr
    _assert_complete(seeded, LATE)


def test_sigterm_while_the_log_write_blocks_still_stops(tmp_path: Path) -> None:
    """`reviewflow -v run` whose stderr reader stalls (a full pipe: journald, docker, `| less`), then SIGTERM.

    The first tick runs in the main thread and logs each batch; the write blocks inside structlog's
    lock; SIGTERM runs `stop()` in that same thread, whose `log.info("worker.stopping")` waits for the
    lock forever. Once the pipe is drained the worker should still stop and exit 0.
    """
    import fcntl
    import threading

    url = _sqlite_url(tmp_path)
    seeded = seed(url, 500)
    env = _env(url, REVIEWFLOW_BATCH_SIZE="1")
    proc = subprocess.Popen([str(EXE), "-v", "--now", LATE, "run", "--interval", "60"], env=env, cwd=tmp_path,
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            start_new_session=True)
    try:
        assert proc.stderr is not None
        fcntl.fcntl(proc.stderr.fileno(), fcntl.F_SETPIPE_SZ, 4096)  # fills after a few dozen log lines

        def stalled() -> bool:
            before = _ledger_rows(url)
            time.sleep(0.5)
            return 0 < before == _ledger_rows(url) < len(seeded.expected_ledger(at(LATE)))

        deadline = time.monotonic() + 30
        while not stalled():
            if proc.poll() is not None or time.monotonic() > deadline:  # the set-up failed, not the worker
                pytest.fail("the worker never blocked on its full log pipe")
        proc.send_signal(signal.SIGTERM)
        time.sleep(0.3)
        drained: list[bytes] = []
        reader = threading.Thread(target=lambda: drained.append(proc.stderr.read()), daemon=True)  # type: ignore[union-attr]
        reader.start()
        try:
            code: int | None = proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            code = None
        assert code == 0, "the worker hung after SIGTERM (still running 10 s after its log pipe was drained)"
        reader.join(timeout=10)
        assert b"worker.stopped" in b"".join(drained)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=10)


# --- 2. one worker per SQLite file ----------------------------------------------------------------

def test_second_sqlite_worker_is_refused_and_lock_freed_by_sigkill(tmp_path: Path,
                                                                   spawn: Callable[..., Proc]) -> None:
    url = _sqlite_url(tmp_path)
    seed(url, 1)
    first = spawn(url, "-v", "--now", LATE, "run", "--interval", "1", name="first")
    _wait_for("the first worker's first tick", lambda: "worker.tick " in first.stderr, 30, first)

    started = time.monotonic()
    second = _run(url, "--now", LATE, "run", "--interval", "1", timeout=30)
    took = time.monotonic() - started
    path = tmp_path / "reviewflow.db"
    assert (second.returncode, second.stdout) == (1, "")
    assert second.stderr == (
        f"Error: another reviewflow worker (pid {first.pid} on {socket.gethostname()}) is already running on "
        f"{path}: SQLite supports one worker; stop the other one, or use PostgreSQL to run several\n")
    assert took < 15, f"the refused worker took {took:.1f} s to exit"
    once = _run(url, "--now", LATE, "run", "--once", timeout=30)
    assert once.returncode == 1
    assert "SQLite supports one worker" in once.stderr

    ticks = first.stderr.count("worker.tick ")
    _wait_for("the first worker to keep ticking", lambda: first.stderr.count("worker.tick ") > ticks, 15, first)
    assert first.alive()

    first.signal(signal.SIGKILL)
    assert first.wait(timeout=10) == -signal.SIGKILL
    assert Path(f"{path}.worker.lock").read_text().startswith(f"pid {first.pid} ")  # stale text, no lock

    third = spawn(url, "-v", "--now", LATE, "run", "--interval", "1", name="third")
    _wait_for("a new worker after the SIGKILL", lambda: "worker.tick " in third.stderr, 30, third)
    assert Path(f"{path}.worker.lock").read_text() == f"pid {third.pid} on {socket.gethostname()}\n"
    third.signal(signal.SIGTERM)
    assert third.wait(timeout=15) == 0, third.stderr


# --- 3. SIGKILL in the middle of a sweep ----------------------------------------------------------

def test_sigkill_mid_sweep_then_finish_fires_everything_once(db_url: str, spawn: Callable[..., Proc]) -> None:
    seeded = seed(db_url, 3000)
    expected = len(seeded.expected_ledger(at(LATE)))
    per_case = len(seeded.due_points(at(LATE)))
    worker = spawn(db_url, "--now", LATE, "run", "--interval", "60", REVIEWFLOW_BATCH_SIZE="20")
    # A few batches of 20 cases are in; kill before the sweep of 150 batches is through.
    _wait_for("the sweep to be part way", lambda: _ledger_rows(db_url) >= 5 * 20 * per_case, 60, worker,
              every=0.02)
    worker.signal(signal.SIGKILL)
    assert worker.wait(timeout=10) == -signal.SIGKILL

    killed_at = _assert_whole_cases(seeded)  # each batch is one transaction
    assert 0 < killed_at < expected, f"the sweep was not interrupted ({killed_at} rows)"

    finish = _run(db_url, "--now", LATE, "run", "--once", timeout=120)
    assert finish.returncode == 0, finish.stderr
    _assert_complete(seeded, LATE)
    print(f"\n[{db_url.split(':')[0].split('+')[0]}] killed after {killed_at} of {expected} ledger rows; "
          f"`run --once` fired the other {expected - killed_at}")


# --- 4. concurrent sweeps on PostgreSQL -----------------------------------------------------------

CONCURRENT_CASES = 4000
"""Cases the four sweeps share: 12,000 levels, several seconds of work for one sweep, so that all four start
while there is work left and their claims meet (each run prints how the work was split)."""

@pytest.mark.postgres
def test_concurrent_sweeps_on_postgres_fire_each_level_once(spawn: Callable[..., Proc]) -> None:
    url = pg_url_or_skip()
    seeded = seed(url, CONCURRENT_CASES)
    expected = len(seeded.expected_ledger(at(LATE)))
    procs = [spawn(url, "--now", LATE, "escalate", name=f"sweep{i}") for i in range(4)]
    deadline = time.monotonic() + 240
    codes = [p.wait(timeout=max(deadline - time.monotonic(), 1)) for p in procs]
    assert codes == [0, 0, 0, 0], "\n".join(p.stderr[-2000:] for p in procs)

    split: list[tuple[int, int]] = []
    for p in procs:
        found = SUMMARY.findall(p.stderr)
        assert len(found) == 1, p.stderr[-2000:]
        fired, cases = map(int, found[0])
        assert p.stdout.count("\n") == fired  # one printed line per level fired
        split.append((fired, cases))
    print(f"\n[postgres] {expected} levels over 4 sweeps: " + ", ".join(f"{f} fired / {c} cases" for f, c in split))
    assert sum(f for f, _ in split) == expected
    assert sum(c for _, c in split) == len(seeded.cases)
    assert sum(1 for f, _ in split if f) > 1, f"only one sweep did any work: {split}"
    _assert_complete(seeded, LATE)


# --- 5. the dry-run preview -----------------------------------------------------------------------

def _preview(url: str, now: str) -> dict[str, object]:
    result = _run(url, "--now", now, "escalate", "--dry-run", "--json", REVIEWFLOW_BATCH_SIZE="2")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_dry_run_previews_without_writing(db_url: str) -> None:
    seeded = seed(db_url, 5)
    before = snapshot(db_url)
    early, late = _preview(db_url, EARLY), _preview(db_url, LATE)

    assert snapshot(db_url) == before  # nothing fired, nothing queued, no next check moved
    assert before.ledger == []
    refs = sorted(seeded.cases.values())
    for preview, now in ((early, EARLY), (late, LATE)):
        assert preview["dry_run"] is True
        assert preview["cases"] == len(refs)  # paged in batches of 2 without claiming anything
        fired = preview["fired"]
        assert isinstance(fired, list)
        assert sorted((f["ref"], f["key"]) for f in fired) == sorted(
            (ref, p.key) for ref in refs for p in seeded.due_points(at(now)))
    assert len(late["fired"]) > len(early["fired"])  # type: ignore[arg-type]

    done = _run(db_url, "--now", LATE, "escalate", "--json")
    assert done.returncode == 0, done.stderr
    real = json.loads(done.stdout)
    assert real["dry_run"] is False
    assert sorted((f["ref"], f["key"]) for f in real["fired"]) == sorted(
        (f["ref"], f["key"]) for f in late["fired"])  # type: ignore[union-attr]
    _assert_complete(seeded, LATE)
