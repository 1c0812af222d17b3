"""`audit verify` for risk registers: each case's risks rebuilt from its sealed history and compared with the rows
(a risk or a scoring inserted, deleted or changed outside reviewflow is reported)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlmodel import Session

from reviewflow.engine.core.records import AuditFinding
from reviewflow.engine.core.risks import ADD, CLOSE, CLOSED, OPEN, REVIEW
from reviewflow.store import risks as store

_EDITED = "differs from its sealed history: changed outside reviewflow"
Told = tuple[str, str, tuple[Any, ...]]
"""(owner, status, ((likelihood, impact), ...)) of a risk."""


def _score(fields: Mapping[str, Any]) -> tuple[Any, Any]:
    return fields.get("likelihood"), fields.get("impact")


def replay(rows: Sequence[Any]) -> dict[str, Told]:
    """What the history says each risk is, by number."""
    told: dict[str, Told] = {}
    for row in rows:
        fields: Mapping[str, Any] = row.fields or {}
        number = str(fields.get("risk") or "")
        if not number or row.trigger not in (ADD, REVIEW, CLOSE):
            continue
        if row.trigger == ADD:
            told[number] = (str(fields.get("owner")), OPEN, (_score(fields),))
        elif number in told:
            owner, status, scores = told[number]
            told[number] = ((owner, status, (*scores, _score(fields))) if row.trigger == REVIEW
                            else (owner, CLOSED, scores))
    return told


def _shown(risk: Told) -> str:
    scores = ", ".join(f"{likelihood}x{impact}" for likelihood, impact in risk[2]) or "no scores"
    return f"{risk[1]}, owned by {risk[0]}, scored {scores}"


def check(s: Session, refs: Mapping[int, str], history: Mapping[int, Sequence[Any]]) -> list[AuditFinding]:
    """Every case's risks against its history (`refs`: the cases' references by id)."""
    rows = store.audit_rows(s, refs)
    findings: list[AuditFinding] = []
    for case_id, ref in refs.items():
        told = replay(history.get(case_id, ()))
        held = rows.get(case_id, {})
        for number in sorted(set(held) - set(told)):
            findings.append(AuditFinding(ref, "risks", f"risk {number}",
                                         "is not in its history: inserted outside reviewflow"))
        for number in sorted(set(told) - set(held)):
            findings.append(AuditFinding(ref, "risks", f"risk {number}",
                                         "is in its history but missing: deleted outside reviewflow"))
        for number in sorted(set(told) & set(held)):
            if held[number] != told[number]:
                findings.append(AuditFinding(ref, "risks", f"risk {number}",
                                             f"is {_shown(held[number])} but its history says "
                                             f"{_shown(told[number])}: {_EDITED}"))
    return findings
