"""One case's whole story in time order, as text or a self-contained HTML page. Pure: no I/O.

Built from what `Reviewflow.case(ref)` returns: the history rows (stage moves, pauses, learning
records), the escalation ledger and the learning records they point at. Each stage is measured
against its time limit, in working days where the limit is in working days, with the due date
moved on by any time the clock was paused, exactly as the escalation sweep counts it.
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from reviewflow.engine.core.durations import LOCAL_ZONE, due_at, due_date_of, local_date, working_days_between
from reviewflow.engine.core.escalation import shift_for_pause
from reviewflow.engine.core.links import KIND_LABELS, pause_label
from reviewflow.engine.core.measures import figure
from reviewflow.engine.core.milestones import CHECK_EVENT
from reviewflow.engine.core.statutory import stage_due, stage_start
from reviewflow.engine.core.time_limits import backdate_note
from reviewflow.engine.render.diagram import flat, is_stage_move
from reviewflow.engine.render.escape import printable

if TYPE_CHECKING:
    from reviewflow.engine.core.definition import WorkflowDefinition
    from reviewflow.engine.core.records import CaseView, HistoryEntry


def when(instant: datetime) -> str:
    return instant.astimezone(LOCAL_ZONE).strftime("%Y-%m-%d %H:%M")


def _plural(n: int | float, unit: str) -> str:
    return f"{n:g} {unit[:-1] if n == 1 else unit}"


def shown_fields(fields: Mapping[str, Any]) -> list[str]:
    """'name: value' for the case field values a timeline shows: the one place they are read."""
    out = []
    for name, value in fields.items():
        shown = ("yes" if value else "no") if isinstance(value, bool) else value
        out.append(f"{name}: {flat(shown)}")
    return out


@dataclass(frozen=True)
class Stage:
    """One stay in one state, measured against the state's time limit."""

    state: str
    label: str
    entered_at: datetime
    left_at: datetime | None
    limit: str | None
    unit: str  # "working days" or "days"
    spent: int
    due: date | None  # the last day on time, after any pauses
    over_by: int | None  # None when on time (or no limit); otherwise how late, in working days
    paused_days: float = 0.0
    paused_now: bool = False
    terminal: bool = False

    @property
    def late(self) -> bool:
        return self.over_by is not None

    @property
    def left(self) -> str:
        """When the stage was left: '…' while the case is still in it, nothing for an end state."""
        return when(self.left_at) if self.left_at else ("" if self.terminal else "…")

    @property
    def taken(self) -> str:
        if self.terminal:
            return "-"
        return ("so far " if self.left_at is None else "") + _plural(self.spent, self.unit)

    @property
    def result(self) -> str:
        if self.terminal:
            return "end"
        if self.paused_now:
            return "clock paused"
        if self.limit is None:
            return "no time limit"
        if self.over_by is not None:
            word = "LATE" if self.left_at else "OVERDUE"
            return f"{word}: over by {_plural(self.over_by, 'working days')} (due {self.due})"
        return f"{'on time' if self.left_at else 'in time so far'} (due {self.due})"

    def summary(self) -> str:
        """'Notification took 2 working days (limit 5 working days): on time (due 2026-01-12)'."""
        limit = f" (limit {self.limit})" if self.limit else ""
        paused = f", clock paused {_plural(round(self.paused_days, 1), 'days')}" if self.paused_days else ""
        return f"{self.label} took {_plural(self.spent, self.unit)}{limit}{paused}: {self.result}"


@dataclass(frozen=True)
class Event:
    at: datetime
    kind: str
    text: str
    by: str | None = None
    details: tuple[str, ...] = ()
    late: bool = False


