"""Tables for the terminal: a header, columns that fit the width (long cells wrap inside their column), and
red / amber / green status cells when colour is wanted.

Rendered with `rich` into text; the front end says how wide the output may be and whether colour is wanted (a
terminal, and `NO_COLOR` not set), so the same table is plain text when piped. Cell text is shown as text, never
read as markup, with control characters made visible (`printable`).
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from reviewflow.engine.render.text import printable

RAG = Literal["red", "amber", "green", ""]
WIDTH = 100
"""The width used when the output is not a terminal (piped, redirected): the widest a line grows."""

MIN_WIDTH = 80
"""Narrower terminals get 80-column lines (the terminal wraps them) rather than tables with columns left out."""

_STYLES = {"red": "bold red", "amber": "yellow", "green": "green", "": ""}


@dataclass(frozen=True)
class Column:
    header: str
    no_wrap: bool = False
    """A short value (a reference, a date) kept on one line; others wrap inside the column."""
    max_width: int | None = None
    min_width: int | None = None
    """The narrowest the column becomes on a narrow terminal (its words fold below it)."""


@dataclass(frozen=True)
class Cell:
    text: str
    rag: RAG = ""


@dataclass(frozen=True)
class Output:
    """Where a table goes: how wide it may be, and whether it may be coloured."""

    width: int = WIDTH
    colour: bool = False


def render_table(columns: Sequence[Column], rows: Sequence[Sequence[str | Cell]], out: Output) -> str:
    """The table as text, one line per line of output, ending with a newline; '' when there are no rows."""
    if not rows:
        return ""
    from rich import box
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    table = Table(box=box.SIMPLE_HEAD if out.colour else None, show_edge=False, pad_edge=False,
                  header_style="bold" if out.colour else "", expand=False, collapse_padding=True)
    for c in columns:
        table.add_column(c.header, no_wrap=c.no_wrap, max_width=c.max_width, min_width=c.min_width, overflow="fold")
    for row in rows:
        cells = [cell if isinstance(cell, Cell) else Cell(cell) for cell in row]
        table.add_row(*(Text(printable(c.text), style=_STYLES[c.rag] if out.colour else "") for c in cells))
    buffer = io.StringIO()
    console = Console(file=buffer, width=max(out.width, MIN_WIDTH), color_system="standard" if out.colour else None,
                      force_terminal=out.colour, no_color=not out.colour, highlight=False, emoji=False,
                      markup=False, legacy_windows=False, soft_wrap=False)
    console.print(table)
    return "\n".join(line.rstrip() for line in buffer.getvalue().splitlines()) + "\n"
