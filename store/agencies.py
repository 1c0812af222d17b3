"""The partnership's register of agencies, and renaming one everywhere it is stored."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlmodel import Session

from reviewflow.engine.core.agencies import Register, agency_key
from reviewflow.store import risks
from reviewflow.store.models import ActionRow, AgencyRow, CaseAgencyRow, RecommendationRow, UserRow

_T: Any = AgencyRow.__table__  # type: ignore[attr-defined]
_ACTIONS: Any = ActionRow.__table__  # type: ignore[attr-defined]
_USERS: Any = UserRow.__table__  # type: ignore[attr-defined]
_TAKING_PART: Any = CaseAgencyRow.__table__  # type: ignore[attr-defined]
_RECOMMENDATIONS: Any = RecommendationRow.__table__  # type: ignore[attr-defined]


def register(s: Session) -> Register:
    """The registered agencies, in the register's spelling."""
    return Register.of(name for (name,) in s.connection().execute(select(_T.c.name)))


def add(s: Session, names: list[str]) -> None:
    """Register agencies (each already checked to be new)."""
    if names:
        s.connection().execute(insert(_T), [{"name": n, "key": agency_key(n)} for n in names])


def rename(s: Session, old: str, new: str) -> dict[str, int]:
    """Rename the registered agency `old` to `new` in the register and every stored use of it (actions' owning
    agencies, users' agencies, the agencies taking part in cases, recommendations' agencies); history rows are
    kept as written. Returns how many rows of each changed."""
    conn = s.connection()
    old_key, new_key = agency_key(old), agency_key(new)
    conn.execute(update(_T).where(_T.c.name == old).values(name=new, key=new_key))
    counts = {
        "actions": conn.execute(update(_ACTIONS).where(_ACTIONS.c.owner_agency == old)
                                .values(owner_agency=new)).rowcount,
        "users": conn.execute(update(_USERS).where(_USERS.c.agency == old).values(agency=new)).rowcount,
    }
    already = select(_TAKING_PART.c.case_id).where(_TAKING_PART.c.agency_key == new_key).scalar_subquery()
    if new_key != old_key:  # a case that names both (as free text in a field) keeps one row
        conn.execute(delete(_TAKING_PART).where(_TAKING_PART.c.agency_key == old_key,
                                                _TAKING_PART.c.case_id.in_(already)))
    counts["cases"] = conn.execute(update(_TAKING_PART).where(_TAKING_PART.c.agency_key == old_key)
                                   .values(agency_key=new_key, name=new)).rowcount
    counts["recommendations"] = _rename_in_recommendations(conn, old_key, new)
    risks.rename_agency(s, old, new)  # risk owners' agencies follow too (store/risks.py)
    return counts


def _rename_in_recommendations(conn: Any, old_key: str, new: str) -> int:
    changed = 0
    for rec_id, listed in conn.execute(select(_RECOMMENDATIONS.c.id, _RECOMMENDATIONS.c.agencies)):
        if not any(agency_key(n) == old_key for n in listed or []):
            continue
        rewritten = list(dict.fromkeys(new if agency_key(n) == old_key else n for n in listed))
        conn.execute(update(_RECOMMENDATIONS).where(_RECOMMENDATIONS.c.id == rec_id).values(agencies=rewritten))
        changed += 1
    return changed
