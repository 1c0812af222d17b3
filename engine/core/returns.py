"""Agencies' returns on a case: who may request, mark in and excuse them, when one is late, and what a stage
that needs every return sees. Pure: `today` is passed in.

A return is requested from a registered agency with a due date; it is then `requested` until it is marked
`returned` (with the date it came in) or `excused` (with a reason). It is late while requested and past its
due date: lateness is never stored, it follows from the due date and the day.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any

from reviewflow.engine.core.agencies import agency_key
from reviewflow.engine.core.durations import Duration
from reviewflow.engine.core.errors import InvalidValue, NotPermitted, TransitionNotAllowed

if TYPE_CHECKING:
    from reviewflow.engine.core.definition import EscalationLevel, WorkflowDefinition

REQUESTED = "requested"
RETURNED = "returned"
EXCUSED = "excused"
LATE = "late"
STATUSES = (REQUESTED, RETURNED, EXCUSED)
"""What is stored; `late` is shown for a requested return past its due date."""
IN_OR_EXCUSED = (RETURNED, EXCUSED)

REQUEST = "return_request"
RETURN = "return_in"
EXCUSE = "return_excuse"
TRIGGERS = (REQUEST, RETURN, EXCUSE)
"""The history triggers of the returns (events within a stage: they move nothing)."""


@dataclass(frozen=True)
class ReturnsRules:
    """`returns:` in a definition: the default due period, who manages the returns, who of an agency may mark
    its own return in, and the ladder a late return climbs."""

    due: Duration | None = None
    """How long an agency has from the request when no due date is given (None: a due date must be given)."""
    manage: tuple[str, ...] | None = None
    """Roles that request, mark in and excuse any agency's return (default: the learning loop's `manage`)."""
    contribute: tuple[str, ...] | None = None
    """Roles whose holders may mark their own agency's return in, and who hear of it first when it is late
    (default: the learning loop's `contribute`)."""
    escalation: tuple[EscalationLevel, ...] = ()
    """Levels climbed by a late return, counted from its due date."""


@dataclass(frozen=True)
class Rules:
    """The returns rules of one definition with every default filled in."""

    due: Duration | None
    manage: tuple[str, ...]
    contribute: tuple[str, ...]
    escalation: tuple[EscalationLevel, ...]


def rules_of(d: WorkflowDefinition) -> Rules:
    raw = d.returns or ReturnsRules()
    learning = d.learning
    return Rules(raw.due, raw.manage if raw.manage is not None else learning.manage,
                 raw.contribute if raw.contribute is not None else learning.contribute, raw.escalation)


# --- who may do what --------------------------------------------------------------------------------

def _refuse(what: str, roles: Sequence[str], actor: str, held: frozenset[str], extra: str = "") -> NotPermitted:
    return NotPermitted(f"{what} needs one of the roles {', '.join(roles) or '(none declared)'}{extra}; {actor} "
                        f"has {', '.join(sorted(held)) or 'no roles'}: ask someone who does",
                        allowed=tuple(roles), user=actor)


def check_manage(rules: Rules, actor: str, held: frozenset[str], what: str) -> None:
    """Requesting and excusing returns (and marking any agency's return in)."""
    if not held & set(rules.manage):
        raise _refuse(what, rules.manage, actor, held)


def check_mark_in(rules: Rules, actor: str, held: frozenset[str], actor_agency: str | None, agency: str,
                  what: str) -> None:
    """Marking a return in: a manage role, or a contribute role held by someone of that agency."""
    if held & set(rules.manage):
        return
    if held & set(rules.contribute) and actor_agency and agency_key(actor_agency) == agency_key(agency):
        return
    raise _refuse(what, rules.manage, actor, held,
                  f", or one of {', '.join(rules.contribute)} as a member of {agency}" if rules.contribute else "")


# --- the lifecycle ----------------------------------------------------------------------------------

def is_late(status: str, due: date, today: date) -> bool:
    return status == REQUESTED and today > due


def shown_status(status: str, due: date, today: date) -> str:
    """`late` for a requested return past its due date, else the stored status."""
    return LATE if is_late(status, due, today) else status


def check_request(agency: str, status: str | None, due: date | None) -> None:
    """An agency may be asked once per case: a second request is refused, saying where its return stands."""
    if status is not None:
        raise TransitionNotAllowed(f"{agency}'s return was already requested (it is {status}, due "
                                   f"{due.isoformat() if due else '?'}): nothing was written",
                                   value=agency, state=status)


def check_can_change(agency: str, status: str, to: str) -> None:
    """Only a requested return can be marked in or excused."""
    if status != REQUESTED:
        verb = "marked in" if to == RETURNED else "excused"
        raise TransitionNotAllowed(f"{agency}'s return is already {status}: it can be {verb} only while "
                                   "requested", value=agency, state=status, allowed=(REQUESTED,))


def check_due(due: date, requested_on: date) -> None:
    if due < requested_on:
        raise InvalidValue(f"the due date {due.isoformat()} is before the request ({requested_on.isoformat()}): "
                           "give a later --due", field="due", value=due.isoformat())


def default_due(rules: Rules, requested_on: date, calendar: str) -> date:
    """The due date of a request made on `requested_on` when none is given."""
    if rules.due is None:
        raise InvalidValue("give the date the returns are due with --due (this workflow sets no default "
                           "`returns: due`)", field="due")
    return rules.due.add_to(requested_on, calendar)


# --- what a stage that needs every return sees --------------------------------------------------------

@dataclass(frozen=True)
class ReturnsSummary:
    """A case's returns for guards: the agencies asked, those whose return is outstanding, those late."""

    requested: tuple[str, ...] = ()
    outstanding: tuple[str, ...] = ()
    late: tuple[str, ...] = ()

    def view(self) -> dict[str, Any]:
        return {"count": len(self.requested), "outstanding": len(self.outstanding), "late": len(self.late)}


def summarise(returns: Iterable[tuple[str, str, date]], today: date) -> ReturnsSummary:
    """From (agency, status, due date) of each return."""
    rows = list(returns)
    return ReturnsSummary(tuple(a for a, _, _ in rows), tuple(a for a, s, _ in rows if s not in IN_OR_EXCUSED),
                          tuple(a for a, s, due in rows if is_late(s, due, today)))


def all_in_problem(summary: ReturnsSummary) -> str | None:
    """Why a stage that needs every return in or excused cannot be left yet (None: it can)."""
    if not summary.requested:
        return "no agency returns requested: request them with 'reviewflow case request'"
    if summary.outstanding:
        return (f"returns outstanding from {', '.join(summary.outstanding)}: mark each in with 'reviewflow case "
                "return' or excuse it with a reason with 'reviewflow case excuse'")
    return None
