"""Measured impact: an action's baseline, target and measured values, and whether the target is met. Pure.

A measure is a baseline and a target, both or neither, in a unit (a percentage or a number), with a direction:
higher is better unless the measure says lower is better (re-referrals, repeat incidents). The latest measured
value decides: it meets the target when it is at or beyond it in the measure's direction.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime

from reviewflow.engine.core.errors import InvalidValue

PERCENT = "percent"
NUMBER = "number"
UNITS = (PERCENT, NUMBER)
MET = "met"
NOT_MET = "not met"
NOT_MEASURED = "not measured"
OUTCOMES = (MET, NOT_MET, NOT_MEASURED)
LARGEST = 1e12
"""No measure of a partnership's practice is larger than this: beyond it, a value is a typing slip."""


@dataclass(frozen=True)
class Measure:
    """An action's success measure in figures."""

    baseline: float
    target: float
    unit: str = NUMBER
    lower_is_better: bool = False


@dataclass(frozen=True)
class MeasureInput:
    """A measure as a person gives it (text from a form or an option); None leaves a part as it was."""

    baseline: str | float | None = None
    target: str | float | None = None
    unit: str | None = None
    lower_is_better: bool | None = None

    @property
    def empty(self) -> bool:
        return self.baseline is None and self.target is None and self.unit is None and self.lower_is_better is None


@dataclass(frozen=True)
class Measurement:
    """One measured value of an action's measure, on the day it was measured."""

    value: float
    measured_on: date
    note: str | None
    source: str
    """'measure' (`action measure`) or 'evaluation' (`action evaluate --value`)."""
    recorded_by: str
    recorded_at: datetime


@dataclass(frozen=True)
class MeasuredImpact:
    """A measure with its latest measured value and whether that meets the target."""

    baseline: float
    target: float
    unit: str
    lower_is_better: bool
    latest: float | None
    latest_on: date | None
    outcome: str
    """met, not met or not measured."""


def parse_number(value: str | float | None, what: str, field: str) -> float:
    """A number a person typed ('85', '85%', '12.5'), refused with one line when it is not one."""
    text = str(value if value is not None else "").strip().rstrip("%").strip()
    try:
        number = float(text)
    except ValueError:
        raise InvalidValue(f"{what} {value!r} is not a number: give digits, e.g. 85", field=field,
                           value=str(value)) from None
    if not math.isfinite(number) or abs(number) > LARGEST:
        raise InvalidValue(f"{what} {value!r} is not a usable number: give an ordinary figure, e.g. 85",
                           field=field, value=str(value))
    return number


def check_value(number: float, unit: str, what: str, field: str) -> float:
    """A value in the measure's unit: a percentage lies between 0 and 100."""
    if unit == PERCENT and not 0 <= number <= 100:
        raise InvalidValue(f"{what} {figure(number, unit)} is not a percentage: give a value from 0 to 100",
                           field=field, value=str(number))
    return number


def parse_unit(text: str) -> str:
    key = text.strip().lower().rstrip("s").replace("%", PERCENT)
    key = {"count": NUMBER, "per cent": PERCENT, "percentage": PERCENT}.get(key, key)
    if key not in UNITS:
        raise InvalidValue(f"unknown unit {text!r}: use percent or number", field="unit", value=text, allowed=UNITS)
    return key


def build_measure(given: MeasureInput, current: Measure | None = None) -> Measure | None:
    """The measure after `given` is applied to `current`; refused when it would be incomplete or contradictory."""
    if given.empty:
        return current
    baseline = given.baseline if given.baseline is not None else (current.baseline if current else None)
    target = given.target if given.target is not None else (current.target if current else None)
    if baseline is None or target is None:
        missing = "--baseline" if baseline is None else "--target"
        raise InvalidValue(f"a measure needs both a baseline and a target (the value before the action and the "
                           f"value it aims for): add {missing}", field=missing.lstrip("-"))
    unit = parse_unit(given.unit) if given.unit is not None else (current.unit if current else NUMBER)
    lower = given.lower_is_better if given.lower_is_better is not None else (
        current.lower_is_better if current else False)
    base = check_value(parse_number(baseline, "baseline", "baseline"), unit, "baseline", "baseline")
    aim = check_value(parse_number(target, "target", "target"), unit, "target", "target")
    check_direction(base, aim, unit, lower)
    return Measure(base, aim, unit, lower)


def check_direction(baseline: float, target: float, unit: str, lower_is_better: bool) -> None:
    """A target lies beyond the baseline in the direction that is better."""
    if baseline == target:
        raise InvalidValue(f"the target {figure(target, unit)} is the baseline: give the value the action aims for",
                           field="target", value=str(target))
    if (target < baseline) != lower_is_better:
        way = "lower" if target < baseline else "higher"
        flag = "add --lower-is-better" if target < baseline else "drop --lower-is-better"
        raise InvalidValue(f"the target {figure(target, unit)} is {way} than the baseline {figure(baseline, unit)} "
                           f"but {'lower' if lower_is_better else 'higher'} is better: {flag}, or check the figures",
                           field="target", value=str(target))


def check_measured_on(day: date, today: date) -> None:
    if day > today:
        raise InvalidValue(f"measured on {day} is in the future: give the date the value was measured",
                           field="on", value=day.isoformat())


def meets(measure: Measure | MeasuredImpact, value: float) -> bool:
    return value <= measure.target if measure.lower_is_better else value >= measure.target


def latest(measurements: Iterable[Measurement]) -> Measurement | None:
    """The value measured most recently (of two on one day, the one recorded last)."""
    return max(measurements, key=lambda m: (m.measured_on, m.recorded_at), default=None)


def outcome(measure: Measure | MeasuredImpact, value: float | None) -> str:
    if value is None:
        return NOT_MEASURED
    return MET if meets(measure, value) else NOT_MET


def measured_impact(measure: Measure | None, measurements: Iterable[Measurement]) -> MeasuredImpact | None:
    """The measure with its latest value and outcome (None for an action without a measure in figures)."""
    if measure is None:
        return None
    last = latest(measurements)
    value = last.value if last else None
    return MeasuredImpact(measure.baseline, measure.target, measure.unit, measure.lower_is_better, value,
                          last.measured_on if last else None, outcome(measure, value))


def figure(value: float | None, unit: str) -> str:
    """85 -> '85%' for a percentage, 12.5 -> '12.5' for a number."""
    if value is None:
        return "-"
    shown = f"{value:.6g}" if not float(value).is_integer() else str(int(value))
    return f"{shown}%" if unit == PERCENT else shown


def describe(impact: MeasuredImpact) -> str:
    """'40% → 80%, latest 85% on 2026-11-30: met' (lower is better says so)."""
    aim = f"{figure(impact.baseline, impact.unit)} → {figure(impact.target, impact.unit)}"
    if impact.lower_is_better:
        aim += " (lower is better)"
    if impact.latest is None:
        return f"{aim}: {NOT_MEASURED}"
    return f"{aim}, latest {figure(impact.latest, impact.unit)} on {impact.latest_on}: {impact.outcome}"
