"""A report's layout (the Board or annual report) made ready for a page: sections, charts and tables whose
cells know whether they are numbers, lists or RAG statuses, and the download links of every registered format."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from urllib.parse import quote, urlencode

from markupsafe import Markup

from reviewflow.engine.core.reports.layout import Cell, Layout, Section, Table, is_empty, show_cell
from reviewflow.engine.core.reports.stages import DUE_SOON, NO_LIMIT, ON_TIME, OVERDUE, PAUSED, RAG_LABELS
from reviewflow.engine.render.reports import formats, report_format
from reviewflow.engine.render.reports.svg import bar_chart

RAG_TAGS = {RAG_LABELS[OVERDUE]: "govuk-tag--red", RAG_LABELS[DUE_SOON]: "govuk-tag--yellow",
            RAG_LABELS[ON_TIME]: "govuk-tag--green", RAG_LABELS[PAUSED]: "govuk-tag--grey",
            RAG_LABELS[NO_LIMIT]: "govuk-tag--blue"}
"""The GOV.UK tag colour of each RAG status; the tag always says the status in words as well."""
FORMAT_NAMES = {"html": "HTML page (prints on A4)", "md": "Markdown", "csv": "CSV (every table)",
                "json": "JSON (every figure)", "xlsx": "Excel workbook (XLSX)"}


@dataclass(frozen=True)
class CellView:
    text: str
    numeric: bool = False
    items: tuple[str, ...] = ()
    """A list (e.g. the steps of a ladder), shown one item per line."""
    rag: str | None = None
    """The GOV.UK tag modifier when the cell is a RAG status."""
    href: str | None = None
    """The case page, when the cell is a case reference."""


@dataclass(frozen=True)
class TableView:
    name: str
    title: str
    columns: tuple[str, ...]
    numeric: tuple[bool, ...]
    rows: tuple[tuple[CellView, ...], ...]
    empty: str


@dataclass(frozen=True)
class SectionView:
    number: int
    anchor: str
    title: str
    intro: str
    chart_title: str | None
    chart: Markup | None
    """The chart as inline SVG drawn by the report renderer (shapes and escaped text: nothing to run)."""
    tables: tuple[TableView, ...]


@dataclass(frozen=True)
class Download:
    name: str
    label: str
    href: str


@dataclass(frozen=True)
class ReportView:
    title: str
    header: tuple[str, ...]
    figures: tuple[tuple[str, str], ...]
    sections: tuple[SectionView, ...]
    method: tuple[str, ...]


def _cell(value: Cell, rag: bool, ref: bool) -> CellView:
    if ref and isinstance(value, str) and value.strip():
        return CellView(value, href=f"/cases/{quote(value, safe='')}")
    if rag and isinstance(value, str) and value in RAG_TAGS:
        return CellView(value, rag=RAG_TAGS[value])
    if isinstance(value, tuple) and not is_empty(value):
        return CellView(show_cell(value), items=tuple(v for v in value if v.strip()))
    numeric = isinstance(value, int | float) and not isinstance(value, bool)
    return CellView(show_cell(value), numeric=numeric)


def _table(t: Table) -> TableView:
    numeric = tuple(bool(t.rows) and all(isinstance(r[i], int | float) or r[i] is None for r in t.rows)
                    for i in range(len(t.columns)))
    rows = tuple(tuple(_cell(v, i == t.rag_column, t.columns[i] == "ref") for i, v in enumerate(row))
                 for row in t.rows)
    return TableView(t.name, t.title, t.columns, numeric, rows, t.empty)


def _section(s: Section, number: int) -> SectionView:
    # the report renderer's own SVG: shapes and escaped text, nothing a browser runs
    chart = Markup(bar_chart(s.chart, f"c{number}")) if s.chart is not None else None
    return SectionView(number, s.anchor or f"s{number}", s.title, s.intro, s.chart.title if s.chart else None,
                       chart, tuple(_table(t) for t in s.tables))


def report_view(layout: Layout) -> ReportView:
    """The layout as the page template shows it."""
    return ReportView(layout.title, layout.header, layout.key_figures,
                      tuple(_section(s, i) for i, s in enumerate(layout.sections, start=1)), layout.method)


def downloads(base: str, query: dict[str, str]) -> list[Download]:
    """A link to the report in every registered format (`base` + `.name`, with the same period)."""
    suffix = f"?{urlencode(query)}" if query else ""
    return [Download(name, FORMAT_NAMES.get(name, name.upper()), f"{base}.{name}{suffix}") for name in formats()]


def file_name(stem: str, fmt: str, day: date) -> str:
    """'board-report-2026-04-14.xlsx': the download's file name, from the format's own suffix."""
    suffix = report_format(fmt).suffixes[0] if report_format(fmt).suffixes else f".{fmt}"
    return f"{stem}-{day.isoformat()}{suffix}"
