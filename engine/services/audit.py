"""The audit chain: checking that no recorded history or escalation has been altered."""

from __future__ import annotations

from collections.abc import Callable

import structlog

from reviewflow.engine.core.records import AuditReport
from reviewflow.engine.services.context import ServiceContext
from reviewflow.store import audit, repo

log = structlog.get_logger("reviewflow")


class AuditService:
    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx

    def verify(self, ref: str | None = None, progress: Callable[[int, int], None] | None = None) -> AuditReport:
        """Recompute the seals of every history and ledger row (or one case's) and the chain head."""
        with self.ctx.read() as s:
            if ref:
                repo.get_case_record(s, ref)
            report = audit.verify(s, ref, progress)
        log.info("audit.verified", ref=ref or "all", cases=report.cases, rows=report.rows, ok=report.ok,
                 findings=len(report.findings))
        return report
