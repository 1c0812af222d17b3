"""Every `reviewflow` command in the README's tour and in docs/cli.md's examples runs as printed, in order, on a
fresh database, whatever today is: each exits 0, or with the status its line documents (`# exits N`), and a few
print what the docs show. The commands run through the real command line in this process, with the real time
limits a new database has and the real clock."""

from __future__ import annotations

import re
import shlex
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner

from reviewflow.cli import cli

ROOT = Path(__file__).parent.parent
FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.M | re.S)
EXITS = re.compile(r"#\s*exits (\d+)")
SKIPPED = {
    "reviewflow completion bash > ~/.reviewflow-complete.bash && . ~/.reviewflow-complete.bash":
        "writes a file in the home folder and sources it in the shell",
    "reviewflow demo --serve": "serves web pages until Ctrl-C",
    "reviewflow serve": "serves until Ctrl-C",
    "reviewflow run": "sweeps every minute until Ctrl-C",
    "reviewflow --now 2027-04-14 demo --dir /tmp/demo-docs":
        "builds its own database; test_the_cli_reference_demo_example_runs_as_printed runs it",
    "reviewflow --db postgresql+psycopg://reviewflow@dbhost/lscp": "needs a PostgreSQL server called dbhost",
    "reviewflow export --encrypt": "asks for a passphrase at the terminal",
    "reviewflow workflow diagram rapid_review_lcspr --format svg": "needs Graphviz's dot program installed",
    "reviewflow workflow validate broken/semantic.yaml": "shows the problems of a made-up broken definition",
    "reviewflow user import people.csv": "shows the problems of a made-up spreadsheet",
    "reviewflow --now 2026-03-02 import tracker tracker-edited.csv":
        "shows the problems of the tracker after someone edited it by hand",
}
"""Documented commands that need a server, a shell, a terminal, the network or a made-up file, by their text as
printed, and why they are not run here."""


@dataclass(frozen=True)
class Example:
    """One documented command: its text as printed, the exit status documented and the output shown after it."""

    text: str
    status: int
    shown: str


def _commands(block: str, prompts: tuple[str, ...]) -> Iterator[Example]:
    """The commands of one fenced block: lines starting with one of `prompts` (without a `$ ` prompt, joined over
    trailing backslashes), each with the lines shown after it up to the next command."""
    lines = block.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        i += 1
        if not line.startswith(prompts):
            continue
        text = line.removeprefix("$ ")
        while text.endswith("\\") and i < len(lines):
            text = text[:-1] + " " + lines[i].strip()
            i += 1
        shown = []
        while i < len(lines) and not lines[i].startswith(prompts):
            shown.append(lines[i])
            i += 1
        found = EXITS.search(text)
        yield Example(text.strip(), int(found[1]) if found else 0, "\n".join(shown))


def examples(path: Path, start: str | None = None, end: str | None = None) -> list[Example]:
    """The documented commands of `path` (between the headings `start` and `end`): `reviewflow ...` (and `cp`)
    lines of sh/bash blocks, `$ reviewflow ...` lines of console and plain blocks."""
    text = path.read_text("utf-8")
    if start:
        text = text.split(start, 1)[1]
    if end:
        text = text.split(end, 1)[0]
    found: list[Example] = []
    for language, block in FENCE.findall(text):
        if language in ("sh", "bash"):
            found += _commands(block, ("reviewflow ", "cp "))
        elif language in ("console", ""):
            found += _commands(block, ("$ reviewflow ",))
    return found


def _argv(text: str) -> list[list[str]]:
    """The commands of one line, split on `&&`, without comments; a command piped into another (`| grep ...`)
    keeps only its own words, and `> FILE` stays as its last two words."""
    words = shlex.split(text, comments=True)
    commands: list[list[str]] = [[]]
    piped = False
    for word in words:
        if word == "&&":
            commands.append([])
            piped = False
        elif word == "|":
            piped = True
        elif not piped:
            commands[-1].append(word)
    return [c for c in commands if c]


