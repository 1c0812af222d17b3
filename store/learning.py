"""Recommendations, actions, evidence and dissemination: rows in, plain records out."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import bindparam, func, update
from sqlmodel import Session, col, select

from reviewflow.engine.core.errors import NotFound
from reviewflow.engine.core.learning import WORKING, LearningSummary, summarise
from reviewflow.engine.core.measures import Measurement
from reviewflow.engine.core.records import Action, Dissemination, DueAction, Evidence, Recommendation
from reviewflow.engine.core.references import ref_key
from reviewflow.store.measures import impact_of, measurements_by_action
from reviewflow.store.models import ActionRow, CaseRow, DisseminationRow, EvidenceRow, RecommendationRow, row_id


def _next_number(s: Session, model: Any, case_id: int, prefix: str) -> str:
    count = s.exec(select(func.count()).select_from(model).where(model.case_id == case_id)).one()
    return f"{prefix}{count + 1}"


def add_recommendation(s: Session, case_id: int, text: str, themes: Sequence[str], agencies: Sequence[str],
                       actor: str, now: datetime) -> str:
    number = _next_number(s, RecommendationRow, case_id, "R")
    s.add(RecommendationRow(case_id=case_id, number=number, text=text, themes=list(themes),
                            agencies=list(agencies), created_by=actor, created_at=now))
    s.flush()
    return number


def _recommendation_row(s: Session, case_id: int, ref: str, number: str) -> RecommendationRow:
    row = s.exec(select(RecommendationRow).where(RecommendationRow.case_id == case_id,
                                                 RecommendationRow.number == number.upper())).first()
    if row is None:
        known = s.exec(select(RecommendationRow.number).where(RecommendationRow.case_id == case_id)).all()
        raise NotFound(f"case {ref} has no recommendation {number}; it has: {', '.join(known) or 'none'} "
                       f"(add one with 'reviewflow case recommend {ref}')", ref=ref, field="recommendation",
                       value=number, allowed=known)
    return row


def add_action(s: Session, case_id: int, ref: str, recommendation: str, values: dict[str, Any],
               actor: str, now: datetime) -> str:
    rec = _recommendation_row(s, case_id, ref, recommendation)
    number = _next_number(s, ActionRow, case_id, "A")
    s.add(ActionRow(case_id=case_id, recommendation_id=row_id(rec.id), number=number, created_by=actor, created_at=now,
                    updated_at=now, **values))
    s.flush()
    return number


def find_action(s: Session, case_id: int, ref: str, number: str) -> Action:
    """Action `number` of the case, with its evidence."""
    query = (select(ActionRow, RecommendationRow, CaseRow)
             .join(RecommendationRow, col(RecommendationRow.id) == col(ActionRow.recommendation_id))
             .join(CaseRow, col(CaseRow.id) == col(ActionRow.case_id))
             .where(ActionRow.case_id == case_id, ActionRow.number == number.upper()))
    found = s.exec(query).first()
    if found is None:
        known = s.exec(select(ActionRow.number).where(ActionRow.case_id == case_id)
                       .order_by(col(ActionRow.id))).all()
        raise NotFound(f"case {ref} has no action {number}; it has: {', '.join(known) or 'none'}", ref=ref,
                       field="action", value=number, allowed=known)
    action, rec, case = found
    action_id = row_id(action.id)
    return _action(action, case.ref, case.workflow, rec, _evidence_by_action(s, [action_id]).get(action_id, []),
                   measurements_by_action(s, [action_id]).get(action_id, []))


def update_action(s: Session, action_id: int, now: datetime, **values: Any) -> None:
    s.execute(update(ActionRow).where(col(ActionRow.id) == action_id).values(updated_at=now, **values))


def add_evidence(s: Session, case_id: int, action_id: int, values: dict[str, Any], actor: str,
                 now: datetime) -> str:
    number = _next_number(s, EvidenceRow, case_id, "E")
    s.add(EvidenceRow(case_id=case_id, action_id=action_id, number=number, submitted_by=actor, submitted_at=now,
                      **values))
    s.flush()
    return number


def find_evidence(s: Session, case_id: int, ref: str, number: str) -> tuple[Evidence, Action]:
    """Evidence `number` of the case, and the action it is for."""
    row = s.exec(select(EvidenceRow).where(EvidenceRow.case_id == case_id,
                                           EvidenceRow.number == number.upper())).first()
    if row is None:
        known = s.exec(select(EvidenceRow.number).where(EvidenceRow.case_id == case_id)
                       .order_by(col(EvidenceRow.id))).all()
        raise NotFound(f"case {ref} has no evidence {number}; it has: {', '.join(known) or 'none'}", ref=ref,
                       field="evidence", value=number, allowed=known)
    number_of_action = s.exec(select(ActionRow.number).where(ActionRow.id == row.action_id)).one()
    return _evidence(row, number_of_action), find_action(s, case_id, ref, number_of_action)


def decide_evidence(s: Session, evidence_id: int, status: str, actor: str, now: datetime,
                    reason: str | None) -> None:
    s.execute(update(EvidenceRow).where(col(EvidenceRow.id) == evidence_id)
              .values(status=status, decided_by=actor, decided_at=now, reason=reason))


def add_dissemination(s: Session, case_id: int, values: dict[str, Any], actor: str, now: datetime) -> None:
    s.add(DisseminationRow(case_id=case_id, recorded_by=actor, recorded_at=now, **values))


# --- reading ------------------------------------------------------------------------------------

def _evidence(row: EvidenceRow, action: str) -> Evidence:
    return Evidence(row.number, action, row.kind, row.description, row.reference, row.submitted_by,
                    row.submitted_at, row.status, row.decided_by, row.decided_at, row.reason, row.case_id,
                    row.action_id, row.id or 0)


def _action(row: ActionRow, ref: str, workflow: str, rec: RecommendationRow,
            evidence: Sequence[EvidenceRow], measured: Sequence[Measurement] = ()) -> Action:
    return Action(ref, workflow, row.number, rec.number, row.description, row.owner_agency, row.owner,
                  row.due_date, row.success_measure, row.status, row.status_reason, row.created_by,
                  row.created_at, row.updated_at, row.verified_by, row.verified_at, row.impact_method,
                  row.impact_measured_on, row.impact_summary, row.impact_by, row.embedded_at,
                  tuple(rec.themes), tuple(_evidence(e, row.number) for e in evidence), row.id or 0, row.case_id,
                  row.recommendation_id, row.first_due_date, row.redate_reason, impact_of(row, measured),
                  tuple(measured))


def _evidence_by_action(s: Session, action_ids: Sequence[int]) -> dict[int, list[EvidenceRow]]:
    found: dict[int, list[EvidenceRow]] = {}
    if action_ids:
        for e in s.exec(select(EvidenceRow).where(col(EvidenceRow.action_id).in_(action_ids))
                        .order_by(col(EvidenceRow.id))).all():
            found.setdefault(e.action_id, []).append(e)
    return found


def case_ids_with_theme(s: Session, theme: str) -> set[int]:
    """The ids of the cases with a recommendation of learning theme `theme` (already normalised), in one query
    (themes are a JSON list on each recommendation, so they are matched here rather than in SQL)."""
    rows = s.exec(select(RecommendationRow.case_id, RecommendationRow.themes)).all()
    return {case_id for case_id, themes in rows if theme in (themes or ())}


def recommendations(s: Session, case_id: int) -> list[Recommendation]:
    """The case's recommendations in order, each with its actions and their evidence."""
    case = s.exec(select(CaseRow).where(CaseRow.id == case_id)).one()
    recs = s.exec(select(RecommendationRow).where(RecommendationRow.case_id == case_id)
                  .order_by(col(RecommendationRow.id))).all()
    acts = s.exec(select(ActionRow).where(ActionRow.case_id == case_id).order_by(col(ActionRow.id))).all()
    evidence = _evidence_by_action(s, [a.id for a in acts if a.id is not None])
    measured = measurements_by_action(s, [a.id for a in acts if a.id is not None])
    by_id = {r.id: r for r in recs}
    actions: dict[int | None, list[Action]] = {}
    for a in acts:
        actions.setdefault(a.recommendation_id, []).append(
            _action(a, case.ref, case.workflow, by_id[a.recommendation_id], evidence.get(a.id or 0, []),
                    measured.get(a.id or 0, [])))
    return [Recommendation(r.number, r.text, tuple(r.themes), tuple(r.agencies), r.created_by, r.created_at,
                           tuple(actions.get(r.id, [])), r.id or 0, r.case_id) for r in recs]


