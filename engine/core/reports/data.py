"""What the report figures are computed from: the records of every case, as the store hands them over. Pure."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from reviewflow.engine.core.definition import WorkflowDefinition
from reviewflow.engine.core.grading import Grade
from reviewflow.engine.core.records import (
    Action,
    AgencyReturn,
    CaseRecord,
    Dissemination,
    Evidence,
    HistoryEntry,
    LedgerEntry,
    Recommendation,
)
from reviewflow.engine.core.risks import Risk


@dataclass(frozen=True)
class ReportData:
    """Everything one report reads, loaded in a few queries."""

    cases: tuple[CaseRecord, ...] = ()
    history: tuple[HistoryEntry, ...] = ()
    """Without fields or notes: the reports need when each stage began and ended."""
    ladder: tuple[LedgerEntry, ...] = ()
    recommendations: tuple[Recommendation, ...] = ()
    actions: tuple[Action, ...] = ()
    """Without their evidence, which is in `evidence`."""
    evidence: tuple[Evidence, ...] = ()
    dissemination: tuple[Dissemination, ...] = ()
    definitions: Mapping[tuple[str, int], WorkflowDefinition] = field(default_factory=dict)
    outstanding_returns: tuple[AgencyReturn, ...] = ()
    """Agencies' returns requested and neither in nor excused (engine/core/reports/returns.py)."""
    grades: tuple[Grade, ...] = ()
    """Every grade given on a case, replaced ones too, in the order given (engine/core/reports/grading_section.py)."""
    risks: tuple[Risk, ...] = ()
    """The open risks of every risk register (engine/core/reports/risks_section.py)."""

    def definition(self, case: CaseRecord) -> WorkflowDefinition:
        return self.definitions[(case.workflow, case.version)]


def field_value(d: WorkflowDefinition, case: CaseRecord, name: str) -> Any:
    """The one place reports read a case's field values: a field marked sensitive is never shown."""
    return None if name in d.sensitive_fields else case.fields.get(name)


def kind_of(d: WorkflowDefinition) -> str:
    """'audit' for audit workflows, else 'review'."""
    return "audit" if "audit" in d.name else "review"
