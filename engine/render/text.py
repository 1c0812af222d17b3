"""Text and JSON renderings of service results, for the CLI and the demo."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable
from datetime import date, datetime
from typing import Any

from reviewflow.engine.core.definition import WorkflowDefinition
from reviewflow.engine.core.durations import LOCAL_ZONE, local_date
from reviewflow.engine.core.elapsed import clock_behind, time_in_stage
from reviewflow.engine.core.errors import Problem
from reviewflow.engine.core.learning import is_overdue, kind_label
from reviewflow.engine.core.links import KIND_LABELS, pause_label
from reviewflow.engine.core.measures import describe
from reviewflow.engine.core.milestones import CHECK_EVENT
from reviewflow.engine.core.records import Action, AgencyReturn, CaseView
from reviewflow.engine.core.time_limits import backdate_note
from reviewflow.engine.render.escape import printable


def _joined(lines: Iterable[str]) -> str:
    return "\n".join(printable(line) for line in lines)


def local(instant: datetime | None) -> str:
    return instant.astimezone(LOCAL_ZONE).strftime("%Y-%m-%d %H:%M") if instant else "-"


def jsonable(value: Any) -> Any:
    """Dataclasses, datetimes and tuples -> plain JSON values."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [jsonable(v) for v in value]
    return value


def to_json(value: Any) -> str:
    return json.dumps(jsonable(value), indent=2, ensure_ascii=False)


def case_json(view: CaseView, overdue_days: int) -> dict[str, Any]:
    data = jsonable(view)
    data.update(overdue=view.overdue, due_date=view.due_date, days_in_stage=view.days_in_stage,
                working_days_overdue=overdue_days)
    if view.deadline is not None:  # a running milestone binds before the stage's due date
        data["deadline"] = {"what": view.deadline.what, "milestone": view.deadline.milestone,
                            "due_date": view.deadline.due_date, "overdue": view.now >= view.deadline.at}
    return data


def _timing(view: CaseView, overdue_days: int) -> str:
    if not view.is_open:
        return f"closed {local(view.closed_at)}"
    if view.paused_at:
        return f"clock PAUSED since {local(view.paused_at)} ({pause_text(view)}); limit {view.time_limit}"
    spent = time_in_stage(view.entered_at, view.now, view.time_limit, view.calendar)
    parts = [spent if clock_behind(view.entered_at, view.now) else f"{spent} in stage"]
    if view.time_limit:
        parts.append(f"limit {view.time_limit}")
    if view.due_date:
        parts.append(f"due {view.due_date}")
        if view.overdue:
            parts.append(f"OVERDUE by {overdue_days} working days")
    if view.deadline is not None:
        late = " (OVERDUE)" if view.now >= view.deadline.at else ""
        parts.append(f"binding deadline: {view.deadline.what} due {view.deadline.due_date}{late}")
    return ", ".join(parts)


def pause_text(view: CaseView) -> str:
    """'Awaiting criminal proceedings, expected to end 2027-03-01' (an `other` pause with its text)."""
    reason = pause_label(view.pause_reason) + (f": {view.pause_note}" if view.pause_note else "")
    end = (f"expected to end {view.pause_until.isoformat()}" if view.pause_until is not None
           else "no expected end given")
    return f"{reason}, {end}"


def return_text(r: AgencyReturn, today: date) -> str:
    """One agency's return: agency, status (late when past due), due date and what became of it."""
    status = r.shown_status(today)
    detail = ""
    if r.returned_on:
        detail = f", returned {r.returned_on.isoformat()}"
    elif r.reason:
        detail = f": {printable(r.reason)}"
    return (f"{printable(r.agency):<32} {status:<9} asked {r.requested_on.isoformat()}, "
            f"due {r.due_date.isoformat()}{detail}")


def link_lines(view: CaseView) -> list[str]:
    """'  linked:   routed to RR-2026-004-MAR (multi_agency_review, referral): route: ...'."""
    return [f"  linked:   {KIND_LABELS.get(k.kind, k.kind)} {k.other} ({k.other_workflow}, {k.other_state}): "
            f"{_short(k.reason, 80)}" for k in view.links]


def _history_lines(view: CaseView) -> list[str]:
    """Each history row, its note, and when it was recorded if it is dated well before (back-dated)."""
    lines = []
    for h in view.history:
        move = f"{h.from_state or '-'} -> {h.to_state}"
        lines.append(f"    {h.seq:>3}  {local(h.at)}  {h.trigger:<22} {move:<40} by {h.actor}")
        if h.trigger == CHECK_EVENT and "outcome" in h.fields:  # a progress check's outcome (services/clocks.py)
            lines.append(f"         progress check {h.fields.get('occurrence')} ({h.fields.get('check')}): "
                         f"{h.fields['outcome']}")
        if h.note:
            lines.append(f"         note: {h.note}")
        backdated = backdate_note(h.at, h.recorded_at)
        if backdated:
            lines.append(f"         {backdated}")
    return lines


