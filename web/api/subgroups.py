"""`/api/v1/subgroups`: the partnership's sub-groups; anyone signed in may list them, administrators add and
rename them (the services refuse anyone else, as the command line does)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from reviewflow.engine.core.access import Identity
from reviewflow.engine.core.records import Subgroup
from reviewflow.engine.services.facade import Reviewflow
from reviewflow.web.security import identity, service

router = APIRouter(prefix="/subgroups", tags=["sub-groups"])

Who = Annotated[Identity, Depends(identity)]
Service = Annotated[Reviewflow, Depends(service)]


class SubgroupOut(BaseModel):
    """A sub-group: workflows and cases belong to one; a role can be held for one only (ROLE@NAME)."""

    name: str = Field(examples=["case_review"])
    title: str = Field(examples=["Case review sub-group"])
    created_at: datetime


class NewSubgroup(BaseModel):
    name: str = Field(min_length=1, max_length=63, examples=["audit"])
    title: str = Field(min_length=1, max_length=200, examples=["Audit sub-group"])


class SubgroupChange(BaseModel):
    title: str = Field(min_length=1, max_length=200)


def _out(g: Subgroup) -> SubgroupOut:
    return SubgroupOut(name=g.name, title=g.title, created_at=g.created_at)


@router.get("", response_model=list[SubgroupOut], summary="The sub-groups")
def list_subgroups(rf: Service, who: Who) -> list[SubgroupOut]:
    return [_out(g) for g in rf.subgroups(by=who)]


@router.post("", response_model=SubgroupOut, status_code=201, summary="Add a sub-group (administrators)")
def add_subgroup(body: NewSubgroup, rf: Service, who: Who) -> SubgroupOut:
    return _out(rf.subgroup_add(body.name, body.title, by=who))


@router.patch("/{name}", response_model=SubgroupOut, summary="Change a sub-group's title (administrators)")
def rename_subgroup(name: str, body: SubgroupChange, rf: Service, who: Who) -> SubgroupOut:
    return _out(rf.subgroup_rename(name, body.title, by=who))
