"""YAML loading: YAML 1.2 booleans, key lines, duplicate keys, size and alias limits, and fuzzing."""

from __future__ import annotations

import copy
import datetime as dt
import functools
import re
import textwrap
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reviewflow.engine.core import yamlsource
from reviewflow.engine.core.definition import WorkflowDefinition
from reviewflow.engine.core.errors import InvalidDefinition, Problem
from reviewflow.engine.core.parse import parse_definition
from reviewflow.engine.core.yamlsource import MAX_BYTES, MAX_DEPTH, format_path, load_yaml
from reviewflow.workflows import shipped_files

from tests.conftest import same_definition

YAML_1_1_WORDS = ["on", "off", "yes", "no", "On", "OFF", "YES", "No", "y", "n", "Y", "N"]

# A valid definition whose states, triggers and choice options are the YAML 1.1 boolean words, unquoted.
ON_OFF_YES_NO = textwrap.dedent("""\
    name: switches
    title: States and triggers named like YAML 1.1 booleans
    version: 1
    roles:
      chair: Chair
    open:
      roles: [chair]
    initial: off
    states:
      off:
        label: Off
      on:
        label: On
        time_limit: 5 working days
      yes:
        label: Yes
        terminal: true
      no:
        label: No
        terminal: true
    transitions:
      - trigger: on
        from: off
        to: on
        roles: [chair]
        requires:
          switch: {type: choice, options: [on, off, yes, no, On, YES]}
      - trigger: yes
        from: on
        to: yes
        roles: [chair]
      - trigger: no
        from: [off, on]
        to: no
        roles: [chair]
      - trigger: off
        from: on
        to: off
        roles: [chair]
    notify:
      yes: [chair]
      no: [chair]
    """)


def _load(text: str) -> tuple[Any, dict[tuple[str | int, ...], int]]:
    return load_yaml(text, "f.yaml")


def _problems(text: str, file: str = "f.yaml") -> list[str]:
    with pytest.raises(InvalidDefinition) as caught:
        parse_definition(text, file)
    return [str(p) for p in caught.value.problems]


# --- booleans -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("word", YAML_1_1_WORDS)
def test_yaml_1_1_boolean_words_stay_strings_as_keys_and_values(word: str) -> None:
    data, _ = _load(f"{word}: {word}\nlist: [{word}, {word}]\n")
    assert data == {word: word, "list": [word, word]}
    assert all(type(v) is str for v in [*data, data[word], *data["list"]])


@pytest.mark.parametrize(("word", "value"), [
    ("true", True), ("True", True), ("TRUE", True), ("false", False), ("False", False), ("FALSE", False),
])
def test_true_and_false_are_booleans(word: str, value: bool) -> None:
    data, _ = _load(f"flag: {word}\nflags: [{word}]\n")
    assert data["flag"] is value
    assert data["flags"][0] is value


@pytest.mark.parametrize("word", ["tRUE", "fAlse", "'true'", '"false"'])
def test_odd_cases_and_quoted_true_false_are_strings(word: str) -> None:
    data, _ = _load(f"flag: {word}\n")
    assert data["flag"] == word.strip("'\"")


def test_other_scalars_still_resolve() -> None:
    data, _ = _load("int: 12\nfloat: 1.5\nnothing: ~\ndate: 2026-01-31\ntext: hello\n")
    assert data == {"int": 12, "float": 1.5, "nothing": None, "date": dt.date(2026, 1, 31), "text": "hello"}


def test_definition_with_on_off_yes_no_names_is_valid_and_keeps_strings() -> None:
    definition = parse_definition(ON_OFF_YES_NO, "switches.yaml")
    assert list(definition.states) == ["off", "on", "yes", "no"]
    assert definition.initial == "off"
    assert [t.trigger for t in definition.transitions] == ["on", "yes", "no", "off"]
    assert [t.sources for t in definition.transitions] == [("off",), ("on",), ("off", "on"), ("on",)]
    assert [t.dest for t in definition.transitions] == ["on", "yes", "no", "off"]
    assert definition.transitions[0].requires[0].options == ("on", "off", "yes", "no", "On", "YES")
    assert definition.states["yes"].terminal is True
    assert definition.states["on"].terminal is False
    assert dict(definition.notify) == {"yes": ("chair",), "no": ("chair",)}
    assert definition.transition("on", "yes") is definition.transitions[1]
    every_name = [*definition.states, *definition.triggers, *definition.transitions[0].requires[0].options]
    assert all(type(name) is str for name in every_name)


