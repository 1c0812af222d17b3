"""Who is acting, and what they may see. Pure: the services give the facts and act on the answers.

The rules (docs/security.md):
- an administrator sees everything;
- a holder of one of a workflow's partnership roles sees every case of that workflow;
- anyone else sees the cases their agency takes part in, the cases they opened and the cases where
  they own an action, and of those cases only their agency's and their own actions;
- a sensitive field is shown only to the roles allowed to see it; to everyone else it is withheld.
A case outside someone's view is not found, never forbidden: its existence does not leak.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from reviewflow.engine.core.agencies import agency_key as agency_key  # compared as the register compares
from reviewflow.engine.core.definition import WorkflowDefinition

WITHHELD = "[withheld]"
"""What a person who may not see a sensitive field's value sees instead."""
READ, WRITE = "read", "write"
SCOPES = (READ, WRITE)

_SEPARATORS = re.compile(r"[,;\n]+")


@dataclass(frozen=True)
class Identity:
    """A person acting, as established by the service from something they could not simply type: the
    operating-system account running the command, a personal API token, a signed-in session.

    `admin` is the administrator capability (users, roles, workflows, imports, exports, deliveries,
    the database), separate from workflow roles. When an administrator acts for someone (`--as`),
    `name`, `roles` and `agency` are that person's and `acting_admin` is the administrator's name.
    """

    name: str
    roles: frozenset[str] = frozenset()
    agency: str | None = None
    admin: bool = False
    acting_admin: str | None = None
    via: str = "system"
    scope: str = WRITE

    @property
    def recorded(self) -> str:
        """The actor written to the history: 'ADMIN for USER' when an administrator acts for someone."""
        return f"{self.acting_admin} for {self.name}" if self.acting_admin else self.name

    @property
    def may_write(self) -> bool:
        return self.scope == WRITE


def agencies_named(value: Any) -> list[str]:
    """The agencies one field value names ('Police; Health' names two)."""
    if not isinstance(value, str):
        return []
    return [part.strip() for part in _SEPARATORS.split(value) if part.strip()]


def case_agencies(d: WorkflowDefinition, fields: Mapping[str, Any], recommended: Iterable[str] = (),
                  owning: Iterable[str] = ()) -> set[str]:
    """The agencies (as keys) taking part in a case: named in its agency fields, in its recommendations'
    agencies, or owning one of its actions."""
    named = [a for f in d.agency_fields for a in agencies_named(fields.get(f))]
    return {agency_key(a) for a in [*named, *recommended, *owning] if agency_key(a)}


def sees_all_of(who: Identity, d: WorkflowDefinition) -> bool:
    """Whether `who` sees every case of workflow `d`."""
    return who.admin or bool(who.roles & d.partnership_roles)


def may_see_case(who: Identity, d: WorkflowDefinition, agencies: set[str], opened_by: str,
                 action_owners: Iterable[str | None] = ()) -> bool:
    """Whether `who` may see a case of workflow `d` whose participating agencies (keys) are `agencies`."""
    if sees_all_of(who, d):
        return True
    if who.agency and agency_key(who.agency) in agencies:
        return True
    return opened_by in (who.name, who.recorded) or who.name in set(action_owners)


def may_see_action(who: Identity, d: WorkflowDefinition, owner_agency: str, owner: str | None) -> bool:
    """Whether `who` sees one action of a case they may see."""
    if sees_all_of(who, d):
        return True
    return owner == who.name or (who.agency is not None and agency_key(who.agency) == agency_key(owner_agency))


def may_read_field(who: Identity, d: WorkflowDefinition, name: str) -> bool:
    readers = d.field_readers.get(name)
    return readers is None or who.admin or bool(who.roles & readers)


def shown_fields(who: Identity, d: WorkflowDefinition, fields: Mapping[str, Any]) -> dict[str, Any]:
    """`fields` as `who` may see them: a sensitive value they may not read is WITHHELD."""
    if not d.field_readers:
        return dict(fields)
    return {k: (v if may_read_field(who, d, k) else WITHHELD) for k, v in fields.items()}
