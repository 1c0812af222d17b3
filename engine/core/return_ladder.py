"""The ladder a late return climbs, and who hears of it. Pure: callers pass `now`.

A return is late from the London midnight after its due date. Each level of the definition's
`returns: escalation` fires once per (case, agency), as a ledger row of entry 0 keyed
`return-<agency key>-level-N`. A level's roles that are the returns' `contribute` roles (an agency's
safeguarding lead, a school's designated lead) go to the people of that agency only; nobody of the agency
holding one is reported to the business manager, never sent to another agency's people.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, timedelta

from reviewflow.engine.core.agencies import agency_key
from reviewflow.engine.core.definition import WorkflowDefinition
from reviewflow.engine.core.durations import start_of_day
from reviewflow.engine.core.escalation import Checkpoint, level_key
from reviewflow.engine.core.notices import Recipient
from reviewflow.engine.core.returns import rules_of


def return_key(agency: str, index: int) -> str:
    """Ledger key of a late return's ladder level."""
    return f"return-{agency_key(agency)}-{level_key(index)}"


def return_checkpoints(d: WorkflowDefinition, agency: str, due: date) -> list[Checkpoint]:
    """Ladder levels of `agency`'s return due on `due`: late at the London midnight after that day."""
    late_at = start_of_day(due + timedelta(days=1))
    found = []
    for i, level in enumerate(rules_of(d).escalation):
        at = max(late_at, start_of_day(level.after.add_to(due, d.calendar)))
        found.append(Checkpoint(return_key(agency, i), at, tuple(dict.fromkeys(level.notify)),
                                level.label or f"level {i + 1}", i + 1))
    return found


def for_return(directory: Mapping[str, Sequence[Recipient]], agency: str,
               agency_roles: Sequence[str]) -> dict[str, list[Recipient]]:
    """The directory for one agency's return: its `agency_roles` narrowed to the people of that agency (none of
    them: nobody, so the business manager hears that nobody holds it); other roles as they are."""
    wanted = agency_key(agency)
    narrowed = {role: list(people) for role, people in directory.items()}
    for role in agency_roles:
        narrowed[role] = [p for p in directory.get(role, ()) if p.agency and agency_key(p.agency) == wanted]
    return narrowed