@dataclass(frozen=True)
class Timeline:
    ref: str
    workflow: str
    title: str
    version: int
    status: str
    now: datetime
    stages: tuple[Stage, ...]
    events: tuple[Event, ...]

    @property
    def lateness(self) -> str:
        """'2 of 7 stages late; 3 escalations'."""
        timed = [s for s in self.stages if s.limit]
        late = sum(s.late for s in timed)
        escalations = sum(e.kind == "escalation" for e in self.events)
        return (f"{late} of {len(timed)} timed stage{'s' if len(timed) != 1 else ''} late; "
                f"{escalations} escalation{'s' if escalations != 1 else ''}")


# --- building ------------------------------------------------------------------------------------

@dataclass
class _Stay:
    """A stage being lived through: when it was entered and its pauses (start, end or None)."""

    state: str
    entered_at: datetime
    seq: int
    pauses: list[tuple[datetime, datetime | None]] = field(default_factory=list)
    starts_at: datetime | None = None
    """When the stage's clock starts, if not at entry (a time limit `from` a date field)."""
    due_back: datetime | None = None
    """When the stage falls due, for a time limit counted back `before` a date field."""

    def resume(self, at: datetime) -> None:
        if self.pauses and self.pauses[-1][1] is None:
            self.pauses[-1] = (self.pauses[-1][0], at)

    def measured(self, d: WorkflowDefinition, end: datetime | None, left: bool) -> Stage:
        """The stay measured up to `end` (when it was left, or now); a move ends any pause."""
        s = d.states[self.state]
        limit = s.time_limit
        unit = "working days" if limit and limit.unit == "working_days" else "days"
        stop = end or self.entered_at
        pauses = [(a, b or (stop if left else None)) for a, b in self.pauses]
        paused_now = any(b is None for _, b in pauses)
        paused = sum(((b or stop) - a).total_seconds() for a, b in pauses) / 86400
        due = self.due_back or (due_at(self.starts_at or self.entered_at, limit, d.calendar) if limit else None)
        for a, b in pauses:
            if due is not None and b is not None:
                due = shift_for_pause(due, a, b)
        spent = _count(local_date(self.entered_at), local_date(stop), unit, d.calendar)
        over = None
        if due is not None and not paused_now and stop >= due:
            # Lateness is always in working days, the unit of the escalation ladder and of `case show`, the lists
            # and the Board report, whatever the unit of the stage's limit.
            over = _count(due_date_of(due), local_date(stop), "working days", d.calendar)
        return Stage(self.state, s.label, self.entered_at, end if left else None, str(limit) if limit else None,
                     unit, spent, due_date_of(due) if due else None, over, round(paused, 2), paused_now, s.terminal)


def _count(start: date, end: date, unit: str, calendar: str) -> int:
    return working_days_between(start, end, calendar) if unit == "working days" else (end - start).days


class _Records:
    """The learning records history rows point at, by number."""

    def __init__(self, view: CaseView) -> None:
        self.recommendations = {r.number: r for r in view.recommendations}
        self.actions = {a.number: a for r in view.recommendations for a in r.actions}
        self.evidence = {e.number: e for a in self.actions.values() for e in a.evidence}
        self.shared = list(view.dissemination)

    def dissemination(self, kind: str, held_on: str) -> Any:
        for i, d in enumerate(self.shared):
            if d.kind == kind and d.held_on.isoformat() == held_on:
                return self.shared.pop(i)
        return None


