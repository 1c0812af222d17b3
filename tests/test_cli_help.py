"""Every help text whole: the line listed for each command under 'Commands:' is the whole first sentence of its
help, never cut at 'e.g.' or at the terminal's width."""

from __future__ import annotations

from collections.abc import Iterator

import click
from click.testing import CliRunner

from reviewflow.cli import cli


def _commands(group: click.Group, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], click.Command]]:
    for name, command in group.commands.items():
        yield (*path, name), command
        if isinstance(command, click.Group):
            yield from _commands(command, (*path, name))


def test_every_listed_command_line_is_a_whole_sentence() -> None:
    found = list(_commands(cli))
    assert len(found) > 60
    for path, command in found:
        line = command.get_short_help_str(limit=45)
        assert line, f"{' '.join(path)} has no help"
        assert line.count("(") == line.count(")"), f"{' '.join(path)}: {line!r}"
        assert not line.endswith(("e.g", "i.e", "...")) or line.endswith("...)"), f"{' '.join(path)}: {line!r}"
        first = " ".join((command.help or "").split("\n\n")[0].split())
        assert first.startswith(line), f"{' '.join(path)}: {line!r}"


def test_a_group_lists_each_command_with_its_whole_line() -> None:
    result = CliRunner().invoke(cli, ["action", "--help"], terminal_width=80)
    assert result.exit_code == 0
    listed = " ".join(result.output.split("Commands:")[1].split())
    assert "accept Accept evidence EVIDENCE (e.g. E1) of case REF" in listed
    assert "(e.g. add" not in listed


NO_JSON = {
    "init": "prints the one-time set-up code of the first administrator",
    "run": "the worker: runs until stopped, logging as it goes",
    "serve": "the web server",
    "demo": "tells the demo's story as it plays it",
    "audit checkpoint": "writes a signed JSON file (--out)",
    "workflow schema": "prints the JSON Schema itself",
    "user setup-code": "prints a one-time secret",
    "user password": "prompts for a password",
    "calendar url": "prints a secret address",
    "completion": "prints a shell script",
}


def test_every_command_that_prints_has_json() -> None:
    missing = []
    for path, command in _commands(cli):
        if isinstance(command, click.Group):
            continue
        names = {p.name for p in command.params}
        if "as_json" not in names and "fmt" not in names and " ".join(path) not in NO_JSON:
            missing.append(" ".join(path))
    assert missing == []
