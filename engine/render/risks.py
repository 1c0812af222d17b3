"""Risks on risk registers as text lines (`reviewflow risk list`, `case show`, the answers of `risk add`...)."""

from __future__ import annotations

from collections.abc import Sequence

from reviewflow.engine.core.risks import Risk
from reviewflow.engine.render.escape import printable
from reviewflow.engine.render.lines import Line

TREND_WORDS = {"new": "new", "rising": "rising ↑", "falling": "falling ↓", "steady": "steady →"}


def risk_text(r: Risk, with_ref: bool = False) -> str:
    """'R1  Too few reviewers  score 12 (likelihood 3 × impact 4) amber, rising; owner a.khan (Police)'."""
    where = f"{r.ref} " if with_ref else ""
    state = (f"score {r.score} (likelihood {r.likelihood} × impact {r.impact}) {r.band}, "
             f"{TREND_WORDS.get(r.trend, r.trend)}")
    if not r.is_open:
        state += f"; closed {r.closed_on}: {printable(r.closed_reason or '')}"
    return (f"{where}{r.number:<4} {printable(r.title)}  {state}; owner {printable(r.owner)} "
            f"({printable(r.owner_agency)})")


def risk_detail(r: Risk) -> list[str]:
    """A risk with its controls and every scoring."""
    lines = [risk_text(r), f"  controls: {printable(r.controls)}"]
    for i, s in enumerate(r.scores):
        what = "added" if i == 0 else "reviewed"
        note = f": {printable(s.note)}" if s.note else ""
        lines.append(f"  {what} {s.scored_on} by {printable(s.scored_by)}: {s.likelihood} × {s.impact} = {s.score}"
                     f"{note}")
    return lines


def risks_lines(ref: str | None, risks: Sequence[Risk]) -> list[Line]:
    """Each risk, then a count by band of the open ones (on standard error)."""
    lines = [Line(risk_text(r, with_ref=ref is None)) for r in risks]
    if not risks:
        where = f"{ref} has no risks" if ref else "no open risks"
        lines.append(Line(f"{where}; add one with 'reviewflow risk add REF --title ...'", err=True))
        return lines
    open_risks = [r for r in risks if r.is_open]
    bands = ", ".join(f"{sum(r.band == b for r in open_risks)} {b}" for b in ("red", "amber", "green"))
    closed = f", {len(risks) - len(open_risks)} closed" if ref else ""
    lines.append(Line(f"{ref or 'all registers'}: {len(open_risks)} open risk(s) ({bands}){closed}", err=True))
    return lines


def case_risk_lines(risks: Sequence[Risk]) -> list[str]:
    """The risks part of `case show`."""
    if not risks:
        return []
    return ["  risks:", *(f"    {risk_text(r)}" for r in risks)]
