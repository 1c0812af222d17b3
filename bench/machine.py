"""What the figures were measured on: CPU, memory, load, Python, SQLite and PostgreSQL versions."""

from __future__ import annotations

import os
import platform
import sqlite3
import sys
from pathlib import Path
from typing import Any


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _memory_gb() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    return None


def describe(pg_url: str) -> dict[str, Any]:
    from bench.pg import problem, server_version

    pg = problem(pg_url)
    return {
        "cpu": _cpu_model(), "cpus": os.cpu_count(), "memory_gb": _memory_gb(),
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "python": platform.python_version(), "sqlite": sqlite3.sqlite_version,
        "postgresql": pg or server_version(pg_url), "platform": platform.platform(), "executable": sys.executable,
    }


def line(info: dict[str, Any]) -> str:
    return (f"machine: {info['cpus']} x {info['cpu']}, {info['memory_gb']} GB, load {info['load_average']}; "
            f"Python {info['python']}, SQLite {info['sqlite']}, PostgreSQL {info['postgresql']}")
