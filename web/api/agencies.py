"""`/api/v1/agencies`: the partnership's register of agencies, for anyone signed in."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from reviewflow.engine.core.access import Identity
from reviewflow.engine.services.facade import Reviewflow
from reviewflow.web.security import identity, service

router = APIRouter()

Who = Annotated[Identity, Depends(identity)]
Service = Annotated[Reviewflow, Depends(service)]


class AgencyOut(BaseModel):
    """A registered agency, in the register's spelling: what an action's owning agency, a user's agency or a
    recommendation's agencies must name (case, quotes and spacing aside)."""

    name: str = Field(examples=["Children's social care"])


@router.get("/agencies", response_model=list[AgencyOut], tags=["agencies"], summary="The registered agencies")
def list_agencies(rf: Service, who: Who) -> list[AgencyOut]:
    return [AgencyOut(name=n) for n in rf.agencies(by=who)]
