"""The plain facts the report figures are computed from, as the store hands them over. Pure: no I/O."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from reviewflow.engine.core.definition import WorkflowDefinition


@dataclass(frozen=True)
class CaseFacts:
    id: int
    ref: str
    workflow: str
    version: int
    state: str
    is_open: bool
    fields: Mapping[str, Any]
    opened_at: datetime
    entered_at: datetime
    due_at: datetime | None
    closed_at: datetime | None
    paused_at: datetime | None
    pause_reason: str | None
    entry_seq: int


@dataclass(frozen=True)
class HistoryFacts:
    """One history row, without its fields or note: a stage move, a pause, a resume or a learning event."""

    case_id: int
    seq: int
    at: datetime
    trigger: str
    from_state: str | None
    to_state: str


@dataclass(frozen=True)
class LadderFacts:
    """One row of the escalation ledger (a reminder or a ladder level)."""

    case_id: int
    entry_seq: int
    key: str
    level: int | None
    label: str
    state: str
    """The stage, or 'action A1' for an action's ladder."""
    due_at: datetime
    fired_at: datetime


@dataclass(frozen=True)
class RecommendationFacts:
    id: int
    case_id: int
    number: str
    themes: tuple[str, ...]
    created_at: datetime


@dataclass(frozen=True)
class ActionFacts:
    id: int
    case_id: int
    recommendation_id: int
    number: str
    owner_agency: str
    due_date: date
    status: str
    status_reason: str | None
    created_at: datetime
    updated_at: datetime
    verified_at: datetime | None
    impact_method: str | None
    impact_measured_on: date | None
    impact_summary: str | None
    embedded_at: datetime | None


@dataclass(frozen=True)
class EvidenceFacts:
    case_id: int
    action_id: int
    number: str
    kind: str
    status: str
    submitted_at: datetime


@dataclass(frozen=True)
class DisseminationFacts:
    case_id: int
    kind: str
    audience: str
    held_on: date


@dataclass(frozen=True)
class ReportData:
    """Everything one report reads, loaded in a few queries."""

    cases: tuple[CaseFacts, ...] = ()
    history: tuple[HistoryFacts, ...] = ()
    ladder: tuple[LadderFacts, ...] = ()
    recommendations: tuple[RecommendationFacts, ...] = ()
    actions: tuple[ActionFacts, ...] = ()
    evidence: tuple[EvidenceFacts, ...] = ()
    dissemination: tuple[DisseminationFacts, ...] = ()
    definitions: Mapping[tuple[str, int], WorkflowDefinition] = field(default_factory=dict)

    def definition(self, case: CaseFacts) -> WorkflowDefinition:
        return self.definitions[(case.workflow, case.version)]


def field_value(d: WorkflowDefinition, case: CaseFacts, name: str) -> Any:
    """The one place reports read a case's field values: a field marked sensitive is never shown."""
    return None if name in d.sensitive_fields else case.fields.get(name)


def kind_of(d: WorkflowDefinition) -> str:
    """'audit' for audit workflows, else 'review'."""
    return "audit" if "audit" in d.name else "review"