def case_text(view: CaseView, overdue_days: int) -> str:
    lines = [
        f"{view.ref}  {view.workflow_title} ({view.workflow} v{view.version})",
        f"  state:    {view.state_label} [{view.state}]{'' if view.is_open else '  (closed)'}",
        f"  opened:   {local(view.opened_at)} by {view.opened_by}",
        f"  sub-group: {view.subgroup or 'none (the whole partnership)'}",
        f"  entered:  {local(view.entered_at)}; {_timing(view, overdue_days)}",
    ]
    if view.owner:
        lines.append(f"  owner:    {view.owner}")
    for name, value in view.fields.items():
        shown = ("yes" if value else "no") if isinstance(value, bool) else value
        lines.append(f"  field:    {name} = {shown}")
    lines.extend(link_lines(view))
    if view.returns:
        lines.append("  returns:")
        lines.extend(f"    {return_text(r, local_date(view.now))}" for r in view.returns)
    lines.append("  history:")
    lines.extend(_history_lines(view))
    if view.escalations:
        lines.append("  escalations:")
        for e in view.escalations:
            told = ", ".join(e.recipients) or "nobody registered"
            lines.append(f"    {local(e.fired_at)}  {e.label:<24} {e.reason}; told {', '.join(e.roles)} ({told})")
    lines.extend(_learning_lines(view))
    if view.options:
        lines.append("  next steps:")
        for o in view.options:
            needs = ", ".join(f.describe() for f in o.requires) or "nothing"
            mark = "" if o.allowed else "  (not your role)"
            lines.append(f"    {o.trigger:<24} -> {o.dest:<24} roles: {', '.join(o.roles)}; needs: {needs}{mark}")
    elif view.is_open:
        lines.append("  next steps: none")
    return _joined(lines)


def _learning_lines(view: CaseView) -> list[str]:
    lines: list[str] = []
    today = local_date(view.now)
    if view.recommendations:
        lines.append("  recommendations:")
    for r in view.recommendations:
        themes = f"  [{', '.join(r.themes)}]" if r.themes else ""
        lines.append(f"    {r.number:<4} {_short(r.text, 80)}{themes}")
        for a in r.actions:
            lines.append(f"      {action_line(a, today)}")
            for e in a.evidence:
                why = f": {_short(e.reason, 60)}" if e.reason else ""
                lines.append(f"           {e.number:<4} {e.kind:<22} {e.status}{why}  ({e.reference})")
    if view.dissemination:
        lines.append("  dissemination:")
        for d in view.dissemination:
            reach = f"  reached {d.reach}" if d.reach is not None else ""
            theme = f"  [{d.theme}]" if d.theme else ""
            lines.append(f"    {d.held_on.isoformat()}  {kind_label(d.kind):<18} {_short(d.audience, 60)}{theme}"
                         f"{reach}")
    return lines


