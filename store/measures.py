"""Measured values of actions' success measures, and the measure columns of an action: rows in, records out."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from sqlmodel import Session, col, select

from reviewflow.engine.core.measures import Measure, MeasuredImpact, Measurement, measured_impact
from reviewflow.store.models import ActionRow, MeasurementRow


def measure_of(row: Any) -> Measure | None:
    """An action row's measure in figures (None when it has none)."""
    if row.measure_baseline is None or row.measure_target is None:
        return None
    return Measure(row.measure_baseline, row.measure_target, row.measure_unit or "number",
                   bool(row.measure_lower_is_better))


def measure_columns(measure: Measure | None) -> dict[str, Any]:
    """The action's columns holding `measure` (all None to clear it)."""
    if measure is None:
        return {"measure_baseline": None, "measure_target": None, "measure_unit": None,
                "measure_lower_is_better": None}
    return {"measure_baseline": measure.baseline, "measure_target": measure.target, "measure_unit": measure.unit,
            "measure_lower_is_better": measure.lower_is_better}


def impact_of(row: ActionRow | Any, measurements: Sequence[Measurement]) -> MeasuredImpact | None:
    return measured_impact(measure_of(row), measurements)


def add_measurement(s: Session, case_id: int, action_id: int, value: float, measured_on: date, note: str | None,
                    source: str, actor: str, now: datetime) -> None:
    s.add(MeasurementRow(case_id=case_id, action_id=action_id, value=value, measured_on=measured_on, note=note,
                         source=source, recorded_by=actor, recorded_at=now))
    s.flush()


def _record(row: MeasurementRow) -> Measurement:
    return Measurement(row.value, row.measured_on, row.note, row.source, row.recorded_by, row.recorded_at)


def measurements_by_action(s: Session, action_ids: Sequence[int] | None = None) -> dict[int, list[Measurement]]:
    """Each action's measured values, oldest first (of the actions given, or of every action)."""
    query = select(MeasurementRow).order_by(col(MeasurementRow.measured_on), col(MeasurementRow.id))
    if action_ids is not None:
        if not action_ids:
            return {}
        query = query.where(col(MeasurementRow.action_id).in_(action_ids))
    found: dict[int, list[Measurement]] = {}
    for row in s.exec(query).all():
        found.setdefault(row.action_id, []).append(_record(row))
    return found


def count(s: Session, case_id: int) -> int:
    return len(s.exec(select(MeasurementRow.id).where(MeasurementRow.case_id == case_id)).all())
