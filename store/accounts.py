"""Accounts: users' sign-in details, sessions, API tokens, failed sign-ins and one-time set-up codes.

Secrets never reach the database in the clear: sessions, tokens and codes are stored as hashes of the
value the person holds, passwords as Argon2id hashes made by the service.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, delete, func, insert, select, update
from sqlmodel import Session

from reviewflow.engine.core.errors import UserNotFound
from reviewflow.engine.core.records import Account, ApiToken
from reviewflow.store.models import (
    ApiTokenRow,
    AuthSessionRow,
    LoginFailureRow,
    SetupCodeRow,
    UserRoleRow,
    UserRow,
)

_USERS: Any = UserRow.__table__  # type: ignore[attr-defined]
_ROLES: Any = UserRoleRow.__table__  # type: ignore[attr-defined]
_SESSIONS: Any = AuthSessionRow.__table__  # type: ignore[attr-defined]
_TOKENS: Any = ApiTokenRow.__table__  # type: ignore[attr-defined]
_FAILURES: Any = LoginFailureRow.__table__  # type: ignore[attr-defined]
_CODES: Any = SetupCodeRow.__table__  # type: ignore[attr-defined]


def roles_of(s: Session, user_id: int) -> tuple[str, ...]:
    rows = s.connection().execute(select(_ROLES.c.role).where(_ROLES.c.user_id == user_id).order_by(_ROLES.c.role))
    return tuple(r for (r,) in rows)


_PERSON = (select(_USERS.c.id, _USERS.c.agency, _USERS.c.is_admin, _USERS.c.disabled_at, _ROLES.c.role)
           .select_from(_USERS.outerjoin(_ROLES, _ROLES.c.user_id == _USERS.c.id))
           .where(_USERS.c.name == bindparam("name")).order_by(_ROLES.c.role))
"""Built once: every change reads the person acting."""


def person(s: Session, name: str) -> tuple[Any, tuple[str, ...]] | None:
    """The user's row and roles in one statement (every change reads them), or None when nobody has the name."""
    rows = list(s.connection().execute(_PERSON, {"name": name}))
    if not rows:
        return None
    return rows[0], tuple(r.role for r in rows if r.role is not None)


def _account(s: Session, row: Any) -> Account:
    return Account(row.name, row.email, roles_of(s, row.id), row.agency, bool(row.is_admin), row.disabled_at,
                   row.password_hash is not None, row.os_account, row.created_at, row.notify)


def user_row(s: Session, name: str) -> Any:
    """The user's row (columns), or UserNotFound."""
    row = s.connection().execute(select(_USERS).where(_USERS.c.name == name)).first()
    if row is None:
        raise UserNotFound(name)
    return row


def find_user(s: Session, **column: Any) -> Any | None:
    """The user whose `column` has the value given (e.g. os_account='alice'), or None."""
    ((name, value),) = column.items()
    return s.connection().execute(select(_USERS).where(_USERS.c[name] == value)).first()


def user_by_email(s: Session, email: str) -> list[Any]:
    """Users whose e-mail address is `email`, compared without case."""
    return list(s.connection().execute(select(_USERS).where(func.lower(_USERS.c.email) == email.lower())))


def account(s: Session, name: str) -> Account:
    return _account(s, user_row(s, name))


def accounts(s: Session) -> list[Account]:
    return [_account(s, row) for row in s.connection().execute(select(_USERS).order_by(_USERS.c.name))]


def admin_count(s: Session) -> int:
    return int(s.connection().execute(select(func.count()).select_from(_USERS).where(
        _USERS.c.is_admin.is_(True), _USERS.c.disabled_at.is_(None))).scalar_one())


def set_user(s: Session, name: str, **values: Any) -> None:
    s.connection().execute(update(_USERS).where(_USERS.c.name == name).values(**values))


def remove_roles(s: Session, user_id: int, roles: list[str]) -> None:
    s.connection().execute(delete(_ROLES).where(_ROLES.c.user_id == user_id, _ROLES.c.role.in_(roles)))


# --- sessions ----------------------------------------------------------------------------------------

def add_session(s: Session, token_hash: str, user_id: int, via: str, address: str | None, now: datetime,
                expires_at: datetime) -> None:
    s.connection().execute(insert(_SESSIONS).values(token_hash=token_hash, user_id=user_id, via=via, address=address,
                                                    created_at=now, last_seen_at=now, expires_at=expires_at))


def session_row(s: Session, token_hash: str) -> Any | None:
    """The session and its user's name, or None."""
    query = (select(_SESSIONS, _USERS.c.name.label("user_name"))
             .join(_USERS, _USERS.c.id == _SESSIONS.c.user_id).where(_SESSIONS.c.token_hash == token_hash))
    return s.connection().execute(query).first()


