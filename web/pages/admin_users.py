"""Administration of people (`/admin/users`): the list, registering someone, disabling and enabling, giving and
taking roles and the administrator capability, the e-mail address and operating-system account, and resetting a
password by a one-time set-up code shown once.

Every change goes through the same façade methods as `reviewflow user ...` and the API's `/api/v1/users`, so the
services decide who may (administrators only) and seal each change in the administration log.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import Response

from reviewflow.engine.core.access import Identity
from reviewflow.engine.core.errors import ReviewflowError
from reviewflow.engine.core.records import Account
from reviewflow.engine.services.facade import Reviewflow
from reviewflow.web.pages.common import ErrorList, check_csrf, error_list, page, redirect, reviewflow, signed_in

router = APIRouter(include_in_schema=False)

Who = Annotated[Identity, Depends(signed_in)]
Text = Annotated[str, Form()]
Many = Annotated[list[str] | None, Form()]

DONE = {"added": "registered", "disabled": "disabled: they cannot sign in, and their sessions and API tokens have "
        "ended", "enabled": "enabled: they can sign in again", "granted": "given the role",
        "revoked": "no longer holds the role", "details": "updated", "admin": "made an administrator",
        "not-admin": "no longer an administrator"}
"""What the page says after each change, about the person changed."""
NEW_USER_FIELDS = {"name": "name", "user": "name", "role": "roles", "roles": "roles", "email": "email",
                   "agency": "agency", "os_account": "os_account"}


def _user_path(name: str, done: str | None = None, role: str | None = None) -> str:
    path = f"/admin/users/{quote(name, safe='')}"
    query = "&".join(f"{k}={quote(v, safe='')}" for k, v in (("done", done), ("role", role)) if v)
    return f"{path}?{query}" if query else path


@router.get("/admin/users")
def users_page(request: Request, who: Who) -> Response:
    """Every registered person: roles, agency, whether they can sign in."""
    accounts = reviewflow(request).accounts_list(who)
    return page(request, "admin/users.html", accounts=accounts, section="users")


def _new_user_page(request: Request, status: int = 200, errors: ErrorList | None = None,
                   values: dict[str, str] | None = None, chosen: list[str] | None = None) -> Response:
    return page(request, "admin/user_new.html", status=status, errors=errors or [], values=values or {},
                chosen=chosen or [], roles=reviewflow(request).known_roles(), section="users")


@router.get("/admin/users/new")
def new_user_form(request: Request, who: Who) -> Response:
    """The form to register someone."""
    reviewflow(request).check_admin(who, "registering users")
    return _new_user_page(request)


@router.post("/admin/users/new")
def add_user(request: Request, who: Who, csrf_token: Text = "", name: Text = "", email: Text = "",
             agency: Text = "", os_account: Text = "", roles: Many = None) -> Response:
    """Register someone with their roles; a refusal shows by the field it is about and nothing is written."""
    check_csrf(request, {"csrf_token": csrf_token})
    values = {"name": name.strip(), "email": email.strip(), "agency": agency.strip(), "os_account": os_account.strip()}
    chosen = [r for r in roles or [] if r]
    errors: ErrorList = []
    if not values["name"]:
        errors.append({"field": "name", "text": "Enter the person's user name"})
    if not chosen:
        errors.append({"field": "roles", "text": "Choose at least one role"})
    if errors:
        return _new_user_page(request, 422, errors, values, chosen)
    try:
        reviewflow(request).add_user(values["name"], chosen, values["email"] or None, values["agency"] or None,
                                     by=who, os_account=values["os_account"] or None)
    except ReviewflowError as exc:
        if exc.kind in ("forbidden", "unauthenticated"):
            raise
        return _new_user_page(request, exc.http_status, error_list(exc, NEW_USER_FIELDS, "name"), values, chosen)
    return redirect(_user_path(values["name"], "added"))


def _user_page(request: Request, who: Identity, name: str, status: int = 200, errors: ErrorList | None = None,
               values: dict[str, str] | None = None, done: str | None = None) -> Response:
    rf = reviewflow(request)
    rf.check_admin(who, f"reading the account of {name}")
    account = rf.account(name, who)
    grantable = [r for r in rf.known_roles() if r not in account.roles]
    shown = values if values is not None else {"email": account.email or "", "os_account": account.os_account or ""}
    return page(request, "admin/user.html", status=status, account=account, grantable=grantable, errors=errors or [],
                values=shown, done=done, section="users")


@router.get("/admin/users/{name}")
def user_page(request: Request, who: Who, name: str, done: str | None = None, role: str | None = None) -> Response:
    """One person's account and the forms that change it."""
    message = DONE.get(done or "")
    if done in ("granted", "revoked"):  # a role named in the address is shown only when it is a real one
        message = f"{message} {role}" if role in reviewflow(request).known_roles() else None
    return _user_page(request, who, name, done=message)


