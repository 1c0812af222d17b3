"""Measured impact (engine/core/measures.py): measured values of actions' success measures, and the checks the
learning service makes when an action's measure or due date is given. One transaction per use case."""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Any

import structlog

from reviewflow.engine.core import learning as rules
from reviewflow.engine.core import limits
from reviewflow.engine.core.access import Identity
from reviewflow.engine.core.clock import parse_date
from reviewflow.engine.core.durations import local_date
from reviewflow.engine.core.errors import InvalidValue, TransitionNotAllowed
from reviewflow.engine.core.measures import (
    LARGEST,
    Measure,
    MeasureInput,
    build_measure,
    check_measured_on,
    check_value,
    parse_number,
)
from reviewflow.engine.core.records import Action
from reviewflow.engine.services.themes import for_new as themes_for_new
from reviewflow.store import learning as learning_store
from reviewflow.store import measures as store

if TYPE_CHECKING:
    from reviewflow.engine.services.learning import LearningService

log = structlog.get_logger("reviewflow")
PAST_DUE_FLAG = "--past-due-ok"
MEASURE_COLUMNS = ("measure_baseline", "measure_target", "measure_unit", "measure_lower_is_better")
"""The action's columns that hold its measure: a change to them is in the history row of the update."""


def current_measure(action: Action) -> Measure | None:
    m = action.measure
    return Measure(m.baseline, m.target, m.unit, m.lower_is_better) if m is not None else None


def check_due(due: date, today: date, past_due_ok: bool, number: str | None = None) -> None:
    """A due date already past is refused unless the person confirms it (a plan written up after the event)."""
    if due < today and not past_due_ok:
        what = f"action {number}'s due date" if number else "the due date"
        raise InvalidValue(f"{what} {due} is already past (today is {today}): give a later date, or confirm it "
                           f"with {PAST_DUE_FLAG}", field="due", value=due.isoformat())


def check_reach(reach: int | str | None, option: str) -> int | None:
    """How many practitioners a dissemination reached: a whole number, 0 or more (None when not known)."""
    if reach is None or (isinstance(reach, str) and not reach.strip()):
        return None
    try:
        number = int(str(reach).strip())
    except ValueError:
        raise InvalidValue(f"{option} {reach!r} is not a whole number: give how many practitioners, e.g. 25",
                           field=option.lstrip("-"), value=str(reach)) from None
    if number < 0 or number > LARGEST:
        raise InvalidValue(f"{option} {reach} is not a number of practitioners: give 0 or more",
                           field=option.lstrip("-"), value=str(reach))
    return number


def measure_changes(figures: MeasureInput | None, current: Measure | None) -> dict[str, Any]:
    """The action's measure columns after `figures`, or {} when none are given."""
    if figures is None or figures.empty:
        return {}
    return store.measure_columns(build_measure(figures, current))


def measured_value(action: Action, value: str | float) -> float:
    """A measured value in the action's unit; refused for an action without a baseline and target."""
    if action.measure is None:
        raise InvalidValue(f"action {action.number} has no baseline and target to measure against: set them with "
                           f"'reviewflow action update {action.ref} {action.number} --baseline N --target N'",
                           field="value", action=action.number)
    return check_value(parse_number(value, "value", "value"), action.measure.unit, "value", "value")


class MeasureService:
    """Record measured values of an action's success measure, and the dissemination of a case's learning (with
    its reach, and training attendance on a learning theme)."""

    def __init__(self, learning: LearningService) -> None:
        self.learning = learning

    def record(self, ref: str, number: str, actor: str | Identity, value: str | float, measured_on: str,
               note: str | None = None, revision: int | None = None) -> Action:
        """Record a value of action `number`'s measure, measured on `measured_on` (never a day in the future)."""
        when = parse_date(measured_on, "--on")
        remark = limits.check((note or "").strip(), "note", limits.NOTE) or None
        with self.learning._learning_work(ref, actor, revision) as w:
            action = self.learning._find(w, number)
            rules.check_contribute(w.definition.learning, w.actor, w.held, action.facts(),
                                   f"recording a measured value of action {action.number}")
            if action.status in rules.CLOSED_WITH_REASON:
                raise TransitionNotAllowed(f"action {action.number} is {action.status}: it is no longer measured",
                                           ref=ref, state=action.status, action=action.number)
            figure = measured_value(action, value)
            check_measured_on(when, local_date(w.now))
            store.add_measurement(w.s, w.case_id, action.id, figure, when, remark, "measure", w.recorded, w.now)
            self.learning._history(w, "action_measure", {"action": action.number, "value": figure,
                                                         "measured_on": when.isoformat()}, remark)
            action = self.learning._find(w, number)
        log.info("learning.action_measured", ref=ref, action=action.number, actor=w.recorded)
        return action

    # --- dissemination ---------------------------------------------------------------------------

    def disseminate(self, ref: str, actor: str | Identity, kind: str, audience: str, held_on: str,
                    reference: str | None = None, revision: int | None = None, *,
                    reach: int | str | None = None, theme: str | None = None) -> None:
        """Record that the review's learning was shared: how, with whom, when, and (`reach`) how many practitioners
        it reached; training (`theme`) is recorded against a learning theme, `reach` the number who attended."""
        from reviewflow.engine.services.learning import _choice as choice
        from reviewflow.engine.services.learning import _text as text

        values: dict[str, Any] = {
            "reach": check_reach(reach, "--attended" if theme is not None else "--reach"),
            "kind": choice(rules.dissemination_kind(kind), rules.DISSEMINATION_KINDS, "dissemination kind", "kind"),
            "audience": text(audience, "audience (--audience)", limit=limits.AUDIENCE, field="audience"),
            "held_on": parse_date(held_on, "--date"),
            "reference": text(reference, "reference", required=False, limit=limits.EVIDENCE_LINK,
                              field="reference") or None}
        if theme is not None and not values["reach"]:
            raise InvalidValue("give how many attended the training, 1 or more (--attended)", ref=ref, field="attended")
        with self.learning._learning_work(ref, actor, revision) as w:
            rules.check_manage(w.definition.learning, w.actor, w.held, f"recording dissemination for {ref}")
            if values["held_on"] > local_date(w.now):
                raise InvalidValue(f"{values['held_on']} is in the future: record dissemination once it has happened",
                                   ref=ref, field="date")
            values["theme"] = _theme(w, theme) if theme is not None else None
            learning_store.add_dissemination(w.s, w.case_id, values, w.recorded, w.now)
            self.learning._history(w, "disseminate", {
                "kind": values["kind"], "held_on": values["held_on"].isoformat(),
                **{k: values[k] for k in ("reach", "theme") if values[k] is not None}})
        log.info("learning.disseminated", ref=ref, kind=values["kind"], actor=w.recorded)


def _theme(w: Any, theme: str) -> str:
    """One learning theme, matched as a recommendation's themes are."""
    typed = rules.normalise_theme(limits.check(theme.strip(), "theme", limits.THEME))
    if not typed:
        raise InvalidValue("give the learning theme (--theme)", ref=w.ref, field="theme")
    chosen = themes_for_new(w.s, [typed])
    problem = rules.themes_problem(chosen, w.definition.learning)
    if problem:
        raise InvalidValue(problem, ref=w.ref, field="theme")
    return chosen[0]
