"""The annual report's "Sources of learning" section: every row of the Learning and Improvement Framework's table
(engine/core/framework.py) with the workflows or report serving it, its figures in the year and where its
learning went; the framework's learning loop in figures; and the learning themes across all reviews. Pure."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime

from reviewflow.engine.core.definition import WorkflowDefinition
from reviewflow.engine.core.framework import LEARNING_LOOP, SOURCES, Source
from reviewflow.engine.core.records import Action, CaseRecord
from reviewflow.engine.core.reports.data import ReportData
from reviewflow.engine.core.reports.layout import Cell, Section, Table
from reviewflow.engine.core.reports.period import Period

NOT_SERVED = "no workflow loaded serves this row"
Position = Callable[[Action, datetime], "str | None"]


@dataclass(frozen=True)
class SourceYear:
    """One row of the framework's table in the year; the figures are None when no workflow serves it."""

    source: Source
    served_by: tuple[str, ...]
    """The titles of the loaded workflows that serve it, then the report command that does."""
    opened: int | None = None
    closed: int | None = None
    open_at_end: int | None = None
    recommendations: int | None = None
    actions: dict[str, int] | None = None
    """Actions agreed by the end, by where they stood then (in_progress, implemented, embedded, not_progressed)."""
    dissemination: int | None = None
    themes: tuple[tuple[str, int], ...] = ()
    """The learning themes of its recommendations made in the year, most frequent first."""

    @property
    def has_workflow(self) -> bool:
        return self.opened is not None


@dataclass(frozen=True)
class ThemeAcross:
    """A learning theme across every review's recommendations made by the end of the year."""

    theme: str
    recommendations: int
    reviews: int
    in_year: int


@dataclass(frozen=True)
class SourcesFigures:
    rows: tuple[SourceYear, ...] = ()
    loop: tuple[tuple[str, str, int], ...] = ()
    """The learning loop's stages: (stage, how it is recorded, the count in the year)."""
    themes: tuple[ThemeAcross, ...] = ()


def _newest(definitions: Iterable[WorkflowDefinition]) -> dict[str, WorkflowDefinition]:
    found: dict[str, WorkflowDefinition] = {}
    for d in definitions:
        if d.name not in found or d.version > found[d.name].version:
            found[d.name] = d
    return found


def _row(source: Source, flows: list[WorkflowDefinition], data: ReportData, period: Period, as_of: datetime,
         position: Position) -> SourceYear:
    served = tuple(sorted(d.title for d in flows)) + ((source.report,) if source.report else ())
    if not flows:
        return SourceYear(source, served)
    names = {d.name for d in flows}
    cases: list[CaseRecord] = [c for c in data.cases if c.workflow in names and c.opened_at < as_of]
    ids = {c.id for c in cases}
    recs = [r for r in data.recommendations if r.case_id in ids and r.created_at in period and r.created_at < as_of]
    places = Counter(position(a, as_of) for a in data.actions if a.case_id in ids)
    places.pop(None, None)
    themes = Counter(t for r in recs for t in dict.fromkeys(r.themes))
    return SourceYear(
        source, served,
        opened=sum(c.opened_at in period for c in cases),
        closed=sum(c.closed_at is not None and c.closed_at in period and c.closed_at < as_of for c in cases),
        open_at_end=sum(c.closed_at is None or c.closed_at >= as_of for c in cases),
        recommendations=len(recs), actions={str(k): n for k, n in places.items()},
        dissemination=sum(d.case_id in ids and d.held_on in period for d in data.dissemination),
        themes=tuple(sorted(themes.items(), key=lambda kv: (-kv[1], kv[0]))))


