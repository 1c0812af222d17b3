"""The audit chain: checking that nothing recorded has been altered, resealing an old chain with the key, and
signed checkpoints of the chain's head."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import structlog

from reviewflow.engine.core.access import Identity
from reviewflow.engine.core.errors import ReviewflowError
from reviewflow.engine.core.records import AuditReport
from reviewflow.engine.services.context import ServiceContext
from reviewflow.store import admin_log, audit, repo

log = structlog.get_logger("reviewflow")


class AuditService:
    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx

    def verify(self, ref: str | None = None, progress: Callable[[int, int], None] | None = None,
               checkpoint: Mapping[str, Any] | None = None) -> AuditReport:
        """Recompute the seals of every history, ledger and administration row (or one case's) and the chain head,
        and check the cases, learning records, users and outbox against them (and against a checkpoint)."""
        with self.ctx.read() as s:
            if ref:
                repo.get_case_record(s, ref)
            report = audit.verify(s, ref, progress, terminal=self._terminal(s), checkpoint=checkpoint)
        log.info("audit.verified", ref=ref or "all", cases=report.cases, rows=report.rows, ok=report.ok,
                 findings=len(report.findings), scheme=report.scheme)
        return report

    def _terminal(self, s: Any) -> Callable[[str, int, str], bool | None]:
        def terminal(workflow: str, version: int, state: str) -> bool | None:
            try:
                found = self.ctx.definition_in(s, workflow, version).states.get(state)
            except ReviewflowError:
                return None
            return None if found is None else bool(found.terminal)

        return terminal

    def rekey(self, by: Identity) -> int:
        """Verify the old unkeyed chain, then reseal every row with the audit key, in one transaction, and record
        it in the administration log: the number of rows resealed."""
        with self.ctx.transaction() as s:
            report = audit.verify(s, terminal=self._terminal(s))
            audit.refuse_unkeyed_rekey(report)
            resealed = audit.rekey(s)
            admin_log.record(s, self.ctx.clock(), by.recorded, "audit.rekey", "audit chain",
                             {"rows": resealed, "users": audit.user_snapshot(s)})
        log.info("admin.audit.rekey", actor=by.recorded, rows=resealed)
        return resealed

    def checkpoint(self) -> dict[str, Any]:
        """The chain's head now, with counts and the time, signed with the audit key."""
        with self.ctx.read() as s:
            found = audit.checkpoint(s, self.ctx.clock())
        log.info("audit.checkpoint", head_seq=found["head_seq"])
        return found
