"""`/api/v1/cases/{ref}/progress-checks`: recording the outcome of a case's progress check (regulation 14)."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Response
from pydantic import BaseModel, Field

from reviewflow.web.api import schemas
from reviewflow.web.api.cases import IfMatch, Service, Who, revision_of, shown

router = APIRouter(prefix="/cases", tags=["cases"])


class CheckOutcome(BaseModel):
    outcome: Literal["on_track", "concerns", "off_track"] = Field(description="What the check found")
    note: str | None = Field(default=None, max_length=4000,
                             description="What the sub-group noted: a reference to its minutes, never a name")
    check: str | None = Field(default=None, max_length=100,
                              description="Which progress check, when the stage has several (default: its only one)")


@router.post("/{ref}/progress-checks", response_model=schemas.CaseOut,
             summary="Record the outcome of the latest progress check waiting for one")
def record_check(ref: str, body: CheckOutcome, rf: Service, who: Who, response: Response,
                 if_match: IfMatch = None) -> schemas.CaseOut:
    rf.record_check(ref, who, body.outcome, body.note, body.check, revision=revision_of(if_match))
    return shown(rf, who, ref, response)
