"""Properties of the report core, without a database: periods, RAG status, stage entries with pauses, and the
renderers carrying any text through exactly (escaped in HTML, quoted in CSV, one cell in Markdown)."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, time, timedelta
from html.parser import HTMLParser
from zoneinfo import ZoneInfo

import holidays
import pytest
from dateutil.relativedelta import relativedelta
from hypothesis import example, given, settings
from hypothesis import strategies as st

from reviewflow.engine.core.definition import OpenRule, StateDef, TransitionDef, WorkflowDefinition
from reviewflow.engine.core.durations import Duration, due_at
from reviewflow.engine.core.errors import InvalidValue
from reviewflow.engine.core.records import HistoryEntry
from reviewflow.engine.core.reports.layout import Bar, Chart, Layout, Section, Table
from reviewflow.engine.core.reports.period import annual_period, board_period
from reviewflow.engine.core.reports.stages import rag, stage_entries
from reviewflow.engine.render.escape import cell_text
from reviewflow.engine.render.reports.html import render_html
from reviewflow.engine.render.reports.markdown import render_markdown
from reviewflow.engine.render.reports.svg import bar_chart
from reviewflow.engine.render.reports.tabular import render_csv

LONDON = ZoneInfo("Europe/London")
ENGLAND = holidays.country_holidays("GB", subdiv="ENG")
FAR_FUTURE = date(9500, 1, 1)
TEXT = st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc")), max_size=40)


# --- periods ----------------------------------------------------------------------------------------------

@given(st.integers(min_value=1900, max_value=8998))
def test_a_year_is_the_calendar_year_or_the_financial_year_from_april(year: int) -> None:
    calendar = annual_period(str(year), FAR_FUTURE)
    assert (calendar.start, calendar.end, calendar.basis) == (date(year, 1, 1), date(year, 12, 31),
                                                              f"calendar year {year}")
    for text in (f"{year}-{(year + 1) % 100:02d}", f"{year}/{(year + 1) % 100:02d}", f"{year}-{year + 1}"):
        financial = annual_period(text, FAR_FUTURE)
        assert (financial.start, financial.end) == (date(year, 4, 1), date(year + 1, 3, 31))
        assert financial.basis == f"financial year {year}-{(year + 1) % 100:02d}"
        assert (financial.end - financial.start).days + 1 in (365, 366)


@given(st.text(max_size=12))
def test_any_year_text_is_a_period_or_one_clear_refusal(text: str) -> None:
    try:
        period = annual_period(text, FAR_FUTURE)
    except InvalidValue as exc:
        message = str(exc)
    else:
        message = ""
        assert period.start <= period.end
    assert message == "" or message.startswith("--year ")


def test_a_year_not_started_is_refused() -> None:
    with pytest.raises(InvalidValue, match=r"^the financial year 2027-28 has not started yet \(today is "
                                           r"2027-03-31\): choose an earlier --year$"):
        annual_period("2027-28", date(2027, 3, 31))


@given(st.dates(min_value=date(2000, 1, 1), max_value=date(2100, 1, 1)),
       st.dates(min_value=date(2000, 1, 1), max_value=date(2100, 1, 1)))
def test_board_period_defaults_and_order(start: date, end: date) -> None:
    default = board_period(None, None, end)
    assert (default.start, default.end) == (end - relativedelta(months=3), end)
    assert "the default" in default.basis
    assert board_period(None, end, start).start == end - relativedelta(months=3)
    if start > end:
        with pytest.raises(InvalidValue, match="is after the period's end"):
            board_period(start, end, end)
    else:
        chosen = board_period(start, end, start)
        assert (chosen.start, chosen.end, chosen.basis) == (start, end, "as asked")
        assert start in chosen
        assert end in chosen
        assert end + timedelta(days=1) not in chosen


# --- RAG status -----------------------------------------------------------------------------------------------

def _working_days_until(today: date, last: date) -> int:
    return sum((today + timedelta(days=n)).weekday() < 5 and today + timedelta(days=n) not in ENGLAND
               for n in range(1, (last - today).days + 1))


@given(st.dates(min_value=date(2024, 1, 1), max_value=date(2030, 1, 1)), st.integers(min_value=-40, max_value=60),
       st.integers(min_value=0, max_value=23), st.booleans())
def test_rag_status_follows_the_due_date(due: date, days_before: int, hour: int, paused: bool) -> None:
    """Overdue from the midnight after the due date; amber when 10 working days or fewer remain."""
    now = datetime.combine(due - timedelta(days=days_before), time(hour), tzinfo=LONDON).astimezone(UTC)
    due_instant = datetime.combine(due + timedelta(days=1), time(0), tzinfo=LONDON).astimezone(UTC)
    today = now.astimezone(LONDON).date()
    if paused:
        expected = "paused"
    elif today > due:
        expected = "overdue"
    elif _working_days_until(today, due) <= 10:
        expected = "due_soon"
    else:
        expected = "on_time"
    assert rag(due_instant, paused, now, "england-and-wales") == expected
    assert rag(None, False, now, "england-and-wales") == "no_limit"


# --- stage entries ---------------------------------------------------------------------------------------------

MINIMAL = WorkflowDefinition(
    name="minimal", title="Minimal", version=1, roles={"r": "R"},
    states={"referral": StateDef("referral", "Referral", time_limit=Duration(5, "working_days")),
            "on": StateDef("on", "Review", time_limit=Duration(1, "months")),
            "closed": StateDef("closed", "Closed", terminal=True)},
    initial="referral",
    transitions=(TransitionDef("accept", ("referral",), "on", ("r",)),
                 TransitionDef("record_report", ("on",), "on", ("r",)),
                 TransitionDef("close", ("on",), "closed", ("r",))),
    open=OpenRule(("r",)))
EVENTS = st.lists(st.tuples(st.sampled_from(["move", "pause", "resume", "note"]),
                            st.integers(min_value=1, max_value=200)), max_size=25)


def _history(events: list[tuple[str, int]]) -> tuple[list[HistoryEntry], list[tuple[datetime, datetime | None,
                                                                                  list[list[datetime | None]]]]]:
    """History rows for `events` (hours apart), and the expected entries: (entered, left, pauses)."""
    at = datetime(2026, 3, 2, 9, tzinfo=UTC)
    rows = [HistoryEntry(1, at, 'x', "open", None, "referral", case_id=1)]
    expected: list[tuple[datetime, datetime | None, list[list[datetime | None]]]] = [(at, None, [])]
    state, paused = "referral", False
    for kind, hours in events:
        at += timedelta(hours=hours)
        seq = len(rows) + 1
        if kind == "move":
            trigger, dest = ("accept", "on") if state == "referral" else ("record_report", "on")
            rows.append(HistoryEntry(seq, at, 'x', trigger, state, dest, case_id=1))
            entered, _, pauses = expected[-1]
            expected[-1] = (entered, at, [[p[0], p[1] or at] for p in pauses])
            expected.append((at, None, []))
            state, paused = dest, False
        elif kind == "pause" and not paused:
            rows.append(HistoryEntry(seq, at, 'x', "pause", state, state, case_id=1))
            expected[-1][2].append([at, None])
            paused = True
        elif kind == "resume" and paused:
            rows.append(HistoryEntry(seq, at, 'x', "resume", state, state, case_id=1))
            expected[-1][2][-1][1] = at
            paused = False
        elif kind == "note":
            rows.append(HistoryEntry(seq, at, 'x', "recommend", state, state, case_id=1))
    return rows, expected


@given(EVENTS)
def test_stage_entries_are_rebuilt_from_history_with_their_pauses(events: list[tuple[str, int]]) -> None:
    rows, expected = _history(events)
    entries = stage_entries(MINIMAL, reversed(rows))
    assert [(e.entered_at, e.left_at) for e in entries] == [(entered, left) for entered, left, _ in expected]
    for entry, (entered, left, pauses) in zip(entries, expected, strict=True):
        until = left or entered + timedelta(days=400)
        paused = sum(((min(end or until, until) - start) for start, end in pauses), timedelta(0))
        assert entry.paused_for(until) == paused
        limit = MINIMAL.states[entry.state].time_limit
        assert limit is not None
        assert entry.due(MINIMAL, until) == due_at(entered, limit) + paused
        if left is not None:
            assert entry.within_limit(MINIMAL) is (left < due_at(entered, limit) + paused)


# --- renderers ---------------------------------------------------------------------------------------------------

class Text(HTMLParser):
    """The text of each table cell, paragraph and SVG text, as a reader (or a browser) gets it."""

    COLLECT = ("td", "th", "p", "text", "h1", "h3", "li", "figcaption")

    def __init__(self) -> None:
        super().__init__()
        self.cells: list[str] = []
        self.tags: list[str] = []
        self.inside: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        if tag in self.COLLECT and self.inside is None:
            self.cells.append("")
            self.inside = tag

    def handle_endtag(self, tag: str) -> None:
        if tag == self.inside:
            self.inside = None

    def handle_data(self, data: str) -> None:
        if self.inside:
            self.cells[-1] += data


def _layout(text: str, rows: list[tuple[str, int]]) -> Layout:
    table = Table("things", text or "title", ("name", "count"), tuple(rows))
    chart = Chart("things", text, tuple(Bar(name, (("theme", n),), name) for name, n in rows),
                  (("theme", text),))
    return Layout(text, (text,), ((text, text),), (Section(text, text, (table,), chart),), (text,))


@settings(max_examples=60)
@given(TEXT, st.lists(st.tuples(TEXT, st.integers(min_value=0, max_value=10**6)), max_size=5))
@example(text="x", rows=[(" ", 0), ("\u3000", 1)])
def test_html_carries_any_text_through_escaped(text: str, rows: list[tuple[str, int]]) -> None:
    page = render_html(_layout(text, rows))
    parsed = Text()
    parsed.feed(page)
    assert set(parsed.tags) <= {"html", "head", "meta", "title", "style", "body", "header", "h1", "p", "ul", "li",
                                "b", "span", "section", "h2", "h3", "figure", "figcaption", "svg", "defs",
                                "pattern", "rect", "path", "circle", "text", "line", "table", "thead", "tr", "th",
                                "tbody", "td", "footer"}
    for name, count in rows:
        assert (name if name.strip() else "–") in parsed.cells
        assert str(count) in parsed.cells
    assert "<script" not in page.lower().replace("&lt;script", "")


@given(st.lists(st.tuples(st.text(max_size=30), st.integers(), st.one_of(st.none(), st.dates())), max_size=6))
def test_csv_tables_read_back_as_written(rows: list[tuple[str, int, date | None]]) -> None:
    table = Table("things", "Things", ("name", "count", "on"), tuple(rows))
    layout = Layout("t", (), (), (Section("s", tables=(table,)),), ())
    back = list(csv.reader(io.StringIO(render_csv(layout, "things"), newline="")))
    assert back[0] == ["name", "count", "on"]
    assert back[1:] == [[cell_text(name), str(count), on.isoformat() if on else ""] for name, count, on in rows]


@given(st.lists(TEXT, min_size=1, max_size=4))
@example(values=[" "])
def test_markdown_keeps_each_value_in_its_cell(values: list[str]) -> None:
    table = Table("things", "Things", tuple(f"c{i}" for i in range(len(values))), (tuple(values),))
    lines = render_markdown(Layout("t", (), (), (Section("s", tables=(table,)),), ())).splitlines()
    row = lines[lines.index("### Things") + 4]
    assert _markdown_cells(row) == [" ".join(v.split()) or "–" for v in values]


def _markdown_cells(row: str) -> list[str]:
    """The cells of a Markdown table row, their backslash escapes undone."""
    cells, cell, chars = [], "", iter(row.strip()[1:-1])
    for c in chars:
        if c == "\\":
            cell += next(chars)
        elif c == "|":
            cells, cell = [*cells, cell], ""
        else:
            cell += c
    return [c.strip() for c in [*cells, cell]]


def test_a_chart_without_bars_says_so() -> None:
    svg = bar_chart(Chart("x", "Overdue actions by agency", (), (("overdue", "Overdue actions"),),
                          "No action is overdue."), "c1")
    assert "No action is overdue." in svg
    assert "<rect" not in svg
