"""A fire through the HTTP API against the in-process engine's fire, on PostgreSQL.

The API side is a real `reviewflow serve` on 127.0.0.1 over the bench's own PostgreSQL schema, called by
16 concurrent clients (threads, each with its own keep-alive `httpx.Client`), each firing `notify` on
cases of its own: `POST /api/v1/cases/{ref}/fire` with a personal API token of la.duty (role
la_notifier) and the case's revision as `If-Match` (the seeded copies share their template's revision,
so a client sends it without reading the case first, as an integration that keeps the ETag it was given
would), and asks for the minimal answer (`Prefer: return=minimal`: 204 and the new ETag), as such an
integration would. Each request identifies the token (a read) and fires. The
in-process side calls `Reviewflow.fire` one case after another as the same identity on the same server.
The server is measured with one and with two worker processes; the figure is the faster of the two on the
machine (as an operator would choose `--workers`), and its note gives the other.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass, field
from functools import partial

import httpx

from bench.config import Config
from bench.pg import problem, schema
from bench.report import Figure, Target, measured, timed
from bench.seed import Seeder, at
from bench.server import TLS, serving, token_for, warm

NAME = "api-fire-postgres"
TARGET = Target(">=", 0.5)
CLIENTS = 16
WORKERS = 2
"""`serve --workers` of the figure; the other count is measured beside it and given in the note."""
OTHER_WORKERS = 1
OPENED, NOW = "2026-01-05T10:00", "2026-01-07T10:00"
TRIGGER = "notify"
FIELDS = {"notification_date": "2026-01-07"}


def _refs(prefix: str) -> Iterator[str]:
    return iter(f"{prefix}{i:07d}" for i in range(1, 10_000_000))


@dataclass
class ApiSide:
    """One server and its clients: each round, every client fires `per_client` cases of its own."""

    base: str
    token: str
    revision: int
    refs: Iterator[str]
    clients: list[httpx.Client] = field(default_factory=list)

    def connect(self, pool: ThreadPoolExecutor) -> None:
        headers = {"Authorization": f"Bearer {self.token}"}
        self.clients = [httpx.Client(base_url=self.base, headers=headers, timeout=120, verify=TLS)
                        for _ in range(CLIENTS)]
        list(pool.map(lambda c: warm([c], "/api/v1/me"), self.clients))

    def fire(self, client: httpx.Client, refs: list[str]) -> None:
        tag = f'"r{self.revision}"'
        for ref in refs:
            answer = client.post(f"/api/v1/cases/{ref}/fire", json={"trigger": TRIGGER, "fields": FIELDS},
                                 headers={"If-Match": tag, "Prefer": "return=minimal"})
            if answer.status_code != 204:
                raise RuntimeError(f"POST /api/v1/cases/{ref}/fire answered {answer.status_code}: {answer.text[:300]}")

    def round(self, pool: ThreadPoolExecutor, per_client: int) -> None:
        batches = [[next(self.refs) for _ in range(per_client)] for _ in self.clients]
        for done in [pool.submit(self.fire, c, b) for c, b in zip(self.clients, batches, strict=True)]:
            done.result()

    def close(self) -> None:
        for client in self.clients:
            client.close()


def api_fire_postgres(cfg: Config) -> list[Figure]:
    why = problem(cfg.pg_url)
    if why:
        return [Figure(NAME, TARGET, skipped=why)]
    with schema(cfg.pg_url, "api") as url:
        return _run(cfg, url)


def _run(cfg: Config, url: str) -> list[Figure]:
    per_client, engine_n = cfg.size(25, 2), cfg.size(200, 8)
    api_n = CLIENTS * per_client
    seeder = Seeder.create(url)
    try:
        seeder.open("TPL-1", OPENED)
        revision = seeder.service.case("TPL-1").revision
        for prefix, count in (("E", engine_n), ("S", api_n), ("M", api_n)):
            seeder.copy("TPL-1", prefix, cfg.repeat * count + CLIENTS)  # CLIENTS more to warm up with
        seeder.clock.now = at(NOW)
        token, who = token_for(seeder.service, "la.duty", "write")
        engine_refs = _refs("E")

        def engine(count: int) -> None:
            for _ in range(count):
                seeder.service.fire(next(engine_refs), TRIGGER, who, FIELDS, revision=revision)

        with ExitStack() as stack, ThreadPoolExecutor(CLIENTS) as pool:
            sides: dict[int, ApiSide] = {}
            for workers, prefix in ((WORKERS, "M"), (OTHER_WORKERS, "S")):
                base = stack.enter_context(serving(url, NOW, workers, cfg.workdir / f"serve-{workers}.log"))
                side = sides[workers] = ApiSide(base, token, revision, _refs(prefix))
                stack.callback(side.close)
                side.connect(pool)
                side.round(pool, 1)  # warm: every client's first fire, outside the timing
            engine(CLIENTS)
            cfg.progress(f"{NAME}: servers up ({WORKERS} and {OTHER_WORKERS} workers), {CLIENTS} clients each")
            runs: list[tuple[str, int, Callable[[], None]]] = [
                ("engine", engine_n, partial(engine, engine_n)),
                *[(f"api-{w}", api_n, partial(s.round, pool, per_client)) for w, s in sides.items()]]
            rates: dict[str, list[float]] = {key: [] for key, _, _ in runs}
            for r in range(cfg.repeat):
                for key, count, side_run in runs if r % 2 == 0 else runs[::-1]:
                    rates[key].append(count / timed(side_run))
        return [_figure(cfg, rates, per_client, engine_n)]
    finally:
        seeder.close()


def _figure(cfg: Config, rates: dict[str, list[float]], per_client: int, engine_n: int) -> Figure:
    """The figure of the faster worker count on this machine (as an operator would set `--workers`); the note
    gives the other."""
    best, other = sorted((WORKERS, OTHER_WORKERS), key=lambda w: -statistics.median(rates[f"api-{w}"]))
    other_rate = statistics.median(rates[f"api-{other}"])
    engine = statistics.median(rates["engine"])
    note = (f"{CLIENTS} clients x {per_client} fires x {cfg.repeat} vs {engine_n} in-process fires in one thread; "
            f"serve --workers {best} (with {other}: {other_rate:,.0f} fires/s, ratio {other_rate / engine:.2f}); "
            "each request: token (a read), fire, answered 204 with the new ETag (Prefer: return=minimal)")
    figure = measured(NAME, TARGET, "api", rates[f"api-{best}"], "in-process", rates["engine"], "fires/s",
                      note=note)
    figure.samples[f"api --workers {other}"] = rates[f"api-{other}"]
    return figure
