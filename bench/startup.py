"""CLI start-up: `reviewflow --help` and `reviewflow case show REF` against `python -c "import click"`.

Each command is a fresh process (wall time, start to exit), the three interleaved. `case show`
reads a small SQLite database with one serious case review.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from bench.config import Config
from bench.report import Figure, Target, measured
from bench.seed import Seeder

REF = "SCR-2026-001"


def reviewflow_command() -> list[str]:
    """The installed `reviewflow` script beside this Python, else the same entry point by -c."""
    script = Path(sys.executable).parent / "reviewflow"
    if script.is_file():
        return [sys.executable, str(script)]
    return [sys.executable, "-c", "import sys; from cli import main; sys.exit(main())"]


def _env() -> dict[str, str]:
    """The environment of a user's shell: no REVIEWFLOW_* settings but the audit key the run's databases are
    sealed with, and compiled modules cached (__pycache__), as after any normal install, even where
    PYTHONDONTWRITEBYTECODE is set."""
    env = {k: v for k, v in os.environ.items()
           if (not k.startswith("REVIEWFLOW_") or k == "REVIEWFLOW_AUDIT_KEY_FILE") and k != "PYTHONDONTWRITEBYTECODE"}
    root = str(Path(__file__).resolve().parent.parent)
    env["PYTHONPATH"] = os.pathsep.join([root, *filter(None, [env.get("PYTHONPATH")])])
    return env


def _wall(cmd: list[str], cwd: Path, env: dict[str, str]) -> float:
    start = time.perf_counter()
    done = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} exited {done.returncode}: {done.stderr.strip()[:300]}")
    return seconds * 1000


def cli_startup(cfg: Config) -> list[Figure]:
    url = cfg.sqlite_url("startup")
    seeder = Seeder.create(url)
    try:
        seeder.open(REF, "2026-01-05T10:00")
    finally:
        seeder.close()
    rf = reviewflow_command()
    commands = {"click": [sys.executable, "-c", "import click"], "help": [*rf, "--help"],
                "show": [*rf, "--db", url, "case", "show", REF],
                # the floor: importing the libraries any command that reads a case needs, and nothing else
                "floor": [sys.executable, "-c", "import click, sqlalchemy.orm, sqlmodel"]}
    env = _env()
    runs = cfg.size(cfg.repeat * 3, cfg.repeat)
    samples: dict[str, list[float]] = {k: [] for k in commands}
    for name in () if cfg.quick else commands:  # warm the file cache and write __pycache__
        _wall(commands[name], cfg.workdir, env)
    for r in range(runs):
        order = list(commands.items())
        for name, cmd in order if r % 2 == 0 else order[::-1]:
            samples[name].append(_wall(cmd, cfg.workdir, env))
    _profile(cfg, commands["show"], env)
    note = f"{runs} runs each"
    return [measured("cli-help", Target("<=", 1.5), "reviewflow --help", samples["help"], "import click",
                     samples["click"], "ms", note=note),
            measured("cli-case-show", Target("<=", 3), "case show", samples["show"], "import click",
                     samples["click"], "ms", note=note),
            measured("cli-import-floor", Target("<=", 3), "import click+sqlmodel", samples["floor"],
                     "import click", samples["click"], "ms",
                     note="importing the store's libraries alone: the least any command that reads a case costs")]


def _profile(cfg: Config, show: list[str], env: dict[str, str]) -> None:
    """With --profile: `python -X importtime` of `case show` (what start-up spends importing)."""
    if cfg.profile_dir is None:
        return
    cfg.profile_dir.mkdir(parents=True, exist_ok=True)
    done = subprocess.run([show[0], "-X", "importtime", *show[1:]], cwd=cfg.workdir, env=env,
                          capture_output=True, text=True, check=False)
    out = cfg.profile_dir / "cli-case-show.importtime.txt"
    lines = [ln for ln in done.stderr.splitlines() if ln.startswith("import time:")]
    top = sorted(lines[1:], key=lambda ln: -int(ln.split("|")[1].strip() or 0))[:60]
    out.write_text("\n".join([lines[0] if lines else "", *top]) + "\n", "utf-8")
    cfg.progress(f"cli-startup: import times written to {out}")
