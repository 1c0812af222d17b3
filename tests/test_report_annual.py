"""Annual report figures on a generated data set, checked against figures worked out here from what was done.

A seeded random walk drives cases of every shipped workflow through the service with a stepping clock:
openings, stage moves (decisions not to review among them), pauses, recommendations, actions in every
status, evidence, impact evaluations, and rapid reviews some within 15 working days and some not. Each
step that the service accepts is written to a plain log. The expected figures come from that log, with
working days counted here from the `holidays` package, never from the report code; the report is read
through the real `reviewflow report annual --format json`.
"""

from __future__ import annotations

import json
import random
import tempfile
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import holidays
import pytest
from click.testing import CliRunner
from dateutil.relativedelta import relativedelta
from hypothesis import given, settings
from hypothesis import strategies as st

from reviewflow.cli import cli
from reviewflow.engine.core.clock import SteppingClock
from reviewflow.engine.core.definition import FieldSpec, WorkflowDefinition
from reviewflow.engine.core.errors import ReviewflowError
from reviewflow.engine.services.facade import Reviewflow
from reviewflow.store.db import Database

from tests.conftest import administer, pg_url_or_skip

LONDON = ZoneInfo("Europe/London")
ENGLAND = holidays.country_holidays("GB", subdiv="ENG")
START = datetime(2025, 11, 3, 9, 30, tzinfo=UTC)
END = datetime(2027, 2, 15, 9, 30, tzinfo=UTC)
"""The report is run at END: calendar year 2026 is over, financial year 2026-27 is not."""
ADMIN = "admin"
AGENCIES = ("Police", "Health", "Children's social care", "Education")
THEMES = ("neglect", "information sharing", "voice of the child", "domestic abuse")
AWKWARD = ' with <b>tags</b> & "quotes"'
"""Appended to some free text: the reports must carry it through exactly (and escape it in HTML)."""


# --- the log of what was done ----------------------------------------------------------------------------

@dataclass
class Stage:
    state: str
    entered: datetime
    left: datetime | None = None
    left_to: str | None = None
    pauses: list[list[datetime | None]] = field(default_factory=list)


@dataclass
class CaseLog:
    ref: str
    workflow: str
    opened: datetime
    stages: list[Stage]
    fields: dict[str, Any]
    closed: datetime | None = None


@dataclass
class ActionLog:
    ref: str
    number: str
    rec: str
    agency: str
    created: datetime
    status: str = "agreed"
    pending: str | None = None
    """Evidence submitted and not yet decided."""
    verified: datetime | None = None
    embedded: datetime | None = None
    closed: datetime | None = None
    closed_as: str | None = None
    reason: str | None = None
    impact: tuple[str, date, str] | None = None


@dataclass
class RecLog:
    ref: str
    number: str
    themes: tuple[str, ...]
    created: datetime


@dataclass
class Log:
    cases: dict[str, CaseLog] = field(default_factory=dict)
    actions: dict[tuple[str, str], ActionLog] = field(default_factory=dict)
    recs: dict[tuple[str, str], RecLog] = field(default_factory=dict)


# --- the random walk ---------------------------------------------------------------------------------------

