"""`audit verify` for grades: each case's current grades rebuilt from its sealed history and compared with the rows
(a grade inserted, deleted or changed outside reviewflow is reported)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlmodel import Session

from reviewflow.engine.core.grading import GRADE_EVENT, subject_key
from reviewflow.engine.core.records import AuditFinding
from reviewflow.store import grades as store

_EDITED = "differs from its sealed history: changed outside reviewflow"


def replay(rows: Sequence[Any]) -> dict[str, tuple[str, str]]:
    """What the history says each subject's grade is: by subject key, (subject shown, grade)."""
    told: dict[str, tuple[str, str]] = {}
    for row in rows:
        fields: Mapping[str, Any] = row.fields or {}
        if row.trigger == GRADE_EVENT and fields.get("grade"):
            parts = [fields.get(k) for k in ("agency", "standard", "school")]
            told[subject_key(*parts)] = (", ".join(str(p) for p in parts if p), str(fields["grade"]))
    return told


def check(s: Session, refs: Mapping[int, str], history: Mapping[int, Sequence[Any]]) -> list[AuditFinding]:
    """Every case's current grades against its history (`refs`: the cases' references by id)."""
    rows = store.current_rows(s, refs)
    findings: list[AuditFinding] = []
    for case_id, ref in refs.items():
        told = replay(history.get(case_id, ()))
        held = rows.get(case_id, {})
        for key in sorted(set(held) - set(told)):
            findings.append(AuditFinding(ref, "grades", f"grade of {key.strip('|')}",
                                         "is not in its history: inserted outside reviewflow"))
        for key in sorted(set(told) - set(held)):
            findings.append(AuditFinding(ref, "grades", f"grade of {told[key][0]}",
                                         "is in its history but missing: deleted outside reviewflow"))
        for key in sorted(set(told) & set(held)):
            if held[key] != told[key][1]:
                findings.append(AuditFinding(ref, "grades", f"grade of {told[key][0]}",
                                             f"is {held[key]} but its history says {told[key][1]}: {_EDITED}"))
    return findings