def _themes_across(data: ReportData, period: Period, as_of: datetime) -> tuple[ThemeAcross, ...]:
    recs: Counter[str] = Counter()
    within: Counter[str] = Counter()
    reviews: dict[str, set[int]] = defaultdict(set)
    for r in data.recommendations:
        if r.created_at >= as_of:
            continue
        for theme in dict.fromkeys(r.themes):
            recs[theme] += 1
            within[theme] += r.created_at in period
            reviews[theme].add(r.case_id)
    rows = [ThemeAcross(t, n, len(reviews[t]), within[t]) for t, n in recs.items()]
    return tuple(sorted(rows, key=lambda r: (-r.recommendations, -r.reviews, r.theme)))


def _loop(data: ReportData, period: Period, as_of: datetime) -> tuple[tuple[str, str, int], ...]:
    def within(when: datetime | None) -> bool:
        return when is not None and when in period and when < as_of

    counts = (
        sum(within(r.created_at) for r in data.recommendations),
        sum(within(a.created_at) for a in data.actions),
        sum(d.held_on in period for d in data.dissemination),
        sum(a.impact_measured_on is not None and a.impact_measured_on in period for a in data.actions),
    )
    return tuple((stage, how, n) for (stage, how), n in zip(LEARNING_LOOP, counts, strict=True))


def sources_figures(data: ReportData, period: Period, as_of: datetime) -> SourcesFigures:
    """Every row of the framework's table in `period` (positions at `as_of`), the loop and the themes."""
    from reviewflow.engine.core.reports.annual import action_position

    newest = _newest(data.definitions.values())
    rows = tuple(_row(s, [d for d in newest.values() if s.number in d.sources], data, period, as_of,
                      action_position) for s in SOURCES)
    return SourcesFigures(rows, _loop(data, period, as_of), _themes_across(data, period, as_of))


def _cells(r: SourceYear) -> tuple[Cell, ...]:
    if not r.has_workflow:
        served = f"{r.served_by[0]} (no workflow loaded)" if r.served_by else NOT_SERVED
        return (r.source.number, r.source.name, r.source.rhythm, served, *([None] * 10))
    acts = r.actions or {}
    themes = "; ".join(f"{t} ({n})" for t, n in r.themes)
    return (r.source.number, r.source.name, r.source.rhythm, "; ".join(r.served_by), r.opened, r.closed, r.open_at_end,
            r.recommendations, acts.get("in_progress", 0), acts.get("implemented", 0) + acts.get("embedded", 0),
            acts.get("embedded", 0), acts.get("not_progressed", 0), r.dissemination, themes or None)


def sources_section(f: SourcesFigures, position: str) -> Section:
    """The section; `position`: the date positions are shown at, in words."""
    table = Table("sources_of_learning", "Sources of learning: the framework's table, row by row",
                  ("row", "source", "rhythm", "served by", "opened", "closed", "open at the end",
                   "recommendations", "actions open", "actions verified", "actions embedded", "not progressed",
                   "dissemination", "themes"),
                  tuple(_cells(r) for r in f.rows))
    loop = Table("learning_loop", "The practice and learning loop in the year", ("stage", "recorded as", "in the year"),
                 f.loop)
    themes = Table("themes_across_reviews", "Learning themes across all reviews",
                   ("theme", "recommendations", "reviews raising it", "made in the year"),
                   tuple((t.theme, t.recommendations, t.reviews, t.in_year) for t in f.themes),
                   empty="No recommendation has a learning theme.")
    intro = (f"Every row of the Learning and Improvement Framework's table of sources of learning, with the "
             f"workflows that serve it (their sources key) or the report that does. Opened, closed, recommendations "
             f"and dissemination count the year; open cases and actions are positions at {position}: open (agreed, "
             "in progress or with evidence awaiting verification), verified (implemented, embedded included), "
             "embedded (impact evaluated and confirmed) or not progressed. A workflow serving two rows counts under "
             "both. Themes are those of the recommendations made in the year, with how many carry each. The themes "
             "across all reviews count every recommendation made by the end of the year.")
    return Section("Sources of learning", intro, (table, loop, themes), anchor="sources")