def build_timeline(view: CaseView, d: WorkflowDefinition) -> Timeline:
    """The case's stages and every event of its history and ledger, oldest first.

    An escalation written at the same moment as a history row goes before the move that left its stage.
    """
    records = _Records(view)
    stages: list[Stage] = []
    ranked: list[tuple[datetime, float, Event]] = []
    left_by: dict[int, int] = {}
    stay: _Stay | None = None
    fields: dict[str, Any] = {}
    for h in view.history:
        if is_stage_move(d, h.from_state, h.trigger, h.to_state):
            left = stay.measured(d, h.at, True) if stay else None
            if stay and left:
                stages.append(left)
                left_by[stay.seq] = h.seq
            fields.update(h.fields)
            starts = stage_start(d.states[h.to_state], fields, h.at)
            back = stage_due(d, h.to_state, fields, h.at) if d.states[h.to_state].time_limit_before else None
            stay = _Stay(h.to_state, h.at, h.seq, starts_at=starts, due_back=back)
            ranked.append((h.at, h.seq, _backdated(h, _move(d, h, left, starts, back))))
        else:
            ranked.append((h.at, h.seq, _backdated(h, _within(d, h, stay, records))))
    if stay is not None:
        stages.append(stay.measured(d, view.now if view.is_open else None, False))
    for e in view.escalations:
        rank = left_by.get(e.entry_seq, math.inf) - 0.5
        ranked.append((e.fired_at, rank, _escalation(e, d)))
    ranked.sort(key=lambda r: (r[0], r[1]))
    return Timeline(view.ref, view.workflow, view.workflow_title, view.version, _status(view), view.now,
                    tuple(stages), tuple(e for _, _, e in ranked))


def _backdated(h: HistoryEntry, event: Event) -> Event:
    """The event, saying when it was recorded if it is dated well before (core/time_limits.py)."""
    note = backdate_note(h.at, h.recorded_at)
    return replace(event, details=(*event.details, note)) if note else event


def _within(d: WorkflowDefinition, h: HistoryEntry, stay: _Stay | None, records: _Records) -> Event:
    """A history row within a stage: a pause, a resume or a learning record."""
    if stay is not None and h.trigger == "pause":
        stay.pauses.append((h.at, None))
        return Event(h.at, "paused", "Clock paused", h.actor, _pause_notes(h, "reason: "))
    if stay is not None and h.trigger == "resume":
        stay.resume(h.at)
        now_due = stay.measured(d, h.at, False).due
        extra = (f"due date now {now_due}",) if now_due else ()
        return Event(h.at, "resumed", "Clock resumed", h.actor, (*_pause_notes(h, "was paused for: "), *extra))
    return _learning(h, records)


def _status(view: CaseView) -> str:
    if not view.is_open:
        return f"closed {when(view.closed_at or view.entered_at)} at {view.state_label}"
    text = f"open: at {view.state_label} since {when(view.entered_at)}"
    if view.paused_at:
        text += f"; clock paused since {when(view.paused_at)} ({flat(pause_label(view.pause_reason))})"
    return text


def _pause_notes(h: HistoryEntry, prefix: str) -> tuple[str, ...]:
    """A pause's (or resume's) reason by its label, with the text given with it and the expected end."""
    reason = h.fields.get("reason")
    text = h.fields.get("note") or h.fields.get("pause_note")
    out = [prefix + flat(pause_label(str(reason)) + (f": {text}" if text else ""))] if reason else []
    if h.fields.get("expected_end"):
        out.append(f"expected to end {h.fields['expected_end']}")
    if h.note and h.note != text:
        out.append(f"note: {flat(h.note)}")
    return tuple(out)


def _notes(h: HistoryEntry, key: str | None = None, prefix: str = "reason: ") -> tuple[str, ...]:
    out = []
    if key and h.fields.get(key):
        out.append(prefix + flat(h.fields[key]))
    if h.note and (not key or flat(h.note) != flat(h.fields.get(key, ""))):
        out.append(f"note: {flat(h.note)}")
    return tuple(out)


def _entered(d: WorkflowDefinition, h: HistoryEntry, starts: datetime | None = None,
             back: datetime | None = None) -> str:
    s = d.states[h.to_state]
    if s.terminal:
        return f"{s.label}: end of the review"
    if not s.time_limit:
        return f"{s.label}: no time limit"
    due = due_date_of(back or due_at(starts or h.at, s.time_limit, d.calendar))
    counted = f" from {s.time_limit_from}" if s.time_limit_from and starts != h.at else ""
    counted = f" before {s.time_limit_before}" if back is not None else counted
    return f"{s.label}: limit {s.time_limit}{counted}, due {due}"


