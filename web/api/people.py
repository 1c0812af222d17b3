"""`/api/v1/me`, `/session`, `/tokens`, `/actions` and `/reports`: the person asking, their sign-in, their work,
their tokens, the actions they may see, and the Board report."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response

from reviewflow.engine.core.access import Identity
from reviewflow.engine.core.clock import parse_date
from reviewflow.engine.core.durations import local_date
from reviewflow.engine.services.facade import Reviewflow
from reviewflow.web.api import schemas
from reviewflow.web.api.cases import paged
from reviewflow.web.security import (
    Caller,
    caller,
    clear_session_cookie,
    client_address,
    identity,
    service,
    set_session_cookie,
)

router = APIRouter()

Who = Annotated[Identity, Depends(identity)]
Service = Annotated[Reviewflow, Depends(service)]


@router.post("/session", response_model=schemas.SessionOut, tags=["sign-in"], summary="Sign in with a password",
             responses={401: {"description": "Wrong name or password"}, 429: {"description": "Locked for a while"}})
def sign_in(body: schemas.SignIn, request: Request, response: Response, rf: Service) -> schemas.SessionOut:
    signed = rf.sign_in(body.name, body.password, client_address(request))
    max_age = int((signed.expires_at - rf.clock()).total_seconds())
    set_session_cookie(response, signed.token, max_age, request.app.state.secure_cookies)
    return schemas.SessionOut(name=signed.identity.name, csrf_token=signed.csrf, expires_at=signed.expires_at)


@router.delete("/session", status_code=204, tags=["sign-in"], summary="Sign out")
def sign_out(request: Request, rf: Service, found: Caller = Depends(caller)) -> Response:
    response = Response(status_code=204)
    if found.session_token:
        rf.sign_out(found.session_token)
    clear_session_cookie(response, request.app.state.secure_cookies)
    return response


@router.get("/me", response_model=schemas.Me, tags=["me"], summary="Who I am signed in as")
def me(who: Who) -> schemas.Me:
    return schemas.me(who)


@router.get("/me/work", response_model=schemas.WorkOut, tags=["me"], summary="What is waiting on me")
def my_work(rf: Service, who: Who) -> schemas.WorkOut:
    work = rf.my_work(who)
    return schemas.WorkOut(
        name=who.name, today=work.today, stages=[schemas.summary(v) for v in work.stages],
        actions=[schemas.action(a, work.today) for a in work.actions],
        evidence=[schemas.EvidenceToDecideOut(ref=e.action.ref, action=e.action.number,
                                              evidence=schemas.evidence(e.evidence)) for e in work.evidence],
        counts={"stages": len(work.stages), "actions": len(work.actions), "evidence": len(work.evidence),
                "overdue_stages": work.overdue_stages, "overdue_actions": work.overdue_actions})


@router.get("/actions", response_model=schemas.ActionPage, tags=["actions"], summary="Actions I may see")
def list_actions(rf: Service, who: Who, agency: str | None = Query(None, max_length=120), overdue: bool = False,
                 theme: str | None = Query(None, max_length=60), status: str | None = Query(None, max_length=40),
                 ref: str | None = Query(None, max_length=64), page: int = Query(1, ge=1, le=100000),
                 per_page: int = Query(50, ge=1, le=500)) -> schemas.ActionPage:
    found = rf.actions(agency, overdue, theme, ref, status, actor=who)
    items, total = paged(found, page, per_page)
    today = local_date(rf.clock())
    return schemas.ActionPage(page=page, per_page=per_page, total=total,
                              items=[schemas.action(a, today) for a in items])


@router.get("/tokens", response_model=list[schemas.TokenOut], tags=["tokens"],  # type: ignore[valid-type]
            summary="My API tokens")
def list_tokens(rf: Service, who: Who) -> list[Any]:
    return [schemas.token(t) for t in rf.tokens(who, None if who.admin else who.name)]


@router.post("/tokens", response_model=schemas.NewTokenOut, status_code=201, tags=["tokens"],
             summary="Make an API token (shown once)")
def create_token(body: schemas.NewToken, rf: Service, who: Who) -> schemas.NewTokenOut:
    made = rf.create_token(who, body.user or who.name, body.name, body.scope, body.days)
    return schemas.NewTokenOut(**schemas.token(made.token).model_dump(), token=made.secret)


@router.delete("/tokens/{token_id}", response_model=schemas.TokenOut, tags=["tokens"], summary="Revoke an API token")
def revoke_token(token_id: int, rf: Service, who: Who) -> Any:
    return schemas.token(rf.revoke_token(who, token_id))


@router.get("/reports/board", tags=["reports"], summary="The Board report's figures",
            response_description="Every figure of the Board report (see docs/reports.md).")
def board_report(rf: Service, who: Who, start: str | None = Query(None, alias="from", max_length=40),
                 end: str | None = Query(None, alias="to", max_length=40)) -> Any:
    from reviewflow.engine.render.reports import render

    first: date | None = parse_date(start, "from") if start else None
    last: date | None = parse_date(end, "to") if end else None
    report = rf.board_report(first, last, actor=who)
    return Response(render(report, "json"), media_type="application/json")
