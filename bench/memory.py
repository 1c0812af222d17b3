"""Worker memory: the resident set of a real `reviewflow run` over 100k open cases, and its growth
over 1,000 sweeps.

The open cases are copies of serious case reviews opened on 50 successive days from 5 January
2026, so each simulated day brings a few thousand cases to a ladder level. RSS is read from
/proc/PID/status. The CLI's shortest interval is 1 second, so 1,000 sweeps through `reviewflow run`
would take over 16 minutes: the growth figure drives the same `Worker.tick()` (sweep, then
delivery) in a child process, 1,000 times, with the clock moved 10 minutes per tick, on a copy of
the database made before `reviewflow run` started (so its first tick does the same work).
"""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import threading
import time
from datetime import datetime, timedelta
from pathlib import Path

from bench.config import Config
from bench.report import Figure, Target
from bench.seed import Seeder, at
from bench.startup import _env, reviewflow_command

START = "2026-01-14T09:00"
STEP_MINUTES = 10
LIMIT_MB = 150.0


def rss_kb(pid: int | str = "self", field: str = "VmRSS") -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    raise RuntimeError(f"no {field} in /proc/{pid}/status")


def seed_open_cases(cfg: Config, url: str, total: int, days: int) -> None:
    seeder = Seeder.create(url)
    try:
        each = total // days
        for day in range(days):
            ref = f"T{day:03d}"
            seeder.open(ref, _day(day))
            seeder.copy(ref, f"C{day:03d}-", each - 1)
            if day % 10 == 9 or day == days - 1:
                cfg.progress(f"seeded {each * (day + 1):,} of {total:,} open cases")
    finally:
        seeder.close()


def _day(n: int) -> datetime:
    return at("2026-01-05T10:00") + timedelta(days=n)


def _first_tick_rss(cfg: Config, url: str) -> tuple[float, float]:
    """Start `reviewflow run`, wait for its first tick to finish, read its RSS; return (RSS, peak) in MB."""
    cmd = [*reviewflow_command(), "-v", "--db", url, "--now", START, "run", "--interval", "60"]
    proc = subprocess.Popen(cmd, cwd=cfg.workdir, env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            text=True)
    ticked = threading.Event()
    seen: list[str] = []

    def watch() -> None:
        assert proc.stderr is not None
        for text in proc.stderr:
            seen.append(text.strip())
            if "worker.tick" in text:  # done, or failed (said below)
                ticked.set()
        ticked.set()  # the process ended

    threading.Thread(target=watch, daemon=True).start()
    try:
        ticked.wait(900)
        if not any("worker.tick" in t and "tick_failed" not in t for t in seen) or proc.poll() is not None:
            raise RuntimeError(f"reviewflow run did not finish a tick: {' / '.join(seen[-3:]) or proc.returncode}")
        time.sleep(0.5)
        rss, peak = rss_kb(proc.pid), rss_kb(proc.pid, "VmHWM")
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return rss / 1024, peak / 1024


def _growth(cfg: Config, url: str, ticks: int) -> dict[int, float]:
    """RSS in MB after selected ticks of the in-process worker loop."""
    cmd = [sys.executable, "-m", "bench.worker_loop", url, START, str(STEP_MINUTES), str(ticks)]
    env = {**_env(), "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(cmd, cwd=cfg.workdir, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                            text=True)
    found: dict[int, float] = {}
    assert proc.stdout is not None
    for line in proc.stdout:
        item = json.loads(line)
        found[item["tick"]] = item["rss_kb"] / 1024
        if item["tick"] % max(ticks // 5, 1) == 0:
            cfg.progress(f"worker loop: tick {item['tick']:,} of {ticks:,}, RSS {found[item['tick']]:.1f} MB")
    if proc.wait() != 0:
        raise RuntimeError(f"the worker loop exited {proc.returncode}")
    return found


def worker_memory(cfg: Config) -> list[Figure]:
    total, days, ticks = cfg.size(100_000, 500), cfg.size(50, 5), cfg.size(1_000, 5)
    url, loop_url = cfg.sqlite_url("worker"), cfg.sqlite_url("worker-loop")
    seed_open_cases(cfg, url, total, days)
    for suffix in ("", "-wal"):  # the loop starts from the same state: its first tick does the same work
        source = Path(url.removeprefix("sqlite:///") + suffix)
        if source.exists():
            shutil.copyfile(source, loop_url.removeprefix("sqlite:///") + suffix)
    rss, peak = _first_tick_rss(cfg, url)
    growth = _growth(cfg, loop_url, ticks)
    first, last = growth[1], growth[ticks]
    return [
        Figure("worker-rss", Target("<=", 1), "reviewflow run", rss, "limit", LIMIT_MB, "MB", rss / LIMIT_MB,
               note=f"{total:,} open cases, after the first tick; peak {peak:.1f} MB"),
        Figure("worker-growth", Target("<=", 1.05), f"after {ticks:,} ticks", last, "after 1", first, "MB",
               last / first, note=f"in-process Worker.tick(), clock +{STEP_MINUTES} min per tick"),
    ]

