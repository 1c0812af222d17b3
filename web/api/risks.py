"""`/api/v1/risks` and `/api/v1/cases/{ref}/risks`: the risks on risk registers, and adding, reviewing and closing
them, under the same rules as the command line (the workflow's learning `manage` roles; a risk's owner may review
it). Every change carries the case's `ETag` as `If-Match`; the answer carries the new one."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, Response
from pydantic import BaseModel, Field

from reviewflow.engine.core import limits
from reviewflow.engine.core import risks as rules
from reviewflow.engine.core.access import Identity
from reviewflow.engine.core.risks import Risk
from reviewflow.engine.services.facade import Reviewflow
from reviewflow.web.api.cases import IfMatch, etag, revision_of
from reviewflow.web.security import identity, service

router = APIRouter(tags=["risks"])

Who = Annotated[Identity, Depends(identity)]
Service = Annotated[Reviewflow, Depends(service)]
_SCORE = Field(description="1 to 5 (checked by the service, which refuses anything else with a problem)",
               examples=[3])


class ScoreOut(BaseModel):
    scored_on: date
    likelihood: int
    impact: int
    score: int
    band: str = Field(examples=["amber"])
    by: str
    note: str | None = None


class RiskOut(BaseModel):
    """A risk: its current score (likelihood × impact), RAG band (green 1-6, amber 8-12, red 15-25) and trend
    against the review before (new, rising, falling or steady), with every scoring in order."""

    ref: str = Field(examples=["RISK-2026"])
    number: str = Field(examples=["R1"])
    title: str
    owner: str
    owner_agency: str
    controls: str
    status: str = Field(examples=["open"], description="open or closed")
    likelihood: int
    impact: int
    score: int
    band: str = Field(examples=["amber"], description="green, amber or red")
    trend: str = Field(examples=["rising"], description="new, rising, falling or steady")
    closed_reason: str | None = None
    closed_on: date | None = None
    reviews: list[ScoreOut]


class AddRisk(BaseModel):
    title: str = Field(min_length=1, max_length=rules.TITLE_LIMIT, examples=["Too few independent reviewers"])
    owner: str = Field(min_length=1, max_length=limits.USER_NAME, examples=["p.ward"])
    agency: str | None = Field(None, max_length=limits.AGENCY, description="Default: the owner's agency.")
    likelihood: int = _SCORE
    impact: int = _SCORE
    controls: str = Field(min_length=1, max_length=rules.CONTROLS_LIMIT)


class ReviewRisk(BaseModel):
    likelihood: int = _SCORE
    impact: int = _SCORE
    note: str | None = Field(None, max_length=rules.NOTE_LIMIT)


class CloseRisk(BaseModel):
    reason: str = Field(min_length=1, max_length=rules.REASON_LIMIT)


def _out(r: Risk) -> RiskOut:
    return RiskOut(**r.view())


def _answer(rf: Reviewflow, who: Identity, ref: str, response: Response) -> list[RiskOut]:
    response.headers["ETag"] = etag(rf.case(ref, who).revision)
    return [_out(r) for r in rf.risks(ref, who)]


@router.get("/risks", response_model=list[RiskOut], summary="The open risks of every register you may see")
def list_open_risks(rf: Service, who: Who) -> list[RiskOut]:
    return [_out(r) for r in rf.risks(None, who)]


@router.get("/cases/{ref}/risks", response_model=list[RiskOut], summary="The risks on a case's register")
def list_risks(ref: str, rf: Service, who: Who, response: Response) -> list[RiskOut]:
    return _answer(rf, who, ref, response)


@router.post("/cases/{ref}/risks", response_model=list[RiskOut], status_code=201, summary="Add a risk")
def add_risk(ref: str, body: AddRisk, rf: Service, who: Who, response: Response,
             if_match: IfMatch = None) -> list[RiskOut]:
    rf.add_risk(ref, who, body.title, body.owner, body.likelihood, body.impact, body.controls, body.agency,
                revision=revision_of(if_match))
    return _answer(rf, who, ref, response)


@router.post("/cases/{ref}/risks/{number}/review", response_model=list[RiskOut], summary="Score a risk again")
def review_risk(ref: str, number: str, body: ReviewRisk, rf: Service, who: Who, response: Response,
                if_match: IfMatch = None) -> list[RiskOut]:
    rf.review_risk(ref, who, number, body.likelihood, body.impact, body.note, revision=revision_of(if_match))
    return _answer(rf, who, ref, response)


@router.post("/cases/{ref}/risks/{number}/close", response_model=list[RiskOut],
             summary="Close a risk with a reason")
def close_risk(ref: str, number: str, body: CloseRisk, rf: Service, who: Who, response: Response,
               if_match: IfMatch = None) -> list[RiskOut]:
    rf.close_risk(ref, who, number, body.reason, revision=revision_of(if_match))
    return _answer(rf, who, ref, response)
