"""The annual report's figures for a calendar or financial year, from plain facts and `now`. Pure."""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from reviewflow.engine.core.definition import WorkflowDefinition
from reviewflow.engine.core.durations import local_date
from reviewflow.engine.core.learning import CLOSED_WITH_REASON
from reviewflow.engine.core.records import Action, CaseRecord
from reviewflow.engine.core.reports.board import ThemeRow, theme_rows
from reviewflow.engine.core.reports.data import ReportData, field_value, kind_of
from reviewflow.engine.core.reports.grading_section import GradedGroup, grading_figures
from reviewflow.engine.core.reports.impact_section import ImpactFigures, impact_figures
from reviewflow.engine.core.reports.period import Period
from reviewflow.engine.core.reports.risks_section import open_risks
from reviewflow.engine.core.reports.sources_section import SourcesFigures, sources_figures
from reviewflow.engine.core.reports.stages import StageEntry, stage_entries
from reviewflow.engine.core.risks import Risk

DECISION_STATES = ("no_further_action", "routed")
"""End states that record a decision not to hold (or not to continue) a review."""
WITHDRAWN = "withdrawn"
RAPID_REVIEW = "rapid_review"
_TICK = timedelta(microseconds=1)
"""Positions are taken just before the period's closing midnight: a stage due that day is not yet late."""
IN_PROGRESS, IMPLEMENTED, EMBEDDED, NOT_PROGRESSED = "in_progress", "implemented", "embedded", "not_progressed"


@dataclass(frozen=True)
class TypeYear:
    workflow: str
    title: str
    kind: str
    opened: int
    closed: int
    open_at_end: int
    outcomes: dict[str, int]
    """Closed in the year, by end state."""


@dataclass(frozen=True)
class Decision:
    ref: str
    type_title: str
    outcome: str
    decided_on: date
    reason: str | None
    routed_to: str | None


@dataclass(frozen=True)
class ActionPosition:
    """Actions agreed by the end of the year: where they stood then, and what changed during the year."""

    agreed: int
    implemented: int
    embedded: int
    not_progressed: int
    in_progress: int
    agreed_in_year: int
    implemented_in_year: int
    embedded_in_year: int
    not_progressed_in_year: int


@dataclass(frozen=True)
class NotProgressed:
    ref: str
    action: str
    agency: str
    status: str
    reason: str | None
    on: date


@dataclass(frozen=True)
class RecommendationPosition:
    made_in_year: int
    total: int
    implemented: int
    embedded: int
    not_progressed: int
    in_progress: int
    no_actions: int


@dataclass(frozen=True)
class Impact:
    ref: str
    action: str
    agency: str
    method: str
    measured_on: date
    finding: str | None


@dataclass(frozen=True)
class Timeliness:
    workflow: str
    type_title: str
    stage: str
    stage_label: str
    time_limit: str
    completed: int
    within: int
    late: int
    overdue_at_end: int

    @property
    def percent_within(self) -> float | None:
        return round(100 * self.within / self.completed, 1) if self.completed else None


@dataclass(frozen=True)
class AnnualReport:
    generated_at: datetime
    period: Period
    as_of: date
    year_over: bool
    by_type: tuple[TypeYear, ...]
    decisions: tuple[Decision, ...]
    decisions_by_outcome: dict[str, int]
    recommendations: RecommendationPosition
    actions: ActionPosition
    not_progressed: tuple[NotProgressed, ...]
    impact: tuple[Impact, ...]
    impact_by_method: dict[str, int]
    timeliness: tuple[Timeliness, ...]
    rapid_reviews: Timeliness | None
    themes: tuple[ThemeRow, ...]
    grading: tuple[GradedGroup, ...] = ()
    """Audit grades in the year against the year before (engine/core/reports/grading_section.py)."""
    impact_measures: ImpactFigures = ImpactFigures()
    """Actions against their targets, dissemination reach and training (engine/core/reports/impact_section.py)."""
    risks: tuple[Risk, ...] = ()
    """The open risks of the risk registers, highest score first (engine/core/reports/risks_section.py)."""
    sources: SourcesFigures = SourcesFigures()
    """The framework's sources of learning, its learning loop and the themes across all reviews
    (engine/core/reports/sources_section.py)."""


# --- reviews and audits -----------------------------------------------------------------------------------

