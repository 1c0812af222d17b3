"""Reports rendered: a registry of formats (HTML, Markdown, CSV, JSON, XLSX), each a function of the report.

A new format is one function registered here with `register_format`; the CLI's `--format` choices,
the web downloads and `choose_format` all read the registry.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from reviewflow.engine.core.errors import InvalidValue
from reviewflow.engine.core.reports.annual import AnnualReport
from reviewflow.engine.core.reports.annual_sections import annual_layout
from reviewflow.engine.core.reports.board import BoardReport
from reviewflow.engine.core.reports.board_sections import board_layout
from reviewflow.engine.core.reports.layout import Layout

Report = BoardReport | AnnualReport


@dataclass(frozen=True)
class ReportFormat:
    """One way to write a report: its name, the file suffixes it goes with, its media type and its renderer.

    `render` takes the report, its layout and the one table asked for (only formats with `tables` accept one);
    it gives text, or bytes for a `binary` format (a workbook).
    """

    name: str
    suffixes: tuple[str, ...]
    media_type: str
    render: Callable[[Report, Layout, str | None], str | bytes]
    tables: bool = False
    binary: bool = False


_FORMATS: dict[str, ReportFormat] = {}


def register_format(fmt: ReportFormat) -> ReportFormat:
    _FORMATS[fmt.name] = fmt
    return fmt


def formats() -> tuple[str, ...]:
    """The names of the registered formats, in registration order."""
    return tuple(_FORMATS)


def report_format(name: str) -> ReportFormat:
    found = _FORMATS.get(name)
    if found is None:
        raise InvalidValue(f"unknown report format {name!r}; use one of: {', '.join(_FORMATS)}", field="format",
                           value=name, allowed=tuple(_FORMATS))
    return found


def choose_format(fmt: str | None, out: Path | None) -> str:
    """The format asked for, else the one the output file's name suggests, else Markdown."""
    if fmt:
        return fmt
    if out is not None:
        suffix = out.suffix.lower()
        for found in _FORMATS.values():
            if suffix in found.suffixes:
                return found.name
    return "md"


def layout_of(report: Report) -> Layout:
    return board_layout(report) if isinstance(report, BoardReport) else annual_layout(report)


def _rendered(report: Report, fmt: str, table: str | None) -> str | bytes:
    found = report_format(fmt)
    if table is not None and not found.tables:
        raise InvalidValue("--table picks one table of the CSV output: add --format csv", field="table")
    return found.render(report, layout_of(report), table)


def render(report: Report, fmt: str, table: str | None = None) -> str:
    """The report in text format `fmt` (every table, or just `table` where the format has tables)."""
    found = _rendered(report, fmt, table)
    if isinstance(found, bytes):
        raise InvalidValue(f"{fmt} reports are files, not text: download one from the Board page (/board), or use "
                           "--format html, md, csv or json", field="format", value=fmt)
    return found


def render_bytes(report: Report, fmt: str, table: str | None = None) -> bytes:
    """The report in format `fmt` as the bytes of a file (text formats in UTF-8)."""
    found = _rendered(report, fmt, table)
    return found if isinstance(found, bytes) else found.encode("utf-8")


def _register_shipped() -> None:
    from reviewflow.engine.render.reports.html import render_html
    from reviewflow.engine.render.reports.markdown import render_markdown
    from reviewflow.engine.render.reports.tabular import render_csv, render_json
    from reviewflow.engine.render.reports.xlsx import MEDIA_TYPE, render_xlsx

    register_format(ReportFormat("html", (".html", ".htm"), "text/html; charset=utf-8",
                                 lambda _r, layout, _t: render_html(layout)))
    register_format(ReportFormat("md", (".md", ".markdown"), "text/markdown; charset=utf-8",
                                 lambda _r, layout, _t: render_markdown(layout)))
    register_format(ReportFormat("csv", (".csv",), "text/csv; charset=utf-8",
                                 lambda _r, layout, table: render_csv(layout, table), tables=True))
    register_format(ReportFormat("json", (".json",), "application/json",
                                 lambda r, _l, _t: render_json("board" if isinstance(r, BoardReport) else "annual", r)))
    register_format(ReportFormat("xlsx", (".xlsx",), MEDIA_TYPE,
                                 lambda r, layout, _t: render_xlsx(layout, r.generated_at), binary=True))


_register_shipped()