def dissemination(s: Session, case_id: int) -> list[Dissemination]:
    rows = s.exec(select(DisseminationRow).where(DisseminationRow.case_id == case_id)
                  .order_by(col(DisseminationRow.held_on), col(DisseminationRow.id))).all()
    return [Dissemination(r.kind, r.audience, r.held_on, r.reference, r.recorded_by, r.recorded_at, r.case_id,
                          r.reach, r.theme) for r in rows]


def summary(s: Session, case_id: int, today: date) -> LearningSummary:
    """What the guards need: counts and the numbers behind each gap."""
    recs = recommendations(s, case_id)
    acts = [a for r in recs for a in r.actions]
    evidence: dict[str, int] = {}
    for a in acts:
        for e in a.evidence:
            evidence[e.status] = evidence.get(e.status, 0) + 1
    count = s.exec(select(func.count()).select_from(DisseminationRow)
                   .where(DisseminationRow.case_id == case_id)).one()
    return summarise([r.number for r in recs], [a.facts() for a in acts], evidence, count,
                     [t for r in recs for t in r.themes], today)


def actions(s: Session, agency: str | None = None, overdue_on: date | None = None, theme: str | None = None,
            ref: str | None = None, status: str | None = None) -> list[Action]:
    """Actions across cases (or one case), oldest due first, filtered as asked."""
    query = (select(ActionRow, RecommendationRow, CaseRow)
             .join(RecommendationRow, col(RecommendationRow.id) == col(ActionRow.recommendation_id))
             .join(CaseRow, col(CaseRow.id) == col(ActionRow.case_id)))
    if agency:
        query = query.where(func.lower(ActionRow.owner_agency) == agency.lower())
    if overdue_on is not None:
        query = query.where(col(ActionRow.status).in_(WORKING), col(ActionRow.due_date) < overdue_on)
    if ref:
        query = query.where(CaseRow.ref_key == ref_key(ref))
    if status:
        query = query.where(ActionRow.status == status)
    rows = s.exec(query.order_by(col(ActionRow.due_date), col(CaseRow.ref), col(ActionRow.id))).all()
    if theme:
        rows = [r for r in rows if theme in r[1].themes]
    evidence = _evidence_by_action(s, [a.id for a, _, _ in rows if a.id is not None])
    measured = measurements_by_action(s, [a.id for a, _, _ in rows if a.id is not None])
    return [_action(a, c.ref, c.workflow, rec, evidence.get(a.id or 0, []), measured.get(a.id or 0, []))
            for a, rec, c in rows]