def _short(text: str | None, width: int) -> str:
    flat = " ".join((text or "").split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


def action_line(a: Action, today: date) -> str:
    """'A1   Children's social care  due 2026-05-01  in_progress  OVERDUE  owner m.patel'."""
    late = "  OVERDUE" if is_overdue(a.facts(), today) else ""
    owner = f"  owner {a.owner}" if a.owner else ""
    measured = f"  measure {describe(a.measure)}" if a.measure is not None else ""
    return (f"{a.number:<4} {_short(a.owner_agency, 28):<28} due {a.due_date.isoformat()}{redated(a)}  {a.status}"
            f"{late}{owner}  {_short(a.description, 60)}{measured}")


def redated(a: Action) -> str:
    """', re-dated from 2026-02-02: awaiting training dates' for a re-dated action, else ''."""
    if a.first_due_date is None or a.first_due_date == a.due_date:
        return ""
    return f", re-dated from {a.first_due_date.isoformat()}: {_short(a.redate_reason or '', 60)}"


def action_row(a: Action, today: date) -> str:
    """One line of `action list`: the case first."""
    return printable(f"{a.ref:<16} {action_line(a, today)}")


def case_row(view: CaseView, overdue_days: int) -> str:
    if not view.is_open:
        status = "closed"
    elif view.paused_at:
        status = "paused"
    else:
        status = f"OVERDUE {overdue_days}wd" if view.overdue else "on time"
    return printable(f"{view.ref:<18} {view.workflow:<28} {view.subgroup or '-':<14} {view.state:<26} "
                     f"{(view.deadline.due_date if view.deadline else view.due_date) or '-':<10}  {status}")


def definition_text(d: WorkflowDefinition) -> str:
    lines = [f"{d.name} v{d.version}: {d.title}", f"  calendar: {d.calendar}",
             *([f"  sub-group: {d.subgroup}"] if d.subgroup else []),
             *([f"  {d.legacy.describe()}: new cases only with --legacy"] if d.legacy else []), "  states:"]
    for s in d.states.values():
        mark = "*" if s.name == d.initial else " "
        lines.append(f"   {mark} {s.name:<28} {'; '.join(_state_bits(d, s))}")
    lines.append("  transitions:")
    for t in d.transitions:
        needs = ", ".join(f.describe() for f in t.requires)
        lines.append(f"    {t.trigger:<26} {', '.join(t.sources)} -> {t.dest}  [{', '.join(t.roles)}]"
                     + (f" needs {needs}" if needs else ""))
        for c in t.when:
            lines.append(f"      when {_condition(c)}")
    lines.extend(_ladder("escalation (an overdue stage)", d.escalation))
    for m in d.milestones:  # engine/core/statutory.py
        lines.append(f"  milestone {m.name}: {m.label}, due {m.due} from {m.start_field}, during {', '.join(m.during)}"
                     + (f"; owner {m.owner}" if m.owner else ""))
        lines.extend(_ladder(f"escalation of milestone {m.name}", m.escalation))
    for pc in d.progress_checks:
        lines.append(f"  progress check {pc.name}: {pc.label}, every {pc.every} during {', '.join(pc.during)}"
                     + (f" from {pc.start_field}" if pc.start_field else "") + f"; tells {', '.join(pc.notify)}; "
                     f"recorded by {', '.join(pc.recorded_by)}"
                     + (f"; missed after {pc.missed_after}: {', '.join(pc.escalate)}" if pc.missed_after else ""))
    if d.learning_escalation is not None:
        lines.extend(_ladder("action ladder (an overdue action)", d.learning_escalation))
    learning = d.learning
    lines.append(f"  learning: manage {', '.join(learning.manage) or '-'}; contribute "
                 f"{', '.join(learning.contribute) or '-'}; verify {', '.join(learning.verify) or '-'}")
    if d.notify:
        lines.append("  notifications (on entering a stage):")
        lines.extend(f"    {state:<28} {', '.join(roles)}" for state, roles in d.notify.items())
    return _joined(lines)


def _state_bits(d: WorkflowDefinition, s: Any) -> list[str]:
    """'Referral; limit 5 working days; owner business_manager; reminder 2 working days before due'."""
    bits = [s.label]
    if s.time_limit:
        bits.append(f"limit {s.time_limit}" + (f" from {s.time_limit_from}" if s.time_limit_from else "")
                    + (f" before {s.time_limit_before}" if s.time_limit_before else ""))
    if s.owner:
        bits.append(f"owner {s.owner}")
    remind = s.remind or d.remind
    if s.time_limit and remind and _reminder_fires(d, s.time_limit, remind):
        bits.append(f"reminder {remind} before due")
    if s.requires:
        bits.append(f"requires {', '.join(s.requires)}")
    if s.terminal:
        bits.append("END")
    return bits


def _reminder_fires(d: WorkflowDefinition, limit: Any, remind: Any) -> bool:
    """Whether a reminder `remind` before the due date falls inside a stage of `limit` (else it is never sent)."""
    start = date(2026, 1, 5)
    return bool(remind.subtract_from(limit.add_to(start, d.calendar), d.calendar) > start)


def _condition(c: Any) -> str:
    """A guard as written: 'fields_present [report_date]', or an expression's text."""
    if c.name == "expression":
        return str(c.argument)
    if c.argument is None:
        return str(c.name)
    shown = f"[{', '.join(map(str, c.argument))}]" if isinstance(c.argument, list | tuple) else str(c.argument)
    return f"{c.name} {shown}"


def _ladder(title: str, levels: Any) -> list[str]:
    if not levels:
        return []
    lines = [f"  {title}:"]
    for level in levels:
        label = f" ({level.label})" if level.label else ""
        lines.append(f"    +{level.after}: {', '.join(level.notify)}{label}")
    return lines


def problems_json(problems: Iterable[Problem]) -> list[dict[str, Any]]:
    return [dataclasses.asdict(p) for p in problems]
