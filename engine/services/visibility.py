"""Applying who-may-see-what (engine/core/access.py) inside the services' transactions.

A case outside a person's view is `CaseNotFound`, exactly as a case that does not exist.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from reviewflow.engine.core.access import (
    Identity,
    agencies_named,
    may_see_action,
    may_see_case,
    sees_all_of,
    shown_fields,
)
from reviewflow.engine.core.definition import WorkflowDefinition
from reviewflow.engine.core.errors import CaseNotFound
from reviewflow.engine.core.records import Action, CaseRecord, CaseView, HistoryEntry, Recommendation
from reviewflow.engine.core.subgroups import narrow
from reviewflow.store import participants


def may_see(s: Any, who: Identity, d: WorkflowDefinition, record: CaseRecord) -> bool:
    who = narrow(who, record.subgroup)  # a role held for another sub-group does not count on this case
    if sees_all_of(who, d):
        return True
    return may_see_case(who, d, participants.agency_keys(s, record.case_id), record.opened_by,
                        participants.action_owners(s, record.case_id))


def require_visible(s: Any, who: Identity | None, d: WorkflowDefinition, record: CaseRecord) -> None:
    """Refuse a case `who` may not see as not found (None: code in this process, which sees everything)."""
    if who is not None and not may_see(s, who, d, record):
        raise CaseNotFound(record.ref)


def note_agencies(s: Any, d: WorkflowDefinition, case_id: int, fields: Any = None, named: Any = ()) -> None:
    """Record the agencies a write names as taking part in the case."""
    names = [a for f in d.agency_fields for a in agencies_named(fields.get(f) if fields else None)]
    participants.add(s, case_id, [*names, *named])


def shown_history(who: Identity, d: WorkflowDefinition, history: list[HistoryEntry]) -> list[HistoryEntry]:
    if not d.field_readers:
        return history
    return [replace(h, fields=shown_fields(who, d, h.fields)) if h.fields else h for h in history]


def shown_recommendations(who: Identity, d: WorkflowDefinition,
                          recommendations: list[Recommendation]) -> list[Recommendation]:
    """Recommendations with only the actions `who` may see."""
    if sees_all_of(who, d):
        return recommendations
    return [replace(r, actions=tuple(a for a in r.actions if may_see_action(who, d, a.owner_agency, a.owner)))
            for r in recommendations]


def shown_actions(who: Identity, definitions: dict[tuple[str, int], WorkflowDefinition],
                  versions: dict[str, int], actions: list[Action]) -> list[Action]:
    """Of actions on visible cases, those `who` may see."""
    return [a for a in actions
            if may_see_action(who, definitions[(a.workflow, versions[a.ref])], a.owner_agency, a.owner)]


def shown_view(who: Identity, d: WorkflowDefinition, view: CaseView) -> CaseView:
    """A case as `who` may see it: sensitive values withheld, other agencies' actions left out."""
    view.fields = shown_fields(who, d, view.fields)
    view.history = shown_history(who, d, view.history)
    view.recommendations = shown_recommendations(who, d, view.recommendations)
    return view


def partnership_versions(who: Identity, definitions: dict[tuple[str, int], WorkflowDefinition]) \
        -> list[tuple[str, int]]:
    """The (workflow, version) pairs whose every case `who` sees."""
    return [key for key, d in definitions.items() if sees_all_of(who, d)]