@pytest.fixture
def fresh(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty folder holding the repository's docs/ and workflows/, as the current folder, with the real time
    limits of a new database and the real server clock."""
    from reviewflow.engine.core import time_limits
    from reviewflow.engine.services import context

    monkeypatch.setattr(time_limits, "NEW_DATABASE_LIMITS", time_limits.DEFAULT_LIMITS)
    monkeypatch.setattr(context, "SERVER_CLOCK", context.system_clock)
    for name in ("docs", "workflows"):
        (tmp_path / name).symlink_to(ROOT / name)
    monkeypatch.chdir(tmp_path)
    for name in list(__import__("os").environ):
        if name.startswith("REVIEWFLOW_") and name != "REVIEWFLOW_AUDIT_KEY_FILE":
            monkeypatch.delenv(name)
    return tmp_path


def run(example: Example) -> str:
    """Run one documented command line; its output."""
    output = ""
    for argv in _argv(example.text):
        if argv[0] == "cp":
            shutil.copyfile(argv[1], argv[2])
            continue
        assert argv[0] == "reviewflow", example.text
        target = None
        if len(argv) > 2 and argv[-2] == ">":
            argv, target = argv[:-2], Path(argv[-1])
        result = CliRunner().invoke(cli, [_scratch(word) for word in argv[1:]], prog_name="reviewflow")
        if target is not None:
            target.write_text(result.stdout, "utf-8")
        output += result.output
        assert "Traceback" not in output, f"{example.text}\n{output}"
        assert result.exit_code == example.status, f"{example.text}\nexit {result.exit_code}\n{output}"
    return output


def _scratch(word: str) -> str:
    """A word of a documented command, with docs/cli.md's scratch databases in /tmp moved to the current folder."""
    for name in ("docs.db", "lscp.db"):
        word = word.replace(f"sqlite:////tmp/{name}", f"sqlite:///{Path.cwd()}/{name}")
    return word


def play(found: list[Example]) -> dict[str, str]:
    """Run every example in order but the skipped ones; the output of each by its text."""
    outputs = {}
    for example in found:
        if any(example.text.startswith(skipped) for skipped in SKIPPED) and example.text not in (
                "reviewflow run --once",):
            continue
        outputs[example.text] = run(example)
    return outputs


def test_the_readme_tour_runs_as_printed(fresh: Path) -> None:
    found = examples(ROOT / "README.md", "## A five-minute tour", "## Board report")
    assert len(found) > 30
    outputs = play(found)
    refusals = [e for e in found if e.status]
    assert refusals
    assert all(e.shown.strip() for e in refusals)
    for example in refusals:
        assert outputs[example.text].strip() == example.shown.strip()
    assert (fresh / "checkpoint.json").is_file()
    assert (fresh / "reviewflow.db").is_file()


def test_the_cli_reference_demo_example_runs_as_printed(fresh: Path) -> None:
    """docs/cli.md's demo example, dated so its story is the one printed: the summary and the hints match."""
    found = examples(ROOT / "docs" / "cli.md", "## `reviewflow demo`", "## `reviewflow completion`")
    assert [e.text for e in found] == ["reviewflow --now 2027-04-14 demo --dir /tmp/demo-docs"]
    output = run(found[0])
    summary = found[0].shown.split("Where things stand", 1)[1]
    assert summary in output
    for hint in re.findall(r"^(?:Try:|    ) (reviewflow .*)$", summary, re.M):
        run(Example(hint, 0, ""))


def test_every_cli_reference_example_runs_as_printed(fresh: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every example of docs/cli.md, in order, on the scratch database its "About the examples" sets up: each
    exits 0 or with the status its line documents, and each refusal prints the error shown."""
    monkeypatch.setenv("REVIEWFLOW_DB", _scratch("sqlite:////tmp/docs.db"))
    found = examples(ROOT / "docs" / "cli.md")
    assert found[0].text == "reviewflow --now 2026-01-05 init"
    assert len(found) > 150
    outputs = play(found)
    refusals = [e for e in found if e.status and e.text in outputs]
    assert len(refusals) > 30
    for example in refusals:
        shown = example.shown.strip().splitlines()
        assert shown, f"{example.text}: a refusal shows its message"
        if shown[0].startswith("Error: "):
            assert shown[0] in outputs[example.text], f"{example.text}\n{outputs[example.text]}"
    assert "SCR-2026-001" not in "".join(e.text for e in found if "--legacy" not in e.text and e.status == 0)
    assert (fresh / "docs.db").is_file()
