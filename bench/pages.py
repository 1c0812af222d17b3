"""The web pages against the API's JSON for the same data, with 100,000 cases and 20,000 actions: my work, a case.

A SQLite database holds 100,000 serious case reviews: 95% closed (withdrawn) and 5% open at the action plan stage,
copied in bulk from real cases walked there through the service (`notify` to `publish`, every required field
filled in). Each open case has two recommendations and four actions (20,000 in all), copied with it
(`Seeder.copy(..., learning=True)`): three for the large agencies (Police, Health, Children's social care) and one
for one of ten smaller agencies, owned by that agency's action owner, so each smaller agency owns 500 actions. Some
actions are overdue, some in progress, and some have evidence awaiting the sub-group's decision.

One real `reviewflow serve` (one worker) answers two clients, one request at a time, the requests paired and the
order alternating: a browser signed in with a session cookie (`POST /sign-in`, name and password) GETs the HTML
page, and an integration with a read-only personal API token of the same person GETs the JSON of the same data.
My work (`/my-work` against `/api/v1/me/work`) is asked by the Probation action owner (an agency role: the
actions of their agency); a case (`/cases/{ref}` against `/api/v1/cases/{ref}`) by the business manager (a
partnership role: every case of the workflow), a random open case each time. The line gives p50/p95/p99 of both;
the ratio is the page's p95 to the JSON's p95. Every page shows the person's My work counts in its navigation,
which the server keeps for a minute per person (its clock is fixed with `--now` here, so after the first page they
are kept throughout): the note of `page-case` gives the first case page after signing in, which works them out.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from functools import partial

import httpx

from reviewflow.engine.core.access import Identity
from reviewflow.engine.core.definition import FieldSpec

from bench.config import Config
from bench.latency import _ms, _paired, _percentiles
from bench.profiling import profile
from bench.report import Figure, Target, timed
from bench.seed import Seeder, at
from bench.server import TLS, admin, serving, token_for, warm

TARGET = Target("<=", 1.5)
OPENED, NOW = "2025-06-02T09:00", "2026-03-02T10:00"
LARGE = ("Police", "Health", "Children's social care")
SMALL = ("Education", "Probation", "Housing", "Youth justice", "Ambulance service", "Mental health trust",
         "Early help", "GP practices", "Acute hospital trust", "Voluntary sector")
"""One template case per smaller agency: each owns the fourth action of its template's copies."""
LEAD_REVIEWER = "l.reviewer"
MANAGER = "a.khan"
"""The person asking for case pages: the business manager, who sees every case of the workflow."""
ASKER_AGENCY = "Probation"
PASSWORD = "bench pages sign-in password"
WALK = (("notify", "la.duty"), ("recommend", "d.osei"), ("hold_scr", "p.hughes"), ("commission", "a.khan"),
        ("agency_reports_received", "a.khan"), ("engagement_complete", LEAD_REVIEWER),
        ("submit_final_report", LEAD_REVIEWER), ("accept_report", "p.hughes"))
"""The moves (and who makes them) from referral to the report's publication stage."""


def owner_of(agency: str) -> str:
    """The action owner registered for `agency` ('Youth justice' -> 'youth-justice.owner')."""
    return re.sub(r"[^a-z]+", "-", agency.lower()).strip("-") + ".owner"


ASKER = owner_of(ASKER_AGENCY)
"""The person asking for My work: an action owner of a smaller agency that owns 500 of the 20,000 actions."""


def _value(spec: FieldSpec, today: str) -> str:
    if spec.type == "date":
        return today
    if spec.type == "yesno":
        return "yes"
    if spec.type == "choice":
        return spec.options[0]
    return f"recorded for the benchmark ({spec.name})"


