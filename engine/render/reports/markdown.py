"""A report as Markdown, for pasting into Board papers: headings, short paragraphs and tables.

Every text, the report's own words and the values from cases alike, goes through `escape.markdown_text`: what
people typed shows as typed, never as HTML, a link or formatting.
"""

from __future__ import annotations

from reviewflow.engine.core.reports.layout import Cell, Layout, Table, show_cell
from reviewflow.engine.render.escape import markdown_text


def _md(value: Cell) -> str:
    return markdown_text(show_cell(value))


def _table(t: Table) -> list[str]:
    lines = [f"### {_md(t.title)}", ""]
    if not t.rows:
        return [*lines, f"_{_md(t.empty)}_", ""]
    lines.append("| " + " | ".join(_md(c) for c in t.columns) + " |")
    lines.append("|" + "|".join("---:" if isinstance(t.rows[0][i], int | float) else "---"
                                for i in range(len(t.columns))) + "|")
    lines.extend("| " + " | ".join(_md(v) for v in row) + " |" for row in t.rows)
    return [*lines, ""]


def render_markdown(layout: Layout) -> str:
    lines = [f"# {_md(layout.title)}", "", *(f"{_md(line)}  " for line in layout.header), ""]
    lines.extend(["## Key figures", "", "| figure | value |", "|---|---:|",
                  *(f"| {_md(label)} | {_md(value)} |" for label, value in layout.key_figures), ""])
    for number, section in enumerate(layout.sections, start=1):
        lines.extend([f"## {number}. {_md(section.title)}", ""])
        if section.intro:
            lines.extend([_md(section.intro), ""])
        for t in section.tables:
            lines.extend(_table(t))
    lines.extend(["## How these figures are worked out", "", *(f"- {_md(line)}" for line in layout.method), ""])
    return "\n".join(lines)