class Walk:
    """Plays random but valid steps against the service, logging only what it accepted."""

    def __init__(self, service: Reviewflow, clock: SteppingClock, rng: random.Random) -> None:
        self.service, self.clock, self.rng, self.log = service, clock, rng, Log()
        self.defs: dict[str, WorkflowDefinition] = {}
        self.count = 0

    def definition(self, name: str) -> WorkflowDefinition:
        if name not in self.defs:
            self.defs[name] = self.service.definition(name)
        return self.defs[name]

    def text(self, what: str) -> str:
        self.count += 1
        return f"{what} {self.count}" + (AWKWARD if self.rng.random() < 0.3 else "")

    def value(self, spec: FieldSpec) -> str:
        if spec.type == "date":
            return self.clock.now.astimezone(LONDON).date().isoformat()
        if spec.type == "yesno":
            return self.rng.choice(["yes", "no"])
        if spec.type == "choice":
            return self.rng.choice(spec.options)
        return self.text(spec.name)

    def open(self, workflow: str, ref: str) -> CaseLog:
        d = self.definition(workflow)
        fields = {s.name: self.value(s) for s in d.open.requires}
        view = self.service.open_case(workflow, ref, ADMIN, fields, legacy=True)
        log = CaseLog(ref, workflow, self.clock.now, [Stage(view.state, self.clock.now)], dict(view.fields))
        self.log.cases[ref] = log
        return log

    def fire(self, case: CaseLog, trigger: str) -> bool:
        d = self.definition(case.workflow)
        t = d.transition(case.stages[-1].state, trigger)
        assert t is not None
        try:
            fields = {s.name: self.value(s) for s in t.requires}
            if t.opens is not None:  # routing opens a case of the workflow named: its opening fields too
                target = self.definition(fields[t.opens.workflow_field])
                fields.update({s.name: self.value(s) for s in target.open.requires if s.name not in fields})
            view = self.service.fire(case.ref, trigger, ADMIN, fields)
        except ReviewflowError:
            return False
        now, current = self.clock.now, case.stages[-1]
        current.left, current.left_to = now, view.state
        for pause in current.pauses:
            pause[1] = pause[1] or now
        case.stages.append(Stage(view.state, now))
        case.fields = dict(view.fields)
        if not view.is_open:
            case.closed = now
        if view.linked:  # the case the routing opened
            opened = self.service.case(view.linked)
            self.log.cases[opened.ref] = CaseLog(opened.ref, opened.workflow, now, [Stage(opened.state, now)],
                                                 dict(opened.fields))
        return True

    def pause_or_resume(self, case: CaseLog) -> None:
        stage = case.stages[-1]
        if stage.pauses and stage.pauses[-1][1] is None:
            self.service.resume(case.ref, ADMIN)
            stage.pauses[-1][1] = self.clock.now
        else:
            self.service.pause(case.ref, ADMIN, "awaiting criminal proceedings")
            stage.pauses.append([self.clock.now, None])

    def step(self, case: CaseLog) -> None:
        """One random step on an open case: mostly a stage move, sometimes learning or a pause."""
        roll = self.rng.random()
        if roll < 0.08:
            self.pause_or_resume(case)
        elif roll < 0.5:
            Learning(self, case).step()
        else:
            choices = self.definition(case.workflow).transitions_from(case.stages[-1].state)
            weights = [0.15 if t.trigger == "withdraw" else 1.0 for t in choices]
            self.fire(case, self.rng.choices(choices, weights)[0].trigger)

    def advance(self, days: int) -> None:
        self.clock.now += timedelta(days=days)


