"""Folding long lines of `case show` and `workflow show`: nothing lost, phrases kept whole, no line too wide."""

from __future__ import annotations

from hypothesis import example, given
from hypothesis import strategies as st

from reviewflow.engine.render.fit import fit

WORDS = st.text(alphabet=st.characters(codec="ascii", categories=["L", "N"]), min_size=1, max_size=30)
LINES = st.lists(st.tuples(st.integers(0, 8), st.lists(WORDS, min_size=1, max_size=40)), min_size=1, max_size=5)


@given(LINES, st.integers(40, 120))
@example([(2, ["a" * 200])], 40)
@example([(0, ["x,", "y;"] * 50)], 40)
def test_nothing_is_lost_and_no_line_is_too_wide(lines: list[tuple[int, list[str]]], width: int) -> None:
    text = "\n".join(" " * indent + " ".join(words) for indent, words in lines)
    folded = fit(text, width)
    assert max(len(line) for line in folded.split("\n")) <= width
    assert "".join(folded.split()) == "".join(text.split())


def test_a_phrase_between_separators_stays_whole() -> None:
    line = ("  timing:   12 working days in stage, limit 5 working days, due 2026-03-09, OVERDUE by 5 working days, "
            "binding deadline: LCSPR final report due 2026-11-01")
    folded = fit(line, 100).split("\n")
    assert folded == ["  timing:   12 working days in stage, limit 5 working days, due 2026-03-09,",
                      "      OVERDUE by 5 working days, binding deadline: LCSPR final report due 2026-11-01"]
