"""`reviewflow my`: what is waiting on one person, as text and as JSON. Renders a `MyWork`; reads nothing."""

from __future__ import annotations

from typing import Any

from reviewflow.engine.core.durations import due_date_of
from reviewflow.engine.render.text import action_line, printable


def _stage_line(view: Any) -> str:
    deadline = getattr(view, "deadline", None)
    due = deadline.due_date if deadline else view.due_date
    if view.paused_at is not None:
        status = f"clock paused since {view.paused_at.date().isoformat()}"
    elif view.overdue:
        days = view.working_days_overdue
        status = f"OVERDUE by {days} working day{'s' if days != 1 else ''}"
    else:
        status = f"due {due}" if due else "no time limit"
    return printable(f"  {view.ref:<16} {view.workflow_title[:34]:<34} {view.state_label[:28]:<28} {status}")


def my_work_lines(work: Any) -> list[str]:
    """Stages owned through my roles, actions of mine or my agency, evidence awaiting my decision; overdue first."""
    head = (f"Waiting on {work.who.name} on {work.today.isoformat()}: "
            f"{len(work.stages)} stage{'s' if len(work.stages) != 1 else ''} ({work.overdue_stages} overdue), "
            f"{len(work.actions)} action{'s' if len(work.actions) != 1 else ''} ({work.overdue_actions} overdue), "
            f"{len(work.evidence)} evidence to decide")
    lines = [printable(head)]
    if work.stages:
        lines.append("Stages you own (move them on, or pause the clock with a reason):")
        lines.extend(_stage_line(v) for v in work.stages)
    if work.actions:
        lines.append("Actions you or your agency own (update them, or submit their evidence):")
        lines.extend(printable(f"  {a.ref:<16} {action_line(a, work.today)}") for a in work.actions)
    if work.evidence:
        lines.append("Evidence awaiting your decision (action accept / action reject):")
        lines.extend(printable(f"  {item.action.ref:<16} {item.evidence.number:<4} for {item.action.number:<4} "
                               f"{item.evidence.kind:<12} submitted {item.evidence.submitted_at.date().isoformat()} "
                               f"by {item.evidence.submitted_by}") for item in work.evidence)
    if not work.count:
        lines.append("Nothing is waiting on you.")
    return lines


def my_work_json(work: Any) -> dict[str, Any]:
    return {
        "user": work.who.name, "today": work.today.isoformat(),
        "stages": [{"ref": v.ref, "workflow": v.workflow, "state": v.state, "state_label": v.state_label,
                    "due_date": due_date_of(v.due_at).isoformat() if v.due_at else None, "overdue": v.overdue,
                    "working_days_overdue": v.working_days_overdue if v.overdue else 0,
                    "paused": v.paused_at is not None} for v in work.stages],
        "actions": work.actions,
        "evidence": [{"ref": i.action.ref, "action": i.action.number, "evidence": i.evidence.number,
                      "kind": i.evidence.kind, "submitted_by": i.evidence.submitted_by,
                      "submitted_at": i.evidence.submitted_at} for i in work.evidence],
    }