class Learning:
    """Learning-loop steps on one case: recommendations, actions, evidence, verification, impact."""

    def __init__(self, walk: Walk, case: CaseLog) -> None:
        self.walk, self.case, self.s = walk, case, walk.service

    def step(self) -> None:
        actions = [a for a in self.walk.log.actions.values() if a.ref == self.case.ref]
        recs = [r for r in self.walk.log.recs.values() if r.ref == self.case.ref]
        rng = self.walk.rng
        if not recs or rng.random() < 0.15:
            self.recommend()
        elif not actions or rng.random() < 0.25:
            self.add_action(rng.choice(recs))
        else:
            self.progress(rng.choice(actions))

    def recommend(self) -> RecLog:
        themes = tuple(self.walk.rng.sample(THEMES, self.walk.rng.randint(0, 2)))
        number = self.s.recommend(self.case.ref, ADMIN, self.walk.text("recommendation"), themes, ["Police"])
        rec = RecLog(self.case.ref, number, themes, self.walk.clock.now)
        self.walk.log.recs[(self.case.ref, number)] = rec
        return rec

    def add_action(self, rec: RecLog) -> ActionLog:
        due = (self.walk.clock.now + timedelta(days=self.walk.rng.randint(5, 80))).date().isoformat()
        agency = self.walk.rng.choice(AGENCIES)
        number = self.s.add_action(self.case.ref, ADMIN, rec.number, self.walk.text("action"), agency, due)
        action = ActionLog(self.case.ref, number, rec.number, agency, self.walk.clock.now)
        self.walk.log.actions[(self.case.ref, number)] = action
        return action

    def progress(self, a: ActionLog, close: str | None = None) -> None:
        """The action's next step (or closing it as `close`); a step the service refuses changes nothing."""
        now, rng = self.walk.clock.now, self.walk.rng
        try:
            if close or (rng.random() < 0.08 and a.status not in ("embedded", "superseded", "not_implemented")):
                closed_as = close or rng.choice(["superseded", "not_implemented"])
                reason = self.walk.text("reason")
                a.status = self.s.update_action(a.ref, a.number, ADMIN, status=closed_as, reason=reason).status
                a.closed, a.closed_as, a.reason = now, closed_as, reason
            elif a.status in ("agreed", "in_progress"):
                a.pending = self.s.submit_evidence(a.ref, a.number, ADMIN, "audit_result", "files", "AUD-1")
                a.status = next(x.status for x in self.s.actions(ref=a.ref) if x.number == a.number)
            elif a.status == "evidence_submitted":
                self.decide_or_verify(a)
            elif a.status == "verified":
                measured = now.astimezone(LONDON).date() - timedelta(days=rng.randint(0, 3))
                method, finding = rng.choice(["re_audit", "survey", "data"]), self.walk.text("finding")
                a.status = self.s.evaluate_action(a.ref, a.number, ADMIN, method, measured.isoformat(),
                                                  finding).status
                a.impact = (method, measured, finding)
            elif a.status == "impact_evaluated":
                a.status = self.s.update_action(a.ref, a.number, ADMIN, status="embedded").status
                a.embedded = now
        except ReviewflowError:
            return

    def decide_or_verify(self, a: ActionLog) -> None:
        if a.pending:
            accept = self.walk.rng.random() < 0.8
            a.status = self.s.decide_evidence(a.ref, a.pending, ADMIN, accept, None if accept else "not enough")
            a.pending = None
        else:
            a.status = self.s.verify_action(a.ref, a.number, ADMIN).status
            a.verified = self.walk.clock.now


def _rapid_reviews(walk: Walk) -> None:
    """Rapid reviews signed off after a chosen number of working days, one of them paused on the way."""
    plans = [("RR-A", 10, 0), ("RR-B", 15, 0), ("RR-C", 16, 0), ("RR-D", 24, 0), ("RR-E", 19, 7), ("RR-F", 30, 0)]
    for i, (ref, working_days, paused_days) in enumerate(plans):
        walk.clock.now = datetime(2026, 2, 2, 9, 30, tzinfo=UTC) + timedelta(weeks=6 * i)
        case = walk.open("rapid_review_lcspr", ref)
        walk.advance(1)
        assert walk.fire(case, "notify")
        if paused_days:
            walk.advance(2)
            walk.pause_or_resume(case)
            walk.advance(paused_days)
            walk.pause_or_resume(case)
        signed_off = _add_working_days(case.stages[-1].entered.astimezone(LONDON).date(), working_days)
        walk.clock.now = datetime.combine(signed_off, time(10, 0), tzinfo=LONDON).astimezone(UTC)
        assert walk.fire(case, "submit_rapid_review")


DECISIONS = {
    "SCR-ROUTED": ("serious_case_review", ("notify", "recommend", "decide_not_to_hold", "route")),
    "MAR-NFA": ("multi_agency_review", ("refer_to_subgroup", "close_no_further_action")),
    "RR-NFA": ("rapid_review_lcspr", ("notify", "submit_rapid_review", "close_no_further_action")),
}


