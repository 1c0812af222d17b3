"""The reports as Excel workbooks: a cover sheet, then one sheet per table whose cells keep their types (numbers as
numbers, dates as dates), so an analyst can sum and sort them; any text at all makes a workbook Excel opens."""

from __future__ import annotations

import io
from datetime import date, datetime
from pathlib import Path

import openpyxl
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from reviewflow.engine.core.clock import SteppingClock
from reviewflow.engine.core.errors import InvalidValue
from reviewflow.engine.core.reports.layout import Layout, Section, Table
from reviewflow.engine.render.escape import cell_text
from reviewflow.engine.render.reports import (
    choose_format,
    formats,
    layout_of,
    render,
    render_bytes,
    report_format,
)
from reviewflow.engine.render.reports.xlsx import SHEET_NAME_LENGTH, figure_value, render_xlsx, sheet_name
from reviewflow.engine.services.facade import Reviewflow


def _open(content: bytes) -> openpyxl.Workbook:
    return openpyxl.load_workbook(io.BytesIO(content))


def test_the_board_report_is_a_workbook_with_a_sheet_per_table_and_typed_cells(service: Reviewflow,
                                                                               clock: SteppingClock) -> None:
    service.add_user("bm", ["business_manager"])
    service.open_case("serious_case_review", "SCR-X-1", "bm", {
        "notifying_agency": "Police", "incident_date": "2026-01-02", "incident_type": "child_seriously_harmed"},
        legacy=True)
    clock.advance(days=14)
    report = service.board_report()
    book = _open(render_bytes(report, "xlsx"))
    assert book.sheetnames == ["report", *(t.name for t in layout_of(report).tables())]
    assert book["report"]["A1"].value == "Board report: safeguarding reviews and audits"
    assert book.properties.created == datetime(2026, 1, 19, 9, 0)  # the report's time, not the machine's
    figures = {r[0].value: r[1] for r in book["key_figures"].iter_rows(min_row=2)}
    assert figures["Open reviews and audits"].value == 1
    assert figures["Overdue"].value == 1
    assert figures["Actions completed on time"].value is None  # no action yet: no share to give
    header = [c.value for c in book["open_reviews"][1]]
    row = dict(zip(header, book["open_reviews"][2], strict=False))
    assert row["ref"].value == "SCR-X-1"
    assert row["due date"].is_date
    assert row["due date"].value == datetime(2026, 1, 12)
    assert row["due date"].number_format == "yyyy-mm-dd"
    assert row["working days overdue"].value == 5
    assert row["working days overdue"].data_type == "n"
    assert book["open_reviews"].freeze_panes == "A2"


def test_xlsx_is_a_registered_binary_format_chosen_by_its_suffix(service: Reviewflow) -> None:
    assert "xlsx" in formats()
    assert report_format("xlsx").binary
    assert choose_format(None, Path("paper.xlsx")) == "xlsx"
    with pytest.raises(InvalidValue, match=r"^xlsx reports are files, not text: download one from the Board page "):
        render(service.board_report(), "xlsx")
    assert render_bytes(service.board_report(), "csv").startswith(b"[key_figures]")
    assert _open(render_bytes(service.annual_report("2026"), "xlsx")).sheetnames[0] == "report"


@given(st.lists(st.text(max_size=40), min_size=1, max_size=12))
@example(["key_figures", "KEY_FIGURES", "report"])
@example(["a" * 40, "a" * 40, "a" * 31])
@example(["[bad]:*?/\\", ""])
def test_sheet_names_are_always_valid_and_distinct(names: list[str]) -> None:
    taken = {"report"}
    chosen = [sheet_name(n, taken) for n in names]
    assert all(0 < len(c) <= SHEET_NAME_LENGTH and not set(c) & set("[]:*?/\\") for c in chosen)
    assert len({c.casefold() for c in chosen}) == len(chosen)
    assert "report" not in {c.casefold() for c in chosen}


@given(st.integers(-10**9, 10**9))
def test_whole_key_figures_are_numbers(number: int) -> None:
    assert figure_value(str(number)) == number


@given(st.decimals(0, 100, places=1, allow_nan=False))
@example(66.7)
def test_percentage_key_figures_are_fractions(share: object) -> None:
    text = f"{float(str(share)):g}%"
    assert figure_value(text) == pytest.approx(float(str(share)) / 100)


@settings(deadline=None, max_examples=60)  # a workbook takes a few milliseconds to write and read
@given(st.text(max_size=80), st.one_of(st.none(), st.integers(-2**53, 2**53), st.floats(-1e15, 1e15),
                                       st.dates(date(1900, 3, 1), date(9999, 12, 31))))
@example("\x00\x0bcontrol\x1f", None)
@example("a\rb\r\nc", -1.7976931348623157e15)
@example("=SUM(A1:A9)", 3)
@example("   ", 1.5)
def test_any_cell_makes_a_workbook_that_opens_with_the_value_kept(text: str, other: object) -> None:
    layout = Layout("A report", ("header\x07line",), (("A figure", text),),
                    (Section("One", tables=(Table("t", "A table", ("text", "other"), ((text, other),)),)),), ())
    book = _open(render_xlsx(layout))
    cell, value = book["t"]["A2"], book["t"]["B2"]
    kept = "".join(c for c in text if c in "\t\n\r" or ord(c) >= 32).replace("\r\n", "\n").replace("\r", "\n")
    assert cell.value == (cell_text(kept) if kept.strip() else None)  # a formula-looking text gets a leading '
    assert cell.data_type != "f"
    if isinstance(other, date):
        assert value.value.date() == other
    elif isinstance(other, float):
        assert value.value == pytest.approx(other)
    else:
        assert value.value == other
