"""`/api/v1/users`: registering people, their roles and sign-in, for administrators only (the services refuse
anyone else, as the command line does)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from reviewflow.engine.core.access import Identity
from reviewflow.engine.core.records import Account
from reviewflow.engine.services.facade import Reviewflow
from reviewflow.web.security import identity, service

router = APIRouter(prefix="/users", tags=["administration"])

Who = Annotated[Identity, Depends(identity)]
Service = Annotated[Reviewflow, Depends(service)]


class AccountOut(BaseModel):
    name: str
    email: str | None
    roles: list[str]
    agency: str | None
    admin: bool
    disabled_at: datetime | None
    has_password: bool
    os_account: str | None
    created_at: datetime


class NewUser(BaseModel):
    name: str = Field(min_length=1, max_length=64)
    roles: list[str] = Field(min_length=1)
    email: str | None = Field(default=None, max_length=254)
    agency: str | None = Field(default=None, max_length=120)
    os_account: str | None = Field(default=None, max_length=64)


class UserChange(BaseModel):
    disabled: bool | None = None
    email: str | None = Field(default=None, max_length=254)
    os_account: str | None = Field(default=None, max_length=64)
    admin: bool | None = None
    revoke: list[str] = []
    grant: list[str] = []
    subgroup: str | None = Field(default=None, max_length=63,
                                 description="The roles in `grant` and `revoke` are held for this sub-group only")


class SetupCode(BaseModel):
    code: str = Field(description="Give it to the person: with it they set their own password, once.")


def _out(a: Account) -> AccountOut:
    return AccountOut(name=a.name, email=a.email, roles=list(a.roles), agency=a.agency, admin=a.admin,
                      disabled_at=a.disabled_at, has_password=a.has_password, os_account=a.os_account,
                      created_at=a.created_at)


@router.get("", response_model=list[AccountOut], summary="Every account")
def list_users(rf: Service, who: Who) -> list[AccountOut]:
    return [_out(a) for a in rf.accounts_list(who)]


@router.post("", response_model=AccountOut, status_code=201, summary="Register a person")
def add_user(body: NewUser, rf: Service, who: Who) -> AccountOut:
    rf.add_user(body.name, body.roles, body.email, body.agency, by=who, os_account=body.os_account)
    return _out(rf.account(body.name, who))


@router.patch("/{name}", response_model=AccountOut, summary="Disable, enable, or change a person's details")
def change_user(name: str, body: UserChange, rf: Service, who: Who) -> AccountOut:
    if body.grant:
        rf.grant(name, body.grant, by=who, subgroup=body.subgroup)
    if any(v is not None for v in (body.disabled, body.email, body.os_account, body.admin)) or body.revoke:
        rf.change_user(who, name, disable=body.disabled, email=body.email, os_account=body.os_account,
                       admin=body.admin, revoke=body.revoke, subgroup=body.subgroup)
    return _out(rf.account(name, who))


@router.post("/{name}/setup-code", response_model=SetupCode, status_code=201,
             summary="A one-time code with which the person sets their password")
def setup_code(name: str, rf: Service, who: Who) -> SetupCode:
    return SetupCode(code=rf.setup_code(who, name))
