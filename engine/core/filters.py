"""Values typed to narrow a list (a state, a learning theme): refused when they name nothing known, with the
nearest names, so a typo never passes for an empty list. Pure."""

from __future__ import annotations

import difflib
from collections.abc import Iterable

from reviewflow.engine.core.errors import InvalidValue


def nearest(value: str, known: Iterable[str], limit: int = 3) -> list[str]:
    """The known names closest to `value`, best first."""
    return difflib.get_close_matches(value, sorted(set(known)), n=limit, cutoff=0.6)


def require_known(what: str, value: str, known: Iterable[str], field: str, where: str = "") -> str:
    """`value` when it is among `known`; else InvalidValue with the nearest names and every known one."""
    names = sorted(set(known))
    if value in names:
        return value
    near = nearest(value, names)
    hint = f"did you mean {' or '.join(repr(n) for n in near)}? " if near else ""
    listed = ", ".join(names) if len(names) <= 30 else ", ".join(names[:30]) + ", ..."
    raise InvalidValue(f"no {what} {value!r}{where}: {hint}{what}s are: {listed or 'none yet'}", field=field,
                       value=value, allowed=names)