# --- escalation of overdue actions ----------------------------------------------------------------

def claim_due_actions(s: Session, now: datetime, limit: int, after: tuple[datetime, int] | None = None,
                      lock: bool = True) -> list[DueAction]:
    """Up to `limit` working actions whose next ladder level is due by `now` (see ledger.claim_due)."""
    query = (select(ActionRow, CaseRow).join(CaseRow, col(CaseRow.id) == col(ActionRow.case_id))
             .where(col(ActionRow.next_check_at) <= now))
    if after is not None:
        query = query.where((col(ActionRow.next_check_at) > after[0])
                            | ((col(ActionRow.next_check_at) == after[0]) & (col(ActionRow.id) > after[1])))
    query = query.order_by(col(ActionRow.next_check_at), col(ActionRow.id)).limit(limit)
    if lock:
        query = query.with_for_update(skip_locked=True, of=ActionRow)
    found = []
    for a, c in s.exec(query).all():
        assert a.id is not None
        assert c.id is not None
        assert a.next_check_at is not None
        found.append(DueAction(a.id, c.id, c.ref, c.workflow, c.version, a.number, a.owner, a.owner_agency,
                               a.due_date, a.status, a.next_check_at, a.first_due_date))
    return found


def set_action_next_checks(s: Session, when_by_action: dict[int, datetime | None]) -> None:
    """set_action_next_check for many actions in one statement (executemany)."""
    if when_by_action:
        s.connection().execute(update(ActionRow).where(col(ActionRow.id) == bindparam("action_id"))
                               .values(next_check_at=bindparam("when")),
                               [{"action_id": a, "when": w} for a, w in when_by_action.items()])


def set_action_next_check(s: Session, action_id: int, when: datetime | None) -> None:
    s.execute(update(ActionRow).where(col(ActionRow.id) == action_id).values(next_check_at=when))
