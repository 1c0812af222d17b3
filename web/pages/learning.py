"""The learning loop's pages, under `/cases/{ref}/`: record a recommendation, agree an action (its owner chosen
from the registered people of its agency), submit evidence (with a file, when this build stores files), accept
or reject evidence with a reason, verify an action, record its impact, and record that the learning was shared.

Each is a form page over one façade method; the services decide who may do it and refuse in their own words,
shown by the field they name, with what was typed kept.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from starlette.datastructures import UploadFile

from reviewflow.engine.core.access import Identity, agency_key
from reviewflow.engine.core.errors import InvalidValue, NotFound, ReviewflowError
from reviewflow.engine.core.learning import DISSEMINATION_LABELS, EVIDENCE_KINDS, IMPACT_METHODS
from reviewflow.engine.core.measures import MeasureInput
from reviewflow.engine.core.records import CaseView
from reviewflow.web.pages.case import case_link, refused, revision_of
from reviewflow.web.pages.common import check_csrf, form_values, page, redirect, reviewflow, signed_in

router = APIRouter(include_in_schema=False)
Who = Annotated[Identity, Depends(signed_in)]
Values = dict[str, str]


@dataclass(frozen=True)
class Field:
    """One field of a learning form, as the `field` macro takes it."""

    name: str
    label: str
    kind: str = "text"
    options: tuple[Any, ...] = ()
    hint: str | None = None


@dataclass(frozen=True)
class Form:
    """A learning form: its heading, its fields, where it posts, and the engine's field names it shows errors by
    (`errors`: engine field -> form field)."""

    title: str
    action: str
    fields: tuple[Field, ...]
    button: str
    errors: Mapping[str, str] = field(default_factory=dict)
    intro: str = ""
    multipart: bool = False
    hidden: Mapping[str, str] = field(default_factory=dict)
    """Fixed values the form carries (the agency an action is agreed for)."""


def _show(request: Request, who: Identity, ref: str, form: Form, *, errors: list[dict[str, str]] | None = None,
          values: Values | None = None, status: int = 200, stale: bool = False, view: CaseView | None = None,
          **context: Any) -> Response:
    view = view or reviewflow(request).case(ref, who)
    kept = values or {}
    return page(request, "learning_form.html", status=status, view=view, form=form, errors=errors or [],
                values=kept, revision=kept.get("revision") or view.revision, stale=stale, **context)


async def _submit(request: Request, who: Identity, ref: str, form_of: Callable[[], Form],
                  act: Callable[[Values, int, Any], str], done: str) -> Response:
    """Check the form's token, call the façade (`act` gets what was typed, the revision and the raw form, and
    returns the record's number for the banner), then go back to the case; a refusal shows the form again."""
    raw = await request.form()
    check_csrf(request, raw)
    values = form_values(raw)
    try:
        number = act(values, revision_of(raw), raw)
    except ReviewflowError as exc:
        form = form_of()
        first = form.fields[0].name if form.fields else ""
        known = {**{f.name: f.name for f in form.fields}, **form.errors}
        return refused(request, exc, lambda **kw: _show(request, who, ref, form, **kw), known, first, values, ref,
                       who)
    return redirect(case_link(ref, done, number))


MEASURE_FIELDS = (
    Field("baseline", "Baseline (optional)", hint="The measure's figure before the action, for example 40"),
    Field("target", "Target (optional)", hint="The figure the action aims for, for example 80; give both or neither"),
    Field("unit", "Unit", "radios", (("percent", "Percentage"), ("number", "Number or count"))),
    Field("lower_is_better", "Direction", "radios",
          (("", "Higher is better"), ("yes", "Lower is better (for example re-referrals)"))),
    Field("past_due_ok", "Due date", "checkboxes", (("yes", "The due date is already past: record it anyway"),)),
)
"""The measure in figures, and the confirmation of a due date already past, on the form agreeing an action."""


def figures_of(v: Values) -> MeasureInput:
    """The measure as typed (empty fields leave it unset)."""
    return MeasureInput(v.get("baseline") or None, v.get("target") or None,
                        (v.get("unit") or None) if v.get("baseline") or v.get("target") else None,
                        (v.get("lower_is_better") == "yes") if v.get("baseline") or v.get("target") else None)


