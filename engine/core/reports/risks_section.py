"""The risk register table of the Board report and the annual report (laid out by board_sections.py and
annual_sections.py): each open risk with its score, RAG band, trend and owner."""

from __future__ import annotations

from collections.abc import Iterable

from reviewflow.engine.core.reports.layout import Section, Table
from reviewflow.engine.core.risks import BANDS, Risk

_RAG = {"red": "Red", "amber": "Amber", "green": "Green"}


def open_risks(risks: Iterable[Risk]) -> tuple[Risk, ...]:
    """The open risks, highest score first, then by register and number."""
    return tuple(sorted((r for r in risks if r.is_open),
                        key=lambda r: (-r.score, BANDS.index(r.band), r.ref, int(r.number[1:] or 0))))


def risks_section(risks: tuple[Risk, ...], position: str) -> Section:
    """`risks`: the open risks (`open_risks`); `position`: the date they are shown at, in words."""
    table = Table("risk_register", "Open risks on the risk register, highest score first",
                  ("ref", "risk", "title", "likelihood", "impact", "score", "band", "trend", "owner", "owner agency"),
                  tuple((r.ref, r.number, r.title, r.likelihood, r.impact, r.score, _RAG.get(r.band, r.band), r.trend,
                         r.owner, r.owner_agency) for r in risks),
                  empty="No risk is open on a risk register.")
    intro = (f"Each open risk at {position}: its score is likelihood × impact (each 1 to 5), banded green (1 to 6), "
             "amber (8 to 12) or red (15 to 25); the trend compares the last review's score with the one before "
             "(new when the risk has not been reviewed since it was added).")
    return Section("Risk register", intro, (table,), anchor="risks")
