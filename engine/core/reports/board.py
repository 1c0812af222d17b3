"""The Board report's figures, from plain facts and `now`. Pure: no I/O, no clock."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime

from reviewflow.engine.core.durations import due_date_of, local_date
from reviewflow.engine.core.learning import CLOSED_WITH_REASON, STATUSES, VERIFIED_OR_BEYOND, WORKING
from reviewflow.engine.core.links import pause_label
from reviewflow.engine.core.records import Action, CaseRecord
from reviewflow.engine.core.reports.data import ReportData, kind_of
from reviewflow.engine.core.reports.deadlines import binding_deadlines
from reviewflow.engine.core.reports.exceptions import BoardException, Exceptions
from reviewflow.engine.core.reports.grading_section import GradedGroup, grading_figures
from reviewflow.engine.core.reports.impact_section import ImpactFigures, impact_figures
from reviewflow.engine.core.reports.period import Period
from reviewflow.engine.core.reports.returns import OutstandingReturn, outstanding_returns
from reviewflow.engine.core.reports.risks_section import open_risks
from reviewflow.engine.core.reports.stages import (
    NO_LIMIT,
    PAUSED,
    RAG_LABELS,
    RAG_ORDER,
    rag,
    working_days,
    working_days_late,
)
from reviewflow.engine.core.risks import Risk
from reviewflow.engine.core.statutory import Deadline
from reviewflow.engine.core.time_limits import backdated_by, describe


@dataclass(frozen=True)
class RagCounts:
    overdue: int = 0
    due_soon: int = 0
    on_time: int = 0
    paused: int = 0
    no_limit: int = 0

    @property
    def total(self) -> int:
        return self.overdue + self.due_soon + self.on_time + self.paused + self.no_limit


def _counts(statuses: Iterable[str]) -> RagCounts:
    found = Counter(statuses)
    return RagCounts(**{status: found.get(status, 0) for status in RAG_ORDER})


@dataclass(frozen=True)
class OpenReview:
    ref: str
    workflow: str
    type_title: str
    kind: str
    stage: str
    stage_label: str
    rag: str
    rag_label: str
    time_limit: str | None
    due_date: date | None
    days_in_stage: int
    age_days: int
    working_days_overdue: int
    paused_since: date | None = None
    pause_reason: str | None = None
    pause_expected_end: date | None = None
    """The day a pause is expected to end (None: not paused, or no end given)."""


@dataclass(frozen=True)
class TypeRow:
    workflow: str
    title: str
    kind: str
    counts: RagCounts


@dataclass(frozen=True)
class StageRow:
    """One bar of the stage funnel: open reviews at stages with this label, across review types."""

    label: str
    counts: RagCounts


@dataclass(frozen=True)
class Movement:
    ref: str
    type_title: str
    opened_on: date
    closed_on: date | None
    outcome: str | None


@dataclass(frozen=True)
class BackdatedMove:
    """A history row dated well before the server recorded it (core/time_limits.py): timeliness figures that
    rest on it were not edited without trace."""

    ref: str
    what: str
    dated: datetime
    recorded: datetime
    by: str

    @property
    def backdated_by(self) -> str:
        return describe(self.recorded - self.dated)


@dataclass(frozen=True)
class AgencyActions:
    agency: str
    by_status: dict[str, int]
    total: int
    overdue: int
    completed_on_time: int
    completed_late: int
    late_not_completed: int

    @property
    def percent_on_time(self) -> float | None:
        """Completed (verified) by the due date, out of actions completed or past their due date."""
        known = self.completed_on_time + self.completed_late + self.late_not_completed
        return round(100 * self.completed_on_time / known, 1) if known else None


@dataclass(frozen=True)
class OverdueAction:
    ref: str
    action: str
    agency: str
    due_date: date
    working_days_overdue: int
    status: str


@dataclass(frozen=True)
class RedatedAction:
    """A working action given a new due date: its first due date and why it moved."""

    ref: str
    action: str
    agency: str
    first_due_date: date
    due_date: date
    reason: str
    status: str


@dataclass(frozen=True)
class PendingEvidence:
    ref: str
    action: str
    evidence: str
    agency: str
    kind: str
    submitted_on: date
    days_waiting: int


@dataclass(frozen=True)
class EmbeddedAction:
    ref: str
    action: str
    agency: str
    impact_method: str | None
    measured_on: date | None
    embedded_on: date | None
    finding: str | None


@dataclass(frozen=True)
class ActionPlans:
    by_agency: tuple[AgencyActions, ...]
    all_agencies: AgencyActions
    overdue: tuple[OverdueAction, ...]
    awaiting_verification: tuple[PendingEvidence, ...]
    embedded: tuple[EmbeddedAction, ...]
    redated: tuple[RedatedAction, ...] = ()


@dataclass(frozen=True)
class ThemeRow:
    theme: str
    recommendations: int
    reviews: int
    in_period: int


@dataclass(frozen=True)
class SharedRow:
    held_on: date
    ref: str
    kind: str
    audience: str


@dataclass(frozen=True)
class BoardReport:
    generated_at: datetime
    today: date
    period: Period
    open_reviews: tuple[OpenReview, ...]
    by_type: tuple[TypeRow, ...]
    funnel: tuple[StageRow, ...]
    opened: tuple[Movement, ...]
    closed: tuple[Movement, ...]
    exceptions: tuple[BoardException, ...]
    actions: ActionPlans
    themes: tuple[ThemeRow, ...]
    dissemination: tuple[SharedRow, ...]
    dissemination_by_kind: dict[str, int] = field(default_factory=dict)
    backdated: tuple[BackdatedMove, ...] = ()
    """History rows dated or recorded in the period and dated well before they were recorded."""
    returns: tuple[OutstandingReturn, ...] = ()
    """Agencies' returns outstanding on open cases, by agency (engine/core/reports/returns.py)."""
    grading: tuple[GradedGroup, ...] = ()
    """Audit grades in the period against the period before (engine/core/reports/grading_section.py)."""
    impact: ImpactFigures = field(default_factory=ImpactFigures)
    """Actions measured against their targets (engine/core/reports/impact_section.py)."""
    risks: tuple[Risk, ...] = ()
    """The open risks of the risk registers, highest score first (engine/core/reports/risks_section.py)."""

    @property
    def all_open(self) -> RagCounts:
        return _counts(r.rag for r in self.open_reviews)


