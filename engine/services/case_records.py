"""The steps every use case on one case's own records (returns, risks, grades) takes in its transaction: find the
case with its definition, make sure the person may see it, and, before a change, that the case is still as they
read it, still open, and that the change is not dated before its last one."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from reviewflow.engine.core.access import Identity
from reviewflow.engine.core.definition import WorkflowDefinition
from reviewflow.engine.core.errors import TransitionNotAllowed
from reviewflow.engine.core.records import CaseRecord
from reviewflow.engine.services.cases import check_revision, not_before
from reviewflow.engine.services.context import ServiceContext
from reviewflow.engine.services.visibility import require_visible
from reviewflow.store import repo


def find_case(ctx: ServiceContext, s: Any, ref: str) -> tuple[CaseRecord, WorkflowDefinition]:
    """Case `ref` (CaseNotFound if there is none) and the definition of its version."""
    record = repo.get_case_record(s, ref)
    return record, ctx.definition_in(s, record.workflow, record.version)


def seen_by(ctx: ServiceContext, s: Any, record: CaseRecord, d: WorkflowDefinition, actor: str | Identity,
            write: bool = True) -> Identity:
    """The person acting, if they may see the case (a person established by a front end is checked; a name from
    code in this process is trusted): else the case is not found."""
    who = ctx.who(s, actor, write=write)
    require_visible(s, who if isinstance(actor, Identity) else None, d, record)
    return who


def ready_to_change(ctx: ServiceContext, s: Any, record: CaseRecord, revision: int | None, now: datetime,
                    records: str) -> None:
    """The case is at the revision the person read (if they said), still open, and `now` is not before its last
    change; the transaction's write time is `now`. `records` names what would change ('risks')."""
    check_revision(record, revision)
    if not record.is_open:
        raise TransitionNotAllowed(f"case {record.ref} is closed: its {records} can no longer change",
                                   ref=record.ref, state=record.state)
    not_before(record.ref, repo.last_change(s, record.ref), now)
    ctx.write_time(s, now)
