"""The partnership's register of agencies: listing, adding and renaming them, and matching what people type.

Every agency typed in (an action's owning agency, a user's agency, a recommendation's agencies, a tracker's
cells) is matched to the register here, in the caller's transaction: the register's spelling is stored, and a
name that matches none is refused with the nearest registered names (engine/core/agencies.py).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import structlog

from reviewflow.engine.core.access import Identity
from reviewflow.engine.core.agencies import SEED, check_name
from reviewflow.engine.core.errors import InvalidValue, NotFound
from reviewflow.engine.services.accounts import AccountService
from reviewflow.engine.services.context import ServiceContext
from reviewflow.store import agencies as store

log = structlog.get_logger("reviewflow")


def registered(s: Any, name: str, field: str = "agency") -> str:
    """The register's spelling of the agency `name`; UnknownAgency, with the nearest names, when unregistered."""
    return store.register(s).resolve(name, field)


def registered_or_none(s: Any, name: str | None, field: str = "agency") -> str | None:
    """As `registered`, with None or a blank name giving None."""
    return None if name is None or not name.strip() else registered(s, name, field)


def registered_all(s: Any, names: Iterable[str], field: str = "agency") -> list[str]:
    """The register's spellings of `names`, each once, in the order given (blank names left out)."""
    found = store.register(s)
    return list(dict.fromkeys(found.resolve(n, field) for n in names if n.strip()))


def filtered(s: Any, name: str | None) -> str | None:
    """The register's spelling of an agency typed to narrow a list (quote marks, dashes and look-alikes folded,
    as reading does); an agency the register does not know is refused with the nearest names, so a typo does
    not pass for an empty list."""
    if name is None or not name.strip():
        return None
    return store.register(s).find(name) or registered(s, name)


def seed(s: Any) -> list[str]:
    """Register the usual partners (SEED) when the register is empty; returns the names registered."""
    if store.register(s).names:
        return []
    store.add(s, list(SEED))
    return list(SEED)


class AgencyService:
    """The register: anyone signed in may read it; adding and renaming are an administrator's changes."""

    def __init__(self, ctx: ServiceContext, accounts: AccountService) -> None:
        self.ctx = ctx
        self.accounts = accounts

    def list(self, by: Identity | None = None) -> list[str]:
        """The registered agencies (anyone signed in; `by` None: code in this process)."""
        if by is not None:
            self.accounts.refresh(by)  # a disabled user is refused
        with self.ctx.read() as s:
            return list(store.register(s).names)

    def add(self, name: str, by: Identity | None = None) -> str:
        """Register an agency (an administrator's change, sealed in the audit chain); returns its name."""
        who = self.accounts.require_admin(by, "registering agencies")
        with self.ctx.transaction() as s:
            added = store.register(s).check_new(name)
            store.add(s, [added])
            self.accounts.audit(s, who, "agency.add", added, {"name": added})
        log.info("agency.added")
        return added

    def rename(self, old: str, new: str, by: Identity | None = None) -> tuple[str, dict[str, int]]:
        """Rename a registered agency, and every stored use of it, in one transaction (an administrator's change,
        sealed in the audit chain); history rows keep what they said. Returns the new name and the rows changed."""
        who = self.accounts.require_admin(by, "renaming agencies")
        with self.ctx.transaction() as s:
            known = store.register(s)
            current = known.find(old)
            if current is None:
                near = known.suggestions(old)
                hint = f" (nearest: {', '.join(near)})" if near else ""
                raise NotFound(f"{old.strip()!r} is not a registered agency{hint}: see 'reviewflow agency list'",
                               value=old, allowed=near)
            wanted = check_name(new)
            clash = known.find(wanted)
            if clash is not None and clash != current:
                raise InvalidValue(f"{wanted!r} is already registered as {clash!r}: choose another name",
                                   field="agency", value=wanted)
            if wanted == current:
                raise InvalidValue(f"{current!r} is already spelled so: nothing to change", value=wanted)
            counts = store.rename(s, current, wanted)
            self.accounts.audit(s, who, "agency.rename", wanted, {"from": current, "to": wanted, **counts})
        log.info("agency.renamed", **counts)
        return wanted, counts
