"""Smoke test of the benchmarks at tiny sizes: every figure prints its line. Timings are not checked."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from bench.run import FIGURES, GROUPS, _selected

ROOT = Path(__file__).resolve().parent.parent
STATUSES = ("ok", "MISSED", "SKIPPED")


def _bench(*args: str, tmp: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    if "REVIEWFLOW_TEST_PG_URL" in os.environ:
        env.setdefault("REVIEWFLOW_BENCH_PG_URL", os.environ["REVIEWFLOW_TEST_PG_URL"])
    return subprocess.run([sys.executable, "-m", "bench", "--quick", "--repeat", "1", "--dir", str(tmp), *args],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=600, check=False)


def test_quick_run_prints_one_line_per_figure(tmp_path: Path) -> None:
    """The whole quick run, once: its lines on stdout, and the figures it saves as JSON (--save) for the checks
    of the API, concurrency and page figures below."""
    saved = tmp_path / "report.json"
    done = _bench("--save", str(saved), tmp=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    lines = done.stdout.splitlines()
    assert [line.split()[0] for line in lines] == FIGURES
    for line in lines:
        status = line.split(": ")[0].split()[-1] if "SKIPPED" in line else line.split(" | ")[-1].split()[0]
        assert status in STATUSES, line
        if "SKIPPED" not in line:
            assert "ratio" in line, line
            assert "target" in line, line
    figures = {f["name"]: f for f in json.loads(saved.read_text("utf-8"))["figures"]}
    assert list(figures) == FIGURES
    _check_api_and_concurrency_figures(figures)
    _check_page_figures(figures)


def test_json_output_and_only(tmp_path: Path) -> None:
    done = _bench("--only", "decision", "--json", tmp=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout)
    assert report["machine"]["cpus"] >= 1
    figures = report["figures"]
    assert [f["name"] for f in figures] == ["decision-vs-transitions", "decision-vs-statemachine"]
    assert figures[0]["status"] in STATUSES
    assert figures[0]["a"] > 0
    assert figures[0]["b"] > 0


def test_only_takes_groups_and_figures_and_keeps_the_groups_order() -> None:
    assert _selected(["api-fire-postgres,fire-scaling-postgres", "latency"]) == [
        "api-fire-postgres", "fire-scaling-postgres", "latency"]
    assert _selected(["page-case", "decision"]) == ["decision", "pages"]
    assert _selected([]) == list(GROUPS)


def test_unreachable_postgresql_is_skipped_with_the_reason(tmp_path: Path) -> None:
    done = _bench("--only", "fire-postgres", "--pg-url", "postgresql+psycopg://postgres@127.0.0.1:9/none",
                  tmp=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.startswith("fire-postgres")
    assert "SKIPPED: PostgreSQL not reachable at postgresql+psycopg://postgres@127.0.0.1:9/none" in done.stdout


def test_unknown_figure_is_refused(tmp_path: Path) -> None:
    done = _bench("--only", "nonsense", tmp=tmp_path)
    assert done.returncode != 0
    assert "unknown figure nonsense" in done.stderr


def _check_api_and_concurrency_figures(figures: dict[str, dict[str, Any]]) -> None:
    for name in ("latency-case-get", "latency-mywork-get"):  # SQLite: always measured
        figure = figures[name]
        assert figure["status"] in ("ok", "MISSED"), figure
        assert figure["unit"] == "ms"
        assert "p50/p95/p99 api " in figure["note"]
        assert figure["a"] > 0
        assert figure["b"] > 0
    for name in ("api-fire-postgres", "fire-scaling-postgres-2", "fire-scaling-postgres-4", "fire-scaling-audit-head"):
        figure = figures[name]
        assert figure["status"] in STATUSES, figure
        if figure["status"] != "SKIPPED":
            assert figure["unit"] == "fires/s"
            assert figure["a"] > 0
            assert figure["b"] > 0
    if figures["fire-scaling-postgres-2"]["status"] != "SKIPPED":
        assert "with the head: 1: " in figures["fire-scaling-postgres-2"]["note"]
        assert "through the head" in figures["fire-scaling-audit-head"]["note"]
        assert re.search(r"serve --workers [12] \(with [12]: ", figures["api-fire-postgres"]["note"])


def _check_page_figures(figures: dict[str, dict[str, Any]]) -> None:
    """The pages against the API's JSON (SQLite: always measured): both sides timed, the person named."""
    for name, person in (("page-mywork", "as probation.owner (action owner, Probation: 10 actions"),
                         ("page-case", "as a.khan (business manager")):
        figure = figures[name]
        assert figure["status"] in ("ok", "MISSED"), figure
        assert figure["unit"] == "ms"
        assert "p50/p95/p99 html " in figure["note"]
        assert person in figure["note"]
        assert figure["a"] > 0
        assert figure["b"] > 0
        assert figure["ratio"] == pytest.approx(figure["a"] / figure["b"])
        assert len(figure["samples"]["html"]) == len(figure["samples"]["json"]) > 0
