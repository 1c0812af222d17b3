"""Text and JSON renderings of service results, for the CLI and the demo."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable
from datetime import date, datetime
from typing import Any

from reviewflow.engine.core.definition import WorkflowDefinition
from reviewflow.engine.core.durations import LOCAL_ZONE, local_date
from reviewflow.engine.core.errors import Problem
from reviewflow.engine.core.learning import is_overdue
from reviewflow.engine.core.records import Action, CaseView
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
    return data


def _timing(view: CaseView, overdue_days: int) -> str:
    if not view.is_open:
        return f"closed {local(view.closed_at)}"
    if view.paused_at:
        return f"clock PAUSED since {local(view.paused_at)} ({view.pause_reason}); limit {view.time_limit}"
    parts = [f"{view.days_in_stage} days in stage"]
    if view.time_limit:
        parts.append(f"limit {view.time_limit}")
    if view.due_date:
        parts.append(f"due {view.due_date}")
        if view.overdue:
            parts.append(f"OVERDUE by {overdue_days} working days")
    return ", ".join(parts)


def _history_lines(view: CaseView) -> list[str]:
    """Each history row, its note, and when it was recorded if it is dated well before (back-dated)."""
    lines = []
    for h in view.history:
        move = f"{h.from_state or '-'} -> {h.to_state}"
        lines.append(f"    {h.seq:>3}  {local(h.at)}  {h.trigger:<22} {move:<40} by {h.actor}")
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
        f"  entered:  {local(view.entered_at)}; {_timing(view, overdue_days)}",
    ]
    if view.owner:
        lines.append(f"  owner:    {view.owner}")
    for name, value in view.fields.items():
        shown = ("yes" if value else "no") if isinstance(value, bool) else value
        lines.append(f"  field:    {name} = {shown}")
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
            lines.append(f"    {d.held_on.isoformat()}  {d.kind:<18} {_short(d.audience, 60)}")
    return lines


def _short(text: str | None, width: int) -> str:
    flat = " ".join((text or "").split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


def action_line(a: Action, today: date) -> str:
    """'A1   Children's social care  due 2026-05-01  in_progress  OVERDUE  owner m.patel'."""
    late = "  OVERDUE" if is_overdue(a.facts(), today) else ""
    owner = f"  owner {a.owner}" if a.owner else ""
    return (f"{a.number:<4} {_short(a.owner_agency, 28):<28} due {a.due_date.isoformat()}{redated(a)}  {a.status}"
            f"{late}{owner}  {_short(a.description, 60)}")


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
    return printable(f"{view.ref:<18} {view.workflow:<28} {view.state:<26} {view.due_date or '-':<10}  {status}")


def definition_text(d: WorkflowDefinition) -> str:
    lines = [f"{d.name} v{d.version}: {d.title}", f"  calendar: {d.calendar}", "  states:"]
    for s in d.states.values():
        bits = [s.label]
        if s.time_limit:
            bits.append(f"limit {s.time_limit}")
        if s.owner:
            bits.append(f"owner {s.owner}")
        if s.terminal:
            bits.append("END")
        mark = "*" if s.name == d.initial else " "
        lines.append(f"   {mark} {s.name:<28} {'; '.join(bits)}")
    lines.append("  transitions:")
    for t in d.transitions:
        needs = ", ".join(f.describe() for f in t.requires)
        lines.append(f"    {t.trigger:<26} {', '.join(t.sources)} -> {t.dest}  [{', '.join(t.roles)}]"
                     + (f" needs {needs}" if needs else ""))
    if d.escalation:
        lines.append("  escalation:")
        for level in d.escalation:
            label = f" ({level.label})" if level.label else ""
            lines.append(f"    +{level.after}: {', '.join(level.notify)}{label}")
    return _joined(lines)


def problems_json(problems: Iterable[Problem]) -> list[dict[str, Any]]:
    return [dataclasses.asdict(p) for p in problems]
