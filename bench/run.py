"""The command: pick figures, run them, print one line per figure (or JSON)."""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
import tempfile
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path

from bench.config import DEFAULT_PG_URL, Config
from bench.report import Figure, Progress, Target

GROUPS: dict[str, tuple[str, tuple[str, ...]]] = {
    # group: (module:function, the figure lines it prints)
    "fire-sqlite": ("bench.fire:fire_sqlite", ("fire-sqlite", "fire-sqlite-floor")),
    "fire-postgres": ("bench.fire:fire_postgres", ("fire-postgres", "fire-postgres-floor")),
    "decision": ("bench.decision:decision", ("decision-vs-transitions", "decision-vs-statemachine")),
    "sweep-scaling": ("bench.sweeps:sweep_scaling", ("sweep-scaling",)),
    "sweep-throughput": ("bench.sweeps:sweep_throughput", ("sweep-throughput",)),
    "cli-startup": ("bench.startup:cli_startup", ("cli-help", "cli-case-show", "cli-import-floor")),
    "worker-memory": ("bench.memory:worker_memory", ("worker-rss", "worker-growth")),
    "api-fire-postgres": ("bench.api:api_fire_postgres", ("api-fire-postgres",)),
    "fire-scaling-postgres": ("bench.scaling:fire_scaling_postgres",
                              ("fire-scaling-postgres-2", "fire-scaling-postgres-4", "fire-scaling-audit-head")),
    "latency": ("bench.latency:latency", ("latency-case-get", "latency-mywork-get")),
    "pages": ("bench.pages:pages", ("page-mywork", "page-case")),
}
FIGURES = [name for _, names in GROUPS.values() for name in names]


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m bench", description=(
        "Measure reviewflow's performance figures side by side with their baselines and print one line "
        "per figure: the two measurements (medians), their ratio, the target, ok or MISSED. "
        "Exit status 0 even when a target is missed; 1 when a figure could not be measured."))
    p.add_argument("--quick", action="store_true",
                   help="Tiny sizes (for the smoke test); the figures then mean little.")
    p.add_argument("--only", action="append", default=[], metavar="NAME",
                   help=f"Only these groups or figures (repeat or comma-separate): {', '.join(GROUPS)}.")
    p.add_argument("--repeat", type=int, default=None, metavar="N",
                   help="Repeated runs per side (default 5; 2 with --quick).")
    p.add_argument("--json", action="store_true", help="Print JSON (the machine and the figures) instead of lines.")
    p.add_argument("--save", type=Path, default=None, metavar="FILE",
                   help="Also write the JSON report to FILE.")
    p.add_argument("--dir", type=Path, default=None, metavar="DIR",
                   help="Folder for the SQLite files (default: a new temporary folder, removed afterwards).")
    p.add_argument("--pg-url", default=os.environ.get("REVIEWFLOW_BENCH_PG_URL", DEFAULT_PG_URL), metavar="URL",
                   help="PostgreSQL server (env REVIEWFLOW_BENCH_PG_URL); a private schema is created and dropped.")
    p.add_argument("--profile", type=Path, default=None, metavar="DIR",
                   help="Also write pyinstrument profiles of the engine side of each figure to DIR.")
    p.add_argument("-q", "--quiet", action="store_true", help="No progress on stderr.")
    return p


def _selected(only: Sequence[str]) -> list[str]:
    wanted = [w.strip() for item in only for w in item.split(",") if w.strip()]
    if not wanted:
        return list(GROUPS)
    unknown = [w for w in wanted if w not in GROUPS and w not in FIGURES]
    if unknown:
        raise SystemExit(f"python -m bench: unknown figure {', '.join(unknown)}; "
                         f"choose from {', '.join([*GROUPS, *FIGURES])}")
    return [g for g, (_, names) in GROUPS.items() if g in wanted or set(names) & set(wanted)]


def _load(spec: str) -> Callable[[Config], list[Figure]]:
    module, func = spec.split(":")
    return getattr(importlib.import_module(module), func)  # type: ignore[no-any-return]


def run_groups(cfg: Config, groups: Sequence[str], emit: Callable[[Figure], None]) -> list[Figure]:
    figures: list[Figure] = []
    for group in groups:
        spec, names = GROUPS[group]
        cfg.progress(f"{group}: starting")
        try:
            found = _load(spec)(cfg)
        except Exception as exc:  # a figure that fails is reported, and the run goes on
            traceback.print_exc(file=sys.stderr)
            first = str(exc).splitlines()[0] if str(exc) else ""
            found = [Figure(n, Target(">=", 0), error=f"{type(exc).__name__}: {first}") for n in names]
        for figure in found:
            emit(figure)
            figures.append(figure)
    return figures


def _audit_key(workdir: Path) -> None:
    """The audit key the benchmark's databases are sealed with (PostgreSQL needs one named): the caller's, else
    a new one in the working folder, named for every database and process the run starts."""
    if os.environ.get("REVIEWFLOW_AUDIT_KEY_FILE"):
        return
    from reviewflow.store.chain import create_key_file

    key = workdir / "audit-key"
    create_key_file(str(key))  # kept when there already
    os.environ["REVIEWFLOW_AUDIT_KEY_FILE"] = str(key)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    from reviewflow.engine.services.logs import configure_logging

    configure_logging(level="warning")  # the engine's own logs on stderr, warnings only
    groups = _selected(args.only)
    repeat = args.repeat or (2 if args.quick else 5)
    if repeat < 1:
        raise SystemExit("python -m bench: --repeat must be at least 1")
    with tempfile.TemporaryDirectory(prefix="reviewflow-bench-") as tmp:
        workdir = args.dir or Path(tmp)
        workdir.mkdir(parents=True, exist_ok=True)
        _audit_key(workdir)
        cfg = Config(args.quick, repeat, workdir, Progress(args.quiet), args.pg_url, args.profile)

        def emit(figure: Figure) -> None:
            if not args.json:
                print(figure.line(), flush=True)

        from bench.machine import describe, line

        machine = describe(cfg.pg_url)
        cfg.progress(line(machine))
        figures = run_groups(cfg, groups, emit)
    machine["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
    cfg.progress(f"load average at the end: {machine['load_average_after']}")
    report = json.dumps({"machine": machine, "figures": [f.as_json() for f in figures]}, indent=2, default=str)
    if args.json:
        print(report)
    if args.save:
        args.save.write_text(report + "\n", "utf-8")
    return 1 if any(f.error for f in figures) else 0
