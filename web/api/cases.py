"""`/api/v1/cases`: cases, their moves and their learning records, as the person asking may see and change them.

Every write carries the revision the person read (`If-Match: "r7"`, the case's `ETag`): a case someone
else changed since is refused with 412 and nothing is written.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query, Response

from reviewflow.engine.core.access import Identity
from reviewflow.engine.core.durations import local_date
from reviewflow.engine.core.errors import UsageError
from reviewflow.engine.core.records import CaseView
from reviewflow.engine.services.facade import Reviewflow
from reviewflow.web.api import schemas
from reviewflow.web.security import identity, service

router = APIRouter(prefix="/cases", tags=["cases"])

Who = Annotated[Identity, Depends(identity)]
Service = Annotated[Reviewflow, Depends(service)]
IfMatch = Annotated[str | None, Header(alias="If-Match", description='The case\'s ETag as read, e.g. "r7".')]
Prefer = Annotated[str | None, Header(description='"return=minimal" (RFC 7240): answer 204 with the new ETag '
                                                  "instead of the whole case, for integrations moving many cases.")]
_ETAG = re.compile(r'^\s*(?:W/)?"r(\d{1,18})"\s*$')


def etag(revision: int) -> str:
    return f'"r{revision}"'


def revision_of(if_match: str | None) -> int:
    """The revision a write was made on; every write must say it."""
    if not if_match:
        raise UsageError('send the case\'s ETag as If-Match (e.g. If-Match: "r7") with every change: read the case '
                         "first", field="If-Match")
    found = _ETAG.match(if_match)
    if not found:
        raise UsageError(f"If-Match {if_match!r} is not one of this API's ETags, such as \"r7\"", field="If-Match",
                         value=if_match)
    return int(found.group(1))


def shown(rf: Reviewflow, who: Identity, ref: str, response: Response) -> schemas.CaseOut:
    view: CaseView = rf.case(ref, who)
    response.headers["ETag"] = etag(view.revision)
    return schemas.case(view, local_date(view.now))


def paged(items: list, page: int, per_page: int) -> tuple[list, int]:
    start = (page - 1) * per_page
    return items[start:start + per_page], len(items)


@router.get("", response_model=schemas.CasePage, summary="Cases I may see")
def list_cases(rf: Service, who: Who, workflow: str | None = Query(None, max_length=100),
               state: str | None = Query(None, max_length=100), overdue: bool = False, open_only: bool = False,
               ref: str | None = Query(None, max_length=64, description="Cases whose reference contains this."),
               page: int = Query(1, ge=1, le=100000), per_page: int = Query(50, ge=1, le=500)) -> schemas.CasePage:
    views = rf.cases(workflow, state, overdue, include_closed=not open_only, actor=who)
    if ref:
        views = [v for v in views if ref.casefold() in v.ref.casefold()]
    items, total = paged(views, page, per_page)
    return schemas.CasePage(page=page, per_page=per_page, total=total, items=[schemas.summary(v) for v in items])


@router.post("", response_model=schemas.CaseOut, status_code=201, summary="Open a case")
def open_case(body: schemas.OpenCase, rf: Service, who: Who, response: Response) -> schemas.CaseOut:
    rf.open_case(body.workflow, body.ref, who, body.fields, body.note, body.subgroup, body.legacy)
    response.headers["Location"] = f"/api/v1/cases/{body.ref}"
    return shown(rf, who, body.ref, response)


@router.get("/{ref}", response_model=schemas.CaseOut, summary="One case")
def show_case(ref: str, rf: Service, who: Who, response: Response) -> schemas.CaseOut:
    return shown(rf, who, ref, response)


@router.post("/{ref}/fire", response_model=schemas.CaseOut, summary="Move a case on",
             responses={204: {"description": "Moved (with Prefer: return=minimal): the new ETag, no body"}})
def fire(ref: str, body: schemas.Fire, rf: Service, who: Who, response: Response,
         if_match: IfMatch = None, prefer: Prefer = None) -> Any:
    fired = rf.fire(ref, body.trigger, who, body.fields, body.note, revision=revision_of(if_match))
    if prefer is not None and "return=minimal" in prefer.replace(" ", "").lower().split(","):
        return Response(status_code=204, headers={"ETag": etag(fired.revision), "Preference-Applied": "return=minimal"})
    return shown(rf, who, ref, response)


@router.post("/{ref}/pause", response_model=schemas.CaseOut, summary="Stop the stage's clock")
def pause(ref: str, body: schemas.Pause, rf: Service, who: Who, response: Response,
          if_match: IfMatch = None) -> schemas.CaseOut:
    rf.pause(ref, who, body.reason, revision=revision_of(if_match), expected_end=body.expected_end, note=body.note)
    return shown(rf, who, ref, response)


@router.post("/{ref}/links", response_model=schemas.CaseOut, summary="Link another case to this one")
def link(ref: str, body: schemas.Link, rf: Service, who: Who, response: Response,
         if_match: IfMatch = None) -> schemas.CaseOut:
    rf.link_cases(ref, body.other, body.kind, body.reason, who, revision=revision_of(if_match))
    return shown(rf, who, ref, response)


@router.post("/{ref}/unlink", response_model=schemas.CaseOut, summary="Remove the link to another case")
def unlink(ref: str, body: schemas.Unlink, rf: Service, who: Who, response: Response,
           if_match: IfMatch = None) -> schemas.CaseOut:
    rf.unlink_cases(ref, body.other, body.reason, who, revision=revision_of(if_match))
    return shown(rf, who, ref, response)


@router.post("/{ref}/resume", response_model=schemas.CaseOut, summary="Restart the stage's clock")
def resume(ref: str, body: schemas.Resume, rf: Service, who: Who, response: Response,
           if_match: IfMatch = None) -> schemas.CaseOut:
    rf.resume(ref, who, body.note, revision=revision_of(if_match))
    return shown(rf, who, ref, response)


@router.post("/{ref}/recommendations", response_model=schemas.CaseOut, status_code=201,
             summary="Record a recommendation")
def recommend(ref: str, body: schemas.Recommend, rf: Service, who: Who, response: Response,
              if_match: IfMatch = None) -> schemas.CaseOut:
    rf.recommend(ref, who, body.text, body.themes, body.agencies, revision=revision_of(if_match))
    return shown(rf, who, ref, response)


@router.post("/{ref}/actions", response_model=schemas.CaseOut, status_code=201, summary="Agree an action")
def add_action(ref: str, body: schemas.AddAction, rf: Service, who: Who, response: Response,
               if_match: IfMatch = None) -> schemas.CaseOut:
    rf.add_action(ref, who, body.recommendation, body.description, body.agency, body.due, body.owner, body.measure,
                  revision=revision_of(if_match), figures=body.figures(), past_due_ok=body.past_due_ok)
    return shown(rf, who, ref, response)


@router.patch("/{ref}/actions/{number}", response_model=schemas.CaseOut, summary="Change an action")
def update_action(ref: str, number: str, body: schemas.UpdateAction, rf: Service, who: Who, response: Response,
                  if_match: IfMatch = None) -> schemas.CaseOut:
    rf.update_action(ref, number, who, body.status, body.reason, body.due, body.owner, body.agency, body.measure,
                     revision=revision_of(if_match), figures=body.figures(), past_due_ok=body.past_due_ok)
    return shown(rf, who, ref, response)


@router.post("/{ref}/actions/{number}/evidence", response_model=schemas.CaseOut, status_code=201,
             summary="Submit evidence for an action")
def submit_evidence(ref: str, number: str, body: schemas.SubmitEvidence, rf: Service, who: Who, response: Response,
                    if_match: IfMatch = None) -> schemas.CaseOut:
    rf.submit_evidence(ref, number, who, body.kind, body.description, body.link, revision=revision_of(if_match))
    return shown(rf, who, ref, response)


@router.post("/{ref}/evidence/{number}/accept", response_model=schemas.CaseOut, summary="Accept evidence")
def accept(ref: str, number: str, body: schemas.Decide, rf: Service, who: Who, response: Response,
           if_match: IfMatch = None) -> schemas.CaseOut:
    rf.decide_evidence(ref, number, who, True, body.reason, revision=revision_of(if_match))
    return shown(rf, who, ref, response)


@router.post("/{ref}/evidence/{number}/reject", response_model=schemas.CaseOut, summary="Reject evidence")
def reject(ref: str, number: str, body: schemas.Decide, rf: Service, who: Who, response: Response,
           if_match: IfMatch = None) -> schemas.CaseOut:
    rf.decide_evidence(ref, number, who, False, body.reason, revision=revision_of(if_match))
    return shown(rf, who, ref, response)


@router.post("/{ref}/actions/{number}/verify", response_model=schemas.CaseOut, summary="Verify an action")
def verify(ref: str, number: str, body: schemas.Verify, rf: Service, who: Who, response: Response,
           if_match: IfMatch = None) -> schemas.CaseOut:
    rf.verify_action(ref, number, who, body.note, revision=revision_of(if_match))
    return shown(rf, who, ref, response)


@router.post("/{ref}/actions/{number}/evaluate", response_model=schemas.CaseOut,
             summary="Record an action's impact evaluation")
def evaluate(ref: str, number: str, body: schemas.Evaluate, rf: Service, who: Who, response: Response,
             if_match: IfMatch = None) -> schemas.CaseOut:
    rf.evaluate_action(ref, number, who, body.method, body.date, body.finding, revision=revision_of(if_match),
                       value=body.value)
    return shown(rf, who, ref, response)


@router.post("/{ref}/dissemination", response_model=schemas.CaseOut, status_code=201,
             summary="Record that the learning was shared")
def disseminate(ref: str, body: schemas.Disseminate, rf: Service, who: Who, response: Response,
                if_match: IfMatch = None) -> schemas.CaseOut:
    rf.record_dissemination(ref, who, body.kind, body.audience, body.date, body.reference,
                            revision=revision_of(if_match), reach=body.reach)
    return shown(rf, who, ref, response)


@router.post("/{ref}/actions/{number}/measurements", response_model=schemas.CaseOut, status_code=201,
             summary="Record a measured value of an action's measure")
def measure(ref: str, number: str, body: schemas.Measure, rf: Service, who: Who, response: Response,
            if_match: IfMatch = None) -> schemas.CaseOut:
    rf.measure_action(ref, number, who, body.value, body.date, body.note, revision=revision_of(if_match))
    return shown(rf, who, ref, response)


@router.post("/{ref}/training", response_model=schemas.CaseOut, status_code=201,
             summary="Record training attendance on a learning theme")
def training(ref: str, body: schemas.Training, rf: Service, who: Who, response: Response,
             if_match: IfMatch = None) -> schemas.CaseOut:
    rf.record_training(ref, who, body.theme, body.attended, body.date, body.course, revision=revision_of(if_match))
    return shown(rf, who, ref, response)