# --- open reviews ---------------------------------------------------------------------------------

def _open_review(data: ReportData, c: CaseRecord, now: datetime, binding: Deadline | None = None) -> OpenReview:
    d = data.definition(c)
    state = d.states[c.state]
    today = local_date(now)
    due = binding.at if binding else c.due_at  # a running milestone's deadline, when it binds first
    label = f"{state.label}; {binding.what} binds" if binding else state.label
    status = rag(due, c.paused_at is not None, now, d.calendar)
    late = working_days_late(due, today, d.calendar) if due and status not in (PAUSED, NO_LIMIT) else 0
    return OpenReview(c.ref, d.name, d.title, kind_of(d), c.state, label, status, RAG_LABELS[status],
                      str(state.time_limit) if state.time_limit else None,
                      due_date_of(due) if due else None, max((today - local_date(c.entered_at)).days, 0),
                      max((today - local_date(c.opened_at)).days, 0), late,  # never negative (a --now before it)
                      local_date(c.paused_at) if c.paused_at else None, _pause_reason(c) if c.paused_at else None,
                      c.pause_until if c.paused_at else None)


def _pause_reason(c: CaseRecord) -> str:
    """'Awaiting an inquest', or 'Other: ...' with the text given."""
    return pause_label(c.pause_reason) + (f": {c.pause_note}" if c.pause_note else "")


def _by_type(data: ReportData, reviews: tuple[OpenReview, ...]) -> tuple[TypeRow, ...]:
    newest = {name: d for (name, _), d in sorted(data.definitions.items(), key=lambda kv: kv[0][1])}
    rows = [TypeRow(name, d.title, kind_of(d), _counts(r.rag for r in reviews if r.workflow == name))
            for name, d in newest.items()]
    return tuple(sorted((r for r in rows if r.counts.total), key=lambda r: (r.kind, r.title)))


def _funnel(data: ReportData, cases: list[CaseRecord], reviews: tuple[OpenReview, ...]) -> tuple[StageRow, ...]:
    """Stages in lifecycle order: by where they sit in their workflows, on average."""
    places: dict[str, list[float]] = defaultdict(list)
    for c in cases:
        d = data.definition(c)
        stages = [s.name for s in d.states.values() if not s.terminal]
        places[d.states[c.state].label].append(stages.index(c.state) / max(len(stages) - 1, 1))
    order = sorted(places, key=lambda label: (sum(places[label]) / len(places[label]), label))
    return tuple(StageRow(label, _counts(r.rag for r in reviews if r.stage_label == label)) for label in order)


# --- action plans -------------------------------------------------------------------------------------

def _timeliness(a: Action, today: date) -> str | None:
    """'on_time', 'late' (completed after its due date), 'late_open' (past due, not completed) or None."""
    if a.status in CLOSED_WITH_REASON:
        return None
    if a.status in VERIFIED_OR_BEYOND and a.verified_at is not None:
        return "on_time" if local_date(a.verified_at) <= a.ladder_due else "late"
    return "late_open" if today > a.ladder_due else None


def _agency(name: str, actions: list[Action], today: date) -> AgencyActions:
    statuses = Counter(a.status for a in actions)
    timely = Counter(_timeliness(a, today) for a in actions)
    return AgencyActions(name, {s: statuses.get(s, 0) for s in STATUSES}, len(actions),
                         sum(a.status in WORKING and today > a.due_date for a in actions),
                         timely.get("on_time", 0), timely.get("late", 0), timely.get("late_open", 0))