def test_yes_is_not_accepted_where_a_boolean_is_needed() -> None:
    text = ON_OFF_YES_NO.replace("    terminal: true\n  no:", "    terminal: yes\n  no:")
    assert _problems(text) == [
        "f.yaml:17: states.yes.terminal: expected true or false, got text 'yes' "
        "(true for an end state; no transition leaves it)",
    ]


# --- lines ---------------------------------------------------------------------------------------------

NESTED = textwrap.dedent("""\
    # a comment on line 1
    name: x
    states:
      on:
        label: On

        owner: yes
    transitions:
      - trigger: off
        from: [on,
               off]
        to: yes
      - {trigger: no, from: on, to: off}
    """)


LINES: list[tuple[tuple[str | int, ...], int]] = [
    ((), 2),
    (("name",), 2),
    (("states",), 3),
    (("states", "on"), 4),
    (("states", "on", "label"), 5),
    (("states", "on", "owner"), 7),
    (("transitions",), 8),
    (("transitions", 0), 9),
    (("transitions", 0, "trigger"), 9),
    (("transitions", 0, "from"), 10),
    (("transitions", 0, "from", 0), 10),
    (("transitions", 0, "from", 1), 11),
    (("transitions", 0, "to"), 12),
    (("transitions", 1), 13),
    (("transitions", 1, "to"), 13),
]


@pytest.mark.parametrize(("path", "line"), LINES, ids=[format_path(path) or "root" for path, _ in LINES])
def test_lines_of_nested_keys(path: tuple[str | int, ...], line: int) -> None:
    _, lines = _load(NESTED)
    assert lines[path] == line


def test_format_path() -> None:
    assert format_path(()) == ""
    assert format_path(("states", "on", "time_limit")) == "states.on.time_limit"
    assert format_path(("transitions", 2, "from", 0)) == "transitions[2].from[0]"
    assert format_path(("escalation", 1)) == "escalation[1]"


def test_problem_in_a_flow_mapping_points_at_its_line() -> None:
    text = ON_OFF_YES_NO.replace("  - trigger: off\n    from: on\n    to: off\n    roles: [chair]\n",
                                 "  - {trigger: off, from: on, to: off, roles: [chair], colour: red}\n")
    assert _problems(text) == [
        "f.yaml:36: transitions[3].colour: unknown key 'colour'; allowed keys here: from, label, opens, requires, "
        "roles, to, trigger, when",
    ]


def test_problem_in_a_list_item_points_at_the_item() -> None:
    text = ON_OFF_YES_NO.replace("    from: [off, on]\n", "    from: [off,\n           onn]\n")
    assert _problems(text) == [
        "f.yaml:34: transitions[2].from[1]: unknown state 'onn'; states are: no, off, on, yes",
    ]


# --- duplicate keys ---------------------------------------------------------------------------------------

DUPLICATE = "key appears twice in the same mapping"


def test_duplicate_keys_are_all_reported_at_the_repeated_key() -> None:
    text = textwrap.dedent("""\
        name: x
        states:
          on:
            label: One
            label: Two
          off: {label: Off}
          on: {label: Again}
        name: y
        """)
    with pytest.raises(InvalidDefinition) as caught:
        _load(text)
    # Sorted by line, like parse_definition's problems.
    assert [str(p) for p in caught.value.problems] == [
        f"f.yaml:5: states.on.label: {DUPLICATE} (first on line 4): keep one",
        f"f.yaml:7: states.on: {DUPLICATE} (first on line 3): keep one",
        f"f.yaml:8: name: {DUPLICATE} (first on line 1): keep one",
    ]


def test_duplicate_keys_inside_list_items() -> None:
    with pytest.raises(InvalidDefinition) as caught:
        _load("transitions:\n  - trigger: a\n    to: b\n    to: c\n")
    assert [str(p) for p in caught.value.problems] == [
        f"f.yaml:4: transitions[0].to: {DUPLICATE} (first on line 3): keep one",
    ]


def test_a_key_written_three_times_points_each_repeat_at_the_first() -> None:
    with pytest.raises(InvalidDefinition) as caught:
        _load("a: 1\nb: 2\na: 3\n'a': 4\n")
    assert [str(p) for p in caught.value.problems] == [
        f"f.yaml:3: a: {DUPLICATE} (first on line 1): keep one",
        f"f.yaml:4: a: {DUPLICATE} (first on line 1): keep one",
    ]


