"""Stored text made safe for where it is shown: a terminal, a Markdown document, a spreadsheet cell.

Notes, titles, agencies and themes are typed by people (or imported from their spreadsheets); shown as they are
they could drive a terminal (ANSI escapes), become HTML or links in Markdown, or run as formulas in a
spreadsheet. Every renderer passes such text through one of these functions:

- `printable` / `printable_lines`: control characters shown as visible escapes (`\\x1b`), for terminals;
- `markdown_text`: HTML and link syntax shown as text, for Markdown;
- `cell_text`: a formula-looking text made inert with a leading `'`, for CSV and XLSX cells.
"""

from __future__ import annotations

import re
import unicodedata

_UNSAFE = ("Cc", "Cs", "Zl", "Zp")
_BIDI = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
"""Bidirectional marks, embeddings, overrides and isolates: they reorder what follows them on the screen."""


def _unsafe(c: str) -> bool:
    return unicodedata.category(c) in _UNSAFE or c in _BIDI


def _escaped(c: str) -> str:
    return repr(c)[1:-1]


def printable(text: str) -> str:
    """`text` made safe for a terminal, as one line: control characters (ANSI escapes too; newlines and tabs
    as well), line and paragraph separators and bidirectional overrides are written as escapes (\\x1b, \\n,
    \\u202e), so a stored value cannot recolour the screen, move the cursor, reorder what follows or start a
    line of its own. Everything else, accents and emoji included, is unchanged; `--json` gives the exact value."""
    if text.isprintable():
        return text
    return "".join(_escaped(c) if _unsafe(c) else c for c in text)


def printable_lines(text: str) -> str:
    """A document (a timeline, Markdown, CSV) made safe for a terminal: as `printable`, but its newlines and
    tabs (and the CRLF ending CSV lines) are kept, so it keeps its lines and columns."""
    if text.isprintable():
        return text
    return "\n".join("\t".join(printable(part) for part in line.split("\t"))
                     for line in text.replace("\r\n", "\n").split("\n"))


# --- Markdown --------------------------------------------------------------------------------------------

_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]<>&|~])")
"""Backslash-escaped wherever they are: HTML and autolinks start with <, links and images need [ ], entities &,
code, emphasis and strike-through ` * _ ~, table cells |."""
_ORDERED = re.compile(r"\d{1,9}(?=[.)])")
"""The number of an ordered list item ('1.' or '1)'): its dot or bracket is escaped."""


def _block_safe(text: str) -> str:
    """No heading, quote, list item or setext underline at the start of `text` (a number such as -3 is kept)."""
    if text[:1] and text[0] in "#>+-=" and not is_number_text(text):
        return "\\" + text
    found = _ORDERED.match(text)
    return f"{text[:found.end()]}\\{text[found.end():]}" if found else text


def markdown_text(text: object) -> str:
    """`text` as inline Markdown that shows exactly as typed: on one line (whitespace runs become one space),
    with every character that could make HTML, a link, an image, code, emphasis or a table cell boundary
    backslash-escaped, and no block syntax at its start. `<script>` is shown, never run; `[x](javascript:...)`
    is text, not a link."""
    flat = " ".join(str(text).split())
    return _block_safe(_MARKDOWN_SPECIAL.sub(r"\\\1", flat))


# --- spreadsheet cells -----------------------------------------------------------------------------------

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
"""How a formula (or a DDE command) can start in a spreadsheet cell (OWASP, CSV injection)."""
_NUMBER = re.compile(r"[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?%?")


def is_number_text(text: str) -> bool:
    """'-12', '+3.5', '-66.7%': text that a spreadsheet reads as a number, never as a formula."""
    return _NUMBER.fullmatch(text) is not None


def cell_text(text: str) -> str:
    """A text cell a spreadsheet cannot run: one starting with = + - @, a tab or a carriage return gets a
    leading `'` (shown by spreadsheets as text), unless the whole text is a number such as '-12'."""
    if text.startswith(FORMULA_START) and not is_number_text(text):
        return "'" + text
    return text
