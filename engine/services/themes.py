"""The partnership's list of learning themes: listing, adding, relabelling and retiring them (an administrator's
changes, sealed in the administration log), and matching the themes people type to the list.

Every theme typed in (a recommendation's themes from the command line, the API, the web form or a tracker's
cells; a `--theme` narrowing a list) is matched here, in the caller's transaction, with the core's rules
(engine/core/themes.py): a new recommendation takes active themes only; a filter takes any theme of the list,
retired ones included, or one an older recommendation carries.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

import structlog

from reviewflow.engine.core.access import Identity
from reviewflow.engine.core.errors import InvalidValue
from reviewflow.engine.core.themes import Theme, ThemeList, check_description, check_key, check_label
from reviewflow.engine.services.accounts import AccountService
from reviewflow.engine.services.context import ServiceContext
from reviewflow.store import admin_log
from reviewflow.store import themes as store

log = structlog.get_logger("reviewflow")


def for_new(s: Any, themes: Iterable[str]) -> list[str]:
    """The keys of the active themes `themes` name, each once, in the order given; an unknown or retired theme is
    refused with the nearest active names."""
    found = store.theme_list(s)
    return list(dict.fromkeys(found.for_new(t) for t in themes if t.strip()))


def for_filter(s: Any, theme: str | None) -> str | None:
    """The key a `--theme` narrowing a list names (None when not given); a theme neither on the list nor carried
    by any recommendation is refused with the nearest names, so a typo does not pass for an empty list."""
    if theme is None or not theme.strip():
        return None
    return store.theme_list(s).for_filter(theme, store.themes_in_use(s))


def theme_list(s: Any) -> ThemeList:
    return store.theme_list(s)


def add_imported(s: Any, themes: Mapping[str, str], now: datetime, recorded: str, source: str) -> list[str]:
    """Add to the list, in the caller's transaction, the themes (key: label) an import brings that it lacks; each
    sealed in the administration log as added by the import. Returns the keys added."""
    known = set(store.theme_list(s).keys)
    added = [key for key in themes if key not in known]
    for key in added:
        store.add(s, Theme(key, check_label(themes[key] or key)))
        admin_log.record(s, now, recorded, "theme.add", key, {"label": themes[key] or key, "import": source})
    return added


class ThemeService:
    """The list: anyone signed in may read it; adding, relabelling and retiring are an administrator's changes."""

    def __init__(self, ctx: ServiceContext, accounts: AccountService) -> None:
        self.ctx = ctx
        self.accounts = accounts

    def list(self, by: Identity | None = None, include_retired: bool = True) -> list[Theme]:
        """The themes in the list's order (anyone signed in; `by` None: code in this process)."""
        if by is not None:
            self.accounts.refresh(by)
        with self.ctx.read() as s:
            return [t for t in store.theme_list(s).themes if include_retired or t.active]

    def add(self, key: str, label: str, description: str | None = None, by: Identity | None = None) -> Theme:
        """Add a theme to the list (an administrator's change, sealed in the administration log)."""
        who = self.accounts.require_admin(by, "adding learning themes")
        theme = Theme(check_key(key), check_label(label), check_description(description))
        with self.ctx.transaction() as s:
            clash = store.theme_list(s).find(theme.key) or store.theme_list(s).find(theme.label)
            if clash is not None:
                raise InvalidValue(f"learning theme {clash.key!r} ({clash.label}) is already on the list: change "
                                   f"its label with 'reviewflow theme rename \"{clash.key}\" --label LABEL'",
                                   field="theme", value=theme.key)
            store.add(s, theme)
            self.accounts.audit(s, who, "theme.add", theme.key,
                                {"label": theme.label, "description": theme.description})
        log.info("theme.added", theme=theme.key)
        return theme

    def rename(self, key: str, label: str, description: str | None = None, by: Identity | None = None) -> Theme:
        """Change a theme's label (and description); its key, which recommendations carry, stays."""
        who = self.accounts.require_admin(by, "renaming learning themes")
        text = check_label(label)
        with self.ctx.transaction() as s:
            found = store.theme_list(s)
            theme = found.get(key)
            clash = found.find(text)
            if clash is not None and clash.key != theme.key:
                raise InvalidValue(f"{text!r} is already the label or key of theme {clash.key!r}: choose another",
                                   field="label", value=text)
            values: dict[str, Any] = {"label": text}
            if description is not None:
                values["description"] = check_description(description)
            store.change(s, theme.key, **values)
            self.accounts.audit(s, who, "theme.rename", theme.key, values)
            changed = store.theme_list(s).get(theme.key)
        log.info("theme.renamed", theme=theme.key)
        return changed

    def retire(self, key: str, by: Identity | None = None) -> Theme:
        """Retire a theme: it stays on the recommendations that carry it and in reports, and new ones refuse it."""
        who = self.accounts.require_admin(by, "retiring learning themes")
        with self.ctx.transaction() as s:
            theme = store.theme_list(s).get(key)
            if not theme.active:
                raise InvalidValue(f"learning theme {theme.key!r} is already retired", field="theme",
                                   value=theme.key)
            store.retire(s, theme.key, self.ctx.clock())
            self.accounts.audit(s, who, "theme.retire", theme.key, {})
            retired = store.theme_list(s).get(theme.key)
        log.info("theme.retired", theme=theme.key)
        return retired