def _action_plans(data: ReportData, today: date) -> ActionPlans:
    cases = {c.id: c for c in data.cases}
    by_agency: dict[str, list[Action]] = defaultdict(list)
    for a in data.actions:
        by_agency[a.owner_agency].append(a)
    calendar = {c.id: data.definition(c).calendar for c in data.cases}
    overdue = sorted((a for a in data.actions if a.status in WORKING and today > a.due_date),
                     key=lambda a: (a.due_date, cases[a.case_id].ref, a.id))
    actions = {a.id: a for a in data.actions}
    pending = sorted((e for e in data.evidence if e.status == "submitted"), key=lambda e: (e.submitted_at, e.number))
    embedded = sorted((a for a in data.actions if a.status == "embedded"),
                      key=lambda a: (a.embedded_at or a.updated_at, a.id))
    redated = sorted((a for a in data.actions if a.status in WORKING and a.ladder_due != a.due_date),
                     key=lambda a: (a.ladder_due, cases[a.case_id].ref, a.id))
    return ActionPlans(
        tuple(_agency(name, rows, today) for name, rows in sorted(by_agency.items(), key=lambda kv: kv[0].lower())),
        _agency("All agencies", list(data.actions), today),
        tuple(OverdueAction(cases[a.case_id].ref, a.number, a.owner_agency, a.due_date,
                            working_days(a.due_date, today, calendar[a.case_id]), a.status) for a in overdue),
        tuple(PendingEvidence(cases[e.case_id].ref, actions[e.action_id].number, e.number,
                              actions[e.action_id].owner_agency, e.kind, local_date(e.submitted_at),
                              (today - local_date(e.submitted_at)).days) for e in pending),
        tuple(EmbeddedAction(cases[a.case_id].ref, a.number, a.owner_agency, a.impact_method, a.impact_measured_on,
                             local_date(a.embedded_at) if a.embedded_at else None, a.impact_summary)
              for a in embedded),
        tuple(RedatedAction(cases[a.case_id].ref, a.number, a.owner_agency, a.ladder_due, a.due_date,
                            a.redate_reason or "", a.status) for a in redated))


# --- learning and dissemination ----------------------------------------------------------------------------

def theme_rows(data: ReportData, period: Period, only_period: bool = False) -> tuple[ThemeRow, ...]:
    """Recommendations and reviews per learning theme, most frequent first."""
    recs: Counter[str] = Counter()
    within: Counter[str] = Counter()
    reviews: dict[str, set[int]] = defaultdict(set)
    for r in data.recommendations:
        made_within = r.created_at in period
        if only_period and not made_within:
            continue
        for theme in dict.fromkeys(r.themes):
            recs[theme] += 1
            within[theme] += made_within
            reviews[theme].add(r.case_id)
    rows = [ThemeRow(t, n, len(reviews[t]), within[t]) for t, n in recs.items()]
    return tuple(sorted(rows, key=lambda r: (-r.recommendations, r.theme)))


def board_figures(data: ReportData, now: datetime, period: Period) -> BoardReport:
    """Every figure of the Board report at `now`, with openings, closures and dissemination in `period`."""
    today = local_date(now)
    open_cases = [c for c in data.cases if c.is_open]
    binding = binding_deadlines(data, open_cases)
    reviews = tuple(sorted((_open_review(data, c, now, binding.get(c.case_id)) for c in open_cases),
                           key=lambda r: (RAG_ORDER.index(r.rag), -r.working_days_overdue, r.type_title, r.ref)))
    titles = {c.id: data.definition(c).title for c in data.cases}
    opened = tuple(Movement(c.ref, titles[c.id], local_date(c.opened_at),
                            local_date(c.closed_at) if c.closed_at else None,
                            data.definition(c).states[c.state].label if not c.is_open else None)
                   for c in data.cases if c.opened_at in period)
    closed = tuple(sorted((Movement(c.ref, titles[c.id], local_date(c.opened_at), local_date(c.closed_at),
                                    data.definition(c).states[c.state].label)
                           for c in data.cases if c.closed_at is not None and c.closed_at in period),
                          key=lambda m: (m.closed_on or today, m.ref)))
    refs = {c.id: c.ref for c in data.cases}
    shared = tuple(SharedRow(s.held_on, refs[s.case_id], s.kind, s.audience)
                   for s in data.dissemination if s.held_on in period)
    return BoardReport(now, today, period, reviews, _by_type(data, reviews), _funnel(data, open_cases, reviews),
                       opened, closed, Exceptions(data, now, period).find(), _action_plans(data, today),
                       theme_rows(data, period), shared, dict(Counter(s.kind for s in shared).most_common()),
                       _backdated(data, refs, period), outstanding_returns(data, today),
                       grading_figures(data, period), impact=impact_figures(data, period, today),
                       risks=open_risks(data.risks))


def _backdated(data: ReportData, refs: dict[int, str], period: Period) -> tuple[BackdatedMove, ...]:
    """The history rows of the period dated well before the server recorded them, in date order."""
    found = [BackdatedMove(refs[h.case_id], h.trigger, h.at, h.recorded_at, h.actor) for h in data.history
             if h.recorded_at is not None and backdated_by(h.at, h.recorded_at) is not None
             and h.case_id in refs and (h.at in period or h.recorded_at in period)]
    return tuple(sorted(found, key=lambda m: (m.dated, m.ref)))
