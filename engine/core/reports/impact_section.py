"""Measured impact in the Board and annual reports: actions against their targets, dissemination by kind with its
reach, and training attendance by learning theme. Figures and their sections, from plain records. Pure."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date

from reviewflow.engine.core.durations import local_date
from reviewflow.engine.core.learning import CLOSED_WITH_REASON, TRAINING, kind_label
from reviewflow.engine.core.measures import MET, NOT_MEASURED, NOT_MET, figure, latest, outcome
from reviewflow.engine.core.records import Action
from reviewflow.engine.core.reports.data import ReportData
from reviewflow.engine.core.reports.layout import Section, Table
from reviewflow.engine.core.reports.period import Period

OUTCOME_ORDER = (MET, NOT_MET, NOT_MEASURED)


@dataclass(frozen=True)
class MeasuredAction:
    """An action with a measure in figures, where it stood at the report's date."""

    ref: str
    action: str
    agency: str
    baseline: str
    target: str
    latest: str
    measured_on: date | None
    outcome: str
    lower_is_better: bool


@dataclass(frozen=True)
class KindReach:
    kind: str
    label: str
    count: int
    reach: int
    """Practitioners reached, over the records that say how many."""
    without_reach: int


@dataclass(frozen=True)
class ThemeAttendance:
    theme: str
    sessions: int
    attended: int


@dataclass(frozen=True)
class ImpactFigures:
    measured: tuple[MeasuredAction, ...] = ()
    by_kind: tuple[KindReach, ...] = ()
    training: tuple[ThemeAttendance, ...] = ()

    def count(self, wanted: str) -> int:
        return sum(m.outcome == wanted for m in self.measured)


def _measured(a: Action, ref: str, as_of: date) -> MeasuredAction | None:
    m = a.measure
    if m is None or a.status in CLOSED_WITH_REASON:
        return None
    last = latest(x for x in a.measurements if x.measured_on <= as_of)
    value = last.value if last else None
    return MeasuredAction(ref, a.number, a.owner_agency, figure(m.baseline, m.unit), figure(m.target, m.unit),
                          figure(value, m.unit), last.measured_on if last else None,
                          outcome(m, value), m.lower_is_better)


def impact_figures(data: ReportData, period: Period, as_of: date) -> ImpactFigures:
    """Actions measured against their targets at `as_of`, and the period's dissemination and training up to it."""
    refs = {c.id: c.ref for c in data.cases}
    measured = [m for a in data.actions if local_date(a.created_at) <= as_of and a.case_id in refs
                if (m := _measured(a, refs[a.case_id], as_of)) is not None]
    measured.sort(key=lambda m: (OUTCOME_ORDER.index(m.outcome), m.ref, m.action))
    shared = [d for d in data.dissemination if d.held_on in period and d.held_on <= as_of]
    kinds: dict[str, list[int | None]] = defaultdict(list)
    sessions: dict[str, list[int]] = defaultdict(list)
    for d in shared:
        kinds[d.kind].append(d.reach)
        if d.kind == TRAINING and d.theme:
            sessions[d.theme].append(d.reach or 0)
    by_kind = tuple(KindReach(k, kind_label(k), len(v), sum(n for n in v if n is not None),
                              sum(n is None for n in v))
                    for k, v in sorted(kinds.items(), key=lambda kv: (-len(kv[1]), kv[0])))
    training = tuple(ThemeAttendance(t, len(v), sum(v))
                     for t, v in sorted(sessions.items(), key=lambda kv: (-sum(kv[1]), kv[0])))
    return ImpactFigures(tuple(measured), by_kind, training)


def impact_section(f: ImpactFigures, as_of: str) -> Section:
    """Actions whose measure met its target, and those not met (or not yet measured)."""
    table = Table("measured_impact", "Actions measured against their targets, met first",
                  ("ref", "action", "agency", "baseline → target", "latest value", "measured on", "target"),
                  tuple((m.ref, m.action, m.agency,
                         f"{m.baseline} → {m.target}" + (" (lower is better)" if m.lower_is_better else ""),
                         m.latest, m.measured_on, m.outcome) for m in f.measured),
                  empty="No action has a measure with a baseline and target.")
    intro = (f"At {as_of}: {f.count(MET)} met, {f.count(NOT_MET)} not met, {f.count(NOT_MEASURED)} not measured "
             "yet. An action's measure is met when its latest measured value reaches the target (at or above it; "
             "at or below it when lower is better). Superseded and not implemented actions are left out.")
    return Section("Measured impact", intro, (table,), anchor="measured-impact")


def reach_section(f: ImpactFigures) -> Section:
    """Dissemination by kind with the practitioners reached, and training attendance by learning theme."""
    kinds = Table("dissemination_reach", "Dissemination by kind, with practitioners reached",
                  ("kind", "count", "practitioners reached", "without a reach recorded"),
                  tuple((k.label, k.count, k.reach, k.without_reach) for k in f.by_kind),
                  empty="No dissemination recorded in the year.")
    total = Table("dissemination_total", "Dissemination in total", ("figure", "count"), (
        ("Dissemination records", sum(k.count for k in f.by_kind)),
        ("Practitioners reached", sum(k.reach for k in f.by_kind))))
    training = Table("training_by_theme", "Training attendance by learning theme",
                     ("theme", "sessions", "attended"),
                     tuple((t.theme, t.sessions, t.attended) for t in f.training),
                     empty="No training attendance recorded in the year.")
    intro = ("Reach is the number of practitioners a dissemination reached, where it was recorded; training "
             "attendance is recorded with 'reviewflow case training' against a learning theme.")
    return Section("Dissemination reach and training", intro, (kinds, total, training), anchor="reach")