def test_same_key_in_different_mappings_or_cases_is_not_a_duplicate() -> None:
    data, _ = _load("a: {label: x}\nb: {label: y}\non: 1\nOn: 2\nON: 3\n")
    assert data == {"a": {"label": "x"}, "b": {"label": "y"}, "on": 1, "On": 2, "ON": 3}


def test_duplicate_keys_are_reported_before_schema_problems() -> None:
    assert _problems("name: x\nname: x\n") == [f"f.yaml:2: name: {DUPLICATE} (first on line 1): keep one"]


def test_merge_key_may_be_overridden() -> None:
    data, lines = _load("base: &base {label: Base, owner: chair}\nstate:\n  <<: *base\n  label: Own\n")
    assert data["state"] == {"label": "Own", "owner": "chair"}
    assert lines[("state", "label")] == 4


def test_later_merges_do_not_override_earlier_ones_or_own_keys() -> None:
    data, _ = _load("a: &a {x: 1, y: 1}\nb: &b {y: 2, z: 2}\nc:\n  <<: [*a, *b]\n  z: 3\n")
    assert data["c"] == {"x": 1, "y": 1, "z": 3}


def test_a_key_written_twice_next_to_a_merge_is_still_a_duplicate() -> None:
    with pytest.raises(InvalidDefinition) as caught:
        _load("base: &base {label: Base}\nstate:\n  <<: *base\n  label: Own\n  label: Again\n")
    assert [str(p) for p in caught.value.problems] == [
        f"f.yaml:5: state.label: {DUPLICATE} (first on line 4): keep one",
    ]


def test_merging_a_scalar_is_a_syntax_error() -> None:
    assert _problems("state:\n  <<: 5\n") == [
        "f.yaml:2: YAML syntax error: expected a mapping or list of mappings for merging, but found scalar; "
        "fix the indentation or quoting on this line",
    ]


# --- keys ------------------------------------------------------------------------------------------------

def test_keys_are_the_raw_scalar_text() -> None:
    data, lines = _load("true: 1\nFalse: 2\n1: a\n01: b\n1.5: c\nnull: d\n~: e\n2026-01-31: f\n'q': g\non: h\n")
    assert list(data) == ["true", "False", "1", "01", "1.5", "null", "~", "2026-01-31", "q", "on"]
    assert all(type(key) is str for key in data)
    assert lines[("2026-01-31",)] == 8


def test_true_as_a_top_level_key_is_reported_as_the_key_true() -> None:
    text = ON_OFF_YES_NO.replace("version: 1\n", "version: 1\ntrue: 1\n")
    assert _problems(text) == [
        "f.yaml:4: true: unknown key 'true'; allowed keys here: access, calendar, description, escalation, grading, "
        "initial, learning, legacy, milestones, name, notify, open, pause_reasons, pause_roles, progress_checks, "
        "remind, returns, roles, schedule, sources, states, subgroup, title, transitions, version",
    ]


def test_an_alias_may_be_a_key() -> None:
    data, _ = _load("a: &k label\n*k : x\n")
    assert data == {"a": "label", "label": "x"}


KEY_IS_NOT_A_NAME = "a key here is a list or mapping: write each key as a plain name, one per line"


@pytest.mark.parametrize(("text", "where"), [
    ("[a, b]: x\n", "1"),
    ("? [a, b]\n: x\n", "1"),
    ("? {a: 1}\n: x\n", "1"),
    ("? a: 1\n: x\n", "1"),
    ("states:\n  ok: {label: Ok}\n  {a: 1}: x\n", "3: states"),
    ("list:\n  - one\n  - ? [a]\n    : x\n", "3: list[1]"),
], ids=["flow-list", "explicit-list", "explicit-flow-mapping", "explicit-block-mapping", "nested", "in-a-list"])
def test_a_list_or_mapping_as_a_key_is_refused(text: str, where: str) -> None:
    assert _problems(text) == [f"f.yaml:{where}: {KEY_IS_NOT_A_NAME}"]