# --- recommendations -------------------------------------------------------------------------------

def _recommend_form(request: Request, ref: str) -> Form:
    themes = tuple((t.key, t.label) for t in reviewflow(request).themes(include_retired=False))
    return Form("Record a recommendation", f"{case_link(ref)}/recommend", (
        Field("text", "Recommendation", "textarea"),
        Field("themes", "Learning themes", "checkboxes", themes,
              hint="Choose every theme the recommendation addresses (the partnership's list: an administrator adds "
                   "themes with 'reviewflow theme add')."),
        Field("agencies", "Agencies it applies to", hint="Separate agencies with commas, for example: Police, "
                                                         "Health")),
        "Record the recommendation", {"theme": "themes", "agency": "agencies", "text": "text"})


def _split(text: str) -> list[str]:
    return [part.strip() for part in text.replace(";", ",").split(",") if part.strip()]


@router.get("/cases/{ref}/recommend")
def recommend_form(request: Request, ref: str, who: Who) -> Response:
    return _show(request, who, ref, _recommend_form(request, ref))


@router.post("/cases/{ref}/recommend")
async def recommend(request: Request, ref: str, who: Who) -> Response:
    def act(v: Values, revision: int, raw: Any) -> str:
        themes = [t for ticked in raw.getlist("themes") if isinstance(ticked, str) for t in _split(ticked)]
        v["themes"] = "\n".join(themes)  # shown ticked again if the form is refused
        return reviewflow(request).recommend(ref, who, v.get("text", ""), themes, _split(v.get("agencies", "")),
                                             revision=revision)

    return await _submit(request, who, ref, lambda: _recommend_form(request, ref), act, "recommended")


# --- actions -----------------------------------------------------------------------------------------

def _agencies(request: Request, view: CaseView) -> list[str]:
    """The agencies an action may be given to: the partnership's registered agencies, those taking part in the
    case first."""
    registered = reviewflow(request).agencies()
    taking_part = {agency_key(a) for a in view.agencies}
    return sorted(registered, key=lambda name: (agency_key(name) not in taking_part, name.lower()))


def _action_form(request: Request, ref: str, view: CaseView, agency: str) -> Form:
    """Agreeing an action: the owner is chosen from the people registered with the chosen agency."""
    owners = [(u.name, u.name) for u in reviewflow(request).users(active=True)
              if u.agency and agency_key(u.agency) == agency_key(agency)]
    recs = [(r.number, f"{r.number}: {r.text[:80]}") for r in view.recommendations]
    return Form(f"Agree an action for {agency}", f"{case_link(ref)}/actions/new", (
        Field("recommendation", "Recommendation", "select", tuple(recs)),
        Field("description", "What will be done", "textarea"),
        Field("owner", "Owner", "select", (("", "No named owner yet"), *owners),
              hint=f"People registered with {agency}" if owners else f"Nobody is registered with {agency} yet"),
        Field("due", "Due date", "date", hint="For example 2026-09-30"),
        Field("measure", "Success measure (optional)", "textarea",
              hint="How the partnership will know the change has happened"),
        *MEASURE_FIELDS),
        "Agree the action", {"agency": "description", "action": "recommendation", "unit": "unit"},
        intro=f"The action will be owned by {agency}.", hidden={"agency": agency})


@router.get("/cases/{ref}/actions/new")
def action_form(request: Request, ref: str, who: Who, agency: str = "") -> Response:
    """First the agency, then (with `agency` chosen) the action and its owner from that agency's people."""
    view = reviewflow(request).case(ref, who)
    agencies = _agencies(request, view)
    if agency.strip() and agency_key(agency) in {agency_key(a) for a in agencies}:
        chosen = next(a for a in agencies if agency_key(a) == agency_key(agency))
        return _show(request, who, ref, _action_form(request, ref, view, chosen), view=view)
    errors = [{"field": "agency", "text": "Choose one of the agencies listed"}] if agency.strip() else []
    return page(request, "action_agency.html", status=400 if errors else 200, view=view, agencies=agencies,
                errors=errors, values={"agency": agency})