def _decisions(walk: Walk) -> None:
    """Decisions not to review, one of each kind, taken in 2026."""
    for i, (ref, (workflow, triggers)) in enumerate(DECISIONS.items()):
        walk.clock.now = datetime(2026, 3, 2, 9, 30, tzinfo=UTC) + timedelta(weeks=9 * i)
        case = walk.open(workflow, ref)
        for trigger in triggers:
            walk.advance(walk.rng.randint(3, 12))
            assert walk.fire(case, trigger), (ref, trigger)


def _action_plan(walk: Walk) -> None:
    """One review whose actions end in every position: embedded with impact, verified, closed, in progress."""
    walk.clock.now = datetime(2026, 1, 12, 9, 30, tzinfo=UTC)
    learning = Learning(walk, walk.open("thematic_review", "TR-PLAN"))
    rec = learning.recommend()
    actions = [learning.add_action(rec) for _ in range(5)]
    for rounds in range(7):
        walk.advance(9)
        for n, a in enumerate(actions):
            if n == 2 and rounds == 1:
                learning.progress(a, close="superseded")
            elif n == 3 and rounds == 5:
                learning.progress(a, close="not_implemented")
            elif n < 2 or (n == 4 and rounds < 1):
                learning.progress(a)


def generate(url: str, seed: int, openings: int = 16, days: int = 470) -> Log:
    """Initialise `url`, play the planned cases, then a random walk from START for `days` days."""
    clock = SteppingClock(START)
    service = Reviewflow(Database(url), clock)
    try:
        service.init()
        roles = sorted({r for d in service.all_definitions().values() for r in d.roles})
        service.add_user(ADMIN, roles)
        walk = Walk(service, clock, random.Random(seed))
        _rapid_reviews(walk)
        _decisions(walk)
        _action_plan(walk)
        names = sorted(d.name for d in service.all_definitions().values())
        opening_days = sorted(walk.rng.sample(range(days - 30), openings))
        for day in range(days):
            clock.now = START + timedelta(days=day)
            for n in range(opening_days.count(day)):
                walk.open(walk.rng.choice(names), f"CASE-{day:03d}-{n}")
            open_cases = [c for c in walk.log.cases.values() if c.closed is None and c.ref.startswith("CASE-")]
            for case in walk.rng.sample(open_cases, min(len(open_cases), 2)):
                if walk.rng.random() < 0.25:
                    walk.step(case)
        return walk.log
    finally:
        service.db.dispose()


# --- the figures, worked out from the log ------------------------------------------------------------------

def _working_day(day: date) -> bool:
    return day.weekday() < 5 and day not in ENGLAND


def _add_working_days(start: date, count: int) -> date:
    day = start
    while count:
        day += timedelta(days=1)
        count -= _working_day(day)
    return day


def _midnight_after(day: date) -> datetime:
    return datetime.combine(day + timedelta(days=1), time(0), tzinfo=LONDON).astimezone(UTC)


def _back(day: date, limit: Any) -> date:
    """The day `limit` before `day`, counted back one day at a time."""
    if limit.unit == "months":
        return day - relativedelta(months=limit.amount)
    if limit.unit != "working_days":
        return day - timedelta(days=limit.amount * (7 if limit.unit == "weeks" else 1))
    count = limit.amount
    while count:
        day -= timedelta(days=1)
        count -= _working_day(day)
    return day


def _due(stage: Stage, limit: Any, until: datetime, state: Any = None, fields: Any = None) -> datetime:
    """The due instant of a stage: its limit counted from the day it was entered (or `from` a recorded date;
    or back `before` one), plus time paused."""
    entered = stage.entered.astimezone(LONDON).date()
    if state is not None and state.time_limit_from and fields.get(state.time_limit_from):
        entered = date.fromisoformat(fields[state.time_limit_from])
    if state is not None and state.time_limit_before and fields.get(state.time_limit_before):
        last = _back(date.fromisoformat(fields[state.time_limit_before]), limit)
    elif limit.unit == "working_days":
        last = _add_working_days(entered, limit.amount)
    elif limit.unit == "months":
        last = entered + relativedelta(months=limit.amount)
    else:
        last = entered + timedelta(days=limit.amount * (7 if limit.unit == "weeks" else 1))
    paused = sum(((min(end or until, until) - start) for start, end in stage.pauses if start < until),
                 timedelta(0))
    return _midnight_after(last) + paused


