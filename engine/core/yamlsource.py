"""YAML text to plain data plus the line of every key path.

Booleans are YAML 1.2 style: only true/false. `on`, `off`, `yes` and `no` stay strings,
so a state or trigger called `on` is not silently turned into True.
"""

from __future__ import annotations

import re
from typing import Any

import yaml

from reviewflow.engine.core.errors import InvalidDefinition, Problem

Path = tuple[str | int, ...]
MAX_BYTES = 1_000_000
MAX_NODES = 50_000

_BOOL = re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$")


class _TooManyNodes(Exception):
    """Raised while composing: the file holds more YAML values than any definition needs."""

    def __init__(self, line: int) -> None:
        self.line = line


class _Loader(yaml.SafeLoader):
    """SafeLoader whose implicit booleans are only true/false, and which stops composing after
    MAX_NODES values, so a file of a million tiny values is refused before it fills memory.

    Used without libyaml, and to word the error in a text libyaml refuses."""

    composed = 0

    def compose_node(self, parent: yaml.Node | None, index: int) -> yaml.Node | None:
        self.composed += 1
        if self.composed > MAX_NODES:
            raise _TooManyNodes(self.peek_event().start_mark.line + 1)
        return super().compose_node(parent, index)


_Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver("tag:yaml.org,2002:bool", _BOOL, list("tTfF"))


class _StoredLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """The same reading with libyaml's parser, about ten times faster: for a stored definition (checked when it
    was loaded) as it is, for a new text once its values are counted (`_count_values`)."""


_StoredLoader.yaml_implicit_resolvers = _Loader.yaml_implicit_resolvers


def format_path(path: Path) -> str:
    """('states', 'review', 'time_limit') -> 'states.review.time_limit'; ints as [i]."""
    out = ""
    for part in path:
        text = str(part) if str(part).isprintable() else repr(str(part))  # keep a report line one line
        out += f"[{part}]" if isinstance(part, int) else (f".{text}" if out else text)
    return out


MAX_DEPTH = 64


class _Builder:
    def __init__(self, file: str, loader: Any) -> None:
        self.file = file
        self.loader = loader
        self.lines: dict[Path, int] = {}
        self.problems: list[Problem] = []
        self.nodes = 0
        self.open: set[int] = set()

    def _refuse(self, message: str, node: yaml.Node | None = None) -> InvalidDefinition:
        line = node.start_mark.line + 1 if node is not None else None
        return InvalidDefinition([Problem(self.file, "", message, line)])

    def build(self, node: yaml.Node, path: Path) -> Any:
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise self._refuse(f"more than {MAX_NODES} YAML nodes (aliases expanding?): a workflow "
                               "definition is far smaller; remove the anchors and aliases")
        if len(path) > MAX_DEPTH:
            raise self._refuse(f"nested more than {MAX_DEPTH} levels deep: a workflow definition "
                               "is far flatter; check the brackets", node)
        if id(node) in self.open:
            raise self._refuse("an alias refers to itself: a definition cannot contain itself; "
                               "remove the alias", node)
        self.lines.setdefault(path, node.start_mark.line + 1)
        if isinstance(node, yaml.ScalarNode):
            return self.loader.construct_object(node, deep=True)
        self.open.add(id(node))
        try:
            if isinstance(node, yaml.MappingNode):
                return self._mapping(node, path)
            return [self.build(item, (*path, i)) for i, item in enumerate(node.value)]
        finally:
            self.open.discard(id(node))

    def _own_keys(self, node: yaml.MappingNode, path: Path) -> None:
        """Report keys written twice in this mapping (keys brought in by a `<<` merge may be overridden)."""
        first: dict[str, int] = {}
        for key_node, _ in node.value:
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag == "tag:yaml.org,2002:merge":
                continue
            line = key_node.start_mark.line + 1
            if key_node.value in first:
                self.problems.append(Problem(
                    self.file, format_path((*path, key_node.value)),
                    f"key appears twice in the same mapping (first on line {first[key_node.value]}): keep one",
                    line))
            else:
                first[key_node.value] = line

    def _mapping(self, node: yaml.MappingNode, path: Path) -> dict[str, Any]:
        self._own_keys(node, path)
        self.loader.flatten_mapping(node)
        result: dict[str, Any] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                self.problems.append(Problem(self.file, format_path(path), "a key here is a list or mapping: "
                                             "write each key as a plain name, one per line",
                                             key_node.start_mark.line + 1))
                continue
            key = str(key_node.value)
            self.lines[(*path, key)] = key_node.start_mark.line + 1
            result[key] = self.build(value_node, (*path, key))
        return result


