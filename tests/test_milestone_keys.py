"""Ledger keys of milestones read back to their milestone; a late return's ladder is never a Board exception."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from hypothesis import example, given
from hypothesis import strategies as st

from reviewflow.engine.core.statutory import milestone_key, milestone_of_key

NAMES = st.from_regex(r"[a-z][a-z0-9_]{0,30}", fullmatch=True)
WHATS = st.one_of(st.just("reminder"), st.integers(1, 9).map(lambda n: f"level-{n}"))


@given(NAMES, WHATS)
@example("final_report", "level-2")
@example("level", "level-1")
@example("reminder", "reminder")
def test_a_milestone_key_reads_back_to_its_milestone(name: str, what: str) -> None:
    m: Any = SimpleNamespace(name=name)
    assert milestone_of_key(milestone_key(m, what)) == name


def test_other_keys_are_no_milestone() -> None:
    assert milestone_of_key("return-police-level-1") is None
    assert milestone_of_key("check-lcspr_progress-3") is None