def _move(seeder: Seeder, ref: str, trigger: str, actor: str, days: int = 3, given: dict[str, str] | None = None,
          ) -> None:
    """Make one move a few days on, every field it requires filled in (`given` ones as given)."""
    rf = seeder.service
    seeder.clock.now += timedelta(days=days)
    view = rf.case(ref)
    move = rf.definition(view.workflow, view.version).transition(view.state, trigger)
    assert move is not None, f"{trigger} from {view.state}"
    today = seeder.clock.now.date().isoformat()
    rf.fire(ref, trigger, actor, {s.name: (given or {}).get(s.name, _value(s, today)) for s in move.requires})


def _template(seeder: Seeder, ref: str, j: int) -> None:
    """An open review at its action plan stage: two recommendations, four actions, the fourth for SMALL[j]."""
    rf = seeder.service
    seeder.open(ref, at(OPENED) + timedelta(days=j))
    for trigger, actor in WALK:
        _move(seeder, ref, trigger, actor)
    small = SMALL[j]
    rf.recommend(ref, MANAGER, "Agencies share concerns about neglect at the first sign",
                 ["neglect", "information sharing"], ["Police", "Children's social care"])
    rf.recommend(ref, MANAGER, "Practitioners record the child's own words at every visit", ["voice of the child"],
                 ["Health", small])
    due = at(NOW).date() + timedelta(weeks=2 * j - 5)  # from five weeks before NOW: the first templates' are overdue
    plans = (("R1", "Police", "Police referral policy requires a same-day referral for neglect", None),
             ("R1", "Children's social care", "Neglect toolkit training for all social workers", None),
             ("R2", "Health", "Health visiting template asks for the child's own words", None),
             ("R2", small, f"{small} practitioners record the child's own words in every plan", owner_of(small)))
    for k, (rec, agency, text, owner) in enumerate(plans):
        rf.add_action(ref, MANAGER, rec, text, agency, (due + timedelta(weeks=k)).isoformat(), owner)
    if j % 2 == 0:
        rf.update_action(ref, "A4", owner_of(small), status="in_progress")
    if j % 3 == 0:
        rf.submit_evidence(ref, "A1", owner_of("Police"), "policy_change", "Referral policy v3 in force", "POL-77")
    copied = (seeder.clock.now - timedelta(days=14)).date().isoformat()  # 7 working days and more before publishing
    _move(seeder, ref, "publish", MANAGER, given={"regulators_copied_date": copied})


def _people(seeder: Seeder) -> None:
    rf = seeder.service
    rf.add_user(LEAD_REVIEWER, ["lead_reviewer"], f"{LEAD_REVIEWER}@example.org")
    registered = set(rf.agencies())
    for agency in (*LARGE, *SMALL):
        if agency not in registered:  # a person's agency is one of the partnership's register
            rf.add_agency(agency)
        rf.add_user(owner_of(agency), ["action_owner"], f"{owner_of(agency)}@example.org", agency)


def _seed(cfg: Config, url: str, total: int) -> tuple[Seeder, list[str]]:
    """`total` cases: 95% closed, the rest open with four actions each; returns the open cases' references."""
    seeder = Seeder.create(url, OPENED)
    _people(seeder)
    seeder.open("CLOSED", OPENED)
    seeder.service.fire("CLOSED", "withdraw", "a.khan", {"withdrawal_reason": "referred in error"})
    open_ = total // 20
    each = open_ // len(SMALL)
    cfg.progress(f"pages: seeding {total:,} cases ({open_:,} open with {4 * each * len(SMALL):,} actions)")
    refs: list[str] = []
    for j in range(len(SMALL)):
        ref = f"T{j}"
        _template(seeder, ref, j)
        seeder.copy(ref, f"O{j}", each - 1, learning=True)
        refs += [ref, *(f"O{j}{i:07d}" for i in range(1, each))]
    seeder.copy("CLOSED", "X", total - len(refs) - 1, progress=cfg.progress)
    seeder.clock.now = at(NOW)
    return seeder, refs