def _move(d: WorkflowDefinition, h: HistoryEntry, left: Stage | None, starts: datetime | None = None,
          back: datetime | None = None) -> Event:
    details = [left.summary()] if left else []
    details += [_entered(d, h, starts, back), *shown_fields(h.fields)]
    if h.note:
        details.append(f"note: {flat(h.note)}")
    if h.from_state is None:
        return Event(h.at, "opened", f"Opened at {d.states[h.to_state].label}", h.actor, tuple(details))
    text = f"{h.trigger}: {d.states[h.from_state].label} → {d.states[h.to_state].label}"
    return Event(h.at, "stage", text, h.actor, tuple(details), late=bool(left and left.late))


def _recommended(h: HistoryEntry, r: _Records) -> Event:
    number = str(h.fields.get("recommendation", ""))
    rec = r.recommendations.get(number)
    details = [flat(rec.text)] if rec else []
    if rec and rec.themes:
        details.append(f"themes: {', '.join(rec.themes)}")
    if rec and rec.agencies:
        details.append(f"agencies: {', '.join(rec.agencies)}")
    return Event(h.at, "recommendation", f"Recommendation {number} recorded", h.actor, tuple(details))


def _action_added(h: HistoryEntry, r: _Records) -> Event:
    f = h.fields
    action = r.actions.get(str(f.get("action", "")))
    details = [flat(action.description)] if action else []
    if action and action.success_measure:
        details.append(f"success measure: {flat(action.success_measure)}")
    return Event(h.at, "action", f"Action {f.get('action')} agreed for {f.get('recommendation')}: "
                 f"{flat(f.get('agency', ''))}, due {f.get('due')}", h.actor, tuple(details))


def _action_changed(h: HistoryEntry, r: _Records) -> Event:
    f = h.fields
    number = f.get("action")
    if h.trigger == "action_update":
        why = (f"reason: {flat(h.note)}",) if h.note else ()
        return Event(h.at, "action", f"Action {number} updated: {_changes(f)}", h.actor, why)
    if h.trigger == "action_verify":
        return Event(h.at, "action", f"Action {number} verified", h.actor, _notes(h))
    action = r.actions.get(str(number))
    finding = (f"finding: {flat(action.impact_summary)}",) if action and action.impact_summary else ()
    value = f" value {f.get('value')}," if "value" in f else ""
    return Event(h.at, "impact", f"Impact of action {number} evaluated ({f.get('method')},{value} "
                 f"measured {f.get('measured_on')})", h.actor, finding)


def _learning(h: HistoryEntry, r: _Records) -> Event:
    """A learning-loop row of the history, told with the record it points at."""
    handlers = {"recommend": _recommended, "action_add": _action_added, "action_update": _action_changed,
                "action_verify": _action_changed, "action_evaluate": _action_changed,
                "evidence_submit": _evidence, "evidence_accept": _evidence, "evidence_reject": _evidence,
                "disseminate": _shared, "evidence_file": _file, "file_download": _file, CHECK_EVENT: _checked,
                "return_request": _returns, "return_in": _returns, "return_excuse": _returns,
                "link": _linked, "unlink": _linked, "action_measure": _measured,
                "risk_add": _risk, "risk_review": _risk, "risk_close": _risk, "grade": _graded}
    handler = handlers.get(h.trigger)
    if handler is None:
        return Event(h.at, "other", h.trigger, h.actor, (*shown_fields(h.fields), *_notes(h)))
    return handler(h, r)


def _graded(h: HistoryEntry, r: _Records) -> Event:
    """A grade given (engine/services/grading.py): 'Graded Police, standard training: good'."""
    f = h.fields
    subject = ", ".join(flat(str(f[k])) if k != "standard" else f"standard {flat(str(f[k]))}"
                        for k in ("agency", "standard", "school") if f.get(k))
    return Event(h.at, "other", f"Graded {subject}: {str(f.get('grade', '')).replace('_', ' ')}", h.actor,
                 _notes(h, prefix="note: "))


