"""Register a list of people from a spreadsheet's CSV in one transaction: every row, or none."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import structlog

from reviewflow.engine.core.access import Identity
from reviewflow.engine.core.errors import InvalidValue, Problem, ReviewflowError, UserNotFound
from reviewflow.engine.core.user_list import InvalidUserList, UserEntry, parse_user_list
from reviewflow.engine.services.accounts import AccountService
from reviewflow.engine.services.context import ServiceContext
from reviewflow.engine.services.subgroups import check_scopes
from reviewflow.engine.services.users import UserService
from reviewflow.store import repo

log = structlog.get_logger("reviewflow")


@dataclass(frozen=True)
class ImportedUser:
    name: str
    status: str
    """`added`, `granted` (already registered; the roles the list gives and they lacked were added) or
    `unchanged` (already registered with every role the list gives)."""
    roles: tuple[str, ...]
    """For `added`, every role; for `granted`, the roles added."""


@dataclass
class UserImportReport:
    file: str
    dry_run: bool
    people: list[ImportedUser] = field(default_factory=list)

    def count(self, status: str) -> int:
        return sum(1 for p in self.people if p.status == status)


class _Preview(Exception):
    """Raised to roll back a dry run's transaction once every row has been checked and placed."""


def read_user_list(path: Path) -> str:
    try:
        return path.read_bytes().decode("utf-8-sig")
    except FileNotFoundError:
        raise InvalidValue(f"cannot read {path}: there is no such file; check the path", value=str(path)) from None
    except UnicodeDecodeError as exc:
        raise InvalidValue(f"cannot read {path}: it is not UTF-8 text (byte 0x{exc.object[exc.start]:02X}); save "
                           "it from the spreadsheet as 'CSV UTF-8'", value=str(path)) from None
    except OSError as exc:
        raise InvalidValue(f"cannot read {path}: {exc.strerror or exc}; check the path and its permissions",
                           value=str(path)) from None


class UserImport:
    def __init__(self, ctx: ServiceContext, users: UserService, accounts: AccountService) -> None:
        self.ctx = ctx
        self.users = users
        self.accounts = accounts

    def run(self, path: Path, by: Identity | None = None, dry_run: bool = False) -> UserImportReport:
        """Register each person of the list (an administrator's change, each sealed in the audit chain);
        people already registered gain the roles the list gives them. One problem anywhere writes nothing:
        InvalidUserList names every problem with its line."""
        who = self.accounts.require_admin(by, "importing users")
        listed = parse_user_list(read_user_list(path), str(path))
        report = UserImportReport(str(path), dry_run)
        try:
            with self.ctx.transaction() as s:
                problems: list[Problem] = list(listed.problems)
                for entry in listed.entries:
                    try:
                        report.people.append(self._place(s, who, entry))
                    except ReviewflowError as exc:
                        problems.append(Problem(str(path), "", f"{entry.name}: {exc.message}", entry.line))
                if problems:
                    raise InvalidUserList(sorted(problems, key=lambda p: p.line or 0))
                if dry_run:
                    raise _Preview
        except _Preview:
            pass
        log.info("users.imported", file=str(path), added=report.count("added"), granted=report.count("granted"),
                 unchanged=report.count("unchanged"), dry_run=dry_run)
        return report

    def _place(self, s: Any, who: Identity, entry: UserEntry) -> ImportedUser:
        try:
            held = repo.get_user(s, entry.name)
        except UserNotFound:
            user = self.users.add_in(s, who, entry.name, entry.roles, entry.email, entry.agency, entry.os_account)
            return ImportedUser(entry.name, "added", user.roles)
        self.users.check_roles(entry.roles)
        new = tuple(r for r in dict.fromkeys(entry.roles) if r not in held.roles)
        if not new:
            return ImportedUser(entry.name, "unchanged", ())
        check_scopes(s, new)
        repo.grant_roles(s, entry.name, new)
        self.accounts.audit(s, who, "user.grant", entry.name, {"roles": list(new)})
        return ImportedUser(entry.name, "granted", new)
