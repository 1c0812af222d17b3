"""Keep the user documentation true to the code: schema copy, keys, commands, conditions, example."""

from __future__ import annotations

import json
import re
from pathlib import Path

import click
import pytest

from reviewflow.cli import cli
from reviewflow.engine.core.conditions import BUILTINS
from reviewflow.engine.core.parse import parse_definition, workflow_schema

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
FORMAT_DOC = DOCS / "workflow-format.md"
CLI_DOC = DOCS / "cli.md"
SCHEMA_LINE = "# yaml-language-server: $schema=../docs/workflow.schema.json"
SHIPPED = sorted((ROOT / "workflows").glob("*.yaml"))


def _format_doc() -> str:
    return FORMAT_DOC.read_text("utf-8")


def _cli_doc() -> str:
    return CLI_DOC.read_text("utf-8")


def _backticked(text: str) -> set[str]:
    """Every `code span` in a Markdown text, for single and double backtick spans."""
    spans = re.findall(r"``(.+?)``", text) + re.findall(r"(?<!`)`([^`\n]+)`(?!`)", text)
    return {s.strip() for s in spans}


def _schema_keys() -> dict[str, list[str]]:
    schema = workflow_schema()
    defs = schema["$defs"]
    return {
        "top level": list(schema["properties"]),
        "open": list(schema["properties"]["open"]["properties"]),
        "state": list(defs["state"]["properties"]),
        "transition": list(defs["transition"]["properties"]),
        "field spec": list(defs["fieldSpec"]["properties"]),
        "escalation level": list(defs["escalationLevel"]["properties"]),
    }


def _command_paths(group: click.Group, prefix: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], click.Command]]:
    found: list[tuple[tuple[str, ...], click.Command]] = []
    for name, command in sorted(group.commands.items()):
        path = (*prefix, name)
        found.append((path, command))
        if isinstance(command, click.Group):
            found.extend(_command_paths(command, path))
    return found


def test_published_schema_is_the_engine_schema() -> None:
    published = json.loads((DOCS / "workflow.schema.json").read_text("utf-8"))
    assert published == workflow_schema(), "copy engine/workflow.schema.json to docs/workflow.schema.json"


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_shipped_workflow_starts_with_schema_line(path: Path) -> None:
    first_line = path.read_text("utf-8").splitlines()[0]
    assert first_line == SCHEMA_LINE


def test_every_schema_key_is_documented() -> None:
    documented = _backticked(_format_doc())
    missing = [f"{where}: {key}" for where, keys in _schema_keys().items() for key in keys if key not in documented]
    assert not missing, f"keys not documented as `key` in {FORMAT_DOC.name}: {missing}"


def test_every_enum_value_is_documented() -> None:
    schema = workflow_schema()
    values = schema["properties"]["calendar"]["enum"] + schema["$defs"]["fieldSpec"]["properties"]["type"]["enum"]
    documented = _backticked(_format_doc())
    missing = [v for v in values if v not in documented]
    assert not missing, f"calendars or field types not documented in {FORMAT_DOC.name}: {missing}"


def test_every_cli_command_is_documented() -> None:
    text = _cli_doc()
    headings = [line for line in text.splitlines() if line.startswith("#")]
    spans = _backticked(text)
    missing = []
    for path, _command in _command_paths(cli):
        words = "reviewflow " + " ".join(path)
        pattern = re.compile(rf"(^|[\s`]){re.escape(words)}($|[\s`])")
        if not (any(pattern.search(h) for h in headings) or any(pattern.search(s) for s in spans)):
            missing.append(words)
    assert not missing, f"commands not documented in {CLI_DOC.name}: {missing}"


def test_every_cli_option_is_documented() -> None:
    spans = " ".join(_backticked(_cli_doc()))
    commands: list[tuple[tuple[str, ...], click.Command]] = [((), cli), *_command_paths(cli)]
    missing = []
    for path, command in commands:
        for param in command.params:
            if isinstance(param, click.Option):
                names = [n for n in param.opts + param.secondary_opts if n not in ("-h", "--help")]
                if names and not any(re.search(rf"(^|[\s\[(]){re.escape(n)}\b", spans) for n in names):
                    missing.append(f"{' '.join(path) or 'reviewflow'} {names[0]}")
    assert not missing, f"options not documented in {CLI_DOC.name}: {missing}"


def test_every_builtin_condition_is_documented() -> None:
    documented = _backticked(_format_doc())
    missing = [name for name in BUILTINS if name not in documented]
    assert not missing, f"built-in conditions not documented in {FORMAT_DOC.name}: {missing}"


def _first_yaml_block(text: str) -> str:
    match = re.search(r"^```yaml\n(.*?)^```", text, re.MULTILINE | re.DOTALL)
    assert match, f"no ```yaml block in {FORMAT_DOC.name}"
    return match.group(1)


def test_complete_example_is_a_valid_definition() -> None:
    example = _first_yaml_block(_format_doc())
    definition = parse_definition(example, "docs/workflow-format.md example")
    assert example.startswith(SCHEMA_LINE)
    assert definition.name == "practice_learning_review"


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_shipped_workflow_summary_matches_its_file(path: Path) -> None:
    d = parse_definition(path.read_text("utf-8"), str(path))
    text = _format_doc()
    heading = f"### `{d.name}` — {d.title} (version {d.version})"
    assert heading in text, f"{FORMAT_DOC.name} has no section {heading!r}"
    section = text.split(heading, 1)[1].split("\n#", 1)[0]
    listed = re.findall(r"^\d+\. (.+?) — (.+?)(?: \(.*\))?$", section, re.MULTILINE)
    stages = [(s.label, str(s.time_limit) if s.time_limit else "no limit") for s in d.states.values() if not s.terminal]
    assert listed == stages
    ends = ", ".join(s.label for s in d.states.values() if s.terminal)
    assert f"Ends: {ends}." in section