def test_list_keys_and_duplicate_keys_are_collected_together_in_line_order() -> None:
    assert _problems("a:\n  [x]: 1\n  y: 2\n  y: 3\n[b]: 2\na: 3\n") == [
        f"f.yaml:2: a: {KEY_IS_NOT_A_NAME}",
        f"f.yaml:4: a.y: {DUPLICATE} (first on line 3): keep one",
        f"f.yaml:5: {KEY_IS_NOT_A_NAME}",
        f"f.yaml:6: a: {DUPLICATE} (first on line 1): keep one",
    ]


# --- limits and refusals ---------------------------------------------------------------------------------

def _billion_laughs(levels: int = 9, width: int = 9) -> str:
    names = [f"l{i}" for i in range(levels)]
    lines = [f"{names[0]}: &{names[0]} [{', '.join(['lol'] * width)}]"]
    for prev, name in zip(names, names[1:], strict=False):
        lines.append(f"{name}: &{name} [{', '.join([f'*{prev}'] * width)}]")
    return "\n".join(lines) + "\n"


def test_alias_bomb_is_refused() -> None:
    """9 levels of 9 aliases would expand to 387 million strings; refused after 50,000 nodes."""
    with pytest.raises(InvalidDefinition) as caught:
        parse_definition(_billion_laughs(), "bomb.yaml")
    assert [str(p) for p in caught.value.problems] == [
        "bomb.yaml: more than 50000 YAML nodes (aliases expanding?): a workflow definition is far smaller; "
        "remove the anchors and aliases",
    ]


def test_small_aliases_are_fine() -> None:
    data, _ = _load("roles: &r [chair, board]\nagain: *r\n")
    assert data == {"roles": ["chair", "board"], "again": ["chair", "board"]}


