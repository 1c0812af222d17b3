"""The partnership's list of learning themes, and matching what people type to it. Pure.

A theme has a key (lower-case text, what recommendations store: `voice of the child`), a label (what people read:
`Voice of the child`) and a one-line description. A partnership starts from the shipped list
(workflows/themes/learning_themes.yaml); an administrator adds, relabels and retires themes. A retired theme
stays on the recommendations that carry it and in reports, and is refused for new ones.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any

import yaml

from reviewflow.engine.core.errors import InvalidValue, NotFound
from reviewflow.engine.core.filters import nearest
from reviewflow.engine.core.learning import normalise_theme
from reviewflow.engine.core.limits import THEME

LABEL_LIMIT = 200
DESCRIPTION_LIMIT = 300


@dataclass(frozen=True)
class Theme:
    """One learning theme of the partnership's list."""

    key: str
    label: str
    description: str = ""
    retired_at: datetime | None = None

    @property
    def active(self) -> bool:
        return self.retired_at is None


def check_key(key: str) -> str:
    """A theme's key: the theme in lower case with single spaces, 1 to THEME characters on one line."""
    text = normalise_theme(str(key))
    if not text or len(text) > THEME or not text.isprintable():
        raise InvalidValue(f"give the theme a key of 1 to {THEME} characters on one line, e.g. 'county lines' "
                           "(it is kept in lower case)", field="theme", value=key, limit=THEME)
    return text


def check_label(label: str) -> str:
    text = " ".join(str(label).split())
    if not text or len(text) > LABEL_LIMIT or not text.isprintable():
        raise InvalidValue(f"give the theme a label of 1 to {LABEL_LIMIT} characters on one line, "
                           "e.g. --label 'County lines'", field="label", limit=LABEL_LIMIT)
    return text


def check_description(description: str | None) -> str:
    text = " ".join(str(description or "").split())
    if len(text) > DESCRIPTION_LIMIT or not text.isprintable():
        raise InvalidValue(f"give the theme a description of at most {DESCRIPTION_LIMIT} characters on one line",
                           field="description", limit=DESCRIPTION_LIMIT)
    return text


def parse_shipped(text: str, source: str) -> list[Theme]:
    """The themes of the shipped file: a list of mappings with `key`, `label` and `description`."""
    return list(_parsed_shipped(text, source))


@lru_cache(maxsize=4)
def _parsed_shipped(text: str, source: str) -> tuple[Theme, ...]:
    """`parse_shipped`, once per text in a process (every new database is seeded from the same file)."""
    data: Any = yaml.safe_load(text)
    items = data.get("themes") if isinstance(data, dict) else None
    if not isinstance(items, list):
        raise InvalidValue(f"{source}: expected a mapping with a list under 'themes'", field="themes")
    found: dict[str, Theme] = {}
    for n, item in enumerate(items, 1):
        if not isinstance(item, dict) or not {"key", "label"} <= set(item):
            raise InvalidValue(f"{source}: themes[{n}] needs a key and a label", field="themes")
        theme = Theme(check_key(item["key"]), check_label(item["label"]), check_description(item.get("description")))
        if theme.key in found:
            raise InvalidValue(f"{source}: theme {theme.key!r} is listed twice", field="themes", value=theme.key)
        found[theme.key] = theme
    return tuple(found.values())


@dataclass(frozen=True)
class ThemeList:
    """The partnership's themes, active and retired, in the order they are listed."""

    themes: tuple[Theme, ...]

    @property
    def active(self) -> list[str]:
        return [t.key for t in self.themes if t.active]

    @property
    def keys(self) -> list[str]:
        return [t.key for t in self.themes]

    def find(self, text: str) -> Theme | None:
        """The theme whose key or label `text` is (case and spacing do not matter)."""
        wanted = normalise_theme(text)
        for theme in self.themes:
            if wanted in (theme.key, normalise_theme(theme.label)):
                return theme
        return None

    def get(self, key: str) -> Theme:
        """The theme of `key` (or label); NotFound with the nearest names."""
        found = self.find(key)
        if found is None:
            raise _unknown(NotFound, key, self.keys, "theme")
        return found

    def for_new(self, text: str) -> str:
        """The key of the active theme `text` names, for a new recommendation; refused with the nearest active
        names when it names no theme, or a retired one."""
        found = self.find(text)
        if found is not None and found.active:
            return found.key
        if found is not None:
            near = nearest(found.key, [k for k in self.active if k != found.key])
            hint = f"use {' or '.join(repr(n) for n in near)}, or " if near else ""
            raise InvalidValue(f"learning theme {found.key!r} is retired: {hint}see the active themes with "
                               "'reviewflow theme list'", field="theme", value=found.key, allowed=self.active)
        raise _unknown(InvalidValue, text, self.active, "learning theme")

    def for_filter(self, text: str, in_use: Iterable[str]) -> str:
        """The key a filter's `text` names: any theme of the list (retired ones too) or carried by a
        recommendation; refused with the nearest names otherwise."""
        found = self.find(text)
        if found is not None:
            return found.key
        wanted = normalise_theme(text)
        used = set(in_use)
        if wanted in used:
            return wanted
        raise _unknown(InvalidValue, text, [*self.keys, *sorted(used - set(self.keys))], "learning theme")


def _unknown(kind: type[InvalidValue] | type[NotFound], text: str, known: list[str], what: str) \
        -> InvalidValue | NotFound:
    wanted = normalise_theme(text)
    near = nearest(wanted, known)
    hint = f"did you mean {' or '.join(repr(n) for n in near)}? " if near else ""
    return kind(f"no {what} {wanted!r}: {hint}see them with 'reviewflow theme list', or an administrator adds it "
                f"with 'reviewflow theme add'", field="theme", value=wanted, allowed=known)