@dataclass(frozen=True)
class Year:
    start: date
    end: date
    as_of: datetime

    def holds(self, when: datetime | date | None) -> bool:
        if when is None:
            return False
        day = when.astimezone(LONDON).date() if isinstance(when, datetime) else when
        return self.start <= day <= self.end and (not isinstance(when, datetime) or when < self.as_of)


def _year(text: str) -> Year:
    if "-" in text:
        first = int(text[:4])
        start, end = date(first, 4, 1), date(first + 1, 3, 31)
    else:
        start, end = date(int(text), 1, 1), date(int(text), 12, 31)
    return Year(start, end, min(_midnight_after(end), END))


def expected_types(log: Log, defs: dict[str, WorkflowDefinition], y: Year) -> list[dict[str, Any]]:
    rows = []
    for name in sorted({c.workflow for c in log.cases.values()}):
        cases = [c for c in log.cases.values() if c.workflow == name]
        closed = [c for c in cases if y.holds(c.closed)]
        row = {"workflow": name, "opened": sum(y.holds(c.opened) for c in cases), "closed": len(closed),
               "open_at_end": sum(c.opened < y.as_of and (c.closed is None or c.closed >= y.as_of) for c in cases),
               "outcomes": dict(Counter(defs[name].states[c.stages[-1].state].label for c in closed))}
        if row["opened"] or row["closed"] or row["open_at_end"]:
            rows.append(row)
    return rows


def expected_decisions(log: Log, defs: dict[str, WorkflowDefinition], y: Year) -> list[tuple[Any, ...]]:
    found = []
    for c in log.cases.values():
        state = c.stages[-1].state
        if state in ("no_further_action", "routed") and y.holds(c.closed):
            assert c.closed is not None
            routed = c.fields.get("routed_to") if state == "routed" else None
            outcome = f"Routed to {defs[routed].title}" if routed else defs[c.workflow].states[state].label
            found.append((c.ref, outcome, c.closed.astimezone(LONDON).date().isoformat(),
                          c.fields.get("decision_rationale"), routed))
    return sorted(found, key=lambda x: (x[2], x[0]))


def _place(a: ActionLog, as_of: datetime) -> str | None:
    if a.created >= as_of:
        return None
    if a.closed is not None and a.closed < as_of:
        return "not_progressed"
    if a.embedded is not None and a.embedded < as_of:
        return "embedded"
    if a.verified is not None and a.verified < as_of:
        return "implemented"
    return "in_progress"


def expected_actions(log: Log, y: Year) -> dict[str, int]:
    places = Counter(_place(a, y.as_of) for a in log.actions.values())
    acts = log.actions.values()
    return {"agreed": sum(n for p, n in places.items() if p), "implemented": places["implemented"] + places["embedded"],
            "embedded": places["embedded"], "not_progressed": places["not_progressed"],
            "in_progress": places["in_progress"], "agreed_in_year": sum(y.holds(a.created) for a in acts),
            "implemented_in_year": sum(y.holds(a.verified) for a in acts),
            "embedded_in_year": sum(y.holds(a.embedded) for a in acts),
            "not_progressed_in_year": sum(y.holds(a.closed) for a in acts)}


def expected_recommendations(log: Log, y: Year) -> dict[str, int]:
    by_rec: dict[tuple[str, str], list[str]] = defaultdict(list)
    for a in log.actions.values():
        place = _place(a, y.as_of)
        if place:
            by_rec[(a.ref, a.rec)].append(place)
    made = [r for r in log.recs.values() if r.created < y.as_of]
    tally: Counter[str] = Counter()
    for r in made:
        places = by_rec.get((r.ref, r.number), [])
        going = [p for p in places if p != "not_progressed"]
        if not places:
            tally["no_actions"] += 1
        elif not going:
            tally["not_progressed"] += 1
        elif "in_progress" in going:
            tally["in_progress"] += 1
        else:
            tally["embedded" if set(going) == {"embedded"} else "implemented"] += 1
    return {"made_in_year": sum(y.holds(r.created) for r in made), "total": len(made),
            "implemented": tally["implemented"] + tally["embedded"], "embedded": tally["embedded"],
            "not_progressed": tally["not_progressed"], "in_progress": tally["in_progress"],
            "no_actions": tally["no_actions"]}


