"""Who is acting: identities from what people cannot simply type (the operating-system account running
a command, a personal API token, a signed-in session), passwords, sign-in throttling, single sign-on,
and the administration of accounts. Every administrator's change is sealed in the audit chain.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import structlog

from reviewflow.engine.core import limits
from reviewflow.engine.core.access import WRITE, Identity
from reviewflow.engine.core.errors import (
    InvalidValue,
    NotFound,
    NotPermitted,
    NotSignedIn,
    StoreError,
    Throttled,
)
from reviewflow.engine.core.records import Account, AdminEvent, ApiToken
from reviewflow.engine.services.context import ServiceContext
from reviewflow.store import accounts, admin_log, repo

log = structlog.get_logger("reviewflow.accounts")

TOKEN_PREFIX = "rf_"
_EMAIL = re.compile(r"^[^@\s,;<>\"'()\[\]\\]+@[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?"
                    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?)+$")
_OS_ACCOUNT = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.@-]{0,63}$")
SYSTEM = Identity("system", admin=True, via="system")
"""Code in the same process (the demo, the worker, tests): trusted, as anyone who can run code is."""


def os_account() -> str:
    """The name of the operating-system account running this process."""
    import getpass
    import os

    try:
        import pwd

        return pwd.getpwuid(os.geteuid()).pw_name
    except (ImportError, KeyError):  # pragma: no cover - not a Unix, or an account with no passwd entry
        return getpass.getuser()


def secret_hash(secret: str) -> str:
    """How a session token, API token or set-up code is stored: its SHA-256 (they are long and random)."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def csrf_token(session_token: str) -> str:
    """The CSRF token of a session: derived from its secret, so only its holder can have it."""
    return hmac.new(session_token.encode(), b"reviewflow csrf", hashlib.sha256).hexdigest()


def check_email(email: str | None) -> str | None:
    """One plain address or none: no display name, no list, no line break."""
    if email is None or not email.strip():
        return None
    text = limits.check(email.strip(), "email", limits.EMAIL, "e-mail address")
    if not _EMAIL.match(text) or not _one_address(text):
        raise InvalidValue(f"{email!r} is not one e-mail address: give a single address such as "
                           "a.khan@example.org (no name, comma or line break)", field="email", value=email)
    return text


def _one_address(text: str) -> bool:
    """Whether `text` is one address by the e-mail standards (email-validator; the domain is not looked up)."""
    from email_validator import EmailNotValidError, validate_email

    try:
        validate_email(text, check_deliverability=False, allow_display_name=False, allow_quoted_local=False)
    except EmailNotValidError:
        return False
    return True


@dataclass(frozen=True)
class SignedIn:
    """A new session: the token goes in the cookie (and nowhere else), the CSRF token in forms."""

    token: str
    csrf: str
    identity: Identity
    expires_at: datetime


@dataclass(frozen=True)
class NewToken:
    """A new API token: `secret` is shown once and never again."""

    secret: str
    token: ApiToken


def _hasher() -> Any:
    from argon2 import PasswordHasher

    return PasswordHasher()  # Argon2id, the library's recommended parameters


