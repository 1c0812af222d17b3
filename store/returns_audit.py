"""`audit verify` for agencies' returns: each case's returns rebuilt from its sealed history and compared with
the rows (a return inserted, deleted or changed outside reviewflow is reported)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

from sqlmodel import Session

from reviewflow.engine.core.agencies import agency_key
from reviewflow.engine.core.records import AuditFinding
from reviewflow.engine.core.returns import EXCUSE, EXCUSED, REQUEST, REQUESTED, RETURN, RETURNED
from reviewflow.store import returns as store

_EDITED = "differs from its sealed history: changed outside reviewflow"


def _day(text: Any) -> date | None:
    try:
        return date.fromisoformat(str(text)) if text else None
    except ValueError:
        return None


def replay(rows: Sequence[Any]) -> dict[str, tuple[str, str, date | None, date | None]]:
    """What the history says each return is: by agency key, (name, status, due date, returned on)."""
    told: dict[str, tuple[str, str, date | None, date | None]] = {}
    for row in rows:
        fields: Mapping[str, Any] = row.fields or {}
        if row.trigger == REQUEST:
            for name in fields.get("agencies") or ():
                told[agency_key(name)] = (str(name), REQUESTED, _day(fields.get("due")), None)
        elif row.trigger in (RETURN, EXCUSE) and fields.get("agency"):
            key = agency_key(fields["agency"])
            name, _, due, _ = told.get(key, (str(fields["agency"]), REQUESTED, None, None))
            told[key] = ((name, RETURNED, due, _day(fields.get("returned_on"))) if row.trigger == RETURN
                         else (name, EXCUSED, due, None))
    return told


def check(s: Session, refs: Mapping[int, str], history: Mapping[int, Sequence[Any]]) -> list[AuditFinding]:
    """Every case's returns against its history (`refs`: the cases' references by id)."""
    rows = store.all_rows(s, refs)
    findings: list[AuditFinding] = []
    for case_id, ref in refs.items():
        told = replay(history.get(case_id, ()))
        held = {key: (status, due, returned_on) for key, status, due, returned_on in rows.get(case_id, [])}
        for key in sorted(set(held) - set(told)):
            findings.append(AuditFinding(ref, "returns", f"return of {key}",
                                         "is not in its history: inserted outside reviewflow"))
        for key in sorted(set(told) - set(held)):
            findings.append(AuditFinding(ref, "returns", f"return of {told[key][0]}",
                                         "is in its history but missing: deleted outside reviewflow"))
        for key in sorted(set(told) & set(held)):
            name, status, due, returned_on = told[key]
            now = held[key]
            if (now[0], now[1], now[2]) != (status, due, returned_on):
                shown = f"{now[0]}, due {now[1]}" + (f", returned {now[2]}" if now[2] else "")
                said = f"{status}, due {due}" + (f", returned {returned_on}" if returned_on else "")
                findings.append(AuditFinding(ref, "returns", f"return of {name}",
                                             f"is {shown} but its history says {said}: {_EDITED}"))
    return findings
