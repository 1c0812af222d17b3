"""Latency of reading through the HTTP API with 100,000 cases: one case, and my work.

A SQLite database holds 100,000 serious case reviews, copied in bulk from three real ones: 95% closed
(withdrawn), 5% open, of which 100 wait on the sub-group chair (their stage's owner) and the rest on the
local authority's notifier. The person asking is d.osei, the sub-group chair (a partnership role: they
see every case of the workflow), with a read-only personal API token. One client asks a real
`reviewflow serve` (one worker) one request at a time; each request is paired with the same read
through the in-process façade (`Reviewflow.case`, `Reviewflow.my_work`) as the same identity, the
order alternating. The line gives the API's p50/p95/p99 and the in-process ones; the ratio is p95 to p95.
"""

from __future__ import annotations

import random
import statistics
import time
from collections.abc import Callable
from functools import partial
from typing import Any

import httpx

from reviewflow.engine.core.access import Identity
from reviewflow.engine.services.facade import Reviewflow

from bench.config import Config
from bench.report import Figure, Target
from bench.seed import Seeder, at
from bench.server import TLS, serving, token_for, warm

TARGET = Target("<=", 3)
OPENED, CLOSED_AT, NOW = "2026-01-05T10:00", "2026-01-06T10:00", "2026-01-07T10:00"
PERSON = "d.osei"


def _seed(cfg: Config, url: str, total: int, waiting: int) -> Seeder:
    """`total` cases: 95% closed, the rest open, `waiting` of them at the sub-group chair's stage."""
    seeder = Seeder.create(url)
    seeder.open("WAITING", OPENED)
    seeder.open("OTHER", OPENED)
    seeder.open("CLOSED", OPENED)
    seeder.clock.now = at(CLOSED_AT)
    seeder.service.fire("WAITING", "notify", "la.duty", {"notification_date": "2026-01-06"})
    seeder.service.fire("CLOSED", "withdraw", "a.khan", {"withdrawal_reason": "referred in error"})
    open_ = total // 20
    cfg.progress(f"latency: seeding {total:,} cases ({open_:,} open, {waiting} waiting on {PERSON})")
    seeder.copy("CLOSED", "X", total - open_ - 1, progress=cfg.progress)
    seeder.copy("OTHER", "O", open_ - waiting - 1)
    seeder.copy("WAITING", "W", waiting - 1)
    seeder.clock.now = at(NOW)
    return seeder


def _percentiles(samples: list[float]) -> tuple[float, float, float]:
    cuts = statistics.quantiles(samples, n=100, method="inclusive")
    return cuts[49], cuts[94], cuts[98]


def _ms(seconds: float) -> str:
    ms = seconds * 1000
    return f"{ms:.0f}" if ms >= 100 else f"{ms:.1f}" if ms >= 10 else f"{ms:.2f}"


def _figure(name: str, api: list[float], local: list[float], note: str) -> Figure:
    a, b = _percentiles(api), _percentiles(local)
    shown = "/".join(_ms(x) for x in a), "/".join(_ms(x) for x in b)
    return Figure(name, TARGET, "api p95", a[1] * 1000, "in-process p95", b[1] * 1000, "ms", a[1] / b[1],
                  note=f"p50/p95/p99 api {shown[0]} ms, in-process {shown[1]} ms; {note}",
                  samples={"api": api, "in-process": local})


def _paired(count: int, api: Callable[[int], Any], local: Callable[[int], Any]) -> tuple[list[float], list[float]]:
    """`count` requests of each side, one of each in turn, the order alternating: seconds each."""
    times: tuple[list[float], list[float]] = ([], [])
    for i in range(count):
        for side in ((0, 1) if i % 2 == 0 else (1, 0)):
            run = (api, local)[side]
            start = time.perf_counter()
            run(i)
            times[side].append(time.perf_counter() - start)
    return times


def _get(client: httpx.Client, path: str) -> None:
    answer = client.get(path)
    if answer.status_code != 200:
        raise RuntimeError(f"GET {path} answered {answer.status_code}: {answer.text[:300]}")


def _get_case(client: httpx.Client, refs: list[str], i: int) -> None:
    _get(client, f"/api/v1/cases/{refs[i]}")


def _case(rf: Reviewflow, who: Identity, refs: list[str], i: int) -> None:
    rf.case(refs[i], who)


def latency(cfg: Config) -> list[Figure]:
    total, waiting = cfg.size(100_000, 2_000), cfg.size(100, 5)
    case_n, work_n = cfg.size(200, 10), cfg.size(20, 3)
    url = cfg.sqlite_url("latency")
    seeder = _seed(cfg, url, total, waiting)
    rf = seeder.service
    try:
        token, who = token_for(rf, PERSON, "read")
        picks = random.Random(7)
        open_ = total // 20
        refs = [f"X{picks.randint(1, total - open_ - 1):07d}" if picks.random() < 0.5 else
                f"O{picks.randint(1, open_ - waiting - 1):07d}" if picks.random() < 0.5 else
                f"W{picks.randint(1, waiting - 1):07d}" for _ in range(case_n * cfg.repeat + 10)]
        with serving(url, NOW, 1, cfg.workdir / "serve-latency.log") as base, \
                httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=120,
                             verify=TLS) as client:
            warm([client], "/api/v1/me/work")
            rf.my_work(who)
            for ref in refs[:10]:
                _get(client, f"/api/v1/cases/{ref}")
                rf.case(ref, who)
            cfg.progress(f"latency: serving {total:,} cases; {case_n} x {cfg.repeat} case reads, "
                         f"{work_n} x {cfg.repeat} my-work reads per side")
            case_api: list[float] = []
            case_local: list[float] = []
            work_api: list[float] = []
            work_local: list[float] = []
            for r in range(cfg.repeat):
                chosen = refs[10 + r * case_n:10 + (r + 1) * case_n]
                a, b = _paired(case_n, partial(_get_case, client, chosen), partial(_case, rf, who, chosen))
                case_api += a
                case_local += b
                a, b = _paired(work_n, lambda _i: _get(client, "/api/v1/me/work"), lambda _i: rf.my_work(who))
                work_api += a
                work_local += b
        stages = len(rf.my_work(who).stages)
    finally:
        seeder.close()
    where = f"{total:,} cases on SQLite, {open_:,} open; as {PERSON} (sees every case) with a read token"
    return [
        _figure("latency-case-get", case_api, case_local,
                f"GET /api/v1/cases/REF x {len(case_api)}, a random closed or open case each; {where}"),
        _figure("latency-mywork-get", work_api, work_local,
                f"GET /api/v1/me/work x {len(work_api)}, {stages} stages waiting; {where}"),
    ]