@dataclass
class Person:
    """One person's two ways in: a browser's session (the Secure cookie carried by hand over http://127.0.0.1,
    as httpx keeps none for http) and an integration's read-only API token."""

    name: str
    html: httpx.Client
    api: httpx.Client
    session: str


def _signed_in(base: str, name: str, token: str) -> Person:
    html = httpx.Client(base_url=base, timeout=120, follow_redirects=False, verify=TLS)
    answer = html.post("/sign-in", data={"name": name, "password": PASSWORD})
    cookie = next((h.split(";", 1)[0].partition("=")[2] for h in answer.headers.get_list("set-cookie")
                   if h.startswith("rf_session=")), None)
    if answer.status_code != 303 or not cookie:
        raise RuntimeError(f"signing in as {name} answered {answer.status_code}: {answer.text[:300]}")
    html.headers["Cookie"] = f"rf_session={cookie}"
    api = httpx.Client(base_url=base, timeout=120, headers={"Authorization": f"Bearer {token}"}, verify=TLS)
    return Person(name, html, api, cookie)


@contextmanager
def _people_in(base: str, tokens: dict[str, str]) -> Iterator[dict[str, Person]]:
    people = {name: _signed_in(base, name, token) for name, token in tokens.items()}
    try:
        yield people
    finally:
        for p in people.values():
            p.html.close()
            p.api.close()


def _get(client: httpx.Client, path: str) -> httpx.Response:
    answer = client.get(path)
    if answer.status_code != 200:
        raise RuntimeError(f"GET {path} answered {answer.status_code}: {answer.text[:300]}")
    return answer


def _same_work(person: Person) -> int:
    """Check the page and the JSON show the same actions; return how many."""
    counts = _get(person.api, "/api/v1/me/work").json()["counts"]
    page = _get(person.html, "/my-work").text
    shown = len(re.findall(r'href="/cases/[^"#]+#action-A\d+"', page))
    if shown != counts["actions"] or not counts["actions"]:
        raise RuntimeError(f"My work of {person.name}: the page shows {shown} actions, the API {counts['actions']}")
    return int(counts["actions"])


def _figure(name: str, html: list[float], json: list[float], note: str) -> Figure:
    a, b = _percentiles(html), _percentiles(json)
    shown = "/".join(_ms(x) for x in a), "/".join(_ms(x) for x in b)
    return Figure(name, TARGET, "html p95", a[1] * 1000, "json p95", b[1] * 1000, "ms", a[1] / b[1],
                  note=f"p50/p95/p99 html {shown[0]} ms, json {shown[1]} ms; {note}",
                  samples={"html": html, "json": json})


def _case_pair(person: Person, refs: list[str], i: int, html: bool) -> None:
    _get(person.html if html else person.api, f"/cases/{refs[i]}" if html else f"/api/v1/cases/{refs[i]}")


def _profile_pages(cfg: Config, seeder: Seeder, people: dict[str, Person], ref: str) -> None:
    """With --profile: each page's handler run in this thread (pyinstrument follows one thread, and the server
    runs handlers in a pool), on the application over the same database, as the same signed-in person."""
    if cfg.profile_dir is None:
        return
    from starlette.requests import Request
    from starlette.responses import Response

    from reviewflow.web.app import create_app
    from reviewflow.web.pages.case import case_page
    from reviewflow.web.pages.common import signed_in
    from reviewflow.web.pages.work import my_work

    app = create_app(seeder.service, secure_cookies=False)

    def render(person: Person, path: str, handler: Callable[[Request, Identity], Response]) -> None:
        cookie = f"rf_session={person.session}".encode()
        request = Request({"type": "http", "app": app, "method": "GET", "path": path, "raw_path": path.encode(),
                           "query_string": b"", "root_path": "", "scheme": "http", "server": ("127.0.0.1", 80),
                           "client": ("127.0.0.1", 1), "headers": [(b"cookie", cookie)]})
        answer = handler(request, signed_in(request))
        if answer.status_code != 200:
            raise RuntimeError(f"{path} answered {answer.status_code} in-process")

    work = partial(render, people[ASKER], "/my-work", my_work)
    case = partial(render, people[MANAGER], f"/cases/{ref}", lambda r, who: case_page(r, ref, who))
    try:
        work(), case()  # templates compiled, caches filled, as in a server that has answered before
        profile(cfg, "page-mywork-html", lambda: [work() for _ in range(3)])
        profile(cfg, "page-case-html", lambda: [case() for _ in range(3)])
    except Exception as exc:  # a profile is an extra: the figures measured stand without it
        cfg.progress(f"pages: no profile written: {type(exc).__name__}: {exc}")


