"""The Learning and Improvement Framework's sources of learning (its table, section 4.2) and its practice and
learning loop (section 7). Pure.

A workflow names the rows it serves with `sources:` (a list of row numbers); the annual report's "Sources of
learning" section lists every row with the workflows (or the report) serving it and its figures in the year.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Source:
    """One row of the framework's table."""

    number: int
    name: str
    """As the framework names it."""
    rhythm: str
    """How often the framework says it happens."""
    reports_to: str
    report: str = ""
    """The reviewflow report that serves it, when one does (a command line)."""


SOURCES: tuple[Source, ...] = (
    Source(1, "LSCB Annual Report and Work Programme", "annually, in June",
           "Council Chief Executive, Leader of the Council, Police and Crime Commissioner, Children's Trust, "
           "Health and Wellbeing Board, LSAB", "reviewflow report annual"),
    Source(2, "Safeguarding Performance Report", "to each Board meeting, as per the year's schedule", "LSCB",
           "reviewflow report board"),
    Source(3, "Section 11 Self-assessment audits", "three-year cycle agreed by the LSCB, full and themed audits",
           "LSCB"),
    Source(4, "Case File Audits and other relevant reports on practice", "as required",
           "relevant LSCB sub-group, onward to the LSCB"),
    Source(5, "Serious Case Review", "as required", "SCR sub-group, reported at each LSCB meeting as required"),
    Source(6, "Multi-Agency Review", "as required", "SCR sub-group, reported at each Board meeting as required"),
    Source(7, "Child Death Review Data", "annual CDOP report to the LSCB", "LSCB"),
    Source(8, "Domestic Homicide Reviews", "update to the SCR sub-group", "LSCB as required"),
    Source(9, "Multi-Agency Case Audits", "quarterly, about 6 cases per audit", "LSCB, through the sub-groups"),
    Source(10, "Single Agency audit reviews", "as appropriate", "partners share them with the LSCB"),
    Source(11, "Section 175 Schools Audits", "annual programme of audits", "LSCB via the PPPG"),
    Source(12, "Thematic reviews and audits", "as required and in accordance with the Business Plan",
           "PPPG and LSCB as required"),
    Source(13, "Annual Risk Register", "annually", "LSCB"),
    Source(14, "Peer reviews / single agency inspections", "various meetings throughout the year", "LSCB"),
)
NUMBERS = tuple(s.number for s in SOURCES)

LEARNING_LOOP: tuple[tuple[str, str], ...] = (
    ("identification of learning", "reviews, audits, child deaths, practice and national learning (the sources "
                                   "above): recommendations with their learning themes"),
    ("actions for improvement", "single and multi-agency action plans: actions owned by agencies, due dates, "
                                "evidence checked by the sub-group"),
    ("dissemination of learning", "training, learning events, briefings, newsletters and published reports"),
    ("evaluation of practice and learning", "impact evaluated 3 to 6 months after verification; an action is "
                                            "embedded only then"),
)
"""The framework's practice and learning loop (section 7), each stage with how reviewflow records it."""


def source(number: int) -> Source:
    """The row `number` of the table (KeyError for a number not in 1-14)."""
    for found in SOURCES:
        if found.number == number:
            return found
    raise KeyError(number)
