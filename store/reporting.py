"""Read-only queries for the Board and annual reports: each table read once, records out."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlmodel import Session

from reviewflow.engine.core.records import (
    Action,
    CaseRecord,
    Dissemination,
    Evidence,
    HistoryEntry,
    LedgerEntry,
    Recommendation,
)
from reviewflow.engine.core.reports.data import ReportData
from reviewflow.store import grades as grades_store
from reviewflow.store import returns as returns_store
from reviewflow.store import risks as risks_store
from reviewflow.store.measures import impact_of, measurements_by_action
from reviewflow.store.models import (
    ActionRow,
    CaseRow,
    DisseminationRow,
    EscalationRow,
    EvidenceRow,
    HistoryRow,
    RecommendationRow,
)
from reviewflow.store.repo import record_of

# SQLModel sets `__table__` on table models but does not declare it.
_T: Any = {m.__name__: m.__table__ for m in (ActionRow, CaseRow, DisseminationRow, EscalationRow,  # type: ignore[union-attr]
                                             EvidenceRow, HistoryRow, RecommendationRow)}


def _cases(s: Session) -> tuple[CaseRecord, ...]:
    t = _T["CaseRow"]
    return tuple(record_of(row) for row in s.connection().execute(select(t).order_by(t.c.opened_at, t.c.ref)))


def _history(s: Session) -> tuple[HistoryEntry, ...]:
    """History without its fields and notes: the reports need when each stage began and ended."""
    t = _T["HistoryRow"]
    query = select(t.c.seq, t.c.at, t.c.actor, t.c.trigger, t.c.from_state, t.c.to_state, t.c.case_id,
                   t.c.recorded_at).order_by(t.c.case_id, t.c.seq)
    return tuple(HistoryEntry(seq, at, actor, trigger, source, dest, {}, None, case_id, recorded)
                 for seq, at, actor, trigger, source, dest, case_id, recorded in s.connection().execute(query))


def _ladder(s: Session) -> tuple[LedgerEntry, ...]:
    t = _T["EscalationRow"]
    query = select(t.c.case_id, t.c.entry_seq, t.c.key, t.c.level, t.c.label, t.c.state, t.c.due_at,
                   t.c.scheduled_at, t.c.fired_at, t.c.roles, t.c.recipients, t.c.reason).order_by(t.c.fired_at, t.c.id)
    return tuple(LedgerEntry(*row[:9], tuple(row.roles), tuple(row.recipients), row.reason)
                 for row in s.connection().execute(query))


def _learning(s: Session, refs: dict[int, CaseRecord]) -> tuple[tuple[Recommendation, ...], tuple[Action, ...]]:
    r, a = _T["RecommendationRow"], _T["ActionRow"]
    recs = {row.id: Recommendation(row.number, row.text, tuple(row.themes), tuple(row.agencies), row.created_by,
                                   row.created_at, (), row.id, row.case_id)
            for row in s.connection().execute(select(r).order_by(r.c.id))}
    actions = []
    measured = measurements_by_action(s)
    for row in s.connection().execute(select(a).order_by(a.c.id)):
        case, rec = refs[row.case_id], recs[row.recommendation_id]
        actions.append(Action(case.ref, case.workflow, row.number, rec.number, row.description, row.owner_agency,
                              row.owner, row.due_date, row.success_measure, row.status, row.status_reason,
                              row.created_by, row.created_at, row.updated_at, row.verified_by, row.verified_at,
                              row.impact_method, row.impact_measured_on, row.impact_summary, row.impact_by,
                              row.embedded_at, rec.themes, (), row.id, row.case_id, row.recommendation_id,
                              row.first_due_date, row.redate_reason, impact_of(row, measured.get(row.id, [])),
                              tuple(measured.get(row.id, []))))
    return tuple(recs.values()), tuple(actions)


def _evidence(s: Session) -> tuple[Evidence, ...]:
    e = _T["EvidenceRow"]
    return tuple(Evidence(row.number, "", row.kind, row.description, row.reference, row.submitted_by,
                          row.submitted_at, row.status, row.decided_by, row.decided_at, row.reason, row.case_id,
                          row.action_id, row.id)
                 for row in s.connection().execute(select(e).order_by(e.c.id)))


def _dissemination(s: Session) -> tuple[Dissemination, ...]:
    d = _T["DisseminationRow"]
    return tuple(Dissemination(row.kind, row.audience, row.held_on, row.reference, row.recorded_by,
                               row.recorded_at, row.case_id, row.reach, row.theme)
                 for row in s.connection().execute(select(d).order_by(d.c.held_on, d.c.id)))


def load(s: Session) -> ReportData:
    """Every case, its stage history, the escalation ledger and the learning records: seven queries."""
    cases = _cases(s)
    recommendations, actions = _learning(s, {c.case_id: c for c in cases})
    return ReportData(cases=cases, history=_history(s), ladder=_ladder(s), recommendations=recommendations,
                      actions=actions, evidence=_evidence(s), dissemination=_dissemination(s),
                      outstanding_returns=tuple(returns_store.outstanding(s)),
                      grades=tuple(grades_store.everything(s)),
                      risks=tuple(risks_store.for_cases(s, None, only_open=True)))
