"""The agencies taking part in each case, kept as rows so that who may see a case is one indexed query."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import or_, select, tuple_
from sqlmodel import Session

from reviewflow.engine.core.access import agency_key
from reviewflow.engine.core.agencies import normalise
from reviewflow.store import agencies as register_store
from reviewflow.store.models import ActionRow, CaseAgencyRow, CaseRow

_T: Any = CaseAgencyRow.__table__  # type: ignore[attr-defined]
_ACTIONS: Any = ActionRow.__table__  # type: ignore[attr-defined]
_CASES: Any = CaseRow.__table__  # type: ignore[attr-defined]


def agency_keys(s: Session, case_id: int) -> set[str]:
    return {k for (k,) in s.connection().execute(select(_T.c.agency_key).where(_T.c.case_id == case_id))}


def case_ids_with_agency(s: Session, agency: str) -> set[int]:
    """The ids of the cases `agency` takes part in, in one indexed query."""
    rows = s.connection().execute(select(_T.c.case_id).where(_T.c.agency_key == agency_key(agency)))
    return {case_id for (case_id,) in rows}


def agencies(s: Session, case_id: int) -> list[str]:
    """The names of the agencies taking part, as first written."""
    rows = s.connection().execute(select(_T.c.name).where(_T.c.case_id == case_id).order_by(_T.c.name))
    return [name for (name,) in rows]


def action_owners(s: Session, case_id: int) -> set[str]:
    rows = s.connection().execute(select(_ACTIONS.c.owner).where(_ACTIONS.c.case_id == case_id,
                                                                 _ACTIONS.c.owner.is_not(None)))
    return {owner for (owner,) in rows}


def add(s: Session, case_id: int, names: Iterable[str]) -> None:
    """Record agencies as taking part in the case, a registered one in the register's spelling (an agency already
    there stays as first written)."""
    printable = (normalise("".join(c if c.isprintable() else " " for c in n)) for n in names)  # NUL neither
    typed = {agency_key(n): n for n in printable if agency_key(n)}
    if not typed:
        return
    held = agency_keys(s, case_id)
    new = {k: n for k, n in typed.items() if k not in held}
    if not new:
        return
    known = {agency_key(n): n for n in register_store.register(s).names}  # a registered agency in its spelling
    rows = [{"case_id": case_id, "agency_key": k, "name": known.get(k, n)} for k, n in sorted(new.items())]
    s.connection().execute(_T.insert(), rows)


def visible_case_ids(agency: str | None, user: str, recorded: str) -> Any:
    """A subquery of the ids of the cases someone without a partnership role may see: their agency takes part,
    they opened it, or they own one of its actions."""
    parts = [select(_CASES.c.id).where(_CASES.c.opened_by.in_([user, recorded])),
             select(_ACTIONS.c.case_id).where(_ACTIONS.c.owner == user)]
    if agency and agency_key(agency):
        parts.append(select(_T.c.case_id).where(_T.c.agency_key == agency_key(agency)))
    return parts[0].union(*parts[1:]).subquery()


def cases_filter(versions: Iterable[tuple[str, int]], agency: str | None, user: str, recorded: str) -> Any:
    """A condition on the cases table: cases of the (workflow, version) pairs in `versions` (seen in full), or
    cases visible to the person."""
    ids = visible_case_ids(agency, user, recorded)
    pairs = sorted(set(versions))
    visible = _CASES.c.id.in_(select(ids.c.id))
    return or_(tuple_(_CASES.c.workflow, _CASES.c.version).in_(pairs), visible) if pairs else visible