@router.post("/cases/{ref}/actions/new")
async def add_action(request: Request, ref: str, who: Who) -> Response:
    raw = await request.form()
    agency = str(raw.get("agency") or "")
    rf = reviewflow(request)

    def act(v: Values, revision: int, _raw: Any) -> str:
        return rf.add_action(ref, who, v.get("recommendation", ""), v.get("description", ""), agency,
                             v.get("due", ""), v.get("owner") or None, v.get("measure", ""), revision=revision,
                             figures=figures_of(v), past_due_ok=bool(_raw.getlist("past_due_ok")))

    def form_of() -> Form:
        return _action_form(request, ref, rf.case(ref, who), agency)

    return await _submit(request, who, ref, form_of, act, "action")


# --- evidence ---------------------------------------------------------------------------------------

def _evidence_form(request: Request, ref: str, number: str) -> Form:
    limit = reviewflow(request).settings.web.max_upload_mb
    fields = (
        Field("kind", "What kind of evidence is it?", "radios", EVIDENCE_KINDS),
        Field("description", "What does it show?", "textarea"),
        Field("link", "Where is it kept?", hint="A document reference or a link; leave it empty when you attach "
                                                "the file"),
        Field("file", "Attach the file (optional)", "file", hint=f"PDF, Word, Excel or an image, up to {limit:g} MB"))
    return Form(f"Submit evidence for action {number}", f"{case_link(ref)}/actions/{number}/evidence", fields,
                "Submit the evidence", {"reference": "link", "file": "file", "filename": "file", "content": "file"},
                multipart=True)


@router.get("/cases/{ref}/actions/{number}/evidence")
def evidence_form(request: Request, ref: str, number: str, who: Who) -> Response:
    action = reviewflow(request).action(ref, number, who)
    return _show(request, who, ref, _evidence_form(request, ref, action.number), action=action)


@router.post("/cases/{ref}/actions/{number}/evidence")
async def submit_evidence(request: Request, ref: str, number: str, who: Who) -> Response:
    rf = reviewflow(request)

    def act(v: Values, revision: int, raw: Any) -> str:
        upload = raw.get("file")
        upload = upload if isinstance(upload, UploadFile) and upload.filename else None
        files = [(upload.filename or "", upload.file.read())] if upload is not None else []
        link = v.get("link", "").strip() or (f"attached file {upload.filename}" if upload else "")
        return rf.submit_evidence(ref, number, who, v.get("kind", ""), v.get("description", ""), link,
                                  revision=revision, files=files)

    return await _submit(request, who, ref, lambda: _evidence_form(request, ref, number), act, "evidence")


def _decide_form(ref: str, number: str) -> Form:
    return Form(f"Decide on evidence {number}", f"{case_link(ref)}/evidence/{number}/decide", (
        Field("decision", "Is the evidence enough?", "radios",
              (("accept", "Accept it"), ("reject", "Reject it: the owner is told and may submit again"))),
        Field("reason", "Reason", "textarea", hint="Required when you reject it: say what is missing")),
        "Save the decision", {"evidence": "decision"})


@router.get("/cases/{ref}/evidence/{number}/decide")
def decide_form(request: Request, ref: str, number: str, who: Who) -> Response:
    view = reviewflow(request).case(ref, who)
    found = _evidence_of(view, number)
    return _show(request, who, ref, _decide_form(ref, number.upper()), view=view, evidence=found)


def _evidence_of(view: CaseView, number: str) -> Any:
    for r in view.recommendations:
        for a in r.actions:
            for e in a.evidence:
                if e.number == number.upper():
                    return {"evidence": e, "action": a}
    raise NotFound(f"case {view.ref} has no evidence {number} that you may see", ref=view.ref, field="evidence",
                   value=number)


