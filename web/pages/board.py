"""The Board pages: the Board report (`/board`) and the annual report (`/board/annual/{year}`), each as a page and
as downloads in every registered report format (HTML, Markdown, CSV, JSON, XLSX).

Anyone signed in may open them, as anyone may run `reviewflow report`: the reports service limits the figures to
the cases and actions the person may see, and no report shows a sensitive field.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from reviewflow.engine.core.access import Identity
from reviewflow.engine.core.clock import parse_date
from reviewflow.engine.core.durations import local_date
from reviewflow.engine.core.errors import InvalidValue
from reviewflow.engine.render.reports import layout_of, render_bytes, report_format
from reviewflow.web.pages.board_view import downloads, file_name, report_view
from reviewflow.web.pages.common import error_list, page, redirect, reviewflow, signed_in

router = APIRouter(include_in_schema=False)

Who = Annotated[Identity, Depends(signed_in)]


def _day(text: str | None, field: str) -> date | None:
    return parse_date(text, field) if text and text.strip() else None


def _period_query(start: str | None, end: str | None) -> dict[str, str]:
    return {k: v.strip() for k, v in (("from", start), ("to", end)) if v and v.strip()}


def _years(today: date) -> list[str]:
    """The years a person most likely wants: this financial year, the last, this calendar year, the last."""
    first = today.year if today.month >= 4 else today.year - 1
    return [f"{first}-{(first + 1) % 100:02d}", f"{first - 1}-{first % 100:02d}", str(today.year),
            str(today.year - 1)]


@router.get("/board")
def board_page(request: Request, who: Who, start: Annotated[str | None, Query(alias="from")] = None,
               end: Annotated[str | None, Query(alias="to")] = None) -> Response:
    """The Board report over what the person signed in may see, for the period asked (default: 3 months)."""
    rf = reviewflow(request)
    values = _period_query(start, end)
    today = local_date(rf.clock())
    try:
        report = rf.board_report(_day(start, "from"), _day(end, "to"), actor=who)
    except InvalidValue as exc:
        if exc.field not in ("from", "to"):
            raise
        return page(request, "board.html", status=422, errors=error_list(exc, {"from": "from", "to": "to"}, "from"),
                    values=values, report=None, years=_years(today))
    return page(request, "board.html", report=report_view(layout_of(report)), period=report.period.label,
                values=values, downloads=downloads("/board/report", values), years=_years(today))


@router.get("/board/report.{fmt}")
def board_download(request: Request, who: Who, fmt: str, start: Annotated[str | None, Query(alias="from")] = None,
                   end: Annotated[str | None, Query(alias="to")] = None) -> Response:
    """The Board report as a file in format `fmt`, for the same period as the page."""
    rf = reviewflow(request)
    found = report_format(fmt)
    report = rf.board_report(_day(start, "from"), _day(end, "to"), actor=who)
    return _file(render_bytes(report, found.name), found.media_type, file_name("board-report", found.name,
                                                                                  report.today))


@router.get("/board/annual")
def annual_choice(request: Request, who: Who, year: str | None = None) -> Response:
    """Choose a year; with `year`, go to that year's report."""
    if year and year.strip():  # 2026/27 is 2026-27: a slash cannot be part of the page's address
        return redirect(f"/board/annual/{quote(year.strip().replace('/', '-'), safe='')}")
    today = local_date(reviewflow(request).clock())
    return page(request, "board_annual.html", report=None, year="", years=_years(today))


@router.get("/board/annual/{year}")
def annual_page(request: Request, who: Who, year: str) -> Response:
    """The annual report's figures for a calendar year (2026) or a financial year (2026-27)."""
    rf = reviewflow(request)
    today = local_date(rf.clock())
    try:
        report = rf.annual_report(year, actor=who)
    except InvalidValue as exc:
        if exc.field != "year":
            raise
        return page(request, "board_annual.html", status=422, errors=error_list(exc, {"year": "year"}, "year"),
                    values={"year": year}, report=None, year=year, years=_years(today))
    base = f"/board/annual/{quote(year, safe='')}/report"
    return page(request, "board_annual.html", report=report_view(layout_of(report)), year=year,
                period=report.period.label, downloads=downloads(base, {}), years=_years(today))


@router.get("/board/annual/{year}/report.{fmt}")
def annual_download(request: Request, who: Who, year: str, fmt: str) -> Response:
    """The annual report as a file in format `fmt`."""
    rf = reviewflow(request)
    found = report_format(fmt)
    report = rf.annual_report(year, actor=who)
    stem = f"annual-report-{''.join(c if c.isalnum() or c == '-' else '-' for c in year)}"
    return _file(render_bytes(report, found.name), found.media_type, file_name(stem, found.name, report.as_of))


def _file(content: bytes, media_type: str, name: str) -> Response:
    """A download: saved under `name`, never shown in place, never kept by a shared cache."""
    return Response(content, media_type=media_type,
                    headers={"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"})
