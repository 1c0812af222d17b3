"""`audit verify` for measured values: each case's measured values rebuilt from its sealed history (`action_measure`
events, and `action_evaluate` events with a value) and compared with the rows (a value inserted, deleted or changed
outside reviewflow is reported)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from sqlmodel import Session, col, select

from reviewflow.engine.core.records import AuditFinding
from reviewflow.store.models import ActionRow, MeasurementRow

Value = tuple[str, float, str]
"""(action number, value, measured on as YYYY-MM-DD)."""


def replay(rows: Sequence[Any]) -> Counter[Value]:
    """The measured values the history records."""
    told: Counter[Value] = Counter()
    for row in rows:
        fields: Mapping[str, Any] = row.fields or {}
        if row.trigger in ("action_measure", "action_evaluate") and "value" in fields:
            told[(str(fields.get("action")), float(fields["value"]), str(fields.get("measured_on")))] += 1
    return told


def _held(s: Session, case_ids: Sequence[int]) -> dict[int, Counter[Value]]:
    held: dict[int, Counter[Value]] = {}
    query = (select(col(MeasurementRow.case_id), col(ActionRow.number), col(MeasurementRow.value),
                    col(MeasurementRow.measured_on))
             .join(ActionRow, col(ActionRow.id) == col(MeasurementRow.action_id))
             .where(col(MeasurementRow.case_id).in_(case_ids)))
    for case_id, number, value, on in s.exec(query).all():
        held.setdefault(case_id, Counter())[(number, float(value), on.isoformat())] += 1
    return held


def check(s: Session, refs: Mapping[int, str], history: Mapping[int, Sequence[Any]]) -> list[AuditFinding]:
    """Every case's measured values against its history (`refs`: the cases' references by id)."""
    held = _held(s, list(refs))
    findings: list[AuditFinding] = []
    for case_id, ref in refs.items():
        told = replay(history.get(case_id, ()))
        rows = held.get(case_id, Counter())
        for (number, value, on) in sorted((rows - told).elements()):
            findings.append(AuditFinding(ref, "measured values", f"value {value:g} of action {number} on {on}",
                                         "is not in its history: inserted or changed outside reviewflow"))
        for (number, value, on) in sorted((told - rows).elements()):
            findings.append(AuditFinding(ref, "measured values", f"value {value:g} of action {number} on {on}",
                                         "is in its history but missing: deleted or changed outside reviewflow"))
    return findings
