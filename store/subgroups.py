"""Sub-groups: the register, the sub-group of each case, and who is told of a case of one.

A case's sub-group is kept in `cases.subgroup` and sealed in its opening history row (the fields entry
`@subgroup`), from which `audit verify` checks it. A role held for one sub-group is a `user_roles` row whose
role reads ROLE@SUBGROUP (engine/core/subgroups.py), sealed like any role in the administration log.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import and_, delete, insert, or_, select, tuple_, update
from sqlmodel import Session

from reviewflow.engine.core.notices import Recipient, within_subgroup
from reviewflow.engine.core.records import AuditFinding, Subgroup
from reviewflow.engine.core.subgroups import scoped
from reviewflow.store import outbox
from reviewflow.store.models import CaseRow, SubgroupRow, UserRoleRow

META = "@subgroup"
"""The entry of a case's opening history row that records its sub-group."""

_T: Any = SubgroupRow.__table__  # type: ignore[attr-defined]
_CASES: Any = CaseRow.__table__  # type: ignore[attr-defined]
_ROLES: Any = UserRoleRow.__table__  # type: ignore[attr-defined]


def _record(row: Any) -> Subgroup:
    return Subgroup(row.name, row.title, row.created_at)


def all_subgroups(s: Session) -> list[Subgroup]:
    return [_record(r) for r in s.connection().execute(select(_T).order_by(_T.c.name))]


def find(s: Session, name: str) -> Subgroup | None:
    row = s.connection().execute(select(_T).where(_T.c.name == name)).first()
    return _record(row) if row is not None else None


def add(s: Session, name: str, title: str, now: datetime) -> Subgroup:
    s.connection().execute(insert(_T).values(name=name, title=title, created_at=now))
    return Subgroup(name, title, now)


def rename(s: Session, name: str, title: str) -> None:
    s.connection().execute(update(_T).where(_T.c.name == name).values(title=title))


def holders(s: Session, name: str) -> int:
    """How many roles are held for sub-group `name`."""
    return len(list(s.connection().execute(select(_ROLES.c.user_id).where(_ROLES.c.role.like(f"%@{name}")))))


def remove(s: Session, name: str) -> None:
    s.connection().execute(delete(_T).where(_T.c.name == name))


# --- cases ---------------------------------------------------------------------------------------------

def set_case(s: Session, case_id: int, subgroup: str | None) -> None:
    s.connection().execute(update(_CASES).where(_CASES.c.id == case_id).values(subgroup=subgroup))


def of_cases(s: Session, case_ids: Iterable[int]) -> dict[int, str | None]:
    """The sub-group of each case (by id)."""
    wanted = sorted(set(case_ids))
    if not wanted:
        return {}
    rows = s.connection().execute(select(_CASES.c.id, _CASES.c.subgroup).where(_CASES.c.id.in_(wanted)))
    return {case_id: subgroup for case_id, subgroup in rows}


def of_refs(s: Session, refs: Iterable[str]) -> dict[str, str | None]:
    """The sub-group of each case (by reference)."""
    wanted = sorted(set(refs))
    if not wanted:
        return {}
    rows = s.connection().execute(select(_CASES.c.ref, _CASES.c.subgroup).where(_CASES.c.ref.in_(wanted)))
    return {ref: subgroup for ref, subgroup in rows}


def of_case(s: Session, case_id: int) -> str | None:
    return of_cases(s, [case_id]).get(case_id)


def directory(s: Session, roles: Iterable[str], subgroup: str | None) -> dict[str, list[Recipient]]:
    """Who is told, for each of `roles`, of a case of `subgroup`: holders partnership-wide or for that sub-group."""
    wanted = set(roles)
    if subgroup:
        wanted |= {scoped(r, subgroup) for r in wanted}
    return within_subgroup(outbox.directory(s, wanted), subgroup)


def check_register(s: Session, admin: Iterable[Any]) -> list[AuditFinding]:
    """The register of sub-groups against the administration log (`subgroup.add`, `subgroup.rename`)."""
    told: dict[str, str] = {}
    for event in admin:
        details = event.details or {}
        if event.action == "subgroup.add" or (event.action == "subgroup.rename" and event.target in told):
            told[event.target] = str(details.get("title", ""))
    findings: list[AuditFinding] = []
    for group in all_subgroups(s):
        expected = told.pop(group.name, None)
        where = f"sub-group {group.name}"
        if expected is None:
            findings.append(AuditFinding(where, "subgroups", "registration",
                                         "is not in the administration log: inserted outside reviewflow"))
        elif group.title != expected:
            findings.append(AuditFinding(where, "subgroups", "title",
                                         f"is {group.title!r} but the administration log says {expected!r}: "
                                         "differs from its sealed history: changed outside reviewflow"))
    findings.extend(AuditFinding(f"sub-group {name}", "subgroups", "registration",
                                 "is in the administration log but missing: deleted outside reviewflow")
                    for name in sorted(told))
    return findings


def widen(seen: Any, scoped_versions: Mapping[str, Iterable[tuple[str, int]]]) -> Any:
    """A condition on the cases table (`seen`) widened by the cases of each sub-group whose (workflow, version)
    pairs someone sees in full through the roles they hold for that sub-group."""
    parts = [and_(_CASES.c.subgroup == name, tuple_(_CASES.c.workflow, _CASES.c.version).in_(sorted(set(pairs))))
             for name, pairs in sorted(scoped_versions.items()) if pairs]
    return or_(seen, *parts) if parts else seen
