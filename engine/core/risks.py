"""Risks on a risk register: their scores, RAG bands and trends, numbering, and who may change them. Pure.

A risk is numbered R1, R2... on its case, owned by a registered person of an agency, with its controls. It is
scored when it is added and again at each review: likelihood and impact each from 1 to 5, the score their
product (1 to 25). The score falls in a RAG band: green 1 to 6, amber 8 to 12, red 15 to 25 (no product of two
scores from 1 to 5 is 7, 13 or 14). A review's trend compares its score with the scoring before it: rising,
falling or steady; the first scoring is new. A risk can be closed with a reason; its scores stay.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from reviewflow.engine.core import limits
from reviewflow.engine.core.errors import InvalidValue, NotFound, NotPermitted, TransitionNotAllowed

LOWEST = 1
HIGHEST = 5
"""Likelihood and impact are each scored from LOWEST to HIGHEST."""
GREEN_UP_TO = 6
AMBER_UP_TO = 12
"""Scores up to GREEN_UP_TO are green, up to AMBER_UP_TO amber, above it red [D]."""
GREEN, AMBER, RED = "green", "amber", "red"
BANDS = (GREEN, AMBER, RED)
NEW, RISING, FALLING, STEADY = "new", "rising", "falling", "steady"
TRENDS = (NEW, RISING, FALLING, STEADY)

OPEN, CLOSED = "open", "closed"
STATUSES = (OPEN, CLOSED)

ADD = "risk_add"
REVIEW = "risk_review"
CLOSE = "risk_close"
TRIGGERS = (ADD, REVIEW, CLOSE)
"""The history triggers of the risk register (events within a stage: they move nothing)."""

TITLE_LIMIT = limits.RISK_TITLE
CONTROLS_LIMIT = limits.RISK_CONTROLS
NOTE_LIMIT = limits.NOTE
REASON_LIMIT = limits.STATUS_REASON
_NUMBER = re.compile(r"^[Rr]?([1-9][0-9]{0,5})$")
_SCALE = {"likelihood": "1 (rare) to 5 (almost certain)", "impact": "1 (negligible) to 5 (severe)"}


@dataclass(frozen=True)
class RiskScore:
    """One scoring of a risk: when it was added (`note` empty) or at a review."""

    likelihood: int
    impact: int
    scored_on: date
    scored_by: str
    note: str | None = None

    @property
    def score(self) -> int:
        return score_of(self.likelihood, self.impact)


@dataclass(frozen=True)
class Risk:
    """A risk on a case's register, with every scoring in order (the first when it was added)."""

    ref: str
    number: str
    title: str
    owner: str
    owner_agency: str
    controls: str
    status: str
    scores: tuple[RiskScore, ...]
    added_by: str = ""
    closed_reason: str | None = None
    closed_on: date | None = None
    workflow: str = ""
    case_id: int = 0

    @property
    def current(self) -> RiskScore:
        return self.scores[-1]

    @property
    def likelihood(self) -> int:
        return self.current.likelihood

    @property
    def impact(self) -> int:
        return self.current.impact

    @property
    def score(self) -> int:
        return self.current.score

    @property
    def band(self) -> str:
        return band_of(self.score)

    @property
    def trend(self) -> str:
        """The last scoring against the one before it."""
        return trend_of([s.score for s in self.scores])

    @property
    def is_open(self) -> bool:
        return self.status == OPEN

    def view(self) -> dict[str, Any]:
        """What `--json` and the API show of a risk."""
        return {"ref": self.ref, "number": self.number, "title": self.title, "owner": self.owner,
                "owner_agency": self.owner_agency, "controls": self.controls, "status": self.status,
                "likelihood": self.likelihood, "impact": self.impact, "score": self.score, "band": self.band,
                "trend": self.trend, "closed_reason": self.closed_reason, "closed_on": self.closed_on,
                "reviews": [{"scored_on": s.scored_on, "likelihood": s.likelihood, "impact": s.impact,
                             "score": s.score, "band": band_of(s.score), "by": s.scored_by, "note": s.note}
                            for s in self.scores]}


# --- scores, bands and trends ------------------------------------------------------------------------