def expected_timeliness(log: Log, defs: dict[str, WorkflowDefinition], y: Year) -> dict[tuple[str, str], list[int]]:
    """(workflow, stage) -> [completed, within, late, open past the limit at the end]."""
    tally: dict[tuple[str, str], list[int]] = {}
    at_end = y.as_of - timedelta(microseconds=1)
    for c in log.cases.values():
        for stage in c.stages:
            state = defs[c.workflow].states[stage.state]
            limit = state.time_limit
            if limit is None:
                continue
            row = tally.setdefault((c.workflow, stage.state), [0, 0, 0, 0])
            if stage.left is not None and y.holds(stage.left) and stage.left_to != "withdrawn":
                on_time = stage.left < _due(stage, limit, stage.left, state, c.fields)
                row[0] += 1
                row[1 if on_time else 2] += 1
            elif (stage.entered <= at_end and (stage.left is None or stage.left > at_end)
                  and not any(s <= at_end and (e is None or at_end < e) for s, e in stage.pauses)
                  and at_end >= _due(stage, limit, at_end, state, c.fields)):
                row[3] += 1
    return {k: v for k, v in tally.items() if any(v) or k[1] == "rapid_review"}


def expected_impact(log: Log, y: Year) -> list[tuple[Any, ...]]:
    rows = [(a.ref, a.number, a.agency, a.impact[0], a.impact[1].isoformat(), a.impact[2])
            for a in log.actions.values() if a.impact and y.holds(a.impact[1])
            and a.impact[1] <= y.as_of.astimezone(LONDON).date()]
    return sorted(rows, key=lambda r: (r[4], r[0], r[1]))


def expected_themes(log: Log, y: Year) -> dict[str, tuple[int, int]]:
    recs: Counter[str] = Counter()
    cases: dict[str, set[str]] = defaultdict(set)
    for r in log.recs.values():
        if y.holds(r.created):
            for theme in r.themes:
                recs[theme] += 1
                cases[theme].add(r.ref)
    return {t: (n, len(cases[t])) for t, n in recs.items()}


# --- the checks ------------------------------------------------------------------------------------------------

def definitions(url: str) -> dict[str, WorkflowDefinition]:
    service = Reviewflow(Database(url))
    try:
        return {stored.name: service.definition(stored.name) for stored in service.workflows()}
    finally:
        service.db.dispose()


def annual_json(url: str, year: str) -> dict[str, Any]:
    administer(url)
    result = CliRunner().invoke(cli, ["--db", url, "--now", END.isoformat(), "report", "annual", "--year", year,
                                      "--format", "json"], env={"REVIEWFLOW_NOW": None})
    assert result.exit_code == 0, result.output + result.stderr
    data = json.loads(result.stdout)
    assert data["report"] == "annual"
    return data["figures"]


