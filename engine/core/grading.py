"""Audit grading: a workflow's scale of grades (best first), what each grade is given to (an agency, a standard
and an agency, a school), which grades count as good or better, and who may record them. Pure.

A grade is recorded for one subject of a case (e.g. Police on standard `training`); grading the same subject
again replaces the grade shown, and both stay in the case's sealed history.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from reviewflow.engine.core.agencies import agency_key
from reviewflow.engine.core.errors import InvalidValue, NotPermitted
from reviewflow.engine.core.yamlsource import Path

if TYPE_CHECKING:
    from reviewflow.engine.core.definition import WorkflowDefinition

AGENCY, STANDARD, SCHOOL = "agency", "standard", "school"
SUBJECTS = (AGENCY, STANDARD, SCHOOL)
"""What a grade may be given per, in the order a subject is shown."""
GRADE_EVENT = "grade"
"""The history trigger of a recorded grade (an event within a stage: it moves nothing)."""


@dataclass(frozen=True)
class GradingRules:
    """`grading:` in a definition."""

    scale: tuple[tuple[str, str], ...]
    """(grade, label) pairs, best first."""
    per: tuple[str, ...]
    """What each grade is given to: agency, standard (with agency) or school."""
    good_or_better: str
    """That grade and those above it count as good or better."""
    standards: tuple[tuple[str, str], ...] = ()
    """(standard, label) pairs, with `per: [standard, ...]`."""
    roles: tuple[str, ...] | None = None
    """Roles that may record grades (default: the learning loop's `manage` roles)."""
    theme_field: str | None = None
    """The case field whose value is the audit's theme, for the reports' figures by theme."""

    @property
    def grades(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.scale)

    def label(self, grade: str) -> str:
        return dict(self.scale).get(grade, grade.replace("_", " "))

    def standard_label(self, standard: str) -> str:
        return dict(self.standards).get(standard, standard.replace("_", " "))

    @property
    def good_grades(self) -> frozenset[str]:
        """The grade `good_or_better` names and every grade above it."""
        names = self.grades
        return frozenset(names[: names.index(self.good_or_better) + 1]) if self.good_or_better in names else frozenset()


def roles_of(d: WorkflowDefinition) -> tuple[str, ...]:
    """Who may record grades on a case of `d`."""
    assert d.grading is not None
    return d.grading.roles if d.grading.roles is not None else d.learning.manage


@dataclass(frozen=True)
class Grade:
    """One grade recorded on a case; `current` is False once the same subject was graded again."""

    ref: str
    workflow: str
    grade: str
    agency: str | None
    standard: str | None
    school: str | None
    note: str | None
    graded_at: datetime
    graded_by: str
    current: bool = True
    case_id: int = 0

    @property
    def subject(self) -> str:
        """'Police, standard training' style: what was graded, for people."""
        parts = [self.agency, f"standard {self.standard}" if self.standard else None, self.school]
        return ", ".join(p for p in parts if p)


def subject_key(agency: str | None, standard: str | None, school: str | None) -> str:
    """One subject of a case: re-grading the same key replaces its grade."""
    return "|".join(agency_key(v) if v else "" for v in (agency, standard, school))


# --- parsing the key (engine/core/parse.py) ------------------------------------------------------------

def _pairs(items: Iterable[Any]) -> Iterator[tuple[str, str]]:
    """`[good, {requires_improvement: Requires improvement}]` -> (name, label) pairs in order."""
    for item in items:
        if isinstance(item, dict):
            yield from ((str(k), str(v)) for k, v in item.items())
        else:
            yield str(item), str(item).replace("_", " ").capitalize()


def parse_grading(raw: Mapping[str, Any] | None) -> GradingRules | None:
    if raw is None:
        return None
    return GradingRules(scale=tuple(_pairs(raw.get("scale", ()))), per=tuple(raw.get("per", ())),
                        good_or_better=str(raw.get("good_or_better", "")),
                        standards=tuple(_pairs(raw.get("standards", ()))),
                        roles=tuple(raw["roles"]) if "roles" in raw else None, theme_field=raw.get("theme_field"))


# --- validation (engine/core/validate.py: one rule, every offender) -------------------------------------

def _duplicates(path: Path, pairs: tuple[tuple[str, str], ...], what: str) -> Iterator[tuple[Path, str]]:
    seen: set[str] = set()
    for i, (name, _) in enumerate(pairs):
        if name in seen:
            yield (*path, i), f"{what} {name!r} is listed twice: list each {what} once"
        seen.add(name)


def _subjects(g: GradingRules) -> Iterator[tuple[Path, str]]:
    if STANDARD in g.per and not g.standards:
        yield ("grading", "standards"), ("`per` names standard but no standards are listed: list them under "
                                         "`standards` (e.g. - training: Training)")
    if g.standards and STANDARD not in g.per:
        yield ("grading", "standards"), "standards are listed but `per` does not name standard: add it to `per`"
    if STANDARD in g.per and AGENCY not in g.per:
        yield ("grading", "per"), "a standard is graded for an agency: write `per: [standard, agency]`"
    if SCHOOL in g.per and len(g.per) > 1:
        yield ("grading", "per"), "a school is graded on its own: write `per: [school]`"


def check_grading(d: WorkflowDefinition) -> Iterator[tuple[Path, str]]:
    """The scale's grades named once each, `good_or_better` one of them, the subjects consistent, the roles
    declared and the theme field asked for."""
    g = d.grading
    if g is None:
        return
    if len(g.scale) == 1:
        yield ("grading", "scale"), "a scale needs at least two grades, best first (e.g. good, inadequate)"
    yield from _duplicates(("grading", "scale"), g.scale, "grade")
    yield from _duplicates(("grading", "standards"), g.standards, "standard")
    if g.good_or_better not in g.grades:
        yield ("grading", "good_or_better"), (f"unknown grade {g.good_or_better!r}; the scale's grades are: "
                                              f"{', '.join(dict.fromkeys(g.grades))}")
    yield from _subjects(g)
    for j, role in enumerate(g.roles or ()):
        if role not in d.roles:
            yield ("grading", "roles", j), (f"role {role!r} is not declared under `roles`: declare it there or use "
                                            f"one of: {', '.join(sorted(d.roles))}")
    if g.theme_field and g.theme_field not in d.field_specs:
        yield ("grading", "theme_field"), (f"field {g.theme_field!r} is not asked for by `open` or any transition: "
                                           "name a declared field (e.g. audit_theme)")


# --- recording (engine/services/grading.py) -------------------------------------------------------------

def check_role(d: WorkflowDefinition, ref: str, actor: str, held: frozenset[str]) -> None:
    roles = roles_of(d)
    if not held & set(roles):
        raise NotPermitted(f"grading on {ref} needs one of the roles {', '.join(roles) or '(none declared)'}; "
                           f"{actor} has {', '.join(sorted(held)) or 'no roles'}: ask someone who does",
                           allowed=tuple(roles), user=actor, ref=ref)


def check_grade(g: GradingRules, ref: str, grade: str) -> str:
    name = grade.strip().lower().replace(" ", "_").replace("-", "_")
    if name not in g.grades:
        raise InvalidValue(f"unknown grade {grade!r}; use one of: {', '.join(g.grades)}", ref=ref, field="grade",
                           value=grade, allowed=g.grades)
    return name


_OPTIONS = {AGENCY: "--agency", STANDARD: "--standard", SCHOOL: "--school"}


def check_subject(g: GradingRules, ref: str, given: Mapping[str, str | None]) -> None:
    """Each subject `per` names is given, and nothing else; a standard is one of the definition's."""
    for what in SUBJECTS:
        value = given.get(what)
        if what in g.per and not value:
            raise InvalidValue(f"this workflow grades per {', '.join(g.per)}: give {_OPTIONS[what]}", ref=ref,
                               field=what)
        if what not in g.per and value:
            raise InvalidValue(f"this workflow grades per {', '.join(g.per)}, not per {what}: leave out "
                               f"{_OPTIONS[what]}", ref=ref, field=what, value=value)
    standard = given.get(STANDARD)
    names = tuple(n for n, _ in g.standards)
    if standard and standard not in names:
        raise InvalidValue(f"unknown standard {standard!r}; the standards of this workflow are: {', '.join(names)}",
                           ref=ref, field=STANDARD, value=standard, allowed=names)


def latest(grades: Iterable[Grade]) -> dict[str, Grade]:
    """The last grade of each subject of each case (`grades` in the order they were recorded)."""
    found: dict[str, Grade] = {}
    for g in grades:
        found[f"{g.case_id}:{subject_key(g.agency, g.standard, g.school)}"] = g
    return found


def graded_on(g: Grade) -> date:
    from reviewflow.engine.core.durations import local_date

    return local_date(g.graded_at)
