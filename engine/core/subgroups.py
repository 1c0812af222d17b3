"""Sub-groups of the partnership, and roles held for one of them only. Pure.

A partnership works through sub-groups (the case review sub-group, the audit sub-group, the practice
sub-group...). A workflow names the sub-group its cases belong to (`subgroup:` in its definition), and a case
may be given another when it is opened. A role is held either for the whole partnership (`subgroup_chair`) or
for one sub-group only, written ROLE@SUBGROUP (`subgroup_chair@audit`).

On a case, the roles that count are those held for the whole partnership and those held for the case's
sub-group (`roles_for`); a role held for another sub-group counts for nothing there: not to act, not to see,
not to be told. A case with no sub-group (opened before sub-groups, or of a workflow that names none) belongs
to the whole partnership: only roles held partnership-wide count on it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import replace

from reviewflow.engine.core.access import Identity
from reviewflow.engine.core.errors import InvalidValue

SEP = "@"
"""Between a role and the sub-group it is held for, in the roles a person holds."""
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
TITLE_LIMIT = 200


def check_name(name: str, what: str = "sub-group") -> str:
    """A sub-group's name: lower-case letters, digits and underscores, starting with a letter."""
    if not isinstance(name, str) or not _NAME.match(name):
        raise InvalidValue(f"{what} name {name!r} is not usable: use lower-case letters, digits and underscores, "
                           "starting with a letter, e.g. case_review", field="subgroup", value=name)
    return name


def check_title(title: str) -> str:
    text = " ".join(str(title).split())
    if not text or len(text) > TITLE_LIMIT or not text.isprintable():
        raise InvalidValue(f"give the sub-group a title of 1 to {TITLE_LIMIT} characters on one line, "
                           "e.g. --title 'Case review sub-group'", field="title", limit=TITLE_LIMIT)
    return text


def scoped(role: str, subgroup: str | None) -> str:
    """How a role held for `subgroup` (None: the whole partnership) is written."""
    return f"{role}{SEP}{subgroup}" if subgroup else role


def split(role: str) -> tuple[str, str | None]:
    """(role, sub-group) of a role as held: ('subgroup_chair', 'audit') for 'subgroup_chair@audit'."""
    base, sep, subgroup = role.partition(SEP)
    return (base, subgroup) if sep else (role, None)


def roles_for(held: Iterable[str], subgroup: str | None) -> frozenset[str]:
    """The roles that count on a case of `subgroup`: those held partnership-wide, and those held for it."""
    counted: set[str] = set()
    for role in held:
        base, within = split(role)
        if within is None or (subgroup is not None and within == subgroup):
            counted.add(base)
    return frozenset(counted)


def narrow(who: Identity, subgroup: str | None) -> Identity:
    """`who` as they act on a case of `subgroup`: only the roles that count there."""
    if not any(SEP in r for r in who.roles):
        return who
    return replace(who, roles=roles_for(who.roles, subgroup))


def subgroups_held(held: Iterable[str]) -> set[str]:
    """The sub-groups someone holds a role for."""
    return {within for within in (split(r)[1] for r in held) if within}


def describe(role: str) -> str:
    """A role as held, for people: 'subgroup_chair (audit sub-group only)'."""
    base, within = split(role)
    return f"{base} ({within} sub-group only)" if within else base
