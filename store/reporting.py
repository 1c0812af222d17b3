"""Read-only queries for the Board and annual reports: each table read once, plain facts out."""

from __future__ import annotations

from sqlmodel import Session, col, select

from reviewflow.engine.core.reports.data import (
    ActionFacts,
    CaseFacts,
    DisseminationFacts,
    EvidenceFacts,
    HistoryFacts,
    LadderFacts,
    RecommendationFacts,
    ReportData,
)
from reviewflow.store.models import (
    ActionRow,
    CaseRow,
    DisseminationRow,
    EscalationRow,
    EvidenceRow,
    HistoryRow,
    RecommendationRow,
)


def _cases(s: Session) -> tuple[CaseFacts, ...]:
    query = (select(CaseRow.id, CaseRow.ref, CaseRow.workflow, CaseRow.version, CaseRow.state, CaseRow.is_open,
                    CaseRow.fields, CaseRow.opened_at, CaseRow.entered_at, CaseRow.due_at, CaseRow.closed_at,
                    CaseRow.paused_at, CaseRow.pause_reason, CaseRow.entry_seq)
             .order_by(col(CaseRow.opened_at), col(CaseRow.ref)))
    return tuple(CaseFacts(*row) for row in s.exec(query).all())


def _history(s: Session) -> tuple[HistoryFacts, ...]:
    """History without its fields and notes: the reports need when each stage began and ended."""
    query = (select(HistoryRow.case_id, HistoryRow.seq, HistoryRow.at, HistoryRow.trigger, HistoryRow.from_state,
                    HistoryRow.to_state).order_by(col(HistoryRow.case_id), col(HistoryRow.seq)))
    return tuple(HistoryFacts(*row) for row in s.exec(query).all())


def _ladder(s: Session) -> tuple[LadderFacts, ...]:
    query = (select(EscalationRow.case_id, EscalationRow.entry_seq, EscalationRow.key, EscalationRow.level,
                    EscalationRow.label, EscalationRow.state, EscalationRow.due_at, EscalationRow.fired_at)
             .order_by(col(EscalationRow.fired_at), col(EscalationRow.id)))
    return tuple(LadderFacts(*row) for row in s.exec(query).all())


def _learning(s: Session) -> tuple[tuple[RecommendationFacts, ...], tuple[ActionFacts, ...]]:
    recs = s.exec(select(RecommendationRow).order_by(col(RecommendationRow.id))).all()
    acts = s.exec(select(ActionRow).order_by(col(ActionRow.id))).all()
    return (tuple(RecommendationFacts(r.id or 0, r.case_id, r.number, tuple(r.themes), r.created_at) for r in recs),
            tuple(ActionFacts(a.id or 0, a.case_id, a.recommendation_id, a.number, a.owner_agency, a.due_date,
                              a.status, a.status_reason, a.created_at, a.updated_at, a.verified_at, a.impact_method,
                              a.impact_measured_on, a.impact_summary, a.embedded_at) for a in acts))


def _evidence(s: Session) -> tuple[EvidenceFacts, ...]:
    query = (select(EvidenceRow.case_id, EvidenceRow.action_id, EvidenceRow.number, EvidenceRow.kind,
                    EvidenceRow.status, EvidenceRow.submitted_at).order_by(col(EvidenceRow.id)))
    return tuple(EvidenceFacts(*row) for row in s.exec(query).all())


def _dissemination(s: Session) -> tuple[DisseminationFacts, ...]:
    query = (select(DisseminationRow.case_id, DisseminationRow.kind, DisseminationRow.audience,
                    DisseminationRow.held_on).order_by(col(DisseminationRow.held_on), col(DisseminationRow.id)))
    return tuple(DisseminationFacts(*row) for row in s.exec(query).all())


def load(s: Session) -> ReportData:
    """Every case, its stage history, the escalation ledger and the learning records: seven queries."""
    recommendations, actions = _learning(s)
    return ReportData(cases=_cases(s), history=_history(s), ladder=_ladder(s), recommendations=recommendations,
                      actions=actions, evidence=_evidence(s), dissemination=_dissemination(s))