def _measured(h: HistoryEntry, r: _Records) -> Event:
    """A measured value of an action's measure (engine/services/measures.py)."""
    f = h.fields
    action = r.actions.get(str(f.get("action", "")))
    unit = action.measure.unit if action and action.measure else "number"
    value = f.get("value")
    shown = figure(float(value), unit) if isinstance(value, int | float) else str(value)
    return Event(h.at, "impact", f"Action {f.get('action')} measured: {shown} on {f.get('measured_on')}", h.actor,
                 _notes(h))


def _linked(h: HistoryEntry, r: _Records) -> Event:
    """A link to another case made or removed (engine/services/links.py)."""
    kind = KIND_LABELS.get(str(h.fields.get("kind")), str(h.fields.get("kind")))
    what = "Linked" if h.trigger == "link" else "Link removed"
    return Event(h.at, "link", f"{what}: {kind} {flat(h.fields.get('other', ''))}", h.actor,
                 (f"reason: {flat(h.note)}",) if h.note else ())


def _returns(h: HistoryEntry, r: _Records) -> Event:
    """An agency's return requested, marked in or excused (engine/core/returns.py)."""
    f = h.fields
    if h.trigger == "return_request":
        asked = ", ".join(flat(a) for a in f.get("agencies") or ())
        return Event(h.at, "returns", f"Returns requested of {asked}, due {f.get('due')}", h.actor, _notes(h))
    if h.trigger == "return_in":
        return Event(h.at, "returns", f"Return of {flat(f.get('agency', ''))} in ({f.get('returned_on')})", h.actor,
                     ())
    return Event(h.at, "returns", f"Return of {flat(f.get('agency', ''))} excused", h.actor,
                 _notes(h, "reason"))


def _risk(h: HistoryEntry, r: _Records) -> Event:
    """A risk on the register added, scored again or closed (engine/core/risks.py)."""
    f = h.fields
    number, scored = flat(str(f.get("risk", ""))), f"{f.get('likelihood')} × {f.get('impact')}"
    if h.trigger == "risk_add":
        return Event(h.at, "risk", f"Risk {number} added: {flat(str(f.get('title', '')))} ({scored}), owner "
                     f"{flat(str(f.get('owner', '')))}", h.actor, ())
    if h.trigger == "risk_review":
        return Event(h.at, "risk", f"Risk {number} reviewed ({scored})", h.actor, _notes(h))
    return Event(h.at, "risk", f"Risk {number} closed", h.actor, _notes(h))


def _checked(h: HistoryEntry, r: _Records) -> Event:
    """A progress check's outcome, as the sub-group recorded it."""
    f = h.fields
    outcome = str(f.get("outcome", "")).replace("_", " ")
    return Event(h.at, "check", f"Progress check {f.get('occurrence')} ({f.get('check')}): {outcome}", h.actor,
                 _notes(h))


def _changes(f: Mapping[str, Any]) -> str:
    names = {"status": "status", "due_date": "due", "first_due_date": "re-dated from", "owner": "owner",
             "owner_agency": "agency"}
    return "; ".join(f"{label} {flat(f[key])}" for key, label in names.items() if f.get(key)) or "details"


def _evidence(h: HistoryEntry, r: _Records) -> Event:
    number, action = h.fields.get("evidence"), h.fields.get("action")
    e = r.evidence.get(str(number))
    if h.trigger == "evidence_submit":
        details = (flat(e.description), f"kept at: {flat(e.reference)}") if e else ()
        return Event(h.at, "evidence", f"Evidence {number} submitted for action {action} ({h.fields.get('kind')})",
                     h.actor, details)
    verdict = "accepted" if h.trigger == "evidence_accept" else "rejected"
    notes = (f"reason: {flat(h.note)}",) if h.note and verdict == "rejected" else _notes(h)
    return Event(h.at, "evidence", f"Evidence {number} for action {action} {verdict}", h.actor, notes)


