"""A case (`/cases/{ref}`): where it stands, its timeline and learning records, and a form for each move the
person signed in may make now (generated from the definition's required fields), pausing and resuming its clock.

Every form carries the case's revision: a form sent after someone else changed the case is refused by the
services (nothing is written), and the page says so and keeps what was typed. A refused move shows the engine's
message next to the field it names.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from reviewflow.engine.core.access import WITHHELD, Identity, agency_key
from reviewflow.engine.core.decide import TriggerOption
from reviewflow.engine.core.definition import FieldSpec, WorkflowDefinition
from reviewflow.engine.core.durations import local_date
from reviewflow.engine.core.errors import (
    CaseNotFound,
    NotFound,
    NotPermitted,
    ReviewflowError,
    StaleRevision,
    UsageError,
)
from reviewflow.engine.core.links import KIND_LABELS, pause_label
from reviewflow.engine.core.records import Action, CaseView
from reviewflow.engine.core.subgroups import narrow
from reviewflow.engine.core.time_limits import backdate_note
from reviewflow.engine.render.text import pause_text
from reviewflow.web.pages.common import (
    action_status,
    case_status,
    check_csrf,
    error_list,
    form_values,
    page,
    redirect,
    reviewflow,
    signed_in,
    time_in_stage,
)

router = APIRouter(include_in_schema=False)
Who = Annotated[Identity, Depends(signed_in)]

DONE = {
    "moved": "The case moved on", "paused": "The clock is paused", "resumed": "The clock is running again",
    "recommended": "Recommendation {n} recorded", "action": "Action {n} agreed",
    "evidence": "Evidence {n} submitted", "accepted": "Evidence {n} accepted", "rejected": "Evidence {n} rejected",
    "verified": "Action {n} verified", "evaluated": "Impact of action {n} recorded",
    "disseminated": "Dissemination recorded", "measured": "Measured value of action {n} recorded",
    "trained": "Training attendance recorded", "checked": "Progress check outcome recorded", "graded": "Grade recorded",
    "risk_added": "Risk {n} added", "risk_reviewed": "Risk {n} scored again", "risk_closed": "Risk {n} closed",
}
"""The banner shown after a change, by the `done` key of the redirect (`n`: the record's number)."""
_NUMBER = re.compile(r"^[A-Z][0-9]{1,6}$")
NOTE = "move_note"
"""The form field of the optional note on a move (a name no workflow field takes)."""


def case_link(ref: str, done: str | None = None, number: str | None = None) -> str:
    """The case page's address (with the banner to show after a change)."""
    link = f"/cases/{quote(ref, safe='')}"
    if done:
        link += f"?done={done}" + (f"&n={number}" if number else "")
    return link


def revision_of(form: Mapping[str, Any]) -> int:
    """The case revision a form was filled in on (every form that changes a case carries it)."""
    text = str(form.get("revision") or "")
    if not text.isdigit() or len(text) > 18:
        raise UsageError("this form did not say which version of the case it was filled in on: open the case "
                         "again and redo the change", field="revision")
    return int(text)


def status_of(exc: ReviewflowError) -> int:
    """The status of a form shown again after a refusal."""
    if isinstance(exc, StaleRevision):
        return 409
    return {"forbidden": 403, "usage": 400, "not_found": 422, "conflict": 409}.get(exc.kind, 422)


def refused(request: Request, exc: ReviewflowError, show: Callable[..., Response], fields: Mapping[str, str],
            fallback: str, values: dict[str, str], ref: str, who: Identity) -> Response:
    """A form shown again after the services refused it: the engine's message by its field, what was typed kept.
    After a stale revision, the form takes the case's current revision, so sending it again applies the change
    to the case as it now stands."""
    if isinstance(exc, CaseNotFound):
        raise exc
    stale = isinstance(exc, StaleRevision)
    errors = error_list(exc, fields, fallback)
    if stale:
        errors = [{"field": "", "text": "Someone else changed this case while you were filling in the form, so "
                                        "nothing was saved. What you typed is below: check the case as it now "
                                        "stands, then send the form again."}]
        values = {**values, "revision": str(reviewflow(request).case(ref, who).revision)}
    return show(errors=errors, values=values, status=status_of(exc), stale=stale)


# --- the case page -----------------------------------------------------------------------------------

def _may(who: Identity, roles: tuple[str, ...]) -> bool:
    return bool(who.roles & set(roles))


def field_label(d: WorkflowDefinition, name: str, specs: Mapping[str, FieldSpec] | None = None) -> str:
    """A field's label (`specs`: the definition's `field_specs`, worked out once by a caller labelling many)."""
    spec = (d.field_specs if specs is None else specs).get(name)
    return (spec.label if spec and spec.label else name.replace("_", " ")).strip()


def _shown_value(value: object) -> object:
    return "Withheld: you may not see this sensitive field" if value == WITHHELD else value


def _action_links(who: Identity, d: WorkflowDefinition, action: Action) -> dict[str, bool]:
    rules = d.learning
    contributes = (action.owner == who.name or _may(who, (*rules.manage, *rules.contribute, *rules.verify))
                   or (who.agency is not None and agency_key(who.agency) == agency_key(action.owner_agency)))
    return {"evidence": contributes and action.status not in ("embedded", "superseded", "not_implemented"),
            "verify": _may(who, rules.verify) and action.status in ("in_progress", "evidence_submitted"),
            "evaluate": _may(who, rules.verify) and action.status == "verified",
            "decide": _may(who, rules.verify)}


def _files(request: Request, view: CaseView, who: Identity) -> dict[str, list[Any]]:
    """The files attached to each piece of evidence (by evidence number). Files hang on evidence, and the page
    shows them only under the evidence shown: none to look up without any."""
    if not any(a.evidence for r in view.recommendations for a in r.actions):
        return {}
    found: dict[str, list[Any]] = {}
    for item in reviewflow(request).evidence_files(view.ref, who):
        found.setdefault(item.evidence, []).append(item)
    return found


def _history(d: WorkflowDefinition, view: CaseView) -> list[dict[str, Any]]:
    """The timeline, newest first, each entry in words."""
    labels = {t.trigger: t.label for t in d.transitions}
    specs = d.field_specs
    items = []
    for h in reversed(view.history):
        moved = h.from_state != h.to_state and h.trigger in labels or h.trigger == "open"
        items.append({
            "entry": h, "what": labels.get(h.trigger) or h.trigger.replace("_", " ").capitalize(),
            "move": (d.states[h.to_state].label if h.to_state in d.states else h.to_state) if moved else None,
            "fields": [(field_label(d, k, specs), _shown_value(v)) for k, v in h.fields.items()],
            "backdated": backdate_note(h.at, h.recorded_at)})
    return items


@router.get("/cases/{ref}")
def case_page(request: Request, ref: str, who: Who, done: str = "", n: str = "") -> Response:
    """One case as the person signed in may see it, with what they may do now."""
    rf = reviewflow(request)
    view = rf.case(ref, who)
    who = narrow(who, view.subgroup)  # the forms offered follow the roles that count on this case
    d = rf.definition(view.workflow, view.version)
    today = local_date(view.now)
    files = _files(request, view, who)
    recommendations = [{"rec": r, "actions": [{"action": a, "status": action_status(a, today),
                                               "links": _action_links(who, d, a)} for a in r.actions]}
                       for r in view.recommendations]
    banner = DONE.get(done, "").format(n=n if _NUMBER.match(n) else "").replace("  ", " ")
    open_case = view.is_open
    specs = d.field_specs
    return page(
        request, "case.html", view=view, definition=d, status_info=case_status(view), in_stage=time_in_stage(view),
        banner=banner, moves=[o for o in view.options if o.allowed] if open_case else [],
        others=[o for o in view.options if not o.allowed] if open_case else [],
        may_pause=open_case and _may(who, d.may_pause(view.state)),
        may_check=open_case and any(view.state in c.during and _may(who, c.recorded_by) for c in d.progress_checks),
        manage=(open_case or view.state in d.learning.open_after) and _may(who, d.learning.manage),
        recommendations=recommendations, files=files, pause_text=pause_text(view) if view.paused_at else "",
        link_kinds=KIND_LABELS, learning_open=open_case or view.state in d.learning.open_after,
        details=[(field_label(d, k, specs), _shown_value(v)) for k, v in view.fields.items()],
        history=_history(d, view), role_names=d.roles, returns=rf.returns(ref, who), today=today,
        **_risks(rf, who, view, d), **_grading(rf, who, view, d))


def _risks(rf: Any, who: Identity, view: CaseView, d: WorkflowDefinition) -> dict[str, Any]:
    from reviewflow.web.pages.risks import risk_context  # it imports this module

    return risk_context(who, view, d, rf.risks(view.ref, who))


def _grading(rf: Any, who: Identity, view: CaseView, d: WorkflowDefinition) -> dict[str, Any]:
    from reviewflow.web.pages.grades import grading_context  # it imports this module

    return grading_context(rf, who, view, d)


# --- moves ---------------------------------------------------------------------------------------------

def _option(view: CaseView, trigger: str) -> TriggerOption:
    """The move `trigger` from the case's stage, if the person may make it (else not found, or not permitted)."""
    found = next((o for o in view.options if o.trigger == trigger), None)
    if found is None or not view.is_open:
        possible = ", ".join(o.trigger for o in view.options) or "none (this is an end state)"
        raise NotFound(f"`{trigger}` is not possible from `{view.state}`; possible: {possible}", ref=view.ref,
                       state=view.state, trigger=trigger)
    if not found.allowed:
        raise NotPermitted(f"`{trigger}` needs one of the roles {', '.join(found.roles)}: ask someone who holds one",
                           ref=view.ref, state=view.state, trigger=trigger, allowed=found.roles)
    return found


def kind_of(spec: FieldSpec) -> str:
    """The form control of a workflow field."""
    return {"choice": "choice", "date": "date", "yesno": "yesno"}.get(spec.type, "textarea")


def _move_page(request: Request, who: Identity, ref: str, trigger: str, *, errors: list[dict[str, str]] | None = None,
               values: dict[str, str] | None = None, status: int = 200, stale: bool = False) -> Response:
    rf = reviewflow(request)
    view = rf.case(ref, who)
    option = _option(view, trigger)
    d = rf.definition(view.workflow, view.version)
    kept = values or {}
    specs = [{"spec": s, "kind": kind_of(s), "label": s.label or s.name.replace("_", " ").capitalize()}
             for s in option.requires]
    for at in reversed([i for i, s in enumerate(option.requires) if s.reason_if_no]):
        why = FieldSpec(option.requires[at].reason_name, "text")
        specs.insert(at + 1, {"spec": why, "kind": "textarea", "label": "If no, why not?"})
    return page(request, "move.html", status=status, view=view, option=option, specs=specs, errors=errors or [],
                values=kept, revision=kept.get("revision") or view.revision, stale=stale, note=NOTE,
                dest_label=d.states[option.dest].label, role_names=d.roles)


@router.get("/cases/{ref}/move/{trigger}")
def move_form(request: Request, ref: str, trigger: str, who: Who) -> Response:
    """The form of one move: the fields the definition requires, and an optional note."""
    return _move_page(request, who, ref, trigger)


@router.post("/cases/{ref}/move/{trigger}")
async def move(request: Request, ref: str, trigger: str, who: Who) -> Response:
    """Make the move as the person signed in; a refusal shows the form again with the engine's message."""
    form = await request.form()
    check_csrf(request, form)
    values = form_values(form)
    rf = reviewflow(request)
    view = rf.case(ref, who)
    move = rf.definition(view.workflow, view.version).transition(view.state, trigger)
    requires = move.requires if move else ()
    fields = {s.name: values[s.name] for s in requires if s.name in values}
    fields.update({s.reason_name: values[s.reason_name] for s in requires
                   if s.reason_if_no and values.get(s.reason_name, "").strip()})
    note = values.get(NOTE, "").strip() or None
    try:
        rf.fire(ref, trigger, who, fields, note, revision=revision_of(form))
    except ReviewflowError as exc:
        return refused(request, exc, lambda **kw: _move_page(request, who, ref, trigger, **kw),
                       {s.name: s.name for s in requires}, requires[0].name if requires else "", values, ref, who)
    return redirect(case_link(ref, "moved"))


# --- pausing and resuming the clock ------------------------------------------------------------------

def _clock_page(request: Request, who: Identity, ref: str, pause: bool, *, errors: list[dict[str, str]] | None = None,
                values: dict[str, str] | None = None, status: int = 200, stale: bool = False) -> Response:
    view = reviewflow(request).case(ref, who)
    kept = values or {}
    reasons = [(code, pause_label(code)) for code in reviewflow(request).pause_reasons(view.workflow, view.version)]
    return page(request, "clock.html", status=status, view=view, pause=pause, errors=errors or [], values=kept,
                revision=kept.get("revision") or view.revision, stale=stale, reasons=reasons,
                pause_text=pause_text(view) if view.paused_at else "")


@router.get("/cases/{ref}/pause")
def pause_form(request: Request, ref: str, who: Who) -> Response:
    return _clock_page(request, who, ref, True)


@router.get("/cases/{ref}/resume")
def resume_form(request: Request, ref: str, who: Who) -> Response:
    return _clock_page(request, who, ref, False)


@router.post("/cases/{ref}/pause")
async def pause(request: Request, ref: str, who: Who) -> Response:
    """Stop the stage's clock with a reason."""
    return await _clock_change(request, ref, who, True)


@router.post("/cases/{ref}/resume")
async def resume(request: Request, ref: str, who: Who) -> Response:
    """Restart the stage's clock (an optional note)."""
    return await _clock_change(request, ref, who, False)


async def _clock_change(request: Request, ref: str, who: Identity, pausing: bool) -> Response:
    form = await request.form()
    check_csrf(request, form)
    values = form_values(form)
    rf = reviewflow(request)
    try:
        if pausing:
            rf.pause(ref, who, values.get("reason", ""), revision=revision_of(form),
                     expected_end=values.get("expected_end", "").strip() or None,
                     note=values.get("note", "").strip() or None)
        else:
            rf.resume(ref, who, values.get("note", "").strip() or None, revision=revision_of(form))
    except ReviewflowError as exc:
        field = "reason" if pausing else "note"
        fields = {"reason": "reason", "expected_end": "expected_end", "note": "note"} if pausing else {field: field}
        return refused(request, exc, lambda **kw: _clock_page(request, who, ref, pausing, **kw), fields,
                       field, values, ref, who)
    return redirect(case_link(ref, "paused" if pausing else "resumed"))
