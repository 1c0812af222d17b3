"""`/api/v1/cases/{ref}/returns`: the agencies asked for returns on a case, and requesting, marking in and excusing
them, under the same rules as the command line (the definition's `returns:`). Every change carries the case's
`ETag` as `If-Match`; the answer carries the new one."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, Response
from pydantic import BaseModel, Field

from reviewflow.engine.core import limits
from reviewflow.engine.core.access import Identity
from reviewflow.engine.core.durations import local_date
from reviewflow.engine.core.records import AgencyReturn
from reviewflow.engine.services.facade import Reviewflow
from reviewflow.web.api.cases import IfMatch, etag, revision_of
from reviewflow.web.security import identity, service

router = APIRouter(prefix="/cases", tags=["returns"])

Who = Annotated[Identity, Depends(identity)]
Service = Annotated[Reviewflow, Depends(service)]
_AGENCY = Field(min_length=1, max_length=limits.AGENCY, examples=["Police"])


class ReturnOut(BaseModel):
    """An agency's return: `late` while requested and past its due date."""

    agency: str = Field(examples=["Police"])
    status: str = Field(examples=["late"], description="requested, late, returned or excused")
    requested_on: date
    due_date: date
    returned_on: date | None = None
    reason: str | None = Field(None, description="Why it was excused.")


class RequestReturns(BaseModel):
    agencies: list[Annotated[str, _AGENCY]] = Field(min_length=1, max_length=500)
    due: str | None = Field(None, max_length=20, description="YYYY-MM-DD; default: the workflow's `returns: due`.",
                            examples=["2026-03-31"])


class MarkIn(BaseModel):
    date: str | None = Field(None, max_length=20, description="When it came in (YYYY-MM-DD); default: today.")


class Excuse(BaseModel):
    reason: str = Field(min_length=1, max_length=limits.STATUS_REASON)


def _out(r: AgencyReturn, today: date) -> ReturnOut:
    return ReturnOut(agency=r.agency, status=r.shown_status(today), requested_on=r.requested_on,
                     due_date=r.due_date, returned_on=r.returned_on, reason=r.reason)


def _answer(rf: Reviewflow, who: Identity, ref: str, response: Response) -> list[ReturnOut]:
    today = local_date(rf.clock())
    response.headers["ETag"] = etag(rf.case(ref, who).revision)
    return [_out(r, today) for r in rf.returns(ref, who)]


@router.get("/{ref}/returns", response_model=list[ReturnOut], summary="The agencies asked for returns on a case")
def list_returns(ref: str, rf: Service, who: Who, response: Response) -> list[ReturnOut]:
    return _answer(rf, who, ref, response)


@router.post("/{ref}/returns", response_model=list[ReturnOut], status_code=201, summary="Ask agencies for returns")
def request_returns(ref: str, body: RequestReturns, rf: Service, who: Who, response: Response,
                    if_match: IfMatch = None) -> list[ReturnOut]:
    rf.request_returns(ref, who, body.agencies, body.due, revision=revision_of(if_match))
    return _answer(rf, who, ref, response)


@router.post("/{ref}/returns/{agency}/in", response_model=list[ReturnOut], summary="Mark an agency's return in")
def mark_in(ref: str, agency: str, body: MarkIn, rf: Service, who: Who, response: Response,
            if_match: IfMatch = None) -> list[ReturnOut]:
    rf.mark_return_in(ref, who, agency, body.date, revision=revision_of(if_match))
    return _answer(rf, who, ref, response)


@router.post("/{ref}/returns/{agency}/excuse", response_model=list[ReturnOut],
             summary="Excuse an agency's return with a reason")
def excuse(ref: str, agency: str, body: Excuse, rf: Service, who: Who, response: Response,
           if_match: IfMatch = None) -> list[ReturnOut]:
    rf.excuse_return(ref, who, agency, body.reason, revision=revision_of(if_match))
    return _answer(rf, who, ref, response)
