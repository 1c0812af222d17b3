"""The binding deadline of each open case for the reports: its stage's due time, or a running milestone's when
that is earlier (engine/core/statutory.py)."""

from __future__ import annotations

from reviewflow.engine.core.records import CaseRecord, HistoryEntry
from reviewflow.engine.core.reports.data import ReportData
from reviewflow.engine.core.statutory import Deadline, binding_deadline, spans_of


def binding_deadlines(data: ReportData, cases: list[CaseRecord]) -> dict[int, Deadline]:
    """By case id, the deadline binding each of `cases` whose workflow has milestones, when a milestone binds."""
    wanted = {c.case_id: c for c in cases if data.definition(c).milestones}
    if not wanted:
        return {}
    history: dict[int, list[HistoryEntry]] = {case_id: [] for case_id in wanted}
    for h in data.history:
        if h.case_id in history:
            history[h.case_id].append(h)
    found: dict[int, Deadline] = {}
    for case_id, c in wanted.items():
        rows = sorted(history[case_id], key=lambda h: h.seq)
        binding = binding_deadline(data.definition(c), c.state, c.due_at, c.fields, spans_of(rows))
        if binding is not None and binding.milestone is not None:
            found[case_id] = binding
    return found
