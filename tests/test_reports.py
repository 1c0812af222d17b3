"""The Board report of the demo data: one self-contained page with charts, that Chromium prints; and the
`reviewflow report` commands' formats, files and messages."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from reviewflow.cli import cli
from reviewflow.engine.core.clock import SteppingClock, parse_instant
from reviewflow.engine.services.demo import run_demo

DEMO_END = "2027-04-14"
VOID = {"meta", "br", "hr", "img", "input", "link", "col", "area", "base", "wbr", "source", "path", "rect", "line",
        "circle", "stop"}


def report(db: str, *args: str, now: str = DEMO_END, ok: bool = True) -> Result:
    result = CliRunner().invoke(cli, ["--db", db, "--now", now, "report", *args],
                                env={"REVIEWFLOW_NOW": None, "REVIEWFLOW_DB": None})
    assert "Traceback" not in result.output + result.stderr
    if ok:
        assert result.exit_code == 0, result.output + result.stderr
    return result


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory: pytest.TempPathFactory) -> str:
    folder = tmp_path_factory.mktemp("demo")
    run_demo(folder, lambda line: None, SteppingClock(parse_instant(DEMO_END)))  # the story ends on DEMO_END
    return f"sqlite:///{folder / 'reviewflow-demo.db'}"


@pytest.fixture(scope="module")
def board_html(demo_db: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("report") / "board.html"
    result = report(demo_db, "board", "--format", "html", "--out", str(out))
    assert re.fullmatch(rf"wrote {re.escape(str(out))} \(html, \d+ bytes\)\n", result.stderr)
    assert result.stdout == ""
    return out


class Tags(HTMLParser):
    """Checks every element is closed in order, and collects the text inside each <svg>."""

    def __init__(self) -> None:
        super().__init__()
        self.open: list[str] = []
        self.svg_text: list[list[str]] = []
        self.problems: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "svg":
            self.svg_text.append([])
        if tag not in VOID:
            self.open.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag in VOID:
            return
        if not self.open or self.open[-1] != tag:
            self.problems.append(f"</{tag}> closes {self.open[-1:] or 'nothing'}")
            return
        self.open.pop()

    def handle_data(self, data: str) -> None:
        if "svg" in self.open and data.strip():
            self.svg_text[-1].append(data.strip())


def test_demo_board_report_is_one_self_contained_page(board_html: Path) -> None:
    page = board_html.read_text("utf-8")
    assert page.startswith("<!DOCTYPE html>")
    for outside in ("http://", "https://", "//cdn", "src=", "<script", "<link", "@import", "<iframe", "<object"):
        assert outside not in page, outside
    assert set(re.findall(r"url\((.)", page)) <= {"#"}, "only references to patterns inside the page"
    assert "@page { size: A4;" in page
    assert "break-inside: avoid" in page
    tags = Tags()
    tags.feed(page)
    assert not tags.problems
    assert tags.open == []


def test_demo_board_report_has_three_charts_with_words(board_html: Path) -> None:
    tags = Tags()
    tags.feed(board_html.read_text("utf-8"))
    funnel, overdue, themes = tags.svg_text
    assert funnel[0] == "Stage funnel: open reviews and audits at each stage, by RAG status"
    assert {"Overdue", "Due within 10 working days", "On time", "Paused", "No time limit"} <= set(funnel)
    assert "Agency audits" in funnel
    assert "3 open: 1 overdue, 2 on time" not in funnel  # one bar per stage label, each with its own numbers
    assert "2 open: 2 on time" in funnel
    assert "1 open: 1 overdue" in funnel
    assert overdue[0] == "Overdue actions by agency"
    assert overdue[-2:] == ["Health", "1"]
    assert themes[0] == "Learning themes: recommendations with each theme"
    assert {"neglect", "2 in 2 reviews", "safer recruitment", "1 in 1 review"} <= set(themes)


def test_demo_board_report_says_what_the_board_must_see(board_html: Path) -> None:
    page = board_html.read_text("utf-8")
    assert "Period: 14 January 2027 to 14 April 2027 (the last 3 months to today, the default" in page
    assert '<td class="rag rag-overdue">Overdue</td>' in page
    assert '<td class="rag rag-on-time">On time</td>' in page
    exceptions = page.split('id="exceptions"')[1].split("</section>")[0]
    rows = [re.findall(r"<td[^>]*>(.*?)</td>", row) for row in re.findall(r"<tr>(.*?)</tr>", exceptions)]
    order = [(cells[0], cells[2]) for cells in rows if cells]
    assert order == [("MACA-2026-Q3", "Stage: Agency audits"), ("RR-2026-001", "Action A1 (Police)"),
                     ("RR-2026-001", "Action A2 (Children&#x27;s social care)"),
                     ("RR-2026-003", "Milestone: LCSPR final report"),  # 6 months from the decision
                     ("RR-2026-003", "Stage: Local child safeguarding practice review"),
                     ("S11-2026", "Action A1 (Health)"),
                     ("S11-2026", "Stage: Actions")]  # RR A3 is not yet at the Board: +10/+20/+40 working days
    assert ('<span class="step">Stage owner 2026-10-23</span><br><span class="step">Sub-group chair 2026-10-27'
            '</span><br><span class="step">Board 2026-11-10</span>') in exceptions


def _chromium() -> str:
    """The Chromium binary; skips without one (fails instead under REVIEWFLOW_REQUIRE_CHROMIUM=1)."""
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        reason = "chromium is not installed (apt-get install chromium): the print check needs it"
        if os.environ.get("REVIEWFLOW_REQUIRE_CHROMIUM") == "1":
            pytest.fail(f"{reason} (REVIEWFLOW_REQUIRE_CHROMIUM=1)")
        pytest.skip(reason)
    return found


def test_chromium_prints_the_demo_board_report_to_pdf(board_html: Path, tmp_path: Path) -> None:
    chromium = _chromium()
    pdf = tmp_path / "board.pdf"
    run = subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-pdf-header-footer",
                          f"--print-to-pdf={pdf}", board_html.as_uri()], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    data = pdf.read_bytes()
    assert data.startswith(b"%PDF")
    pages = len(re.findall(rb"/Type\s*/Page[^s]", data))
    assert 2 <= pages <= 8, pages


def test_demo_board_report_as_markdown_csv_and_json_agree(demo_db: str) -> None:
    figures = json.loads(report(demo_db, "board", "--format", "json").stdout)["figures"]
    markdown = report(demo_db, "board", "--format", "md").stdout
    table = list(csv.reader(io.StringIO(report(demo_db, "board", "--format", "csv", "--table",
                                               "open_reviews").stdout)))
    assert table[0][:4] == ["ref", "type", "stage", "RAG"]
    assert [(row[0], row[3]) for row in table[1:]] == [(o["ref"], o["rag_label"]) for o in figures["open_reviews"]]
    assert [o["ref"] for o in figures["open_reviews"]] == ["MACA-2026-Q3", "RR-2026-003", "S11-2026", "TR-2027-001",
                                                           "DHR-2027-001", "MAR-2026-001", "RR-2026-001"]
    assert figures["actions"]["all_agencies"]["percent_on_time"] == 0.0
    assert figures["actions"]["overdue"] == [{"ref": "S11-2026", "action": "A1", "agency": "Health",
                                              "due_date": "2026-11-23", "working_days_overdue": 97,
                                              "status": "agreed"}]
    assert ("| S11-2026 | Section 11 Self-Assessment Audit | Actions | Overdue | 6 months | 2027-03-03 | 28 |"
            in markdown)
    assert "## 3. Exceptions: escalated to the Board" in markdown
    every = report(demo_db, "board", "--format", "csv").stdout
    names = [line[1:-1] for line in every.splitlines() if line.startswith("[")]
    assert names == ["key_figures", "open_by_type", "stage_funnel", "open_reviews", "opened", "closed", "backdated",
                     "exceptions",
                     "actions_by_agency", "actions_on_time", "overdue_actions", "redated_actions",
                     "evidence_awaiting_verification",
                     "embedded_actions", "outstanding_returns", "risk_register", "measured_impact",
                     "grade_distribution", "grade_change", "themes", "dissemination_by_kind", "dissemination"]


def test_report_period_and_format_choices(demo_db: str, tmp_path: Path) -> None:
    chosen = report(demo_db, "board", "--from", "2026-06-01", "--to", "2026-06-30", "--format", "json").stdout
    period = json.loads(chosen)["figures"]["period"]
    assert period == {"start": "2026-06-01", "end": "2026-06-30", "basis": "as asked",
                      "label": "1 June 2026 to 30 June 2026", "end_instant": "2026-06-30T23:00:00+00:00"}
    markdown_file = tmp_path / "board.md"
    report(demo_db, "board", "--out", str(markdown_file))
    assert markdown_file.read_text("utf-8").startswith("# Board report: safeguarding reviews and audits\n")
    annual = tmp_path / "annual.csv"
    report(demo_db, "annual", "--year", "2026-27", "--out", str(annual))
    assert annual.read_bytes().startswith(b"[key_figures]\r\nfigure,value\r\nReviews opened,")
    assert report(demo_db, "board").stdout.startswith("# Board report")


def test_the_board_report_as_an_excel_workbook_from_the_command_line(demo_db: str, tmp_path: Path) -> None:
    from openpyxl import load_workbook

    from reviewflow.commands.reports import REPORT_FORMATS
    from reviewflow.engine.render.reports import formats

    assert REPORT_FORMATS == formats()
    workbook_file = tmp_path / "board.xlsx"
    written = report(demo_db, "board", "--out", str(workbook_file))
    assert written.stderr.startswith(f"wrote {workbook_file} (xlsx, ")
    workbook = load_workbook(workbook_file)
    assert len(workbook.sheetnames) > 1
    numbers = [c.value for sheet in workbook.worksheets for row in sheet.iter_rows() for c in row
               if isinstance(c.value, int | float)]
    assert numbers, "the figures are numbers, not text"


@pytest.mark.parametrize(("args", "message"), [
    (("annual", "--year", "2026/28"), "Error: --year '2026/28' is not a year: write 2026 for the calendar year, "
                                      "or 2026-27 for the financial year from 1 April 2026 to 31 March 2027"),
    (("annual", "--year", "2028"), "Error: the calendar year 2028 has not started yet (today is 2027-04-14): "
                                   "choose an earlier --year"),
    (("board", "--from", "2027-05-01"), "Error: --from 2027-05-01 is after the period's end, 2027-04-14: give "
                                        "an earlier --from, or a later --to"),
    (("board", "--to", "14/13/2027"), "Error: --to '14/13/2027' is not a date: write e.g. 2026-03-31 or 31/03/2026"),
    (("board", "--table", "exceptions"), "Error: --table picks one table of the CSV output: add --format csv"),
    (("board", "--format", "xlsx"), "Error: an xlsx report is a file, not text: add --out FILE.xlsx"),
    (("annual", "--year", "2026", "--format", "csv", "--table", "nope"),
     "Error: no table 'nope' in this report; tables: key_figures, reviews_by_type, decisions_by_outcome, decisions, "
     "recommendations, actions, not_progressed, impact_by_method, impact, measured_impact, dissemination_reach, "
     "dissemination_total, training_by_theme, timeliness, themes, sources_of_learning, learning_loop, "
     "themes_across_reviews, grade_distribution, grade_change, risk_register"),
], ids=["bad-year", "future-year", "from-after-to", "bad-date", "table-without-csv", "xlsx-to-a-terminal",
        "unknown-table"])
def test_report_refusals_are_one_line(demo_db: str, args: tuple[str, ...], message: str) -> None:
    result = report(demo_db, *args, ok=False)
    assert result.exit_code in (1, 2)
    assert result.stderr.strip() == message


def test_report_on_a_missing_folder_says_so(demo_db: str, tmp_path: Path) -> None:
    out = tmp_path / "no-such-folder" / "board.html"
    result = report(demo_db, "board", "--out", str(out), ok=False)
    assert result.exit_code == 1
    assert result.stderr.startswith(f"Error: cannot write the report to {out}: No such file or directory")