def _by_type(data: ReportData, period: Period, as_of: datetime) -> tuple[TypeYear, ...]:
    grouped: dict[str, list[CaseRecord]] = defaultdict(list)
    for c in data.cases:
        grouped[c.workflow].append(c)
    rows = []
    for cases in grouped.values():
        d = data.definition(max(cases, key=lambda c: c.version))
        closed = [c for c in cases if c.closed_at is not None and c.closed_at in period and c.closed_at < as_of]
        outcomes = Counter(data.definition(c).states[c.state].label for c in closed)
        rows.append(TypeYear(d.name, d.title, kind_of(d), sum(c.opened_at in period and c.opened_at < as_of
                                                              for c in cases), len(closed),
                             sum(c.opened_at < as_of and (c.closed_at is None or c.closed_at >= as_of) for c in cases),
                             dict(sorted(outcomes.items()))))
    return tuple(sorted((r for r in rows if r.opened or r.closed or r.open_at_end), key=lambda r: (r.kind, r.title)))


def _decisions(data: ReportData, period: Period) -> tuple[Decision, ...]:
    titles = {name: d.title for (name, _), d in data.definitions.items()}
    found = []
    for c in data.cases:
        if c.state not in DECISION_STATES or c.closed_at is None or c.closed_at not in period:
            continue
        d = data.definition(c)
        routed = field_value(d, c, "routed_to") if c.state == "routed" else None
        where = titles.get(str(routed), str(routed).replace("_", " ")) if routed else None
        outcome = f"Routed to {where}" if where else d.states[c.state].label
        reason = field_value(d, c, "decision_rationale")
        found.append(Decision(c.ref, d.title, outcome, local_date(c.closed_at), str(reason) if reason else None,
                              str(routed) if routed else None))
    return tuple(sorted(found, key=lambda x: (x.decided_on, x.ref)))


# --- recommendations and actions --------------------------------------------------------------------------

def action_position(a: Action, as_of: datetime) -> str | None:
    """Where an action stood at `as_of`: None before it was agreed."""
    if a.created_at >= as_of:
        return None
    if a.status in CLOSED_WITH_REASON and a.updated_at < as_of:
        return NOT_PROGRESSED
    if a.embedded_at is not None and a.embedded_at < as_of:
        return EMBEDDED
    if a.verified_at is not None and a.verified_at < as_of:
        return IMPLEMENTED
    return IN_PROGRESS


def _actions(data: ReportData, period: Period, as_of: datetime) -> ActionPosition:
    places = Counter(action_position(a, as_of) for a in data.actions)
    agreed = sum(n for place, n in places.items() if place is not None)

    def within(when: datetime | None) -> bool:
        return when is not None and when in period and when < as_of

    return ActionPosition(
        agreed, places[IMPLEMENTED] + places[EMBEDDED], places[EMBEDDED], places[NOT_PROGRESSED], places[IN_PROGRESS],
        sum(within(a.created_at) for a in data.actions),
        sum(within(a.verified_at) for a in data.actions),
        sum(within(a.embedded_at) for a in data.actions),
        sum(a.status in CLOSED_WITH_REASON and within(a.updated_at) for a in data.actions))


def recommendation_position(places: list[str]) -> str:
    """A recommendation from its actions' positions: not progressed, in progress, implemented or embedded."""
    if not places:
        return "no_actions"
    going = [p for p in places if p != NOT_PROGRESSED]
    if not going:
        return NOT_PROGRESSED
    if IN_PROGRESS in going:
        return IN_PROGRESS
    return EMBEDDED if all(p == EMBEDDED for p in going) else IMPLEMENTED


def _recommendations(data: ReportData, period: Period, as_of: datetime) -> RecommendationPosition:
    places: dict[int, list[str]] = defaultdict(list)
    for a in data.actions:
        place = action_position(a, as_of)
        if place is not None:
            places[a.recommendation_id].append(place)
    made = [r for r in data.recommendations if r.created_at < as_of]
    found = Counter(recommendation_position(places.get(r.id, [])) for r in made)
    return RecommendationPosition(sum(r.created_at in period for r in made), len(made),
                                  found[IMPLEMENTED] + found[EMBEDDED], found[EMBEDDED], found[NOT_PROGRESSED],
                                  found[IN_PROGRESS], found["no_actions"])


