"""Child process for the worker-growth figure: `Worker.tick()` N times, RSS printed as JSON lines.

Usage: python -m bench.worker_loop DB_URL START STEP_MINUTES TICKS
"""

from __future__ import annotations

import gc
import json
import sys


def main(argv: list[str]) -> int:
    url, start, step, ticks = argv[0], argv[1], float(argv[2]), int(argv[3])
    from reviewflow.engine.core.clock import SteppingClock, parse_instant
    from reviewflow.engine.services.facade import Reviewflow
    from reviewflow.engine.services.logs import configure_logging
    from reviewflow.engine.services.settings import load_settings
    from reviewflow.store.db import Database

    from bench.memory import rss_kb

    configure_logging(level="warning")
    clock = SteppingClock(parse_instant(start))
    worker = Reviewflow(Database(url), clock, load_settings(None, {})).worker()
    report = {1, 10, 100, ticks} | set(range(0, ticks + 1, max(ticks // 20, 1)))
    for tick in range(1, ticks + 1):
        result = worker.tick()
        if result.error:
            print(f"tick {tick} failed: {result.error}", file=sys.stderr)
            return 1
        clock.advance(minutes=step)
        if tick in report:
            gc.collect()
            print(json.dumps({"tick": tick, "rss_kb": rss_kb(), "fired": result.fired}), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
