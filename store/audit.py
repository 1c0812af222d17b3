"""Reading the audit chain back for verification: every case's history and ledger, and the head."""

from __future__ import annotations

from collections.abc import Callable

from sqlmodel import Session, col, select

from reviewflow.engine.core.records import AuditReport
from reviewflow.store.chain import ADMIN, HISTORY, LEDGER, check_case, check_sequence
from reviewflow.store.models import AdminEventRow, AuditHeadRow, CaseRow, EscalationRow, HistoryRow, row_id


def verify(s: Session, ref: str | None = None, progress: Callable[[int, int], None] | None = None,
           batch: int = 500) -> AuditReport:
    """Recompute every case's chains (or one case's) and the database-wide sequence."""
    report = AuditReport()
    head = s.get(AuditHeadRow, 1)
    report.head_seq, report.head_hash = (head.seq, head.hash) if head else (0, "")
    query = select(CaseRow.id, CaseRow.ref).order_by(col(CaseRow.id))
    if ref:
        query = query.where(CaseRow.ref == ref)
    cases = list(s.exec(query).all())
    for start in range(0, len(cases), batch):
        chunk = {row_id(case_id): case_ref for case_id, case_ref in cases[start:start + batch]}
        history: dict[int, list[HistoryRow]] = {i: [] for i in chunk}
        ledger: dict[int, list[EscalationRow]] = {i: [] for i in chunk}
        for h in s.exec(select(HistoryRow).where(col(HistoryRow.case_id).in_(chunk))
                        .order_by(col(HistoryRow.case_id), col(HistoryRow.seq))).all():
            history[h.case_id].append(h)
        for e in s.exec(select(EscalationRow).where(col(EscalationRow.case_id).in_(chunk))
                        .order_by(col(EscalationRow.case_id), col(EscalationRow.chain_seq).nulls_last(),
                                  col(EscalationRow.id))).all():
            ledger[e.case_id].append(e)
        for case_id, case_ref in chunk.items():
            report.rows += len(history[case_id]) + len(ledger[case_id])
            for kind, rows in ((HISTORY, history[case_id]), (LEDGER, ledger[case_id])):
                found = check_case(case_ref, kind, rows, case_id)
                if found:
                    report.findings.append(found)
        report.cases += len(chunk)
        if progress:
            progress(report.cases, len(cases))
    if not ref:
        _check_admin_chain(s, report)
    seals = [(p, h) for p, h in s.exec(select(AdminEventRow.chain_seq, AdminEventRow.hash)
                                       .where(col(AdminEventRow.chain_seq).is_not(None))).all()]
    seals += [(p, h) for p, h in s.exec(select(HistoryRow.chain_seq, HistoryRow.hash)
                                       .where(col(HistoryRow.chain_seq).is_not(None))).all()]
    seals += [(p, h) for p, h in s.exec(select(EscalationRow.chain_seq, EscalationRow.hash)
                                        .where(col(EscalationRow.chain_seq).is_not(None))).all()]
    report.chain_problem = check_sequence(seals, report.head_seq, report.head_hash)  # type: ignore[arg-type]
    return report



def _check_admin_chain(s: Session, report: AuditReport) -> None:
    """The administration log is one chain of its own."""
    admin = s.exec(select(AdminEventRow).order_by(col(AdminEventRow.seq))).all()
    report.rows += len(admin)
    found = check_case("administration", ADMIN, admin, 0)
    if found:
        report.findings.append(found)
