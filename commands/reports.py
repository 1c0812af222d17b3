"""`reviewflow report board`, `report annual` and `reviewflow case timeline`."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from reviewflow.cli import acting, echo_document, service, write_document
from reviewflow.commands.cases import case


@click.group("report")
def report_group() -> None:
    """Board report and annual report figures, as HTML, Markdown, CSV, JSON or an Excel workbook."""


REPORT_FORMATS = ("html", "md", "csv", "json", "xlsx")
"""The shipped report formats (engine/render/reports; a test keeps the two lists equal), named here so that
`--help` needs no renderer imported."""


def _report_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """--format, --out and --table, shared by the report commands."""
    func = click.option("--table", metavar="NAME",
                        help="With --format csv: only this table (e.g. open_reviews; see docs/reports.md).")(func)
    func = click.option("--out", type=click.Path(dir_okay=False, path_type=Path),
                        help="Write the report to this file (default: standard output).")(func)
    return click.option("--format", "fmt", type=click.Choice(list(REPORT_FORMATS)),
                        help="Output format (default: from the --out file's name, else md).")(func)


def _emit_report(report: Any, fmt: str | None, out: Path | None, table: str | None) -> None:
    from reviewflow.engine.core.errors import InvalidValue
    from reviewflow.engine.render.reports import choose_format, render, render_bytes, report_format
    from reviewflow.engine.services.private_files import write_private

    chosen = choose_format(fmt, out)
    if out is None:
        if report_format(chosen).binary:
            raise InvalidValue(f"an {chosen} report is a file, not text: add --out FILE.{chosen}", field="out")
        echo_document(render(report, chosen, table))
        return
    data = render_bytes(report, chosen, table)
    write_private(out, data, what=f"the report to {out}")
    click.echo(f"wrote {out} ({chosen}, {len(data)} bytes)", err=True)


@report_group.command("board")
@click.option("--from", "start", metavar="DATE", help="First day of the period (default: 3 months before --to).")
@click.option("--to", "end", metavar="DATE", help="Last day of the period (default: today, or the --now date).")
@_report_options
@click.pass_context
def report_board(ctx: click.Context, start: str | None, end: str | None, fmt: str | None, out: Path | None,
                 table: str | None) -> None:
    """The Board report: open reviews by RAG status, exceptions, action plans, themes and dissemination."""
    from reviewflow.engine.core.clock import parse_date

    report = service(ctx).board_report(parse_date(start, "--from") if start else None,
                                       parse_date(end, "--to") if end else None, actor=acting())
    _emit_report(report, fmt, out, table)


@report_group.command("annual")
@click.option("--year", required=True, metavar="YEAR",
              help="2026 for the calendar year, or 2026-27 for the financial year from 1 April 2026.")
@_report_options
@click.pass_context
def report_annual(ctx: click.Context, year: str, fmt: str | None, out: Path | None, table: str | None) -> None:
    """The annual report's figures: reviews by type, decisions, recommendations, impact, timeliness, themes."""
    _emit_report(service(ctx).annual_report(year, actor=acting()), fmt, out, table)


@case.command("timeline")
@click.argument("ref")
@click.option("--format", "fmt", type=click.Choice(["text", "html"]), default="text", show_default=True,
              help="Plain text, or one self-contained HTML page (prints on A4).")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="Write to this file instead of printing.")
@click.pass_context
def case_timeline(ctx: click.Context, ref: str, fmt: str, out: Path | None) -> None:
    """The whole story of case REF in order: stages against their limits, pauses, escalations, learning."""
    from reviewflow.engine.render.timeline import build_timeline, timeline_html, timeline_text

    reviews = service(ctx)
    view = reviews.case(ref, acting())
    timeline = build_timeline(view, reviews.definition(view.workflow, view.version))
    write_document(timeline_html(timeline) if fmt == "html" else timeline_text(timeline), out, "timeline")


COMMANDS = [report_group]