class AccountService:
    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx

    @property
    def rules(self) -> Any:
        return self.ctx.settings.security

    # --- identities --------------------------------------------------------------------------------

    def _identity(self, row: Any, via: str, scope: str = WRITE, s: Any = None) -> Identity:
        roles = frozenset(accounts.account(s, row.name).roles) if s is not None else frozenset()
        return Identity(row.name, roles, row.agency, bool(row.is_admin), None, via, scope)

    def identify_os(self, os_account: str) -> Identity | None:
        """The registered user mapped to this operating-system account, if any and not disabled."""
        with self.ctx.read() as s:
            row = accounts.find_user(s, os_account=os_account)
            if row is None or row.disabled_at is not None:
                return None
            return self._identity(row, "os", WRITE, s)

    def identify_token(self, token: str) -> Identity:
        """The holder of a personal API token, or NotSignedIn saying why it is not accepted."""
        now = self.ctx.clock()
        with self.ctx.read() as s:  # a read: every request checks its token, and only a few write
            row = accounts.token_row(s, secret_hash(token.strip())) if token.startswith(TOKEN_PREFIX) else None
            if row is None or row.revoked_at is not None or row.expires_at <= now:
                raise NotSignedIn("the API token is not valid (unknown, revoked or expired): "
                                  "ask an administrator for a new one ('reviewflow token create')")
            user = accounts.user_row(s, row.user_name)
            if user.disabled_at is not None:
                raise NotSignedIn("the API token's owner is disabled")
            stale = row.last_used_at is None or now - row.last_used_at > timedelta(minutes=1)
            token_id, identity = row.id, self._identity(user, "token", row.scope, s)
        if stale:  # when it was last used, to the minute
            with self.ctx.transaction() as s:
                accounts.use_token(s, token_id, now)
        return identity

    def identify_session(self, token: str) -> Identity:
        """The person signed in with this session, or NotSignedIn (ended, timed out, or a disabled user)."""
        now = self.ctx.clock()
        with self.ctx.read() as s:  # a read: every page checks its session, and only a few write
            row = accounts.session_row(s, secret_hash(token))
            if row is None or row.ended_at is not None:
                raise NotSignedIn("you are not signed in: sign in again")
            idle = timedelta(minutes=self.rules.session_idle_minutes)
            timed_out = row.expires_at <= now or now - row.last_seen_at > idle
            user = accounts.user_row(s, row.user_name)
            session_id, seen = row.id, now - row.last_seen_at > timedelta(seconds=30)
            identity = None if timed_out or user.disabled_at is not None else self._identity(user, "session", WRITE, s)
        if timed_out:
            with self.ctx.transaction() as s:
                accounts.end_sessions(s, now, session_id=session_id)
            raise NotSignedIn("your session has timed out: sign in again")
        if identity is None:
            raise NotSignedIn("your account is disabled: ask an administrator")
        if seen:  # the idle time-out counts from here, to half a minute
            with self.ctx.transaction() as s:
                accounts.touch_session(s, session_id, now)
        return identity

    def act_as(self, by: Identity, name: str) -> Identity:
        """An administrator acting for someone (`--as`): that person's rights, recorded as 'ADMIN for USER'."""
        current = self.refresh(by)
        if not current.admin:
            raise NotPermitted(f"--as is for administrators; {by.name} is not one: act as yourself (leave out "
                               "--as), or ask an administrator", user=by.name)
        with self.ctx.read() as s:
            row = accounts.user_row(s, name)
            if row.disabled_at is not None:
                raise InvalidValue(f"user {name} is disabled: enable them first with 'reviewflow user enable {name}'",
                                   value=name)
            found = self._identity(row, by.via, by.scope, s)
        return Identity(found.name, found.roles, found.agency, False, by.name, by.via, by.scope)

    def refresh(self, who: Identity) -> Identity:
        """`who` as the database knows them now (roles, agency, administrator), or NotSignedIn if disabled."""
        if who is SYSTEM:
            return who
        with self.ctx.read() as s:
            try:
                row = accounts.user_row(s, who.name)
            except NotFound:
                raise NotSignedIn(f"user {who.name} is no longer registered") from None
            if row.disabled_at is not None:
                raise NotSignedIn(f"user {who.name} is disabled")
            fresh = self._identity(row, who.via, who.scope, s)
            if who.acting_admin:
                admin = accounts.find_user(s, name=who.acting_admin)
                if admin is None or admin.disabled_at is not None or not admin.is_admin:
                    raise NotSignedIn(f"{who.acting_admin} is no longer an administrator")
                return Identity(fresh.name, fresh.roles, fresh.agency, False, who.acting_admin, who.via, who.scope)
        return fresh

    # --- passwords and sign-in --------------------------------------------------------------------------

    def check_password_rules(self, password: str) -> None:
        if len(password) < self.rules.password_min_length:
            raise InvalidValue(f"the password is {len(password)} characters long; use at least "
                               f"{self.rules.password_min_length} (a few words are easy to remember)",
                               field="password")
        if len(password) > 1024:
            raise InvalidValue("the password is over 1024 characters long: use a shorter one", field="password")

    def sign_in(self, name: str, password: str, address: str, via: str = "password") -> SignedIn:
        """Check a password (throttled per account and per address) and start a session."""
        now = self.ctx.clock()
        self._check_throttle(name, address, now)
        with self.ctx.read() as s:
            row = accounts.find_user(s, name=name)
        ok = False
        if row is not None and row.password_hash:
            ok = self._verify(row.password_hash, password)
        else:
            self._verify(_DUMMY_HASH, password)  # the same work whether or not the account exists
        if not ok or row is None or row.disabled_at is not None:
            with self.ctx.transaction() as s:
                accounts.add_failure(s, name[:100], address[:100], now)
            log.warning("signin.failed", account=name[:100], address=address[:100])
            if ok and row is not None and row.disabled_at is not None:
                raise NotSignedIn("this account is disabled: ask an administrator")
            raise NotSignedIn("the user name or password is not right: check them and try again", field="password")
        if row.password_hash and _hasher().check_needs_rehash(row.password_hash):
            with self.ctx.transaction() as s:
                accounts.set_user(s, name, password_hash=_hasher().hash(password))
        return self._start_session(name, via, address)

    def _verify(self, stored: str, password: str) -> bool:
        from argon2.exceptions import InvalidHashError, VerificationError

        try:
            return bool(_hasher().verify(stored, password))
        except (VerificationError, InvalidHashError):
            return False

    def _check_throttle(self, name: str, address: str, now: datetime) -> None:
        window = timedelta(minutes=self.rules.lock_minutes)
        with self.ctx.read() as s:
            by_account = accounts.failures_since(s, now - window, account_name=name[:100])
            by_address = accounts.failures_since(s, now - window, address=address[:100])
        for found, limit, what in ((by_account, self.rules.failures_per_account, "this account"),
                                   (by_address, self.rules.failures_per_address, "this address")):
            if len(found) >= limit:
                until = found[-1] + window
                minutes = max(1, int((until - now).total_seconds() // 60) + 1)
                log.warning("signin.locked", account=name[:100], address=address[:100], failures=len(found))
                raise Throttled(f"too many failed sign-ins for {what}: try again in {minutes} minute(s), or ask an "
                                "administrator to reset the password", retry_after=minutes * 60)

    def _start_session(self, name: str, via: str, address: str | None) -> SignedIn:
        now = self.ctx.clock()
        token = secrets.token_urlsafe(32)
        expires = now + timedelta(hours=self.rules.session_hours)
        with self.ctx.transaction() as s:
            row = accounts.user_row(s, name)
            accounts.add_session(s, secret_hash(token), row.id, via, address, now, expires)
            accounts.clear_failures(s, name)
            identity = self._identity(row, "session", WRITE, s)
        log.info("signin.ok", user=name, via=via)
        return SignedIn(token, csrf_token(token), identity, expires)

    def sign_out(self, token: str) -> None:
        now = self.ctx.clock()
        with self.ctx.transaction() as s:
            row = accounts.session_row(s, secret_hash(token))
            if row is not None:
                accounts.end_sessions(s, now, session_id=row.id)

    def sign_in_sso(self, claims: Mapping[str, Any], address: str | None) -> SignedIn:
        """A session for the registered user the identity provider's verified answer maps to.

        The provider never creates users or grants roles: an answer that maps to nobody is refused.
        """
        oidc = self.ctx.settings.oidc
        if oidc is None:
            raise NotSignedIn("single sign-on is not configured")
        subject = str(claims.get("sub") or "")
        with self.ctx.read() as s:
            row = accounts.find_user(s, sso_subject=subject) if subject else None
            if row is None and oidc.match == "email":
                email = str(claims.get("email") or "")
                if not email or claims.get("email_verified") is not True:
                    raise NotSignedIn("your organisation's sign-in did not give a verified e-mail address: "
                                      "ask an administrator")
                matches = accounts.user_by_email(s, email)
                row = matches[0] if len(matches) == 1 else None
        if row is None or row.disabled_at is not None:
            log.warning("signin.sso_unmatched", subject=subject[:100])
            raise NotSignedIn("you signed in with your organisation, but no active reviewflow account matches: "
                              "ask an administrator to register you with your e-mail address")
        if subject and row.sso_subject != subject:
            with self.ctx.transaction() as s:
                accounts.set_user(s, row.name, sso_subject=subject)
        return self._start_session(row.name, "sso", address)

    # --- API tokens -------------------------------------------------------------------------------------

    def create_token(self, by: Identity, name: str, label: str, scope: str, days: int | None = None) -> NewToken:
        """A personal API token for `name` (themselves, or anyone when `by` is an administrator)."""
        if scope not in ("read", "write"):
            raise InvalidValue(f"scope {scope!r}: use read or write", field="scope", value=scope,
                               allowed=("read", "write"))
        days = days or self.rules.token_days
        if not 1 <= days <= self.rules.token_max_days:
            raise InvalidValue(f"a token lasts 1 to {self.rules.token_max_days} days, not {days}", field="days")
        label = label.strip()
        if not label or len(label) > limits.TOKEN_LABEL or not label.isprintable():
            raise InvalidValue(f"give the token a name of up to {limits.TOKEN_LABEL} characters, e.g. 'police case "
                               "system'", field="name", limit=limits.TOKEN_LABEL, length=len(label))
        who = self.refresh(by)
        if who.name != name and not who.admin:
            raise NotPermitted("only an administrator may make a token for someone else", user=who.name)
        now = self.ctx.clock()
        secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
        with self.ctx.transaction() as s:
            user = accounts.user_row(s, name)
            if user.disabled_at is not None:
                raise InvalidValue(f"user {name} is disabled", value=name)
            token_id = accounts.add_token(s, secret_hash(secret), secret[:10], user.id, label, scope, now,
                                          now + timedelta(days=days))
            self._audit(s, who, "token.create", name, {"token": token_id, "name": label, "scope": scope,
                                                       "days": days})
            token = next(t for t in accounts.tokens(s, user.id) if t.id == token_id)
        return NewToken(secret, token)

    def tokens(self, by: Identity, name: str | None = None) -> list[ApiToken]:
        who = self.refresh(by)
        with self.ctx.read() as s:
            if name is None and who.admin:
                return accounts.tokens(s)
            target = name or who.name
            if target != who.name and not who.admin:
                raise NotPermitted("only an administrator may list someone else's tokens", user=who.name)
            return accounts.tokens(s, accounts.user_row(s, target).id)

    def revoke_token(self, by: Identity, token_id: int) -> ApiToken:
        who = self.refresh(by)
        now = self.ctx.clock()
        with self.ctx.transaction() as s:
            found = next((t for t in accounts.tokens(s) if t.id == token_id), None)
            if found is None or (found.user != who.name and not who.admin):
                raise NotFound(f"no token {token_id}: see 'reviewflow token list'", value=token_id)
            accounts.revoke_tokens(s, now, token_id=token_id)
            self._audit(s, who, "token.revoke", found.user, {"token": token_id})
            return next(t for t in accounts.tokens(s) if t.id == token_id)

    # --- administration ----------------------------------------------------------------------------------

    def require_admin(self, by: Identity | None, what: str) -> Identity:
        """`by` as an administrator now, or NotPermitted naming what needs one."""
        if by is None:
            return SYSTEM
        who = self.refresh(by)
        if not who.admin and who.acting_admin is None:  # an administrator acting for someone is still one
            raise NotPermitted(f"{what} is for administrators; {who.name} is not one: ask an administrator",
                               user=who.name)
        return who

    def _audit(self, s: Any, by: Identity, action: str, target: str, details: Mapping[str, Any]) -> None:
        admin_log.record(s, self.ctx.clock(), by.recorded, action, target, dict(details))
        log.info("admin." + action, actor=by.recorded, target=target)

    def audit(self, s: Any, by: Identity | None, action: str, target: str, details: Mapping[str, Any]) -> None:
        """Seal an administrator's change in the audit chain, in the caller's transaction."""
        self._audit(s, by or SYSTEM, action, target, details)

    def accounts(self, by: Identity | None = None) -> list[Account]:
        self.require_admin(by, "listing every account")
        with self.ctx.read() as s:
            return accounts.accounts(s)

    def account(self, name: str, by: Identity | None = None) -> Account:
        if by is not None and self.refresh(by).name != name:
            self.require_admin(by, "reading someone else's account")
        with self.ctx.read() as s:
            return accounts.account(s, name)

    def events(self, by: Identity | None = None, limit: int = 500) -> list[AdminEvent]:
        self.require_admin(by, "reading the administration log")
        with self.ctx.read() as s:
            return admin_log.events(s, limit)

    def change(self, by: Identity | None, name: str, *, disable: bool | None = None, email: str | None = None,
               os_account: str | None = None, admin: bool | None = None,
               revoke: Sequence[str] = ()) -> Account:
        """Disable or enable a user, change their e-mail address, map an operating-system account, give or take
        the administrator capability, or revoke roles; each change sealed in the administration log."""
        who = self.require_admin(by, f"changing user {name}")
        now = self.ctx.clock()
        changed: dict[str, Any] = {}
        with self.ctx.transaction() as s:
            row = accounts.user_row(s, name)
            if disable is not None and (row.disabled_at is not None) != disable:
                self._disable(s, row, disable, now, who, changed)
            if email is not None:
                changed["email"] = check_email(email)
                accounts.set_user(s, name, email=changed["email"])
            if os_account is not None:
                changed["os_account"] = self.map_os_account(s, name, os_account)
            if admin is not None and bool(row.is_admin) != admin:
                if not admin and accounts.admin_count(s) <= 1 and row.is_admin and row.disabled_at is None:
                    raise InvalidValue(f"{name} is the last administrator: make someone else one first")
                changed["admin"] = admin
                accounts.set_user(s, name, is_admin=admin)
            if revoke:
                self._revoke(s, row, list(revoke), changed)
            if not changed:
                raise InvalidValue("nothing to change: give --disable, --enable, --email, --os-account, --admin, "
                                   "--no-admin or --revoke", value=name)
            self._audit(s, who, "user.change", name, changed)
            return accounts.account(s, name)

    def _disable(self, s: Any, row: Any, disable: bool, now: datetime, who: Identity, changed: dict[str, Any]) -> None:
        if disable and row.is_admin and accounts.admin_count(s) <= 1:
            raise InvalidValue(f"{row.name} is the last administrator: make someone else one first", value=row.name)
        accounts.set_user(s, row.name, disabled_at=now if disable else None)
        changed["disabled"] = disable
        if disable:
            changed["sessions_ended"] = accounts.end_sessions(s, now, user_id=row.id)
            changed["tokens_revoked"] = accounts.revoke_tokens(s, now, user_id=row.id)

    def map_os_account(self, s: Any, name: str, os_account: str) -> str | None:
        """Map (or, with an empty name, unmap) the operating-system account the command line acts as `name` from."""
        found = self._os_account(s, name, os_account)
        accounts.set_user(s, name, os_account=found)
        return found

    def _os_account(self, s: Any, name: str, os_account: str) -> str | None:
        text = os_account.strip()
        if not text:
            return None
        if not _OS_ACCOUNT.match(text):
            raise InvalidValue(f"{os_account!r} is not an operating-system account name", field="os_account",
                               value=os_account)
        holder = accounts.find_user(s, os_account=text)
        if holder is not None and holder.name != name:
            raise InvalidValue(f"the operating-system account {text} is already mapped to {holder.name}: "
                               f"unmap it first with 'reviewflow user change {holder.name} --os-account \"\"'",
                               field="os_account", value=text)
        return text

    def _revoke(self, s: Any, row: Any, roles: list[str], changed: dict[str, Any]) -> None:
        held = set(accounts.account(s, row.name).roles)
        missing = [r for r in roles if r not in held]
        if missing:
            raise InvalidValue(f"{row.name} does not hold {', '.join(missing)}; they hold: "
                               f"{', '.join(sorted(held)) or 'no roles'}", field="role", value=", ".join(missing),
                               allowed=sorted(held))
        accounts.remove_roles(s, row.id, roles)
        changed["revoked"] = roles

    def set_password(self, by: Identity | None, name: str, password: str) -> None:
        """Set a password: a person's own, or anyone's by an administrator. Their other sessions end."""
        who = by if by is None else self.refresh(by)
        if who is not None and who.name != name and not who.admin:
            raise NotPermitted("only an administrator may set someone else's password", user=who.name)
        self.check_password_rules(password)
        now = self.ctx.clock()
        with self.ctx.transaction() as s:
            row = accounts.user_row(s, name)
            accounts.set_user(s, name, password_hash=_hasher().hash(password))
            accounts.end_sessions(s, now, user_id=row.id)
            accounts.clear_failures(s, name)
            self._audit(s, who or SYSTEM, "user.password", name, {"set_by": (who or SYSTEM).recorded})

    def setup_code(self, by: Identity | None, name: str) -> str:
        """A one-time code with which `name` sets their own password (shown once; valid for a few days)."""
        who = self.require_admin(by, f"resetting the password of {name}")
        now = self.ctx.clock()
        code = secrets.token_urlsafe(18)
        with self.ctx.transaction() as s:
            row = accounts.user_row(s, name)
            accounts.add_setup_code(s, secret_hash(code), row.id, now,
                                    now + timedelta(hours=self.rules.setup_code_hours))
            self._audit(s, who, "user.setup_code", name, {"valid_hours": self.rules.setup_code_hours})
        return code

    def use_setup_code(self, code: str, password: str) -> str:
        """Set a password with a one-time code; returns whose it was."""
        self.check_password_rules(password)
        now = self.ctx.clock()
        with self.ctx.transaction() as s:
            row = accounts.setup_code_row(s, secret_hash(code.strip()))
            if row is None or row.used_at is not None or row.expires_at <= now:
                raise NotSignedIn("this set-up code is not valid (unknown, used or expired): ask an administrator "
                                  "for a new one", field="code")
            accounts.use_setup_code(s, row.id, now)
            accounts.set_user(s, row.user_name, password_hash=_hasher().hash(password))
            self._audit(s, Identity(row.user_name), "user.password", row.user_name, {"set_by": "set-up code"})
            return str(row.user_name)

    def has_admin(self) -> bool:
        db = self.ctx.db
        try:
            db.require_existing()
        except StoreError:
            return False
        if db.readiness() is not None:  # not initialised, or an older schema
            return False
        with self.ctx.read() as s:
            return accounts.admin_count(s) > 0

    def first_admin(self, name: str, os_account: str | None, email: str | None = None) -> str | None:
        """At `init`: when there is no administrator yet, register `name` as one (mapped to `os_account`) and
        return a one-time code to set their password; None when an administrator exists."""
        from reviewflow.engine.services.users import check_user_name

        check_user_name(name)
        now = self.ctx.clock()
        with self.ctx.transaction() as s:
            if accounts.admin_count(s):
                return None
            existing = accounts.find_user(s, name=name)
            if existing is None:
                repo.add_user(s, name, [], check_email(email), now, None)
            mapped = self._os_account(s, name, os_account) if os_account else None
            accounts.set_user(s, name, is_admin=True, disabled_at=None, os_account=mapped)
            self._audit(s, SYSTEM, "user.first_admin", name, {"os_account": mapped})
        return self.setup_code(None, name)


_DUMMY_HASH = ("$argon2id$v=19$m=65536,t=3,p=4$c29tZXNhbHRzb21lc2FsdA$"
               "Rj1cWQ6Mb1JrN2Gvh7cmCc1x7yT+3yUcfH2zF7zHtXk")
"""Verified against when the account does not exist, so a failed sign-in takes as long either way."""
