"""Audit grades in the Board and annual reports: per graded workflow (and by audit theme), the grades given in the
period, each grade's count and share, and the share graded good or better against the period before of the same
length. Pure: figures from `ReportData` and the period.

A subject graded more than once in a period counts once, with its last grade of the period.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import timedelta

from reviewflow.engine.core.grading import Grade, GradingRules, latest
from reviewflow.engine.core.reports.data import ReportData, field_value
from reviewflow.engine.core.reports.layout import Section, Table, percent
from reviewflow.engine.core.reports.period import Period, long_date

ALL_THEMES = "all themes"


def shares(counts: Sequence[int]) -> tuple[int, ...]:
    """Whole percentages of each count in the total that add up to exactly 100 (largest remainders first);
    all zeros when nothing was counted."""
    total = sum(counts)
    if not total:
        return tuple(0 for _ in counts)
    floors = [100 * n // total for n in counts]
    left = 100 - sum(floors)
    order = sorted(range(len(counts)), key=lambda i: (-(100 * counts[i] % total), i))
    for i in order[:left]:
        floors[i] += 1
    return tuple(floors)


def good_share(grades: Sequence[str], good: Iterable[str]) -> int | None:
    """The whole percentage of `grades` that are good or better (None when there are none)."""
    if not grades:
        return None
    wanted = set(good)
    return round(100 * sum(g in wanted for g in grades) / len(grades))


@dataclass(frozen=True)
class GradeCount:
    grade: str
    label: str
    count: int
    share: int
    """Whole percent of the grades given in the period (the shares of a distribution add up to 100)."""


@dataclass(frozen=True)
class GradedGroup:
    """One graded workflow, across its themes or for one theme: this period against the one before."""

    workflow: str
    title: str
    theme: str
    distribution: tuple[GradeCount, ...]
    graded: int
    good_or_better: int | None
    graded_before: int
    good_or_better_before: int | None

    @property
    def change(self) -> int | None:
        """Points up (positive) or down between the period before and this one."""
        if self.good_or_better is None or self.good_or_better_before is None:
            return None
        return self.good_or_better - self.good_or_better_before

    @property
    def change_text(self) -> str:
        """'good or better: 50% → 75%, up 25 points'."""
        now, before = self.good_or_better, self.good_or_better_before
        if now is None:
            return "none graded in the period" + (f" (good or better before: {percent(before)})"
                                                  if before is not None else "")
        if before is None:
            return f"good or better: {percent(now)} (none graded in the period before)"
        change = self.change or 0
        moved = "no change" if change == 0 else f"{'up' if change > 0 else 'down'} {abs(change)} point" + (
            "s" if abs(change) != 1 else "")
        return f"good or better: {percent(before)} → {percent(now)}, {moved}"


def previous_period(period: Period) -> Period:
    """The period of the same length just before `period`."""
    days = (period.end - period.start).days + 1
    return Period(period.start - timedelta(days=days), period.start - timedelta(days=1), "the period before")


def _scale(data: ReportData, workflow: str) -> GradingRules:
    graded = [(v, d.grading) for (name, v), d in data.definitions.items() if name == workflow and d.grading]
    return max(graded, key=lambda pair: pair[0])[1]


def _themes(data: ReportData) -> dict[int, str]:
    """Each graded case's theme, from its workflow's `grading: theme_field` (never a sensitive field)."""
    found: dict[int, str] = {}
    for c in data.cases:
        d = data.definitions.get((c.workflow, c.version))
        if d is not None and d.grading is not None and d.grading.theme_field:
            value = field_value(d, c, d.grading.theme_field)
            if isinstance(value, str) and value.strip():
                found[c.case_id] = " ".join(value.split())
    return found


def _group(workflow: str, title: str, theme: str, rules: GradingRules, now: Sequence[Grade],
           before: Sequence[Grade]) -> GradedGroup:
    names = [*rules.grades, *sorted({g.grade for g in now} - set(rules.grades))]
    counts = [sum(g.grade == name for g in now) for name in names]
    dist = tuple(GradeCount(name, rules.label(name), n, share)
                 for name, n, share in zip(names, counts, shares(counts), strict=True))
    good = rules.good_grades
    return GradedGroup(workflow, title, theme, dist, len(now), good_share([g.grade for g in now], good),
                       len(before), good_share([g.grade for g in before], good))


def grading_figures(data: ReportData, period: Period) -> tuple[GradedGroup, ...]:
    """Per graded workflow with grades in the period or the one before: across its themes, then theme by theme."""
    before_period = previous_period(period)
    now = list(latest(g for g in data.grades if g.graded_at in period).values())
    before = list(latest(g for g in data.grades if g.graded_at in before_period).values())
    titles = {name: d.title for (name, _), d in sorted(data.definitions.items())}
    themes = _themes(data)
    groups: list[GradedGroup] = []
    for workflow in sorted({g.workflow for g in [*now, *before]}, key=lambda w: titles.get(w, w)):
        if not any(name == workflow and d.grading for (name, _), d in data.definitions.items()):
            continue
        rules, title = _scale(data, workflow), titles.get(workflow, workflow)
        mine_now = [g for g in now if g.workflow == workflow]
        mine_before = [g for g in before if g.workflow == workflow]
        groups.append(_group(workflow, title, ALL_THEMES, rules, mine_now, mine_before))
        shown: dict[str, str] = {}
        for g in [*mine_before, *mine_now]:  # the earliest spelling of a theme is shown
            if g.case_id in themes:
                shown.setdefault(themes[g.case_id].lower(), themes[g.case_id])
        for key, theme in sorted(shown.items()):
            groups.append(_group(workflow, title, theme, rules,
                                 [g for g in mine_now if themes.get(g.case_id, "").lower() == key],
                                 [g for g in mine_before if themes.get(g.case_id, "").lower() == key]))
    return tuple(groups)


def grading_section(groups: Sequence[GradedGroup], period: Period) -> Section:
    """The section laid out: the grades given in the period, then good or better against the period before."""
    overall = [g for g in groups if g.theme == ALL_THEMES]
    distribution = Table("grade_distribution", "Grades given in the period, by type",
                         ("type", "grade", "graded", "share"),
                         tuple((g.title, c.label, c.count, percent(c.share if g.graded else None))
                               for g in overall for c in g.distribution),
                         empty="No audit was graded in the period.")
    change = Table("grade_change", "Graded good or better, against the period before",
                   ("type", "theme", "graded before", "% good or better before", "graded in the period",
                    "% good or better in the period", "change (points)", "good or better"),
                   tuple((g.title, g.theme, g.graded_before, g.good_or_better_before, g.graded, g.good_or_better,
                          g.change, g.change_text) for g in groups),
                   empty="No audit was graded in the period or the period before.")
    before = previous_period(period)
    intro = (f"Grades given in audits (multi-agency case audits, Section 11 and Section 175 audits...) from "
             f"{period.label}, against the period before of the same length ({long_date(before.start)} to "
             f"{long_date(before.end)}). Each agency, standard or school graded counts once a period, with its last "
             "grade; shares are whole percentages. Good or better: the grade each workflow names as good or better "
             "(good, on the shipped scale) and those above it.")
    return Section("Audit grades", intro, (distribution, change), anchor="grades")