def touch_session(s: Session, session_id: int, now: datetime) -> None:
    s.connection().execute(update(_SESSIONS).where(_SESSIONS.c.id == session_id).values(last_seen_at=now))


def end_sessions(s: Session, now: datetime, *, session_id: int | None = None, user_id: int | None = None) -> int:
    """End one session, or every session of a user; returns how many were still going."""
    query = update(_SESSIONS).where(_SESSIONS.c.ended_at.is_(None))
    query = query.where(_SESSIONS.c.id == session_id) if session_id is not None else \
        query.where(_SESSIONS.c.user_id == user_id)
    return int(s.connection().execute(query.values(ended_at=now)).rowcount)


# --- API tokens ---------------------------------------------------------------------------------------

def add_token(s: Session, token_hash: str, prefix: str, user_id: int, name: str, scope: str, now: datetime,
              expires_at: datetime) -> int:
    result = s.connection().execute(insert(_TOKENS).values(
        token_hash=token_hash, prefix=prefix, user_id=user_id, name=name, scope=scope, created_at=now,
        expires_at=expires_at))
    key = result.inserted_primary_key
    assert key is not None, "a single-row INSERT without RETURNING has an inserted primary key"
    return int(key[0])


def token_row(s: Session, token_hash: str) -> Any | None:
    query = (select(_TOKENS, _USERS.c.name.label("user_name"))
             .join(_USERS, _USERS.c.id == _TOKENS.c.user_id).where(_TOKENS.c.token_hash == token_hash))
    return s.connection().execute(query).first()


def use_token(s: Session, token_id: int, now: datetime) -> None:
    s.connection().execute(update(_TOKENS).where(_TOKENS.c.id == token_id).values(last_used_at=now))


def tokens(s: Session, user_id: int | None = None) -> list[ApiToken]:
    query = (select(_TOKENS, _USERS.c.name.label("user_name"))
             .join(_USERS, _USERS.c.id == _TOKENS.c.user_id).order_by(_TOKENS.c.id))
    if user_id is not None:
        query = query.where(_TOKENS.c.user_id == user_id)
    return [ApiToken(r.id, r.user_name, r.name, r.prefix, r.scope, r.created_at, r.expires_at, r.revoked_at,
                     r.last_used_at) for r in s.connection().execute(query)]


def revoke_tokens(s: Session, now: datetime, *, token_id: int | None = None, user_id: int | None = None) -> int:
    query = update(_TOKENS).where(_TOKENS.c.revoked_at.is_(None))
    query = query.where(_TOKENS.c.id == token_id) if token_id is not None else query.where(_TOKENS.c.user_id == user_id)
    return int(s.connection().execute(query.values(revoked_at=now)).rowcount)


# --- failed sign-ins -----------------------------------------------------------------------------------

def add_failure(s: Session, account_name: str, address: str, now: datetime) -> None:
    s.connection().execute(insert(_FAILURES).values(account=account_name, address=address, at=now))


def failures_since(s: Session, since: datetime, *, account_name: str | None = None,
                   address: str | None = None) -> list[datetime]:
    """Times of failed sign-ins since `since` for an account name or an address, oldest first."""
    query = select(_FAILURES.c.at).where(_FAILURES.c.at >= since).order_by(_FAILURES.c.at)
    query = query.where(_FAILURES.c.account == account_name) if account_name is not None else \
        query.where(_FAILURES.c.address == address)
    return [at for (at,) in s.connection().execute(query)]


def clear_failures(s: Session, account_name: str) -> None:
    s.connection().execute(delete(_FAILURES).where(_FAILURES.c.account == account_name))


# --- one-time set-up codes --------------------------------------------------------------------------------

def add_setup_code(s: Session, code_hash: str, user_id: int, now: datetime, expires_at: datetime) -> None:
    s.connection().execute(update(_CODES).where(_CODES.c.user_id == user_id, _CODES.c.used_at.is_(None))
                           .values(used_at=now))  # a new code replaces any unused one
    s.connection().execute(insert(_CODES).values(code_hash=code_hash, user_id=user_id, created_at=now,
                                                 expires_at=expires_at))


def setup_code_row(s: Session, code_hash: str) -> Any | None:
    query = (select(_CODES, _USERS.c.name.label("user_name"))
             .join(_USERS, _USERS.c.id == _CODES.c.user_id).where(_CODES.c.code_hash == code_hash))
    return s.connection().execute(query).first()


def use_setup_code(s: Session, code_id: int, now: datetime) -> None:
    s.connection().execute(update(_CODES).where(_CODES.c.id == code_id).values(used_at=now))