@router.post("/cases/{ref}/evidence/{number}/decide")
async def decide(request: Request, ref: str, number: str, who: Who) -> Response:
    rf = reviewflow(request)
    raw = await request.form()
    accepted = raw.get("decision") == "accept"

    def act(v: Values, revision: int, _raw: Any) -> str:
        if v.get("decision") not in ("accept", "reject"):
            raise InvalidValue("choose whether to accept or reject the evidence", field="decision")
        rf.decide_evidence(ref, number, who, accepted, v.get("reason", ""), revision=revision)
        return number.upper()

    return await _submit(request, who, ref, lambda: _decide_form(ref, number.upper()), act,
                         "accepted" if accepted else "rejected")


# --- verification and impact ----------------------------------------------------------------------

def _verify_form(ref: str, number: str) -> Form:
    return Form(f"Verify action {number}", f"{case_link(ref)}/actions/{number}/verify", (
        Field("note", "Note for the history (optional)", "textarea"),), "Verify the action",
        intro="Verifying says the accepted evidence shows the action was done.")


@router.get("/cases/{ref}/actions/{number}/verify")
def verify_form(request: Request, ref: str, number: str, who: Who) -> Response:
    action = reviewflow(request).action(ref, number, who)
    return _show(request, who, ref, _verify_form(ref, action.number), action=action)


@router.post("/cases/{ref}/actions/{number}/verify")
async def verify(request: Request, ref: str, number: str, who: Who) -> Response:
    def act(v: Values, revision: int, _raw: Any) -> str:
        return reviewflow(request).verify_action(ref, number, who, v.get("note", "").strip() or None,
                                                 revision=revision).number

    return await _submit(request, who, ref, lambda: _verify_form(ref, number.upper()), act, "verified")


def _evaluate_form(ref: str, number: str) -> Form:
    return Form(f"Record the impact of action {number}", f"{case_link(ref)}/actions/{number}/evaluate", (
        Field("method", "How was the impact measured?", "radios", IMPACT_METHODS),
        Field("date", "When was it measured?", "date", hint="For example 2026-09-30"),
        Field("finding", "What did it show?", "textarea"),
        Field("value", "Measured value (optional)", hint="The figure measured, when the action has a baseline and "
                                                         "target, for example 85")), "Record the impact")


@router.get("/cases/{ref}/actions/{number}/evaluate")
def evaluate_form(request: Request, ref: str, number: str, who: Who) -> Response:
    action = reviewflow(request).action(ref, number, who)
    return _show(request, who, ref, _evaluate_form(ref, action.number), action=action)


@router.post("/cases/{ref}/actions/{number}/evaluate")
async def evaluate(request: Request, ref: str, number: str, who: Who) -> Response:
    def act(v: Values, revision: int, _raw: Any) -> str:
        return reviewflow(request).evaluate_action(ref, number, who, v.get("method", ""), v.get("date", ""),
                                                   v.get("finding", ""), revision=revision,
                                                   value=v.get("value") or None).number

    return await _submit(request, who, ref, lambda: _evaluate_form(ref, number.upper()), act, "evaluated")


# --- dissemination ----------------------------------------------------------------------------------

def _dissemination_form(ref: str) -> Form:
    return Form("Record that the learning was shared", f"{case_link(ref)}/dissemination", (
        Field("kind", "How was it shared?", "radios", tuple(DISSEMINATION_LABELS.items())),
        Field("audience", "Who with?", hint="For example: all partner agencies"),
        Field("date", "When?", "date", hint="For example 2026-09-30"),
        Field("reference", "Reference (optional)", hint="A document reference or a link"),
        Field("reach", "Practitioners reached (optional)", hint="How many, a whole number, for example 40")),
        "Record it")


@router.get("/cases/{ref}/dissemination")
def dissemination_form(request: Request, ref: str, who: Who) -> Response:
    return _show(request, who, ref, _dissemination_form(ref))


@router.post("/cases/{ref}/dissemination")
async def disseminate(request: Request, ref: str, who: Who) -> Response:
    def act(v: Values, revision: int, _raw: Any) -> str:
        reviewflow(request).record_dissemination(ref, who, v.get("kind", ""), v.get("audience", ""),
                                                 v.get("date", ""), v.get("reference") or None, revision=revision,
                                                 reach=v.get("reach") or None)
        return ""

    return await _submit(request, who, ref, lambda: _dissemination_form(ref), act, "disseminated")