def pages(cfg: Config) -> list[Figure]:
    total = cfg.size(100_000, 2_000)
    case_n, work_n = cfg.size(200, 10), cfg.size(10, 3)  # per repeat and side; My work takes seconds here
    url = cfg.sqlite_url("pages")
    seeder, refs = _seed(cfg, url, total)
    rf = seeder.service
    try:
        tokens = {}
        for name in (ASKER, MANAGER):
            rf.set_password(admin(rf), name, PASSWORD)
            tokens[name] = token_for(rf, name, "read")[0]
        picks = random.Random(11)
        chosen = [picks.choice(refs) for _ in range(case_n * cfg.repeat + 10)]
        with serving(url, NOW, 1, cfg.workdir / "serve-pages.log") as base, _people_in(base, tokens) as people:
            asker, manager = people[ASKER], people[MANAGER]
            _get(asker.html, f"/cases/T{SMALL.index(ASKER_AGENCY)}")  # the case page's templates compiled
            first = timed(lambda: _get(manager.html, f"/cases/{chosen[0]}"))  # works out the navigation's counts
            warm([asker.html, manager.html], "/my-work")
            warm([asker.api, manager.api], "/api/v1/me/work")
            actions = _same_work(asker)
            for ref in chosen[:10]:
                _get(manager.html, f"/cases/{ref}")
                _get(manager.api, f"/api/v1/cases/{ref}")
            cfg.progress(f"pages: serving {total:,} cases; {case_n} x {cfg.repeat} case pages, "
                         f"{work_n} x {cfg.repeat} my-work pages per side")
            times: dict[str, list[float]] = {"case-html": [], "case-json": [], "work-html": [], "work-json": []}
            for r in range(cfg.repeat):
                if r:
                    cfg.progress(f"pages: round {r + 1} of {cfg.repeat}")
                some = chosen[10 + r * case_n:10 + (r + 1) * case_n]
                a, b = _paired(case_n, partial(_case_pair, manager, some, html=True),
                               partial(_case_pair, manager, some, html=False))
                times["case-html"] += a
                times["case-json"] += b
                a, b = _paired(work_n, lambda _i: _get(asker.html, "/my-work"),
                               lambda _i: _get(asker.api, "/api/v1/me/work"))
                times["work-html"] += a
                times["work-json"] += b
            _profile_pages(cfg, seeder, people, chosen[0])
    finally:
        seeder.close()
    where = f"{total:,} cases on SQLite, {len(refs):,} open with {4 * len(refs):,} actions"
    return [
        _figure("page-mywork", times["work-html"], times["work-json"],
                f"GET /my-work vs /api/v1/me/work x {len(times['work-html'])}, as {ASKER} (action owner, "
                f"{ASKER_AGENCY}: {actions} actions being worked); {where}"),
        _figure("page-case", times["case-html"], times["case-json"],
                f"GET /cases/REF vs /api/v1/cases/REF x {len(times['case-html'])}, a random open case each "
                f"(2 recommendations, 4 actions), as {MANAGER} (business manager: sees every case), the first page "
                f"after signing in (the navigation's counts worked out: a whole My work) {_ms(first)} ms; {where}"),
    ]
