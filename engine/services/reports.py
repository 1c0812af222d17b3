"""The Board and annual reports: one consistent read of the store at the context's `now`, then the figures."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from typing import Any

from reviewflow.engine.core.access import Identity, may_see_action
from reviewflow.engine.core.definition import WorkflowDefinition
from reviewflow.engine.core.durations import local_date
from reviewflow.engine.core.reports.annual import AnnualReport, annual_figures
from reviewflow.engine.core.reports.board import BoardReport, board_figures
from reviewflow.engine.core.reports.data import ReportData
from reviewflow.engine.core.reports.period import annual_period, board_period
from reviewflow.engine.core.subgroups import narrow
from reviewflow.engine.services.context import ServiceContext
from reviewflow.engine.services.visibility import may_see
from reviewflow.store import reporting


class ReportService:
    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx

    def data(self, actor: Identity | None = None) -> ReportData:
        """Every case and learning record, read in one transaction, with every loaded definition; given an
        `Identity`, only the cases and actions that person may see."""
        definitions = self.ctx.all_definitions()
        with self.ctx.read() as s:
            data = reporting.load(s)
            if actor is not None:
                data = _visible(s, self.ctx.who(s, actor, write=False), data, definitions)
        return replace(data, definitions=definitions)

    def board(self, start: date | None = None, end: date | None = None, actor: Identity | None = None) -> BoardReport:
        now = self.ctx.clock()
        return board_figures(self.data(actor), now, board_period(start, end, local_date(now)))

    def annual(self, year: str, actor: Identity | None = None) -> AnnualReport:
        now = self.ctx.clock()
        return annual_figures(self.data(actor), now, annual_period(year, local_date(now)))


def _visible(s: Any, who: Identity, data: ReportData,
             definitions: dict[tuple[str, int], WorkflowDefinition]) -> ReportData:
    """The report's records limited to what `who` may see."""
    if who.admin:
        return data
    seen = [c for c in data.cases if may_see(s, who, definitions[(c.workflow, c.version)], c)]
    ids = {c.case_id for c in seen}
    by_case = {c.case_id: definitions[(c.workflow, c.version)] for c in seen}
    groups = {c.case_id: c.subgroup for c in seen}
    actions = tuple(a for a in data.actions if a.case_id in ids
                    and may_see_action(narrow(who, groups[a.case_id]), by_case[a.case_id], a.owner_agency, a.owner))
    shown = {a.id for a in actions}
    return replace(data, cases=tuple(seen), history=tuple(h for h in data.history if h.case_id in ids),
                   ladder=tuple(e for e in data.ladder if e.case_id in ids),
                   recommendations=tuple(r for r in data.recommendations if r.case_id in ids), actions=actions,
                   evidence=tuple(e for e in data.evidence if e.action_id in shown),
                   dissemination=tuple(d for d in data.dissemination if d.case_id in ids),
                   grades=tuple(g for g in data.grades if g.case_id in ids),
                   risks=tuple(r for r in data.risks if r.case_id in ids))
