"""What a bench run needs to know: sizes, repeats, where to put databases, how to report progress."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from bench.report import Progress

DEFAULT_PG_URL = os.environ.get("REVIEWFLOW_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


@dataclass
class Config:
    quick: bool
    repeat: int
    workdir: Path
    progress: Progress
    pg_url: str = DEFAULT_PG_URL
    profile_dir: Path | None = None

    def size(self, full: int, quick: int) -> int:
        return quick if self.quick else full

    def sqlite_url(self, name: str) -> str:
        path = self.workdir / f"{name}.sqlite"
        for stale in (path, Path(f"{path}-wal"), Path(f"{path}-shm"), Path(f"{path}.worker.lock")):
            stale.unlink(missing_ok=True)
        return f"sqlite:///{path}"