def check_score(value: Any, what: str) -> int:
    """A likelihood or impact as a whole number from 1 to 5; refused otherwise, naming the scale."""
    number: int | None = None
    if not isinstance(value, bool):
        try:
            number = int(str(value).strip())
        except ValueError:
            number = None
    if number is None or not LOWEST <= number <= HIGHEST:
        shown = str(value).strip() or "(none)"
        shown = shown if shown.isprintable() else repr(shown)  # one line, whatever was typed
        raise InvalidValue(f"{what} {shown} is not a score from {LOWEST} to {HIGHEST}: give --{what} "
                           f"{_SCALE.get(what, f'{LOWEST} to {HIGHEST}')}", field=what, value=str(value),
                           allowed=tuple(str(n) for n in range(LOWEST, HIGHEST + 1)))
    return number


def score_of(likelihood: int, impact: int) -> int:
    return likelihood * impact


def band_of(score: int) -> str:
    """The RAG band of a score: green 1 to 6, amber 8 to 12, red 15 to 25."""
    if score <= GREEN_UP_TO:
        return GREEN
    return AMBER if score <= AMBER_UP_TO else RED


def trend_of(scores: Sequence[int]) -> str:
    """The last score against the one before it: rising, falling or steady; new with only one."""
    if len(scores) < 2:
        return NEW
    last, before = scores[-1], scores[-2]
    return RISING if last > before else FALLING if last < before else STEADY


# --- numbers ---------------------------------------------------------------------------------------------

def next_number(numbers: Iterable[str]) -> str:
    """The number of the next risk on a case: one past the highest (closed risks keep theirs)."""
    used = [int(m.group(1)) for m in (_NUMBER.match(n) for n in numbers) if m]
    return f"R{max(used, default=0) + 1}"


def check_number(text: str, ref: str) -> str:
    """R1 (or r1, or 1) as stored: R1."""
    found = _NUMBER.match(str(text).strip())
    if found is None:
        raise InvalidValue(f"{text!r} is not a risk number: give one like R1 (see 'reviewflow risk list {ref}')",
                           ref=ref, field="risk", value=str(text))
    return f"R{found.group(1)}"


def find(risks: Iterable[Risk], number: str, ref: str) -> Risk:
    for risk in risks:
        if risk.number == number:
            return risk
    raise NotFound(f"no risk {number} on {ref}: see its risks with 'reviewflow risk list {ref}'", ref=ref,
                   field="risk", value=number)


# --- who may do what and when -----------------------------------------------------------------------------

def check_manage(manage: Sequence[str], actor: str, held: frozenset[str], what: str) -> None:
    """Adding and closing risks (and reviewing any of them): one of the workflow's learning `manage` roles."""
    if not held & set(manage):
        raise NotPermitted(f"{what} needs one of the roles {', '.join(manage) or '(none declared)'}; {actor} has "
                           f"{', '.join(sorted(held)) or 'no roles'}: ask someone who does",
                           allowed=tuple(manage), user=actor)


def check_review(manage: Sequence[str], actor: str, held: frozenset[str], risk: Risk, what: str) -> None:
    """Reviewing a risk: a manage role, or the risk's own owner."""
    if actor == risk.owner:
        return
    if not held & set(manage):
        raise NotPermitted(f"{what} needs one of the roles {', '.join(manage) or '(none declared)'}, or to be its "
                           f"owner {risk.owner}; {actor} has {', '.join(sorted(held)) or 'no roles'}: ask someone "
                           "who does", allowed=tuple(manage), user=actor)


def check_open(risk: Risk, doing: str) -> None:
    if not risk.is_open:
        raise TransitionNotAllowed(f"risk {risk.number} on {risk.ref} is closed ({risk.closed_reason}): it can no "
                                   f"longer be {doing}", ref=risk.ref, value=risk.number, state=risk.status,
                                   allowed=(OPEN,))


def check_text(value: str | None, what: str, limit: int, example: str) -> str:
    """A required one-paragraph text (title, controls, reason): not empty, at most `limit` characters."""
    text = (value or "").strip()
    if not text:
        raise InvalidValue(f"give the risk's {what} with --{what} {example}", field=what)
    return limits.check(text, what, limit, f"risk's {what}")