def _not_progressed(data: ReportData, refs: dict[int, str], as_of: datetime) -> tuple[NotProgressed, ...]:
    rows = [NotProgressed(refs[a.case_id], a.number, a.owner_agency, a.status, a.status_reason,
                          local_date(a.updated_at))
            for a in data.actions if action_position(a, as_of) == NOT_PROGRESSED]
    return tuple(sorted(rows, key=lambda r: (r.on, r.ref, r.action)))


def _impact(data: ReportData, refs: dict[int, str], period: Period, as_of: datetime) -> tuple[Impact, ...]:
    rows = [Impact(refs[a.case_id], a.number, a.owner_agency, a.impact_method, a.impact_measured_on, a.impact_summary)
            for a in data.actions
            if a.impact_method and a.impact_measured_on and a.impact_measured_on in period
            and a.impact_measured_on <= local_date(as_of)]
    return tuple(sorted(rows, key=lambda r: (r.measured_on, r.ref, r.action)))


# --- timeliness -----------------------------------------------------------------------------------------------

def _timeliness(data: ReportData, period: Period, as_of: datetime) -> tuple[Timeliness, ...]:
    history: dict[int, list] = defaultdict(list)
    for h in data.history:
        history[h.case_id].append(h)
    tally: dict[tuple[str, str, str], list[int]] = {}
    titles: dict[tuple[str, str, str], tuple[str, str]] = {}
    for c in data.cases:
        d = data.definition(c)
        for entry in stage_entries(d, history.get(c.id, []), c.fields):
            state = d.states.get(entry.state)  # a stage of an older version, before a migration: left out
            if state is None or state.time_limit is None:
                continue
            key = (d.name, entry.state, str(state.time_limit))
            counts = tally.setdefault(key, [0, 0, 0])
            titles[key] = (d.title, state.label)
            _count(d, entry, period, as_of, counts)
    rapid = [k for k in tally if k[1] == RAPID_REVIEW]
    rows = [Timeliness(k[0], titles[k][0], k[1], titles[k][1], k[2], n[0] + n[1], n[0], n[1], n[2])
            for k, n in tally.items() if any(n) or k in rapid]
    return tuple(sorted(rows, key=lambda r: (r.type_title, r.workflow, _stage_place(data, r))))


def _count(d: WorkflowDefinition, entry: StageEntry, period: Period, as_of: datetime, counts: list[int]) -> None:
    """Adds one stage entry to [within, late, overdue at the end]."""
    left = entry.left_at
    if left is not None and left < as_of and left in period and entry.left_to != WITHDRAWN:
        counts[0 if entry.within_limit(d) else 1] += 1
    elif entry.overdue_at(d, as_of - _TICK):
        counts[2] += 1


def _stage_place(data: ReportData, row: Timeliness) -> int:
    newest = max((v for (name, v) in data.definitions if name == row.workflow), default=0)
    states = list(data.definitions[(row.workflow, newest)].states) if newest else []
    return states.index(row.stage) if row.stage in states else len(states)


def _rapid(rows: tuple[Timeliness, ...]) -> Timeliness | None:
    found = [r for r in rows if r.stage == RAPID_REVIEW]
    if not found:
        return None
    first = found[0]
    return Timeliness(first.workflow, first.type_title, first.stage, first.stage_label, first.time_limit,
                      sum(r.completed for r in found), sum(r.within for r in found), sum(r.late for r in found),
                      sum(r.overdue_at_end for r in found))


def annual_figures(data: ReportData, now: datetime, period: Period) -> AnnualReport:
    """Every figure of the annual report for `period`; positions are at its end, or at `now` if sooner."""
    year_over = now >= period.end_instant
    as_of = period.end_instant if year_over else now
    refs = {c.id: c.ref for c in data.cases}
    decisions = _decisions(data, period)
    impact = _impact(data, refs, period, as_of)
    timeliness = _timeliness(data, period, as_of)
    return AnnualReport(
        now, period, period.end if year_over else local_date(now), year_over, _by_type(data, period, as_of),
        decisions, dict(Counter(x.outcome for x in decisions).most_common()),
        _recommendations(data, period, as_of), _actions(data, period, as_of), _not_progressed(data, refs, as_of),
        impact, dict(Counter(i.method for i in impact).most_common()), timeliness, _rapid(timeliness),
        theme_rows(data, period, only_period=True), grading_figures(data, period),
        impact_measures=impact_figures(data, period, local_date(as_of - _TICK)), risks=open_risks(data.risks),
        sources=sources_figures(data, period, as_of))