def test_alias_bomb_in_a_key_is_refused_before_it_is_expanded() -> None:
    """A key is never built: 9 levels of 9 aliases inside a key are refused at once, not expanded."""
    names = "abcdefghi"
    parts = ["&a [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    parts += [f"&{name} [{', '.join([f'*{prev}'] * 9)}]" for prev, name in zip(names, names[1:], strict=False)]
    text = "? [" + ", ".join(parts) + "]\n: x\n"
    assert _problems(text, "bomb.yaml") == [f"bomb.yaml:1: {KEY_IS_NOT_A_NAME}"]


LOOP = "an alias refers to itself: a definition cannot contain itself; remove the alias"


@pytest.mark.parametrize("text", ["a: &a [*a]\n", "a: &a {x: *a}\n", "a: &a\n  - b\n  - [c, *a]\n"],
                         ids=["sequence", "mapping", "deeper"])
def test_recursive_alias_is_refused(text: str) -> None:
    assert _problems(text, "loop.yaml") == [f"loop.yaml:1: {LOOP}"]


def test_an_alias_used_twice_side_by_side_is_not_a_loop() -> None:
    data, _ = _load("a: &a [1]\nb: [*a, *a]\n")
    assert data == {"a": [1], "b": [[1], [1]]}


def _nested(levels: int) -> str:
    return "a: " + "[" * levels + "]" * levels + "\n"


def test_nesting_up_to_the_limit_is_read() -> None:
    data, _ = _load(_nested(MAX_DEPTH))
    assert data["a"] == functools.reduce(lambda inner, _: [inner], range(MAX_DEPTH - 1), [])


@pytest.mark.parametrize("text", [_nested(MAX_DEPTH + 1), _nested(200), "a: " + "{b: " * 70 + "1" + "}" * 70 + "\n"],
                         ids=["one-too-many", "200-lists", "70-mappings"])
def test_nesting_over_the_limit_is_refused(text: str) -> None:
    assert _problems(text, "deep.yaml") == [
        f"deep.yaml:1: nested more than {MAX_DEPTH} levels deep: a workflow definition is far flatter; "
        "check the brackets",
    ]


def test_deep_nesting_is_refused() -> None:
    """About 600 levels (a 1 kB file): refused by the depth check, or, where PyYAML's recursive composer
    overflows first (it depends on the interpreter's stack), as too deep to read; one line either way."""
    assert _problems(_nested(600), "deep.yaml") in (
        ["deep.yaml: nested too deeply to read: a workflow definition is far flatter; check the brackets"],
        ["deep.yaml:1: nested more than 64 levels deep: a workflow definition is far flatter; check the brackets"],
    )


@pytest.mark.parametrize(("char", "code"), [
    ("\x00", "0000"), ("\x01", "0001"), ("\x7f", "007F"), ("\ufffe", "FFFE"), ("\ud800", "D800"),
], ids=["nul", "soh", "del", "fffe", "surrogate"])
def test_control_characters_are_refused(char: str, code: str) -> None:
    # The line is worked out from the character position PyYAML's reader reports.
    assert _problems(f"title: x\nname: a{char}b\n", "ctl.yaml") == [
        f"ctl.yaml:2: not readable as YAML text (character U+{code} is not allowed): remove it and save the file "
        "as UTF-8 text",
    ]


@pytest.mark.parametrize(("text", "line"), [
    ("\x01title: x\n", 1),
    ("title: x\r\nname: y\r\n# note\x07\r\n", 3),
    ("title: x\n\n\n  # \x1b[0m\n", 4),
], ids=["first-character", "crlf-comment", "after-blank-lines"])
def test_control_characters_are_refused_at_their_line(text: str, line: int) -> None:
    code = next(f"{ord(c):04X}" for c in text if ord(c) < 0x20 and c not in "\r\n")
    assert _problems(text, "ctl.yaml") == [
        f"ctl.yaml:{line}: not readable as YAML text (character U+{code} is not allowed): remove it and save the "
        "file as UTF-8 text",
    ]


def test_any_other_yaml_error_is_reported_without_a_traceback(monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(self: object) -> None:
        raise yaml.YAMLError("something odd\nmore detail")

    monkeypatch.setattr(yaml.SafeLoader, "get_single_node", fail)
    monkeypatch.setattr(yamlsource._StoredLoader, "get_single_node", fail)  # libyaml's reading, then PyYAML's
    assert _problems("title: x\n") == ["f.yaml: not readable as YAML (something odd): check the file"]


@pytest.mark.parametrize("path", shipped_files(), ids=lambda p: p.stem)
def test_libyaml_and_pyyaml_read_a_definition_alike(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """libyaml reads a definition, and PyYAML (without libyaml) gives the same data and the same lines."""
    text = path.read_text("utf-8")
    assert yamlsource._LIBYAML
    fast = load_yaml(text, path.name)
    monkeypatch.setattr(yamlsource, "_LIBYAML", False)
    assert load_yaml(text, path.name) == fast


@pytest.mark.parametrize("libyaml", [True, False], ids=["libyaml", "pyyaml"])
@pytest.mark.parametrize(("text", "line"), [
    ("a: [" + "1, " * yamlsource.MAX_NODES + "1]\n", 1),
    ("# long enough to be counted\n" * 2000 + "a:\n" + "- 1\n" * (yamlsource.MAX_NODES + 5), 51999),
    ("a: &x [1, 2]\nb:\n" + "- *x\n" * yamlsource.MAX_NODES, 49996),
], ids=["flow", "block", "aliases"])
def test_too_many_values_are_refused_at_the_same_line_by_either_reader(
        text: str, line: int, libyaml: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(yamlsource, "_LIBYAML", libyaml)
    assert _problems(text) == [f"f.yaml:{line}: more than {yamlsource.MAX_NODES} YAML values: a workflow "
                               "definition is far smaller; check the file"]


def test_file_over_one_megabyte_is_refused() -> None:
    text = "# " + "x" * MAX_BYTES + "\n" + ON_OFF_YES_NO
    assert _problems(text, "big.yaml") == [
        "big.yaml: file is larger than 1000 kB: a workflow definition is a few kB; check the file",
    ]


def test_size_is_counted_in_utf8_bytes() -> None:
    text = "# " + "\u00e9" * (MAX_BYTES // 2) + "\n"
    assert len(text) < MAX_BYTES
    assert _problems(text, "big.yaml") == [
        "big.yaml: file is larger than 1000 kB: a workflow definition is a few kB; check the file",
    ]


def test_file_of_exactly_the_limit_is_accepted() -> None:
    padding = MAX_BYTES - len(ON_OFF_YES_NO.encode("utf-8")) - 3
    text = "# " + "x" * padding + "\n" + ON_OFF_YES_NO
    assert len(text.encode("utf-8")) == MAX_BYTES
    assert isinstance(parse_definition(text, "limit.yaml"), WorkflowDefinition)


@pytest.mark.parametrize("text", ["", "\n\n", "   \n", "# only a comment\n"],
                         ids=["empty", "newlines", "spaces", "comment"])
def test_empty_documents(text: str) -> None:
    assert _problems(text) == ["f.yaml:1: the file is empty: start from an example in docs/workflow-format.md"]


def test_empty_explicit_document() -> None:
    assert _problems("---\n") == [
        "f.yaml:1: expected a mapping of keys (name, title, states, ...) at the top of the file, got nothing",
    ]


def test_several_documents_are_refused() -> None:
    assert _problems("a: 1\n---\nb: 2\n") == [
        "f.yaml:2: YAML syntax error: but found another document; fix the indentation or quoting on this line",
    ]


def test_python_tags_are_never_constructed() -> None:
    problems = _problems("name: !!python/name:os.system\n")
    assert problems[0].startswith("f.yaml:1: YAML syntax error: could not determine a constructor for the tag "
                                  "'tag:yaml.org,2002:python/name:os.system'")


@pytest.mark.parametrize(("text", "line"), [
    ("a: [1, 2\nb: 3\n", 1),  # an unclosed bracket: the line of the bracket
    ("a: 'open\n", 2),
    ("a: b: c\n", 1),
    ("a:\n  - x\n y: 1\n", 3),
])
def test_syntax_errors_have_a_line(text: str, line: int) -> None:
    with pytest.raises(InvalidDefinition) as caught:
        parse_definition(text, "f.yaml")
    (problem,) = caught.value.problems
    assert problem.line == line
    assert problem.message.startswith("YAML syntax error: ")
    assert problem.message.endswith(("; fix the indentation or quoting on this line",
                                     "where it ends (or write its items one per line, without brackets)"))


# --- property tests --------------------------------------------------------------------------------------

# Characters the YAML reader accepts (the others are refused: test_control_characters_are_refused).
PRINTABLE = st.characters(blacklist_categories=("Cs",), blacklist_characters=[
    *map(chr, range(0x00, 0x09)), "\x0b", "\x0c", *map(chr, range(0x0e, 0x20)),
    *map(chr, range(0x7f, 0x85)), *map(chr, range(0x86, 0xa0)), "\ufffe", "\uffff",
])
# YAML-ish text, anchors, aliases and merge keys included.
YAMLISH = st.text(alphabet=st.sampled_from(list(" \n\t:-[]{},#'\"!|>?%@`~.&*<0123456789abcnoyesftru_")), max_size=200)


def _definition_or_problems(text: str, file: str) -> WorkflowDefinition | list[Problem]:
    """The definition, or the problems of InvalidDefinition; any other exception propagates and fails the test."""
    try:
        return parse_definition(text, file)
    except InvalidDefinition as exc:
        return exc.problems


@settings(max_examples=200, deadline=None)
@given(st.one_of(st.text(alphabet=PRINTABLE, max_size=300), st.text(max_size=100), YAMLISH))
def test_any_text_gives_a_definition_or_invalid_definition(text: str) -> None:
    result = _definition_or_problems(text, "fuzz.yaml")
    if isinstance(result, list):
        assert result
        assert all(p.file == "fuzz.yaml" and (p.line is None or p.line >= 1) for p in result)
    else:
        assert isinstance(result, WorkflowDefinition)


BASE: dict[str, Any] = load_yaml(ON_OFF_YES_NO, "base.yaml")[0]


def _paths(tree: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(tree, dict):
        for key, value in tree.items():
            out += _paths(value, (*prefix, key))
    elif isinstance(tree, list):
        for i, value in enumerate(tree):
            out += _paths(value, (*prefix, i))
    return out


BASE_PATHS = _paths(BASE)[1:]
SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-5, 5), st.floats(allow_nan=True),
                    st.sampled_from(["on", "off", "yes", "no", "", "1 day", "5 fortnights", "chair", "fields_present",
                                     "Bad-Name", "owner", "choice", "text"]),
                    st.text(max_size=8), st.dates())
VALUES = st.recursive(SCALARS, lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=6) | st.sampled_from(["label", "on"]),
                                                 inner, max_size=3)), max_leaves=6)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.sampled_from(BASE_PATHS), st.one_of(VALUES, st.just(...))), min_size=1, max_size=3))
