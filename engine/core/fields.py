"""Field values typed on the command line -> checked, stored values."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime
from typing import Any

from reviewflow.engine.core.definition import FieldSpec
from reviewflow.engine.core.errors import FieldError
from reviewflow.engine.core.limits import FIELD_VALUE

MAX_TEXT = FIELD_VALUE
_YES = {"yes", "y", "true"}
_NO = {"no", "n", "false"}


_ISO_DATE = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})")
_UK_DATE = re.compile(r"([0-9]{2})/([0-9]{2})/([0-9]{4})")


def _plain_date(value: str) -> date | None:
    """`value` when it is exactly YYYY-MM-DD or DD/MM/YYYY in ASCII digits and a real date; None otherwise."""
    if (iso := _ISO_DATE.fullmatch(value)) is not None:
        year, month, day = iso.groups()
    elif (uk := _UK_DATE.fullmatch(value)) is not None:
        day, month, year = uk.groups()
    else:
        return None
    try:
        return date(int(year), int(month), int(day))
    except ValueError:
        return None


def parse_date(text: str) -> date:
    """'2026-03-31' or '31/03/2026' -> date; FieldError otherwise."""
    value = text.strip()
    plain = _plain_date(value)  # the usual forms, without strptime; anything else is strptime's to judge
    if plain is not None:
        return plain
    for fmt in ("%Y-%m-%d", "%d/%m/%Y"):
        try:
            return datetime.strptime(value, fmt).date()
        except ValueError:
            continue
    raise FieldError(f"{text!r} is not a date: write it as 2026-03-31 (or 31/03/2026)")


def _undecodable(text: str) -> bool:
    """True when `text` holds bytes that were not UTF-8 (Python keeps them as lone surrogates)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _yes_or_no(spec: FieldSpec, raw: str) -> bool:
    if raw.strip().lower() in _YES:
        return True
    if raw.strip().lower() in _NO:
        return False
    raise FieldError(f"field {spec.name!r} is yes/no: write yes or no, not {raw!r}", field=spec.name, value=raw,
                     allowed=("yes", "no"))


def parse_value(spec: FieldSpec, raw: str) -> Any:
    """The stored value of `raw` for `spec`: str, bool, or an ISO date string."""
    if _undecodable(raw):
        raise FieldError(f"field {spec.name!r} holds bytes that are not UTF-8 text: "
                         "set the terminal to UTF-8 and type the value again", field=spec.name)
    text = raw.strip()
    if spec.type == "yesno":
        return _yes_or_no(spec, raw)
    if not text:
        raise FieldError(f"field {spec.name!r} is empty: give it a value", field=spec.name, value=raw)
    if spec.type == "date":
        try:
            return parse_date(text).isoformat()
        except FieldError as exc:
            raise FieldError(f"field {spec.name!r}: {exc}", field=spec.name, value=raw) from None
    if spec.type == "choice":
        if text not in spec.options:
            raise FieldError(f"field {spec.name!r} must be one of: {', '.join(spec.options)} (got {raw!r})",
                             field=spec.name, value=raw, allowed=spec.options)
        return text
    if len(text) > MAX_TEXT:
        raise FieldError(f"field {spec.name!r} is {len(text)} characters long; the limit is {MAX_TEXT}: shorten it",
                         field=spec.name, limit=MAX_TEXT, length=len(text))
    return text


def split_assignments(pairs: Iterable[str]) -> dict[str, str]:
    """['a=1', 'b=x=y'] -> {'a': '1', 'b': 'x=y'}; FieldError on a pair without '='."""
    out: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip():
            raise FieldError(f"--field {pair!r} is not NAME=VALUE: write e.g. --field decision_rationale=\"...\"",
                             value=pair)
        out[name.strip()] = value
    return out


def parse_fields(what: str, specs: Sequence[FieldSpec], raw: Mapping[str, str]) -> dict[str, Any]:
    """Check every supplied value against `specs`; all specs are required. `what` names the move."""
    by_name = {s.name: s for s in specs}
    reasons = {s.reason_name: s for s in specs if s.reason_if_no}
    unknown = sorted(set(raw) - set(by_name) - set(reasons))
    if unknown:
        takes = ", ".join(s.describe() for s in specs) or "no fields"
        names = ", ".join(name if name.isprintable() else repr(name) for name in unknown)
        raise FieldError(f"{what} does not take field(s) {names}; it takes: {takes}", field=unknown[0],
                         allowed=[s.name for s in specs], unknown=unknown)
    missing = [s for s in specs if s.name not in raw]
    if missing:
        needs = ", ".join(s.describe() for s in missing)
        flags = " ".join(f"--field {s.name}=..." for s in missing)
        raise FieldError(f"{what} needs {needs}: add {flags}", field=missing[0].name,
                         missing=[s.name for s in missing])
    supplied = {name: parse_value(by_name[name], value) for name, value in raw.items() if name in by_name}
    for name, spec in reasons.items():
        supplied.update(_reason_for_no(what, spec, supplied[spec.name], raw.get(name, "")))
    return supplied


def _reason_for_no(what: str, spec: FieldSpec, answer: bool, raw: str) -> dict[str, str]:
    """The reason kept with a no to a `reason_if_no` field: required with no, refused with yes."""
    text = raw.strip()
    if answer and text:
        raise FieldError(f"{what}: {spec.reason_name} is only for a no to {spec.name!r}: leave it out",
                         field=spec.name, value=raw)
    if answer:
        return {}
    if not text:
        raise FieldError(f"{what}: {spec.name!r} is no, which needs a reason: add --field {spec.reason_name}=\"...\"",
                         field=spec.name, missing=[spec.reason_name])
    if len(text) > MAX_TEXT:
        raise FieldError(f"field {spec.reason_name!r} is {len(text)} characters long; the limit is {MAX_TEXT}: "
                         "shorten it", field=spec.name, limit=MAX_TEXT, length=len(text))
    return {spec.reason_name: text}
