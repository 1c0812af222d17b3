"""Optional pyinstrument profiles of the engine side of a figure (`--profile DIR`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bench.config import Config


def profile(cfg: Config, name: str, fn: Callable[[], Any]) -> None:
    """Run `fn` under pyinstrument and write the text report to DIR/NAME.txt (nothing without --profile)."""
    if cfg.profile_dir is None:
        return
    try:
        from pyinstrument import Profiler
    except ImportError:
        cfg.progress(f"{name}: pyinstrument is not installed (pip install -e '.[bench]'): no profile written")
        return
    profiler = Profiler(interval=0.0005)
    profiler.start()
    try:
        fn()
    finally:
        profiler.stop()
    cfg.profile_dir.mkdir(parents=True, exist_ok=True)
    out = cfg.profile_dir / f"{name}.txt"
    out.write_text(profiler.output_text(unicode=False, color=False, show_all=False), "utf-8")
    cfg.progress(f"{name}: profile written to {out}")