_CLOSERS = {"flow sequence": ("[", "]"), "flow mapping": ("{", "}")}


def _syntax_problem(exc: yaml.MarkedYAMLError, file: str) -> Problem:
    """A YAML syntax error located where it can be fixed: an unclosed bracket at the bracket."""
    for what, (opening, closing) in _CLOSERS.items():
        if exc.context and what in exc.context and exc.context_mark is not None:
            return Problem(file, "", f"YAML syntax error: the {opening} opened here is not closed: add the "
                           f"{closing} where it ends (or write its items one per line, without brackets)",
                           exc.context_mark.line + 1)
    mark = exc.problem_mark or exc.context_mark
    line = mark.line + 1 if mark else None
    reason = exc.problem or exc.context or "invalid YAML"
    return Problem(file, "", f"YAML syntax error: {reason}; fix the indentation or quoting on this line", line)


_LIBYAML = hasattr(yaml, "CSafeLoader")


_VALUES = (yaml.ScalarEvent, yaml.SequenceStartEvent, yaml.MappingStartEvent, yaml.AliasEvent)
"""The events each of which PyYAML composes into one value (the count `_Loader` limits)."""


def _count_values(text: str) -> None:
    """Raise _TooManyNodes where libyaml's reading passes MAX_NODES values, as `_Loader` would, without composing
    any of them: the stream of events is counted and let go."""
    parser = _StoredLoader(text)
    try:
        count = 0
        while parser.check_event():
            event = parser.get_event()
            if isinstance(event, _VALUES):
                count += 1
                if count > MAX_NODES:
                    raise _TooManyNodes(event.start_mark.line + 1 if event.start_mark else 0)
    finally:
        parser.dispose()


def _composed(text: str, stored: bool) -> tuple[Any, yaml.Node | None]:
    """The loader and the root node. libyaml reads the text (a new text longer than MAX_NODES characters, which
    could hold more values than that, has its values counted first); a new text it refuses is read again by
    PyYAML, for the error's established wording."""
    if _LIBYAML:
        try:
            if not stored and len(text) > MAX_NODES:
                _count_values(text)
            quick = _StoredLoader(text)
            return quick, quick.get_single_node()
        except (yaml.YAMLError, UnicodeError):
            if stored:
                raise
    loader = _Loader(text)
    return loader, loader.get_single_node()


def load_yaml(text: str, file: str, stored: bool = False) -> tuple[Any, dict[Path, int]]:
    """Parse `text`; return the data and a map of key path -> line. Raise InvalidDefinition.

    `stored` is for text already checked when it was loaded: it is read by libyaml (when PyYAML has it).
    """
    # Every character is at least one byte: a text longer than the limit is refused without encoding a copy.
    if len(text) > MAX_BYTES or len(text.encode("utf-8", "surrogatepass")) > MAX_BYTES:
        raise InvalidDefinition([Problem(file, "", f"file is larger than {MAX_BYTES // 1000} kB: "
                                         "a workflow definition is a few kB; check the file")])
    loader: Any = None
    try:
        loader, root = _composed(text, stored)
        if root is None:
            raise InvalidDefinition([Problem(file, "", "the file is empty: start from an example "
                                             "in docs/workflow-format.md", 1)])
        builder = _Builder(file, loader)
        data = builder.build(root, ())
    except yaml.MarkedYAMLError as exc:
        raise InvalidDefinition([_syntax_problem(exc, file)]) from None
    except yaml.reader.ReaderError as exc:
        line = text[: exc.position].count("\n") + 1
        code = exc.character if isinstance(exc.character, int) else ord(exc.character)
        raise InvalidDefinition([Problem(file, "", f"not readable as YAML text (character U+{code:04X} is not "
                                         "allowed): remove it and save the file as UTF-8 text", line)]) from None
    except yaml.YAMLError as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise InvalidDefinition([Problem(file, "", f"not readable as YAML ({reason}): check the file")]) from None
    except _TooManyNodes as exc:
        raise InvalidDefinition([Problem(file, "", f"more than {MAX_NODES} YAML values: a workflow definition "
                                         "is far smaller; check the file", exc.line)]) from None
    except RecursionError:
        raise InvalidDefinition([Problem(file, "", "nested too deeply to read: a workflow definition "
                                         "is far flatter; check the brackets")]) from None
    finally:
        if loader is not None:
            loader.dispose()
    if builder.problems:
        raise InvalidDefinition(sorted(builder.problems, key=lambda p: p.line or 0))
    return data, builder.lines
