"""The Board and annual reports: one consistent read of the store at the context's `now`, then the figures."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

from reviewflow.engine.core.durations import local_date
from reviewflow.engine.core.reports.annual import AnnualReport, annual_figures
from reviewflow.engine.core.reports.board import BoardReport, board_figures
from reviewflow.engine.core.reports.data import ReportData
from reviewflow.engine.core.reports.period import annual_period, board_period
from reviewflow.engine.services.context import ServiceContext
from reviewflow.store import reporting


class ReportService:
    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx

    def data(self) -> ReportData:
        """Every case and learning record, read in one transaction, with every loaded definition."""
        definitions = self.ctx.all_definitions()
        with self.ctx.read() as s:
            data = reporting.load(s)
        return replace(data, definitions=definitions)

    def board(self, start: date | None = None, end: date | None = None) -> BoardReport:
        now = self.ctx.clock()
        return board_figures(self.data(), now, board_period(start, end, local_date(now)))

    def annual(self, year: str) -> AnnualReport:
        now = self.ctx.clock()
        return annual_figures(self.data(), now, annual_period(year, local_date(now)))