def _change(request: Request, who: Identity, name: str, done: str, act: Callable[[Reviewflow], object],
            fields: dict[str, str], fallback: str, values: dict[str, str] | None = None,
            role: str | None = None) -> Response:
    """Make one change through the façade; a refusal is shown on the person's page, and nothing is written."""
    try:
        act(reviewflow(request))
    except ReviewflowError as exc:
        if exc.kind in ("forbidden", "unauthenticated", "not_found"):
            raise
        return _user_page(request, who, name, exc.http_status, error_list(exc, fields, fallback), values)
    return redirect(_user_path(name, done, role))


@router.post("/admin/users/{name}/status")
def change_status(request: Request, who: Who, name: str, csrf_token: Text = "", status: Text = "") -> Response:
    """Disable someone (they cannot sign in; their sessions and tokens end at once) or enable them again."""
    check_csrf(request, {"csrf_token": csrf_token})
    if status not in ("disable", "enable"):
        return _user_page(request, who, name, 422, [{"field": "status", "text": "Choose to disable or enable"}])
    return _change(request, who, name, "disabled" if status == "disable" else "enabled",
                   lambda rf: rf.change_user(who, name, disable=status == "disable"), {}, "status")


@router.post("/admin/users/{name}/roles")
def change_roles(request: Request, who: Who, name: str, csrf_token: Text = "", grant: Text = "",
                 revoke: Text = "") -> Response:
    """Give a role (`grant`) or take one away (`revoke`)."""
    check_csrf(request, {"csrf_token": csrf_token})
    if revoke:
        return _change(request, who, name, "revoked", lambda rf: rf.change_user(who, name, revoke=[revoke]),
                       {"role": "grant"}, "grant", role=revoke)
    if not grant:
        return _user_page(request, who, name, 422, [{"field": "grant", "text": "Choose a role to give"}])
    return _change(request, who, name, "granted", lambda rf: rf.grant(name, [grant], by=who), {"role": "grant"},
                   "grant", role=grant)


@router.post("/admin/users/{name}/details")
def change_details(request: Request, who: Who, name: str, csrf_token: Text = "", email: Text = "",
                   os_account: Text = "") -> Response:
    """Change the e-mail address or the operating-system account the command line acts from (empty: none)."""
    check_csrf(request, {"csrf_token": csrf_token})
    rf = reviewflow(request)
    account: Account = rf.account(name, who)
    values = {"email": email.strip(), "os_account": os_account.strip()}
    email_changed = values["email"] != (account.email or "")
    os_changed = values["os_account"] != (account.os_account or "")
    if not (email_changed or os_changed):
        return _user_page(request, who, name, 422, [{"field": "email", "text": "Change the e-mail address or the "
                                                     "operating-system account first: both are as they were"}], values)
    return _change(request, who, name, "details",
                   lambda rf: rf.change_user(who, name, email=values["email"] if email_changed else None,
                                             os_account=values["os_account"] if os_changed else None),
                   {"email": "email", "os_account": "os_account"}, "email", values)


@router.post("/admin/users/{name}/admin")
def change_admin(request: Request, who: Who, name: str, csrf_token: Text = "", admin: Text = "") -> Response:
    """Give or take the administrator capability (the last administrator cannot lose it)."""
    check_csrf(request, {"csrf_token": csrf_token})
    if admin not in ("yes", "no"):
        return _user_page(request, who, name, 422, [{"field": "admin", "text": "Choose yes or no"}])
    return _change(request, who, name, "admin" if admin == "yes" else "not-admin",
                   lambda rf: rf.change_user(who, name, admin=admin == "yes"), {}, "admin")


@router.post("/admin/users/{name}/setup-code")
def setup_code(request: Request, who: Who, name: str, csrf_token: Text = "") -> Response:
    """Reset a password: a one-time code with which the person sets their own, shown here once and never again."""
    check_csrf(request, {"csrf_token": csrf_token})
    rf = reviewflow(request)
    code = rf.setup_code(who, name)
    return page(request, "admin/setup_code.html", account=rf.account(name, who), code=code,
                hours=f"{rf.settings.security.setup_code_hours:g}",
                section="users", headers={"Cache-Control": "no-store"})
