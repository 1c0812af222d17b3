"""Progress on a long task: what a display is told (`Progress`), and a bar on a text stream (`TextProgress`).

A task that reports progress takes a `ProgressFactory`: called with a label and the total, it gives a
display, or None for none.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol, TextIO


class Progress(Protocol):
    def advance(self, rows: int) -> None: ...
    def close(self) -> None: ...


ProgressFactory = Callable[[str, int], "Progress | None"]


class TextProgress:
    """A progress bar on a text stream: redrawn in place on a terminal, a line at each tenth otherwise."""

    WIDTH = 30

    def __init__(self, stream: TextIO, label: str, total: int, tty: bool | None = None) -> None:
        self.stream = stream
        self.label = label
        self.total = total
        self.done = 0
        self.tty = stream.isatty() if tty is None else tty
        self.shown = -1
        self._draw()

    def advance(self, rows: int) -> None:
        self.done = min(self.total, self.done + rows)
        self._draw()

    def close(self) -> None:
        if self.tty:
            self.stream.write("\n")
            self.stream.flush()

    def _draw(self) -> None:
        pct = 100 * self.done // self.total if self.total else 100
        step = pct if self.tty else pct // 10 * 10
        if step == self.shown:
            return
        self.shown = step
        filled = self.WIDTH * pct // 100
        line = f"{self.label} [{'#' * filled}{'-' * (self.WIDTH - filled)}] {self.done}/{self.total} rows {pct:3d}%"
        self.stream.write(f"\r{line}" if self.tty else f"{line}\n")
        self.stream.flush()

