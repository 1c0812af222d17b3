"""A report as Markdown, for pasting into Board papers: headings, short paragraphs and tables."""

from __future__ import annotations

from reviewflow.engine.core.reports.layout import Cell, Layout, Table, show_cell


def _md(value: Cell) -> str:
    return " ".join(show_cell(value).split()).replace("|", "\\|")


def _table(t: Table) -> list[str]:
    lines = [f"### {t.title}", ""]
    if not t.rows:
        return [*lines, f"_{t.empty}_", ""]
    lines.append("| " + " | ".join(_md(c) for c in t.columns) + " |")
    lines.append("|" + "|".join("---:" if isinstance(t.rows[0][i], int | float) else "---"
                                for i in range(len(t.columns))) + "|")
    lines.extend("| " + " | ".join(_md(v) for v in row) + " |" for row in t.rows)
    return [*lines, ""]


def render_markdown(layout: Layout) -> str:
    lines = [f"# {layout.title}", "", *(f"{line}  " for line in layout.header), ""]
    lines.extend(["## Key figures", "", "| figure | value |", "|---|---:|",
                  *(f"| {_md(label)} | {_md(value)} |" for label, value in layout.key_figures), ""])
    for number, section in enumerate(layout.sections, start=1):
        lines.extend([f"## {number}. {section.title}", ""])
        if section.intro:
            lines.extend([section.intro, ""])
        for t in section.tables:
            lines.extend(_table(t))
    lines.extend(["## How these figures are worked out", "", *(f"- {line}" for line in layout.method), ""])
    return "\n".join(lines)
