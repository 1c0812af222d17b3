"""Sub-groups of the partnership: the register (an administrator's, sealed in the administration log), the
sub-group a case is opened in, and the roles that count when someone acts on a case of one.

The rules themselves are pure (engine/core/subgroups.py); this module applies them inside the services'
transactions, so the command line, the API and the pages agree.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import structlog

from reviewflow.engine.core.access import Identity, sees_all_of
from reviewflow.engine.core.decide import Move
from reviewflow.engine.core.definition import WorkflowDefinition
from reviewflow.engine.core.errors import InvalidValue, NotFound
from reviewflow.engine.core.records import CaseRecord, Subgroup
from reviewflow.engine.core.subgroups import check_name, check_title, narrow, split, subgroups_held
from reviewflow.engine.services.accounts import AccountService
from reviewflow.engine.services.context import ServiceContext
from reviewflow.store import subgroups as store

log = structlog.get_logger("reviewflow")


def on_case(who: Identity, record: CaseRecord) -> Identity:
    """`who` as they act on case `record`: a role held for another sub-group does not count."""
    return narrow(who, record.subgroup)


def default_title(name: str) -> str:
    """The title a sub-group named by a workflow gets when it is registered by loading it."""
    return name.replace("_", " ").capitalize() + " sub-group"


def register_named(s: Any, accounts: AccountService, who: Identity, definition: WorkflowDefinition,
                   now: Any) -> None:
    """When a workflow being loaded names a sub-group the partnership has not registered, register it (loading
    workflows is an administrator's act, sealed like `subgroup add`); the title can be changed later."""
    name = definition.subgroup
    if name and store.find(s, name) is None:
        store.add(s, name, default_title(name), now)
        accounts.audit(s, who, "subgroup.add", name, {"title": default_title(name), "workflow": definition.name})


def unknown(name: str, known: list[str]) -> NotFound:
    return NotFound(f"there is no sub-group {name!r}: add it with 'reviewflow subgroup add {name} --title TITLE', "
                    f"or use one of: {', '.join(known) or 'none yet'}", field="subgroup", value=name,
                    allowed=known)


def require_known(s: Any, name: str) -> str:
    check_name(name)
    if store.find(s, name) is None:
        raise unknown(name, [g.name for g in store.all_subgroups(s)])
    return name


def check_scopes(s: Any, roles: Sequence[str]) -> None:
    """Refuse a role held for a sub-group (ROLE@SUBGROUP) that the partnership has not registered."""
    for role in roles:
        _, within = split(role)
        if within is not None:
            require_known(s, within)


def opening_subgroup(s: Any, definition: WorkflowDefinition, chosen: str | None) -> str | None:
    """The sub-group a new case of `definition` belongs to: the one chosen at opening, else its workflow's."""
    name = chosen or definition.subgroup
    return require_known(s, name) if name else None


def sealed_move(move: Move, subgroup: str | None) -> Move:
    """The opening move with its sub-group recorded in the sealed history row (not in the case's fields)."""
    from dataclasses import replace

    return replace(move, supplied={**move.supplied, store.META: subgroup}) if subgroup else move


def scoped_versions(who: Identity, definitions: Mapping[tuple[str, int], WorkflowDefinition]) \
        -> dict[str, list[tuple[str, int]]]:
    """For each sub-group `who` holds a role for, the (workflow, version) pairs whose cases of that sub-group they
    see in full through it."""
    found: dict[str, list[tuple[str, int]]] = {}
    for name in sorted(subgroups_held(who.roles)):
        there = narrow(who, name)
        found[name] = [key for key, d in definitions.items() if sees_all_of(there, d)]
    return found


class SubgroupService:
    def __init__(self, ctx: ServiceContext, accounts: AccountService) -> None:
        self.ctx = ctx
        self.accounts = accounts

    def add(self, name: str, title: str, by: Identity | None = None) -> Subgroup:
        """Register a sub-group (an administrator's change, sealed in the administration log)."""
        who = self.accounts.require_admin(by, "adding sub-groups")
        check_name(name)
        text = check_title(title)
        with self.ctx.transaction() as s:
            if store.find(s, name) is not None:
                raise InvalidValue(f"sub-group {name} already exists: change its title with "
                                   f"'reviewflow subgroup rename {name} --title TITLE'", field="subgroup", value=name)
            found = store.add(s, name, text, self.ctx.clock())
            self.accounts.audit(s, who, "subgroup.add", name, {"title": text})
        log.info("subgroup.added", subgroup=name)
        return found

    def rename(self, name: str, title: str, by: Identity | None = None) -> Subgroup:
        """Change a sub-group's title (its name, used in definitions and grants, stays)."""
        who = self.accounts.require_admin(by, "renaming sub-groups")
        text = check_title(title)
        with self.ctx.transaction() as s:
            require_known(s, name)
            store.rename(s, name, text)
            self.accounts.audit(s, who, "subgroup.rename", name, {"title": text})
            found = store.find(s, name)
        assert found is not None
        return found

    def list(self, by: Identity | None = None) -> list[Subgroup]:
        """The sub-groups (anyone signed in may see them)."""
        if by is not None:
            self.accounts.refresh(by)
        with self.ctx.read() as s:
            return store.all_subgroups(s)

    def get(self, name: str) -> Subgroup:
        with self.ctx.read() as s:
            require_known(s, name)
            found = store.find(s, name)
        assert found is not None
        return found
