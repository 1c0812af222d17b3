"""Figures, their targets, and the lines and JSON they print as."""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class Target:
    """`ratio <op> value`, e.g. ratio >= 0.5."""

    op: str
    value: float

    def met(self, ratio: float) -> bool:
        return {"<=": ratio <= self.value, ">=": ratio >= self.value, "<": ratio < self.value}[self.op]

    def __str__(self) -> str:
        return f"{self.op} {self.value:g}"


@dataclass
class Figure:
    """One printed line: two measurements, their ratio, and whether the ratio meets the target."""

    name: str
    target: Target
    a_label: str = ""
    a: float = 0.0
    b_label: str = ""
    b: float = 0.0
    unit: str = ""
    ratio: float | None = None
    skipped: str | None = None
    error: str | None = None
    note: str = ""
    samples: dict[str, list[float]] = field(default_factory=dict)

    @property
    def status(self) -> str:
        if self.error:
            return "ERROR"
        if self.skipped:
            return "SKIPPED"
        assert self.ratio is not None
        return "ok" if self.target.met(self.ratio) else "MISSED"

    def line(self) -> str:
        head = f"{self.name:<26}"
        if self.error:
            return f"{head} ERROR: {self.error}"
        if self.skipped:
            return f"{head} SKIPPED: {self.skipped}"
        note = f"  ({self.note})" if self.note else ""
        return (f"{head} {self.a_label} {_num(self.a)} {self.unit} | {self.b_label} {_num(self.b)} {self.unit} | "
                f"ratio {self.ratio:.2f} | target {self.target} | {self.status}{note}")

    def as_json(self) -> dict[str, Any]:
        return {**asdict(self), "target": str(self.target), "status": self.status}


def _num(x: float) -> str:
    if x >= 100:
        return f"{x:,.0f}"
    if x >= 10:
        return f"{x:.1f}"
    return f"{x:.3g}"


def measured(name: str, target: Target, a_label: str, a: list[float], b_label: str, b: list[float], unit: str,
             ratio: Callable[[float, float], float] = lambda a, b: a / b, note: str = "") -> Figure:
    """A figure from repeated samples of both sides: medians, then their ratio."""
    ma, mb = statistics.median(a), statistics.median(b)
    return Figure(name, target, a_label, ma, b_label, mb, unit, ratio(ma, mb), note=note,
                  samples={a_label: a, b_label: b})


def timed(fn: Callable[[], Any]) -> float:
    """Seconds `fn` took."""
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


class Progress:
    """Progress of long steps on stderr (the report itself goes to stdout)."""

    def __init__(self, quiet: bool = False) -> None:
        self.quiet = quiet
        self.start = time.monotonic()

    def __call__(self, message: str) -> None:
        if not self.quiet:
            print(f"[{time.monotonic() - self.start:7.1f}s] {message}", file=sys.stderr, flush=True)
