"""Runs a report for a service: its definitions, its clock, one read of the store; then renders it."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from pathlib import Path

from reviewflow.engine.core.durations import local_date
from reviewflow.engine.core.errors import InvalidValue
from reviewflow.engine.core.reports.annual import AnnualReport, annual_figures
from reviewflow.engine.core.reports.annual_sections import annual_layout
from reviewflow.engine.core.reports.board import BoardReport, board_figures
from reviewflow.engine.core.reports.board_sections import board_layout
from reviewflow.engine.core.reports.data import ReportData
from reviewflow.engine.core.reports.period import annual_period, board_period
from reviewflow.engine.render.reports.html import render_html
from reviewflow.engine.render.reports.markdown import render_markdown
from reviewflow.engine.render.reports.tabular import render_csv, render_json
from reviewflow.engine.services.cases import Reviewflow
from reviewflow.store import reporting


class ReportBuilder:
    """Builds the Board and annual reports from one consistent read of the database at the service's `now`."""

    def __init__(self, service: Reviewflow) -> None:
        self.service = service

    def data(self) -> ReportData:
        self.service.ensure_ready()
        definitions = self.service.all_definitions()
        with self.service.db.transaction() as s:
            data = reporting.load(s)
        return replace(data, definitions=definitions)

    def board(self, start: date | None = None, end: date | None = None) -> BoardReport:
        now = self.service.clock()
        return board_figures(self.data(), now, board_period(start, end, local_date(now)))

    def annual(self, year: str) -> AnnualReport:
        now = self.service.clock()
        return annual_figures(self.data(), now, annual_period(year, local_date(now)))


FORMATS = ("html", "md", "csv", "json")
_SUFFIXES = {".html": "html", ".htm": "html", ".md": "md", ".markdown": "md", ".csv": "csv", ".json": "json"}


def choose_format(fmt: str | None, out: Path | None) -> str:
    """The format asked for, else the one the output file's name suggests, else Markdown."""
    if fmt:
        return fmt
    return _SUFFIXES.get(out.suffix.lower(), "md") if out is not None else "md"


def render(report: BoardReport | AnnualReport, fmt: str, table: str | None = None) -> str:
    """The report as html, md, csv (every table, or `table`) or json."""
    if table is not None and fmt != "csv":
        raise InvalidValue("--table picks one table of the CSV output: add --format csv")
    if fmt == "json":
        return render_json("board" if isinstance(report, BoardReport) else "annual", report)
    layout = board_layout(report) if isinstance(report, BoardReport) else annual_layout(report)
    if fmt == "html":
        return render_html(layout)
    if fmt == "csv":
        return render_csv(layout, table)
    if fmt == "md":
        return render_markdown(layout)
    raise InvalidValue(f"unknown report format {fmt!r}; use one of: {', '.join(FORMATS)}")
