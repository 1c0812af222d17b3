"""The partnership's agencies: how a typed name is normalised, compared and matched to the register. Pure.

A name is normalised (Unicode NFKC, curly quotes and apostrophes straightened, dashes made hyphens, runs of
whitespace, line breaks and tabs made one space, trimmed) and compared case-insensitively on that form; the
name stored and shown is always the register's spelling (docs/operations.md#agencies).

A name typed in (an action's agency, a user's, a recommendation's) must be the register's spelling apart from
letter case and spacing: one that matches only once its quotes, dashes or look-alike characters are
straightened (`Children’s social care`) is refused with the registered spelling offered, so nobody believes
the two are different agencies. Lookups that only read (filters, tracker imports with their mapping, stored
rows written before the register) compare on the normalised form.
"""

from __future__ import annotations

import difflib
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field

from reviewflow.engine.core.errors import AgencyExists, InvalidValue, UnknownAgency

MAX_LENGTH = 120
"""The longest name an agency may have, in characters (after normalising)."""

SEED = ("Police", "Health", "Children's social care", "Education", "Early years", "Adult social care",
        "Public health", "Mental health services", "Ambulance service", "Probation service", "Youth justice service",
        "Housing", "Cafcass", "Voluntary and community sector")
"""The agencies `reviewflow init` registers in an empty register: the statutory safeguarding partners of a
children's safeguarding partnership in England (the local authority's children's social care, health and
police) and the relevant agencies that usually take part in its reviews."""

_QUOTES = {c: "'" for c in "\u2018\u2019\u201a\u201b\u2032\u2035\u02bc\u02bb\u00b4\u0060"}
_QUOTES.update({c: '"' for c in "\u201c\u201d\u201e\u201f\u2033\u2036\u00ab\u00bb"})
_DASHES = {c: "-" for c in "\u2010\u2011\u2012\u2013\u2014\u2015\u2043\u2212\ufe58\ufe63\uff0d\u00ad"}
_TABLE = str.maketrans({**_QUOTES, **_DASHES})
_REFUSED_CATEGORIES = ("Cc", "Cf", "Cs", "Co", "Cn")


def _once(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).translate(_TABLE)
    return " ".join(text.split())


def normalise(text: str) -> str:
    """`text` as an agency name is kept: NFKC, straight quotes, hyphens, single spaces, trimmed."""
    result = _once(text)
    for _ in range(4):  # a step may make another applicable (e.g. NFKC after a line break became a space)
        again = _once(result)
        if again == result:
            break
        result = again
    return result


def _spaced(text: str) -> str:
    """`text` with case and spacing set aside, nothing else changed."""
    return " ".join(text.split()).casefold()


def agency_key(text: str | None) -> str:
    """An agency's name as compared: its normalised form, with case ignored."""
    return normalise(text or "").casefold()


def check_name(text: str) -> str:
    """A new agency's name, normalised; InvalidValue when it is empty, too long or holds control characters."""
    name = normalise(text)
    if not name:
        raise InvalidValue("give the agency's name", field="agency")
    if len(name) > MAX_LENGTH:
        raise InvalidValue(f"the agency's name is {len(name)} characters long; the limit is {MAX_LENGTH}: shorten it",
                           field="agency", limit=MAX_LENGTH, length=len(name))
    if any(unicodedata.category(c) in _REFUSED_CATEGORIES for c in name):
        raise InvalidValue(f"the agency's name {name!r} holds a control or invisible character: type it again",
                           field="agency", value=name)
    return name


@dataclass(frozen=True)
class Register:
    """The registered agencies' names as spelled in the register."""

    names: tuple[str, ...]
    by_key: dict[str, str] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        self.by_key.update({agency_key(n): n for n in self.names})

    @classmethod
    def of(cls, names: Iterable[str]) -> Register:
        return cls(tuple(sorted(names, key=str.casefold)))

    def find(self, text: str | None) -> str | None:
        """The register's spelling of the agency `text` names (compared as `agency_key` does), if registered."""
        key = agency_key(text)
        return self.by_key.get(key) if key else None

    def suggestions(self, text: str, limit: int = 3) -> list[str]:
        """The registered names nearest to `text`, nearest first."""
        near = difflib.get_close_matches(agency_key(text), list(self.by_key), n=limit, cutoff=0.6)
        return [self.by_key[k] for k in near]

    def resolve(self, text: str, field: str = "agency") -> str:
        """The register's spelling of `text` as typed in; UnknownAgency, offering the nearest names, when none
        matches, or when `text` matches one only once its quotes, dashes or look-alike characters are
        straightened (the registered spelling is offered)."""
        found = self.find(text)
        if found is None:
            raise UnknownAgency(normalise(text) or text, self.suggestions(text), field=field)
        if _spaced(text) != _spaced(found):
            raise UnknownAgency(" ".join(text.split()), [found], field=field, lookalike=True)
        return found

    def check_new(self, text: str) -> str:
        """A name that may be registered: valid and not the same as a registered one (case, quotes and spaces
        aside)."""
        name = check_name(text)
        same = self.find(name)
        if same is not None:
            raise AgencyExists(name, same)
        return name

