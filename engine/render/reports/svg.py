"""Horizontal bar charts as inline SVG: patterns and words, so they read in black and white. Pure."""

from __future__ import annotations

from html import escape

from reviewflow.engine.core.reports.layout import Chart

WIDTH = 700
LABEL_WIDTH = 230
ROW = 30
BAR = 18
LEGEND = 30
FONT = 12
CHAR = FONT * 0.56
"""Roughly how wide one character of text is."""
CHARS_PER_LINE = 36

_LOOKS: dict[str, tuple[str, str]] = {
    # series: (fill colour, pattern drawn over it in black)
    "overdue": ("#f1948a", "hatch"),
    "due_soon": ("#f8d77f", "dots"),
    "on_time": ("#a9dfbf", "none"),
    "paused": ("#d5d8dc", "lines"),
    "no_limit": ("#ffffff", "none"),
    "theme": ("#aab7d4", "none"),
}


def _pattern(pid: str, colour: str, kind: str) -> str:
    marks = {
        "hatch": '<path d="M0,6 L6,0 M-1,1 L1,-1 M5,7 L7,5" stroke="#000" stroke-width="1.2"/>',
        "dots": '<circle cx="3" cy="3" r="1.1" fill="#000"/>',
        "lines": '<path d="M0,3 L6,3" stroke="#000" stroke-width="1"/>',
    }.get(kind, "")
    return (f'<pattern id="{pid}" patternUnits="userSpaceOnUse" width="6" height="6">'
            f'<rect width="6" height="6" fill="{colour}"/>{marks}</pattern>')


def _lines(label: str) -> list[str]:
    """A label cut into at most two lines at word boundaries."""
    if len(label) <= CHARS_PER_LINE:
        return [label]
    cut = label.rfind(" ", 0, CHARS_PER_LINE)
    cut = cut if cut > 0 else CHARS_PER_LINE
    rest = label[cut:].strip()
    return [label[:cut].strip(), rest if len(rest) <= CHARS_PER_LINE else rest[: CHARS_PER_LINE - 1] + "…"]


def _text(x: float, y: float, text: str, anchor: str = "start", weight: str = "normal") -> str:
    return (f'<text x="{x:g}" y="{y:g}" font-size="{FONT}" text-anchor="{anchor}" font-weight="{weight}" '
            f'fill="#000">{escape(text)}</text>')


def _legend(chart: Chart, prefix: str) -> list[str]:
    parts, x = [], 0.0
    for series, label in chart.series:
        parts.append(f'<rect x="{x:g}" y="6" width="16" height="14" fill="url(#{prefix}-{series})" '
                     'stroke="#000" stroke-width="0.8"/>')
        parts.append(_text(x + 22, 17, label))
        x += 22 + len(label) * CHAR + 18
    return parts


def bar_chart(chart: Chart, prefix: str) -> str:
    """An SVG drawing of `chart`; `prefix` keeps its pattern ids apart from other charts on the page."""
    title = f"<title>{escape(chart.title)}</title>"
    if not chart.bars:
        return (f'<svg role="img" viewBox="0 0 {WIDTH} {LEGEND}" width="100%" class="chart">{title}'
                f'{_text(0, 18, chart.empty)}</svg>')
    biggest = max(sum(v for _, v in bar.segments) for bar in chart.bars) or 1
    notes = max(len(bar.note or "0") for bar in chart.bars)
    span = max(WIDTH - LABEL_WIDTH - notes * CHAR - 14, 120)
    height = LEGEND + ROW * len(chart.bars) + 6
    parts = ['<defs>', *(_pattern(f"{prefix}-{s}", *_LOOKS.get(s, ("#cccccc", "none"))) for s, _ in chart.series),
             '</defs>', *_legend(chart, prefix)]
    for i, bar in enumerate(chart.bars):
        top = LEGEND + i * ROW
        lines = _lines(bar.label)
        first = top + ROW / 2 + 4 - (FONT / 2 if len(lines) > 1 else 0)
        parts.extend(_text(LABEL_WIDTH - 8, first + n * (FONT + 1), line, "end") for n, line in enumerate(lines))
        x = float(LABEL_WIDTH)
        for series, value in bar.segments:
            if value <= 0:
                continue
            width = span * value / biggest
            parts.append(f'<rect x="{x:.1f}" y="{top + (ROW - BAR) / 2:g}" width="{width:.1f}" height="{BAR}" '
                         f'fill="url(#{prefix}-{series})" stroke="#000" stroke-width="0.8"/>')
            x += width
        parts.append(_text(x + 6, top + ROW / 2 + 4, bar.note or str(sum(v for _, v in bar.segments)),
                           weight="bold"))
    parts.append(f'<line x1="{LABEL_WIDTH}" y1="{LEGEND}" x2="{LABEL_WIDTH}" y2="{height - 4}" stroke="#000"/>')
    return (f'<svg role="img" viewBox="0 0 {WIDTH} {height}" width="100%" class="chart">{title}'
            f'{"".join(parts)}</svg>')