def check_figures(url: str, log: Log, year: str) -> dict[str, Any]:
    """Every annual figure equals the one worked out from the log."""
    defs = definitions(url)
    y, got = _year(year), annual_json(url, year)
    assert (got["period"]["start"], got["period"]["end"]) == (y.start.isoformat(), y.end.isoformat())
    assert [{k: t[k] for k in ("workflow", "opened", "closed", "open_at_end", "outcomes")}
            for t in sorted(got["by_type"], key=lambda t: t["workflow"])] == expected_types(log, defs, y)
    assert [(x["ref"], x["outcome"], x["decided_on"], x["reason"], x["routed_to"])
            for x in got["decisions"]] == expected_decisions(log, defs, y)
    assert {k: v for k, v in got["actions"].items()} == expected_actions(log, y)
    assert {k: v for k, v in got["recommendations"].items()} == expected_recommendations(log, y)
    closed = sorted((a.ref, a.number, a.closed_as, a.reason) for a in log.actions.values()
                    if _place(a, y.as_of) == "not_progressed")
    assert sorted((n["ref"], n["action"], n["status"], n["reason"]) for n in got["not_progressed"]) == closed
    assert [(i["ref"], i["action"], i["agency"], i["method"], i["measured_on"], i["finding"])
            for i in got["impact"]] == expected_impact(log, y)
    timeliness = {(t["workflow"], t["stage"]): [t["completed"], t["within"], t["late"], t["overdue_at_end"]]
                  for t in got["timeliness"]}
    assert timeliness == expected_timeliness(log, defs, y)
    rr = expected_timeliness(log, defs, y)[("rapid_review_lcspr", "rapid_review")]
    assert [got["rapid_reviews"][k] for k in ("completed", "within", "late", "overdue_at_end")] == rr
    assert {t["theme"]: (t["recommendations"], t["reviews"]) for t in got["themes"]} == expected_themes(log, y)
    return got


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def generated(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Log]:
    url = (f"sqlite:///{tmp_path_factory.mktemp('annual') / 'reviewflow.db'}" if request.param == "sqlite"
           else pg_url_or_skip())
    return url, generate(url, seed=20260)


@pytest.mark.parametrize("year", ["2026", "2026-27"])
def test_annual_figures_match_the_figures_worked_out_from_what_was_done(generated: tuple[str, Log],
                                                                       year: str) -> None:
    url, log = generated
    got = check_figures(url, log, year)
    assert got["year_over"] is (year == "2026")


def test_the_generated_year_has_something_of_every_kind(generated: tuple[str, Log]) -> None:
    """The walk's seed gives a year with every figure non-trivial, so the comparison above means something."""
    url, log = generated
    got = annual_json(url, "2026")
    assert {x["outcome"].split(" to ")[0] for x in got["decisions"]} == {"No further action", "Routed"}
    assert all(got["actions"][k] > 0 for k in ("implemented", "embedded", "not_progressed", "in_progress"))
    assert {n["status"] for n in got["not_progressed"]} == {"superseded", "not_implemented"}
    assert got["impact"]
    assert got["themes"]
    assert len(got["by_type"]) >= 6
    rr = got["rapid_reviews"]
    assert rr["within"] >= 3, rr
    assert rr["late"] >= 2, rr
    assert any(t["overdue_at_end"] for t in got["timeliness"])
    assert any(AWKWARD in (x["reason"] or "") for x in got["decisions"] + got["not_progressed"])


def test_rapid_reviews_are_named_with_their_working_together_expectation(generated: tuple[str, Log]) -> None:
    url, log = generated
    administer(url)
    result = CliRunner().invoke(cli, ["--db", url, "--now", END.isoformat(), "report", "annual", "--year", "2026",
                                      "--format", "md"])
    assert result.exit_code == 0, result.output
    completed, within, _, _ = expected_timeliness(log, definitions(url), _year("2026"))[
        ("rapid_review_lcspr", "rapid_review")]
    assert (f"Rapid reviews completed within 15 working days of notification (an expectation of Working Together "
            f"2023, counted from the notification date recorded): {within} of {completed}" in result.stdout)
    assert "(statutory)" not in result.stdout
    assert "Reporting year: calendar year 2026, 1 January 2026 to 31 December 2026." in result.stdout


@settings(max_examples=2, deadline=None)
@given(seed=st.integers(min_value=0, max_value=10**6))
def test_any_generated_data_set_gives_the_figures_worked_out_from_it(seed: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{Path(folder) / 'reviewflow.db'}"
        log = generate(url, seed, openings=8, days=460)
        for year in ("2026", "2026-27"):
            check_figures(url, log, year)