def test_mutated_definitions_give_a_definition_or_invalid_definition(edits: list[tuple[Any, Any]]) -> None:
    """Replace or delete (`...`) some values of a valid definition, dump it, and parse it again."""
    data = copy.deepcopy(BASE)
    for path, value in edits:
        parent = data
        try:
            for part in path[:-1]:
                parent = parent[part]
            if value is ...:
                del parent[path[-1]]
            else:
                parent[path[-1]] = value
        except (KeyError, IndexError, TypeError):
            continue  # an earlier edit removed or replaced this path
    text = yaml.safe_dump(data, sort_keys=False, allow_unicode=True)
    result = _definition_or_problems(text, "mutant.yaml")
    if isinstance(result, list):
        assert result
        assert all(p.file == "mutant.yaml" and (p.line is None or p.line >= 1) for p in result)
    else:
        assert isinstance(result, WorkflowDefinition)


NAMES = ["on", "off", "yes", "no", "y", "n", "true", "false", "null", "review", "closed", "s1", "a_b"]
# Names that stay strings when written unquoted (true/false/null are YAML even in 1.2).
PLAIN_NAMES = [n for n in NAMES if n not in ("true", "false", "null")]


@st.composite
def chains(draw: st.DrawFn, names: list[str]) -> dict[str, Any]:
    """A valid definition: a chain of states from the initial one to a terminal one."""
    states = draw(st.lists(st.sampled_from(names), min_size=2, max_size=6, unique=True))
    triggers = draw(st.lists(st.sampled_from(names), min_size=len(states) - 1, max_size=len(states) - 1))
    options = draw(st.lists(st.sampled_from(names), min_size=1, max_size=4, unique=True))
    transitions: list[dict[str, Any]] = [
        {"trigger": trigger, "from": source, "to": dest, "roles": ["chair"]}
        for trigger, source, dest in zip(triggers, states[:-1], states[1:], strict=True)
    ]
    transitions[0]["requires"] = {"answer": {"type": "choice", "options": options}}
    return {
        "name": "generated", "title": "Generated", "version": 1,
        "roles": {"chair": "Chair"}, "open": {"roles": ["chair"]},
        "initial": states[0],
        "states": {s: {"label": f"Stage {s}", **({"terminal": True} if s == states[-1] else {})} for s in states},
        "transitions": transitions,
    }


