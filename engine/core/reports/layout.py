"""What a report shows, in order: header, key figures, sections of tables and charts. Shared by every format."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from reviewflow.engine.core.durations import LOCAL_ZONE

Cell = str | int | float | date | tuple[str, ...] | None
"""A tuple is a list of short items (e.g. the steps of a ladder), shown one per line where the format allows."""
LIST_JOIN = " → "


@dataclass(frozen=True)
class Table:
    name: str
    """Its name in CSV output and for `--table`."""
    title: str
    columns: tuple[str, ...]
    rows: tuple[tuple[Cell, ...], ...]
    empty: str = "None."
    rag_column: int | None = None
    """The column holding RAG labels, styled (as well as worded) in HTML."""


@dataclass(frozen=True)
class Bar:
    label: str
    segments: tuple[tuple[str, int], ...]
    """(series, value) pairs stacked left to right."""
    note: str = ""


@dataclass(frozen=True)
class Chart:
    name: str
    title: str
    bars: tuple[Bar, ...]
    series: tuple[tuple[str, str], ...]
    """(series, label in the legend) pairs; a series' look comes from its name."""
    empty: str = "Nothing to draw."


@dataclass(frozen=True)
class Section:
    title: str
    intro: str = ""
    tables: tuple[Table, ...] = ()
    chart: Chart | None = None
    anchor: str = ""


@dataclass(frozen=True)
class Layout:
    title: str
    header: tuple[str, ...]
    key_figures: tuple[tuple[str, str], ...]
    sections: tuple[Section, ...]
    method: tuple[str, ...]

    def tables(self) -> list[Table]:
        """Every table, key figures first (for CSV and `--table`)."""
        figures = Table("key_figures", "Key figures", ("figure", "value"), tuple(self.key_figures))
        return [figures, *(t for s in self.sections for t in s.tables)]


_WORDS = {"re_audit": "re-audit"}


def words(code: str | None) -> str:
    """'in_progress' -> 'in progress'."""
    return _WORDS.get(code or "", (code or "").replace("_", " "))


def percent(value: float | None) -> str:
    return "–" if value is None else f"{value:g}%"


def stamp(instant: datetime) -> str:
    return instant.astimezone(LOCAL_ZONE).strftime("%Y-%m-%d %H:%M")


EMPTY_CELL = "–"
"""How HTML and Markdown show a cell with no value (CSV and JSON keep the value as it is)."""


def is_empty(value: Cell) -> bool:
    """No value to show: None, a text that is only whitespace, or a list whose items all are."""
    if value is None:
        return True
    if isinstance(value, str):
        return not value.strip()
    if isinstance(value, tuple):
        return all(not item.strip() for item in value)
    return False


def show_cell(value: Cell) -> str:
    """A cell as text for people (HTML and Markdown): dates ISO, no value as a dash."""
    if is_empty(value):
        return EMPTY_CELL
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, tuple):
        return LIST_JOIN.join(value)
    return str(value)
