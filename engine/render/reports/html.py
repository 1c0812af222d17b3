"""A report as one self-contained HTML page: no scripts, no links out, A4 print styles, inline SVG charts."""

from __future__ import annotations

from datetime import date
from html import escape

from reviewflow.engine.core.reports.layout import Cell, Layout, Section, Table, is_empty, show_cell
from reviewflow.engine.core.reports.stages import RAG_LABELS
from reviewflow.engine.render.reports.svg import bar_chart

_RAG_CLASS = {label: key.replace("_", "-") for key, label in RAG_LABELS.items()}

STYLE = """
@page { size: A4; margin: 14mm 12mm 15mm; }
* { box-sizing: border-box; }
html { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
body { font-family: "DejaVu Sans", "Liberation Sans", Arial, Helvetica, sans-serif; font-size: 10pt;
  line-height: 1.35; color: #000; background: #fff; margin: 0 auto; padding: 10mm 8mm; max-width: 210mm; }
h1 { font-size: 16pt; margin: 0 0 3pt; }
h2 { font-size: 12.5pt; border-bottom: 1.5pt solid #000; padding-bottom: 2pt; margin: 14pt 0 5pt;
  break-after: avoid; page-break-after: avoid; }
h3 { font-size: 10pt; margin: 9pt 0 3pt; break-after: avoid; page-break-after: avoid; }
p { margin: 0 0 5pt; }
.meta { margin: 0; }
.figures { display: grid; grid-template-columns: repeat(5, 1fr); gap: 4pt; margin: 9pt 0 4pt; padding: 0; }
.figures li { list-style: none; border: 1pt solid #000; padding: 3pt 5pt; break-inside: avoid; }
.figures b { display: block; font-size: 14pt; }
.figures span { font-size: 8pt; }
table { width: 100%; border-collapse: collapse; font-size: 8pt; margin: 0 0 6pt; }
th, td { border: 0.6pt solid #444; padding: 1.5pt 3pt; text-align: left; vertical-align: top; }
th { background: #e6e6e6; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
thead { display: table-header-group; }
tr, figure, .figures li { break-inside: avoid; page-break-inside: avoid; }
td.rag, td.nowrap, .step { white-space: nowrap; }
td.rag { font-weight: bold; }
td.rag-overdue { background: #f5b7b1; }
td.rag-overdue::before { content: "\\25B2  "; }
td.rag-due-soon { background: #fbe6a2; }
td.rag-due-soon::before { content: "\\25CF  "; }
td.rag-on-time { background: #c8ecd5; }
td.rag-on-time::before { content: "\\2713  "; }
td.rag-paused { background: #e3e5e8; }
td.rag-paused::before { content: "\\2016  "; }
figure { margin: 4pt 0 8pt; }
figcaption { font-weight: bold; font-size: 9pt; margin-bottom: 2pt; }
svg.chart { display: block; max-width: 100%; height: auto; }
.empty { font-style: italic; }
footer { margin-top: 12pt; padding-top: 4pt; border-top: 0.6pt solid #000; font-size: 8pt; }
footer ul { margin: 2pt 0 0; padding-left: 12pt; }
@media print { body { padding: 0; max-width: none; } }
"""


def _cell(value: Cell, rag: bool, ref: bool) -> str:
    text = escape(show_cell(value))
    if rag and isinstance(value, str) and value in _RAG_CLASS:
        return f'<td class="rag rag-{_RAG_CLASS[value]}">{text}</td>'
    if isinstance(value, int | float) and not isinstance(value, bool):
        return f'<td class="num">{text}</td>'
    if isinstance(value, tuple) and not is_empty(value):
        return "<td>" + "<br>".join(f'<span class="step">{escape(item)}</span>' for item in value) + "</td>"
    if isinstance(value, date) or ref:
        return f'<td class="nowrap">{text}</td>'
    return f"<td>{text}</td>"


def _table(t: Table) -> str:
    title = f"<h3>{escape(t.title)}</h3>"
    if not t.rows:
        return f'{title}<p class="empty">{escape(t.empty)}</p>'
    numeric = [all(isinstance(r[i], int | float) or r[i] is None for r in t.rows) for i in range(len(t.columns))]
    head = "".join(f'<th class="num">{escape(c)}</th>' if numeric[i] else f"<th>{escape(c)}</th>"
                   for i, c in enumerate(t.columns))
    refs = [c == "ref" for c in t.columns]
    body = "".join("<tr>" + "".join(_cell(v, i == t.rag_column, refs[i]) for i, v in enumerate(row)) + "</tr>"
                   for row in t.rows)
    return f"{title}<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _section(s: Section, number: int) -> str:
    parts = [f'<section id="{escape(s.anchor or f"s{number}")}"><h2>{number}. {escape(s.title)}</h2>']
    if s.intro:
        parts.append(f"<p>{escape(s.intro)}</p>")
    if s.chart is not None:
        parts.append(f"<figure><figcaption>{escape(s.chart.title)}</figcaption>"
                     f"{bar_chart(s.chart, f'c{number}')}</figure>")
    parts.extend(_table(t) for t in s.tables)
    parts.append("</section>")
    return "".join(parts)


def render_html(layout: Layout) -> str:
    figures = "".join(f"<li><b>{escape(show_cell(value))}</b><span>{escape(label)}</span></li>"
                      for label, value in layout.key_figures)
    header = "".join(f'<p class="meta">{escape(line)}</p>' for line in layout.header)
    sections = "".join(_section(s, i) for i, s in enumerate(layout.sections, start=1))
    method = "".join(f"<li>{escape(line)}</li>" for line in layout.method)
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f'<meta name="generator" content="reviewflow"><title>{escape(layout.title)}</title>'
            f"<style>{STYLE}</style></head><body>"
            f"<header><h1>{escape(layout.title)}</h1>{header}</header>"
            f'<ul class="figures">{figures}</ul>{sections}'
            f"<footer><b>How these figures are worked out</b><ul>{method}</ul></footer></body></html>\n")
