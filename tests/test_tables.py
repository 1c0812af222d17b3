"""Terminal tables: `case list`, `action list` and `user list` have a header and labels, fit 100 columns when
piped (plain text), take the terminal's width and colour the status on a terminal (not with NO_COLOR), and go
through the pager when longer than the screen.

The terminal cases run the real command in its own process on a pseudo-terminal.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from reviewflow.cli import cli
from reviewflow.engine.render.table import Cell, Column, Output, render_table

NO_ENV = {"REVIEWFLOW_USER": None, "REVIEWFLOW_NOW": None, "REVIEWFLOW_DB": None, "REVIEWFLOW_CONFIG": None}
ANSI = re.compile(r"\x1b\[[0-9;]*m")
LONG = ("Review the multi-agency response to neglect of adolescents who go missing from care placements outside "
        "the area, including the use of return home interviews")


@pytest.fixture
def db(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'tables.db'}"
    runner = CliRunner()

    def run(*args: str) -> None:
        result = runner.invoke(cli, ["--db", url, "--now", "2026-03-02T09:00", *args], env=NO_ENV)
        assert result.exit_code == 0, result.output + result.stderr

    run("init")
    run("user", "add", "a.khan", "--role", "business_manager")
    run("user", "add", "m.patel", "--role", "action_owner", "--agency", "Police")
    run("case", "open", "thematic_review", "--ref", "TR-2026-001", "--field", "theme=Neglect of adolescents",
        "--field", "theme_source=board_priority", "--as", "a.khan")
    run("case", "open", "multi_agency_case_audit", "--ref", "MACA-2026-Q1", "--field", "audit_period=2025-26 Q4",
        "--field", "audit_theme=Neglect", "--as", "a.khan")
    run("case", "recommend", "MACA-2026-Q1", "--text", "Strengthen supervision", "--as", "a.khan")
    run("action", "add", "MACA-2026-Q1", "--rec", "R1", "--description", LONG, "--agency", "Police", "--owner",
        "m.patel", "--due", "2026-04-30", "--as", "a.khan")
    return url


def _piped(url: str, *args: str) -> str:
    result = CliRunner().invoke(cli, ["--db", url, "--now", "2026-06-01T09:00", *args], env=NO_ENV)
    assert result.exit_code == 0, result.output + result.stderr
    return result.stdout


def test_piped_lists_have_a_header_labels_and_fit_100_columns(db: str) -> None:
    cases = _piped(db, "case", "list").splitlines()
    assert cases[0].split() == ["Reference", "Review", "type", "Sub-group", "Stage", "Due", "Status"]
    assert any(line.startswith("TR-2026-001") and "Proposed theme" in line and "referral" not in line
               for line in cases)
    assert any("OVERDUE by" in line for line in cases)
    actions = _piped(db, "action", "list")
    assert actions.splitlines()[0].split()[:3] == ["Case", "Action", "Description"]
    assert "in progress" in actions or "agreed, OVERDUE" in actions
    for text in (actions, "\n".join(cases), _piped(db, "user", "list")):
        assert not ANSI.search(text)
        assert max(len(line) for line in text.splitlines()) <= 100
    # the long description wraps inside its column: every word is there, in order
    words = " ".join(actions.split())
    assert all(w in words for w in LONG.split())


def test_colour_marks_the_status_only_when_asked() -> None:
    rows = [["A", Cell("OVERDUE by 3 working days", "red")], ["B", Cell("on time", "green")]]
    coloured = render_table([Column("Ref"), Column("Status")], rows, Output(100, True))
    assert "\x1b[1;31mOVERDUE by 3 working days" in coloured
    assert "\x1b[32mon time" in coloured
    plain = render_table([Column("Ref"), Column("Status")], rows, Output(100, False))
    assert not ANSI.search(plain)
    assert render_table([Column("Ref")], [], Output()) == ""


def test_cell_text_is_never_markup_or_terminal_control() -> None:
    text = render_table([Column("Note")], [["[bold red]x[/] \x1b[2J done"]], Output(100, True))
    assert "[bold red]x[/]" in text
    assert "\x1b[2J" not in text


def _on_terminal(url: str, tmp_path: Path, *args: str, **env: str) -> str:
    """The command's output on a pseudo-terminal of 120 columns and 12 lines."""
    primary, secondary = os.openpty()
    environ = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "REVIEWFLOW_DB", "PAGER")}
    environ.update({"COLUMNS": "120", "LINES": "12", "TERM": "xterm", "PAGER": "cat", **env})
    proc = subprocess.Popen([sys.executable, "-m", "reviewflow.cli", "--db", url, "--now", "2026-06-01T09:00", *args],
                            stdin=secondary, stdout=secondary, stderr=secondary, env=environ, cwd=tmp_path)
    os.close(secondary)
    chunks = []
    while True:
        try:
            chunk = os.read(primary, 65536)
        except OSError:
            break
        if not chunk:
            break
        chunks.append(chunk)
    proc.wait(timeout=60)
    os.close(primary)
    return b"".join(chunks).decode("utf-8", "replace")


def test_on_a_terminal_the_status_is_coloured_unless_no_color(db: str, tmp_path: Path) -> None:
    shown = _on_terminal(db, tmp_path, "case", "list")
    assert "\x1b[1;31mOVERDUE by" in shown
    assert "\x1b[32mon time" not in shown or "on time" in ANSI.sub("", shown)
    plain = _on_terminal(db, tmp_path, "case", "list", NO_COLOR="1")
    assert "\x1b[1;31m" not in plain
    assert "OVERDUE by" in plain


def test_a_list_longer_than_the_screen_goes_through_the_pager(db: str, tmp_path: Path) -> None:
    paged = tmp_path / "paged.txt"
    for n in range(2, 14):
        CliRunner().invoke(cli, ["--db", db, "--now", "2026-03-02T09:00", "case", "open", "thematic_review", "--ref",
                                 f"TR-2026-{n:03d}", "--field", "theme=Theme", "--field",
                                 "theme_source=board_priority", "--as", "a.khan"], env=NO_ENV)
    shown = _on_terminal(db, tmp_path, "case", "list", PAGER=f"tee {paged}")
    assert paged.is_file()
    assert "TR-2026-013" in paged.read_text()
    assert "TR-2026-013" in shown
    short = tmp_path / "short.txt"
    _on_terminal(db, tmp_path, "user", "list", PAGER=f"tee {short}")
    assert not short.exists()


def test_case_show_and_workflow_show_fit_the_terminal_without_losing_a_word(db: str, tmp_path: Path) -> None:
    """On a terminal of 100 columns no line is wider; piped, every line is kept whole (for grep and scripts)."""
    for args in (("case", "show", "MACA-2026-Q1"), ("workflow", "show", "rapid_review_lcspr"),
                 ("workflow", "show", "serious_case_review"), ("workflow", "show", "domestic_homicide_review")):
        shown = ANSI.sub("", _on_terminal(db, tmp_path, *args, COLUMNS="100"))
        piped = _piped(db, *args)
        assert max(len(line) for line in shown.splitlines()) <= 100, args
        assert max(len(line) for line in piped.splitlines()) > 100, args
        assert shown.split() == piped.split(), args
