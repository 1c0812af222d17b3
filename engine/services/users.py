"""People and the roles they hold."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import structlog

from reviewflow.engine.core import limits
from reviewflow.engine.core.access import Identity
from reviewflow.engine.core.errors import InvalidValue
from reviewflow.engine.core.records import User
from reviewflow.engine.core.subgroups import scoped, split
from reviewflow.engine.services.accounts import AccountService, check_email
from reviewflow.engine.services.agencies import registered_or_none
from reviewflow.engine.services.context import ServiceContext
from reviewflow.engine.services.definitions import DefinitionService
from reviewflow.engine.services.subgroups import check_scopes
from reviewflow.store import repo

log = structlog.get_logger("reviewflow")

_USER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")


def check_user_name(name: str) -> str:
    limits.check(name, "name", limits.USER_NAME, "user name")
    if not _USER.match(name):
        raise InvalidValue(f"user name {name!r} is not usable: use letters, digits and . _ @ - "
                           "with no spaces, e.g. a.khan", field="name", value=name)
    return name


class UserService:
    def __init__(self, ctx: ServiceContext, definitions: DefinitionService, accounts: AccountService) -> None:
        self.ctx = ctx
        self.definitions = definitions
        self.accounts = accounts

    def add(self, name: str, roles: Sequence[str], email: str | None = None, agency: str | None = None,
            by: Identity | None = None, os_account: str | None = None) -> User:
        """Register a person with their roles (an administrator's change, sealed in the audit chain)."""
        who = self.accounts.require_admin(by, "registering users")
        with self.ctx.transaction() as s:
            user = self.add_in(s, who, name, roles, email, agency, os_account)
        log.info("user.added", user=name, roles=",".join(user.roles))
        return user

    def add_in(self, s: Any, who: Identity, name: str, roles: Sequence[str], email: str | None = None,
               agency: str | None = None, os_account: str | None = None) -> User:
        """`add` inside the caller's transaction, by an administrator `who` already checked."""
        check_user_name(name)
        self.check_roles(roles)
        address = check_email(email)
        agency = limits.check((agency or "").strip(), "agency", limits.AGENCY) or None
        check_scopes(s, roles)
        user = repo.add_user(s, name, roles, address, self.ctx.clock(), registered_or_none(s, agency))
        details = {"roles": list(user.roles), "email": address, "agency": user.agency}
        if os_account:
            details["os_account"] = self.accounts.map_os_account(s, name, os_account)
        self.accounts.audit(s, who, "user.add", name, details)
        return user

    def grant(self, name: str, roles: Sequence[str], by: Identity | None = None, subgroup: str | None = None) -> User:
        """Give an existing user more roles, partnership-wide or (`subgroup`) for one sub-group only, held as
        ROLE@SUBGROUP (an administrator's change, sealed in the audit chain)."""
        who = self.accounts.require_admin(by, "granting roles")
        self.check_roles(roles)
        roles = [scoped(r, subgroup) for r in roles]
        with self.ctx.transaction() as s:
            check_scopes(s, roles)
            user = repo.grant_roles(s, name, roles)
            self.accounts.audit(s, who, "user.grant", name, {"roles": list(dict.fromkeys(roles)),
                                                             **({"subgroup": subgroup} if subgroup else {})})
        log.info("user.granted", user=name, roles=",".join(user.roles))
        return user

    def check_roles(self, roles: Sequence[str]) -> None:
        if not roles:
            raise InvalidValue("give at least one --role", field="role")
        known = self.definitions.known_roles()
        unknown = [r for r in roles if split(r)[0] not in known]
        if unknown:
            raise InvalidValue(f"role(s) {', '.join(unknown)} are not used by any loaded workflow; "
                               f"known roles: {', '.join(sorted(known)) or 'none (run reviewflow init)'}",
                               field="role", value=", ".join(unknown), allowed=sorted(known))

    def list(self, active: bool = False) -> list[User]:
        with self.ctx.read() as s:
            return repo.list_users(s, active)
