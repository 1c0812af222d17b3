"""What an administrator needs told about a definition beyond its errors: characters that look like
letters but are not, files that are not UTF-8 text, and warnings about definitions that load but
cannot work as written. Pure: text and bytes in, messages out."""

from __future__ import annotations

import difflib
import unicodedata
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

from reviewflow.engine.core.definition import EXPRESSION, WorkflowDefinition
from reviewflow.engine.core.errors import InvalidDefinition, Problem

Path = tuple[str | int, ...]


def _script(char: str) -> str:
    """'Cyrillic' for U+0456, 'Greek' for U+03BF; 'a' look-alike for anything unnamed."""
    name = unicodedata.name(char, "")
    first = name.split(" ")[0] if name else ""
    return first.title() if first.isalpha() else "non-ASCII"


def lookalikes(text: str) -> str:
    """'a Cyrillic і (U+0456)' for each character of `text` outside ASCII, joined; '' when all are ASCII."""
    found = [f"a {_script(c)} {c if c.isprintable() else '?'} (U+{ord(c):04X})"
             for c in dict.fromkeys(text) if ord(c) > 127]
    return ", ".join(found)


def unknown_key(key: str, allowed: Sequence[str]) -> str:
    """The message for a key the schema does not allow, naming look-alike characters and the nearest key."""
    shown = key if key.isprintable() else repr(key)
    odd = lookalikes(key)
    if odd:
        plain = "".join(c if ord(c) < 128 else "?" for c in key)
        near = difflib.get_close_matches(plain, allowed, n=1, cutoff=0.6)
        retype = f"retype it as {near[0]!r}" if near else "retype it with plain letters"
        return f"{shown!r} contains {odd}, which only looks like a plain letter: {retype}"
    near = difflib.get_close_matches(key, allowed, n=1, cutoff=0.75)
    hint = f"did you mean {near[0]!r}? " if near else ""
    return f"unknown key {shown!r}; {hint}allowed keys here: {', '.join(allowed)}"


def decode_definition(data: bytes, file: str) -> str:
    """The text of a definition file's bytes; a file that is not UTF-8 is refused naming its first bad line."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        byte = data[exc.start]
        guess = ""
        try:
            guess = f" (in Windows-1252, {bytes([byte]).decode('cp1252')!r})"
        except UnicodeDecodeError:
            pass
        raise InvalidDefinition([Problem(file, "", f"the file is not UTF-8 text: byte 0x{byte:02X}{guess} on "
                                         "this line; save the file as UTF-8 (in most editors: Save As, "
                                         "encoding UTF-8)", line)]) from None


# --- warnings: the definition loads, but part of it cannot work as written ---------------------------------

def _line(lines: Mapping[Path, int], *path: str | int) -> int | None:
    for end in range(len(path), 0, -1):
        if path[:end] in lines:
            return lines[path[:end]]
    return None


def _recordable_before(d: WorkflowDefinition, sources: Iterable[str]) -> set[str]:
    """Fields some earlier move may have recorded before a case stands in one of `sources`: those of the
    opening and of every transition on some path from the initial state to them."""
    forward: dict[str, set[str]] = {}
    backward: dict[str, set[str]] = {}
    for t in d.transitions:
        for s in t.sources:
            forward.setdefault(s, set()).add(t.dest)
            backward.setdefault(t.dest, set()).add(s)

    def reach(start: Iterable[str], edges: Mapping[str, set[str]]) -> set[str]:
        seen = set(start)
        todo = list(seen)
        while todo:
            for nxt in edges.get(todo.pop(), ()):
                if nxt not in seen:
                    seen.add(nxt)
                    todo.append(nxt)
        return seen

    from_start = reach([d.initial], forward)
    to_here = reach(sources, backward)
    fields = {f.name for f in d.open.requires}
    for t in d.transitions:
        if t.dest in to_here and any(s in from_start for s in t.sources):
            fields.update(f.name for f in t.requires)
    return fields


def _guard_fields(argument: Any) -> list[str]:
    if isinstance(argument, str):
        return [argument]
    if isinstance(argument, list | tuple):
        return [str(a) for a in argument]
    return []


def _never_recorded(d: WorkflowDefinition, lines: Mapping[Path, int], file: str) -> Iterator[Problem]:
    for i, t in enumerate(d.transitions):  # one per item of `transitions:`, in order
        earlier = _recordable_before(d, t.sources) | {f.name for f in t.requires}
        for condition in t.when:
            if condition.name == EXPRESSION or condition.name != "fields_present":
                continue
            late = [f for f in _guard_fields(condition.argument) if f not in earlier]
            if late:
                yield Problem(file, f"transitions[{i}].when",
                              f"warning: `{t.trigger}` checks fields_present {', '.join(late)}, which no move "
                              "before it records, so it can never fire: ask for the field on this transition "
                              "or an earlier one", _line(lines, "transitions", i, "when"))


def _two_types(d: WorkflowDefinition, lines: Mapping[Path, int], file: str) -> Iterator[Problem]:
    first: dict[str, str] = {f.name: f.type for f in d.open.requires}
    for i, t in enumerate(d.transitions):
        for spec in t.requires:
            declared = first.setdefault(spec.name, spec.type)
            if declared != spec.type:
                yield Problem(file, f"transitions[{i}].requires.{spec.name}",
                              f"warning: field {spec.name} is a {spec.type} here but a {declared} where it is "
                              "first declared; a field keeps one type: use the same type or another name",
                              _line(lines, "transitions", i, "requires", spec.name))


def _zero_limits(d: WorkflowDefinition, lines: Mapping[Path, int], file: str) -> Iterator[Problem]:
    for name, state in d.states.items():
        if state.time_limit is not None and state.time_limit.amount == 0:
            yield Problem(file, f"states.{name}.time_limit",
                          f"warning: a time limit of {state.time_limit} makes every case overdue the moment it "
                          "enters this stage: give a real limit or remove the key",
                          _line(lines, "states", name, "time_limit"))


def definition_warnings(d: WorkflowDefinition, lines: Mapping[Path, int], file: str) -> list[Problem]:
    """Warnings for a valid definition: a guard on a field no earlier move records, a field declared with two
    types, a zero time limit. Each says what to change; none stops the definition loading."""
    found = [*_never_recorded(d, lines, file), *_two_types(d, lines, file),
             *_zero_limits(d, lines, file)]
    return sorted(found, key=lambda p: p.line or 0)
