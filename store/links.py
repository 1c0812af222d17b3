"""Links between cases (two rows, one from each case) and the paused cases whose expected end has come."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime

from sqlalchemy import delete
from sqlalchemy.orm import aliased
from sqlmodel import Session, col, select

from reviewflow.engine.core.links import inverse
from reviewflow.engine.core.records import CaseLink, PauseDue
from reviewflow.store.models import CaseLinkRow, CaseRow, EscalationRow, HistoryRow, row_id


def add(s: Session, case_id: int, other_id: int, kind: str, reason: str, by: str, at: datetime) -> None:
    """Link two cases: `kind` as seen from `case_id`, its inverse from `other_id`."""
    s.add(CaseLinkRow(case_id=case_id, other_id=other_id, kind=kind, reason=reason, linked_by=by, linked_at=at))
    s.add(CaseLinkRow(case_id=other_id, other_id=case_id, kind=inverse(kind), reason=reason, linked_by=by,
                      linked_at=at))
    s.flush()


def between(s: Session, case_id: int, other_id: int) -> str | None:
    """The kind of the link from `case_id` to `other_id`, if they are linked."""
    return s.exec(select(CaseLinkRow.kind).where(CaseLinkRow.case_id == case_id,
                                                 CaseLinkRow.other_id == other_id)).first()


def remove(s: Session, case_id: int, other_id: int) -> None:
    s.execute(delete(CaseLinkRow).where(
        ((col(CaseLinkRow.case_id) == case_id) & (col(CaseLinkRow.other_id) == other_id))
        | ((col(CaseLinkRow.case_id) == other_id) & (col(CaseLinkRow.other_id) == case_id))))


def of_case(s: Session, case_id: int, ref: str) -> list[CaseLink]:
    """The links from one case, oldest first."""
    other = aliased(CaseRow)
    rows = s.exec(select(CaseLinkRow, other).join(other, col(other.id) == col(CaseLinkRow.other_id))
                  .where(CaseLinkRow.case_id == case_id)
                  .order_by(col(CaseLinkRow.linked_at), col(CaseLinkRow.id))).all()
    return [CaseLink(ref, o.ref, o.workflow, o.state, link.kind, link.reason, link.linked_by, link.linked_at)
            for link, o in rows]


def pairs(s: Session, case_ids: Iterable[int]) -> dict[int, set[tuple[str, str]]]:
    """For each case, its links as (the other case's reference, kind): what audit verify compares."""
    ids = list(case_ids)
    found: dict[int, set[tuple[str, str]]] = {i: set() for i in ids}
    if ids:
        for case_id, other_ref, kind in s.exec(
                select(CaseLinkRow.case_id, CaseRow.ref, CaseLinkRow.kind)
                .join(CaseRow, col(CaseRow.id) == col(CaseLinkRow.other_id))
                .where(col(CaseLinkRow.case_id).in_(ids))).all():
            found.setdefault(case_id, set()).add((other_ref, kind))
    return found


def pause_ends_due(s: Session, today: date, limit: int, after: int | None = None) -> list[PauseDue]:
    """Up to `limit` paused cases whose expected end is `today` or earlier and whose reminder has not gone yet, by
    id (after `after`), each with the pause that stopped its clock."""
    reminded = (select(EscalationRow.id)
                .where(EscalationRow.case_id == CaseRow.id, col(EscalationRow.key).like("pause-%-end"),
                       col(EscalationRow.fired_at) >= CaseRow.paused_at)
                .exists())  # this pause's reminder has gone: the case is not claimed again, sweep after sweep
    query = select(CaseRow).where(col(CaseRow.paused_at).is_not(None), col(CaseRow.pause_until) <= today,
                                  CaseRow.is_open == True, ~reminded)  # noqa: E712
    if after is not None:
        query = query.where(col(CaseRow.id) > after)
    found = []
    for case in s.exec(query.order_by(col(CaseRow.id)).limit(limit)).all():
        pause = s.exec(select(HistoryRow.seq, HistoryRow.actor)
                       .where(HistoryRow.case_id == case.id, HistoryRow.trigger == "pause")
                       .order_by(col(HistoryRow.seq).desc()).limit(1)).first()
        assert case.pause_until is not None
        found.append(PauseDue(row_id(case.id), case.ref, case.workflow, case.version, case.state, case.entry_seq,
                              case.subgroup, pause[0] if pause else 0, case.pause_until, case.pause_reason,
                              case.pause_note, pause[1] if pause else None))
    return found


_EDITED = "differs from its sealed history: changed outside reviewflow"


def told(rows: Iterable[HistoryRow]) -> set[tuple[str, str]]:
    """The links a case's sealed history says it has: (the other case's reference, kind)."""
    found: dict[str, str] = {}
    for row in rows:
        fields = row.fields or {}
        if row.trigger == "link" and "other" in fields:
            found[str(fields["other"])] = str(fields.get("kind"))
        elif row.trigger == "unlink" and "other" in fields:
            found.pop(str(fields["other"]), None)
    return set(found.items())


def problems(rows: Iterable[HistoryRow], current: set[tuple[str, str]]) -> list[tuple[str, str]]:
    """The links of a case's table rows against those its sealed history records."""
    expected = told(rows)
    found: list[tuple[str, str]] = []
    now_by, told_by = dict(current), dict(expected)
    for other in sorted(set(now_by) | set(told_by)):
        if other not in told_by:
            found.append((f"link to {other}", "is not in its history: inserted outside reviewflow"))
        elif other not in now_by:
            found.append((f"link to {other}", "is in its history but missing: deleted outside reviewflow"))
        elif now_by[other] != told_by[other]:
            found.append((f"link to {other}", f"is {now_by[other]!r} but its history says {told_by[other]!r}: "
                                              f"{_EDITED}"))
    return found


def pause_problems(rows: Iterable[HistoryRow], case: CaseRow, events: set[str]) -> list[tuple[str, str]]:
    """The pause's reason and expected end on the case row against the pause its sealed history records last."""
    last: HistoryRow | None = None
    for row in rows:
        if row.trigger in ("pause", "resume"):
            last = row
        elif row.trigger != "migrate" and (row.from_state != row.to_state or row.trigger not in events):
            last = None  # a move ends a pause
    if last is None or last.trigger != "pause" or "expected_end" not in (last.fields or {}) or case.paused_at is None:
        return []  # not paused (a lifted pause is reported as such), or paused before reasons came from a list
    fields = last.fields or {}
    found: list[tuple[str, str]] = []
    if case.pause_reason != fields.get("reason"):
        found.append(("pause reason", f"is {case.pause_reason!r} but its history says {fields.get('reason')!r}: "
                                      f"{_EDITED}"))
    until = case.pause_until.isoformat() if case.pause_until else None
    if until != fields.get("expected_end"):
        found.append(("pause expected end", f"is {until} but its history says {fields.get('expected_end')}: "
                                            f"{_EDITED}"))
    return found