def _file(h: HistoryEntry, _r: _Records) -> Event:
    """An evidence file attached, or downloaded by someone (each download is in the history)."""
    f = h.fields
    if h.trigger == "file_download":
        return Event(h.at, "evidence", f"File {f.get('file')} of evidence {f.get('evidence')} (action "
                     f"{f.get('action')}) downloaded", h.actor, ())
    size = f.get("size")
    shown = f"{size / 1_000_000:.1f} MB" if isinstance(size, int) and size >= 100_000 else f"{size} bytes"
    return Event(h.at, "evidence", f"File {f.get('file')} attached to evidence {f.get('evidence')} of action "
                 f"{f.get('action')}", h.actor, (f"{flat(str(f.get('media_type', '')))}, {shown}",))


def _shared(h: HistoryEntry, r: _Records) -> Event:
    kind, held_on = str(h.fields.get("kind", "")), str(h.fields.get("held_on", ""))
    d = r.dissemination(kind, held_on)
    details = [f"audience: {flat(d.audience)}"] if d else []
    if d and d.reference:
        details.append(f"reference: {flat(d.reference)}")
    return Event(h.at, "dissemination", f"Learning shared: {kind.replace('_', ' ')} held {held_on}", h.actor,
                 tuple(details))


def _escalation(e: Any, d: WorkflowDefinition) -> Event:
    told = f"told {', '.join(e.roles) or 'nobody'} ({', '.join(e.recipients) or 'nobody registered'})"
    if e.fired_at - e.scheduled_at >= timedelta(hours=1):
        told += f"; due to be sent {when(e.scheduled_at)}"
    if e.state.startswith("action "):
        return Event(e.fired_at, "escalation", f"Action {e.state[7:]} overdue: escalated to {e.label}", None,
                     (flat(e.reason), told), late=True)
    if e.entry_seq == 0 and e.key.startswith(("milestone-", "check-")):  # engine/core/statutory.py
        late = e.level is not None or e.key.endswith("-missed")
        return Event(e.fired_at, "escalation" if late else "reminder", flat(e.reason), None, (told,), late=late)
    label = d.states[e.state].label if e.state in d.states else e.state
    if e.level is None:
        return Event(e.fired_at, "reminder", f"Reminder: {label} due {due_date_of(e.due_at)}", None,
                     (flat(e.reason), told))
    return Event(e.fired_at, "escalation", f"{label} overdue: escalated to {e.label}", None, (flat(e.reason), told),
                 late=True)


# --- text ----------------------------------------------------------------------------------------

def timeline_text(t: Timeline) -> str:
    lines = [f"{t.ref}  {t.title} ({t.workflow} v{t.version})", f"  {t.status}", f"  {t.lateness}", "",
             "Stages:"]
    for s in t.stages:
        lines.append(f"  {s.label:<36} {when(s.entered_at)} {'->' if s.left else '  '} {s.left:<16}  "
                     f"{s.taken:<24} {('limit ' + s.limit) if s.limit else '':<22} {s.result}".rstrip())
    lines += ["", "Events:"]
    for e in t.events:
        mark = " !" if e.late else "  "
        by = f"  (by {e.by})" if e.by else ""
        lines.append(f"{mark}{when(e.at)}  {e.kind.upper():<14} {e.text}{by}")
        lines.extend(f"{'':<35}{line}" for line in e.details)
    lines += ["", f"As at {when(t.now)}. '!' marks a stage left late or an escalation."]
    return "\n".join(printable(line) for line in lines) + "\n"  # a note cannot drive the terminal


# --- HTML ----------------------------------------------------------------------------------------

