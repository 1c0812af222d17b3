"""A case reference's key: two references with the same key name the same case.

`SCR-2026-001`, `scr-2026-001` and `SCR-2026-001.` are one case: the key folds case (Unicode
case folding), normalises compatibility characters (NFKC: a full-width `Ｓ` is an `S`) and drops
trailing punctuation and whitespace.
"""

from __future__ import annotations

import unicodedata

_ROUNDS = 8
"""Folding and normalising again until nothing changes: a few rounds settle any string."""


def _trailing(ch: str) -> bool:
    """True for a character dropped from the end of a key: punctuation, whitespace, separators, format marks."""
    return ch.isspace() or unicodedata.category(ch)[0] in ("P", "Z") or unicodedata.category(ch) == "Cf"


def _once(text: str) -> str:
    folded = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", text).casefold())
    end = len(folded)
    while end and _trailing(folded[end - 1]):
        end -= 1
    start = 0
    while start < end and folded[start].isspace():
        start += 1
    return folded[start:end]


def ref_key(ref: str) -> str:
    """The key of case reference `ref`: case-folded, NFKC-normalised, without trailing punctuation or whitespace."""
    key = ref
    for _ in range(_ROUNDS):
        again = _once(key)
        if again == key:
            break
        key = again
    return key