def _check_round_trip(data: dict[str, Any], definition: WorkflowDefinition) -> None:
    assert list(definition.states) == list(data["states"])
    assert definition.initial == data["initial"]
    assert [t.trigger for t in definition.transitions] == [t["trigger"] for t in data["transitions"]]
    assert [t.sources for t in definition.transitions] == [(t["from"],) for t in data["transitions"]]
    assert [t.dest for t in definition.transitions] == [t["to"] for t in data["transitions"]]
    options = data["transitions"][0]["requires"]["answer"]["options"]
    assert definition.transitions[0].requires[0].options == tuple(options)
    assert [s.terminal for s in definition.states.values()] == [False] * (len(data["states"]) - 1) + [True]
    names = [*definition.states, definition.initial, *definition.triggers, *options]
    assert all(type(name) is str for name in names)


@settings(max_examples=150, deadline=None)
@given(chains(NAMES))
def test_generated_definitions_round_trip_through_safe_dump(data: dict[str, Any]) -> None:
    _check_round_trip(data, parse_definition(yaml.safe_dump(data, sort_keys=False), "generated.yaml"))


class _PlainDumper(yaml.SafeDumper):
    """Quotes a string only when YAML 1.2 would read it as something else, so `on` is written bare."""


_PlainDumper.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeDumper.yaml_implicit_resolvers.items()
}
_PlainDumper.add_implicit_resolver("tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
                                   list("tTfF"))


@settings(max_examples=100, deadline=None)
@given(chains(PLAIN_NAMES))
def test_generated_definitions_round_trip_with_bare_names(data: dict[str, Any]) -> None:
    text = yaml.dump(data, Dumper=_PlainDumper, sort_keys=False)
    assert not re.search(r"'(on|off|yes|no|y|n)'", text), text
    _check_round_trip(data, parse_definition(text, "generated.yaml"))


@pytest.mark.parametrize("path", shipped_files(), ids=lambda p: p.stem)
def test_shipped_definitions_read_back_the_same_without_the_check(path: Path) -> None:
    text = path.read_text("utf-8")
    assert same_definition(parse_definition(text, str(path), validate=False), parse_definition(text, str(path)))


def test_yes_no_on_off_names_stay_strings_when_read_back_stored() -> None:
    stored = parse_definition(ON_OFF_YES_NO, "s.yaml", validate=False)
    assert same_definition(stored, parse_definition(ON_OFF_YES_NO, "s.yaml"))
