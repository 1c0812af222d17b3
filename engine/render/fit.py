"""Long lines of text output folded to a width, each continuation indented under its line's text, so `case show`
and `workflow show` stay within 100 columns (or the terminal's width) without losing a word.

A line is folded after one of its ", " or "; " separators where it can be, so a phrase such as "OVERDUE by 5
working days" or "due 2026-11-01" stays whole; a single part longer than the width is folded between words.
"""

from __future__ import annotations

import re
import textwrap

_PARTS = re.compile(r"(?<=[,;]) ")


def _parts(text: str, width: int) -> list[str]:
    """`text` cut after its separators, each piece no wider than `width` (a longer piece is cut between words)."""
    out: list[str] = []
    for part in _PARTS.split(text):
        out.extend(textwrap.wrap(part, width=width, break_on_hyphens=False) if len(part) > width else [part])
    return out


def fit(text: str, width: int) -> str:
    """Every line of `text` no wider than `width`; lines that fit are unchanged."""
    out: list[str] = []
    for line in text.split("\n"):
        if len(line) <= width:
            out.append(line)
            continue
        indent = len(line) - len(line.lstrip(" "))
        hanging = " " * min(indent + 4, width // 2)
        current = " " * indent
        for part in _parts(line.strip(), width - len(hanging)):
            if current.strip() and len(current) + 1 + len(part) > width:
                out.append(current)
                current = hanging + part
            else:
                current = (current + " " + part) if current.strip() else current + part
        out.append(current)
    return "\n".join(out)
