"""A case's grades as text lines and JSON (`reviewflow case grades`, `case show`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from reviewflow.engine.core.durations import local_date
from reviewflow.engine.core.grading import Grade, GradingRules
from reviewflow.engine.render.escape import printable
from reviewflow.engine.render.lines import Line


def grade_text(g: Grade, rules: GradingRules | None) -> str:
    """'Police, standard training: Good (2027-02-15) [replaced]' (who graded it: in the history and the JSON)."""
    label = rules.label(g.grade) if rules else g.grade
    when = local_date(g.graded_at).isoformat()
    note = f" — {printable(g.note)}" if g.note else ""
    replaced = "" if g.current else " [replaced]"
    return f"{printable(g.subject)}: {label} ({when}){replaced}{note}"


def grade_json(g: Grade, rules: GradingRules | None) -> dict[str, Any]:
    return {"grade": g.grade, "label": rules.label(g.grade) if rules else g.grade, "agency": g.agency,
            "standard": g.standard, "school": g.school, "note": g.note, "graded_at": g.graded_at,
            "graded_by": g.graded_by, "current": g.current,
            "good_or_better": g.grade in rules.good_grades if rules else None}


def grade_lines(ref: str, grades: Sequence[Grade], rules: GradingRules | None) -> list[Line]:
    """Each grade, then a count of those good or better (on standard error)."""
    lines = [Line(grade_text(g, rules)) for g in grades]
    current = [g for g in grades if g.current]
    if not current:
        lines.append(Line(f"{ref}: no grades recorded; record one with 'reviewflow case grade'", err=True))
        return lines
    good = sum(g.grade in rules.good_grades for g in current) if rules else 0
    lines.append(Line(f"{ref}: {len(current)} grade(s), {good} good or better", err=True))
    return lines