_CSS = """
@page { size: A4; margin: 14mm; }
body { font: 10.5pt/1.4 Georgia, 'Times New Roman', serif; color: #000; max-width: 180mm; margin: 1em auto; }
h1 { font-size: 16pt; margin: 0 0 .2em; } h2 { font-size: 12.5pt; margin: 1.2em 0 .4em; border-bottom: 1px solid #000; }
.meta { margin: .1em 0; }
table { border-collapse: collapse; width: 100%; font-size: 9.5pt; }
th, td { border: 1px solid #444; padding: 3px 5px; text-align: left; vertical-align: top; }
th { background: #eee; }
tr, li { page-break-inside: avoid; break-inside: avoid; }
.late td.result, .flag { font-weight: bold; }
tr.late td:first-child { border-left: 5px double #000; }
ol.events { list-style: none; padding: 0; margin: 0; }
ol.events > li { border-left: 2px solid #999; padding: 2px 0 4px 8px; margin: 0 0 4px; }
ol.events > li.late { border-left: 6px double #000; }
ol.events > li.escalation { border-left-style: double; }
.when { font-family: 'DejaVu Sans Mono', monospace; font-size: 9pt; }
.kind { display: inline-block; min-width: 9em; font-variant: small-caps; font-weight: bold; }
.by { color: #333; font-style: italic; }
ul.details { margin: 1px 0 0 1.2em; padding: 0; font-size: 9.5pt; }
footer { margin-top: 1.5em; font-size: 8.5pt; border-top: 1px solid #999; }
"""


def _e(text: Any) -> str:
    return html.escape(str(text), quote=True)


def timeline_html(t: Timeline) -> str:
    """One self-contained page: inline CSS, no scripts, nothing fetched; late items marked in words."""
    rows = []
    for s in t.stages:
        cls = ' class="late"' if s.late else ""
        rows.append(f"<tr{cls}><td>{_e(s.label)}</td><td class=\"when\">{_e(when(s.entered_at))}</td>"
                    f"<td class=\"when\">{_e(s.left)}</td><td>{_e(s.taken)}</td>"
                    f"<td>{_e(s.limit or '-')}</td><td class=\"result\">{_e(s.result)}</td></tr>")
    items = []
    for e in t.events:
        classes = " ".join(filter(None, [e.kind, "late" if e.late else ""]))
        flag = '<span class="flag">[LATE] </span>' if e.late else ""
        by = f' <span class="by">by {_e(e.by)}</span>' if e.by else ""
        details = "".join(f"<li>{_e(line)}</li>" for line in e.details)
        items.append(f'<li class="{_e(classes)}"><span class="when">{_e(when(e.at))}</span> '
                     f'<span class="kind">{_e(e.kind)}</span> {flag}{_e(e.text)}{by}'
                     + (f'<ul class="details">{details}</ul>' if details else "") + "</li>")
    return "\n".join([
        "<!DOCTYPE html>", '<html lang="en">', "<head>", '<meta charset="utf-8">',
        f"<title>Case timeline {_e(t.ref)}</title>", f"<style>{_CSS}</style>", "</head>", "<body>",
        f"<h1>Case timeline: {_e(t.ref)}</h1>",
        f'<p class="meta">{_e(t.title)} ({_e(t.workflow)} v{t.version})</p>',
        f'<p class="meta">{_e(t.status)}</p>', f'<p class="meta">{_e(t.lateness)}</p>',
        "<h2>Stages against their time limits</h2>",
        "<table><thead><tr><th>Stage</th><th>Entered</th><th>Left</th><th>Time taken</th><th>Limit</th>"
        "<th>Result</th></tr></thead><tbody>", *rows, "</tbody></table>",
        "<h2>Events in order</h2>", '<ol class="events">', *items, "</ol>",
        f"<footer>As at {_e(when(t.now))}. [LATE] and a double left border mark a stage left late or an "
        "escalation. Cases are referred to by reference only.</footer>",
        "</body>", "</html>", ""])
