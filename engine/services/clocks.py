"""Statutory clocks in the services: when the sweep must next look at a case with milestones or progress
checks, firing their checkpoints once each, recording a progress check's outcome, and the binding deadline."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

import structlog

from reviewflow.engine.core import limits
from reviewflow.engine.core.access import Identity
from reviewflow.engine.core.decide import Move
from reviewflow.engine.core.definition import WorkflowDefinition
from reviewflow.engine.core.durations import local_date
from reviewflow.engine.core.errors import InvalidValue, NotPermitted, TransitionNotAllowed
from reviewflow.engine.core.escalation import checkpoints, due_now, next_check
from reviewflow.engine.core.milestones import CHECK_EVENT, OUTCOMES, ProgressCheck
from reviewflow.engine.core.notices import Outgoing, Recipient, expand
from reviewflow.engine.core.records import DueCase, HistoryEntry, LedgerEntry
from reviewflow.engine.core.statutory import (
    Deadline,
    Spans,
    awaiting_outcome,
    binding_deadline,
    next_check_after,
    spans_of,
    statutory_points,
)
from reviewflow.engine.services.context import ServiceContext
from reviewflow.engine.services.visibility import require_visible
from reviewflow.store import clocks as clock_store
from reviewflow.store import ledger, repo

if TYPE_CHECKING:
    from reviewflow.engine.services.escalation import Fired

log = structlog.get_logger("reviewflow")

CASE_ENTRY = 0
"""Milestones and progress checks fire once per case: their ledger rows are entry 0 of the case."""


def has_clocks(d: WorkflowDefinition) -> bool:
    return bool(d.milestones or d.progress_checks)


def earliest(*times: datetime | None) -> datetime | None:
    found = [t for t in times if t is not None]
    return min(found) if found else None


def _history(s: Any, case_id: int | None) -> list[HistoryEntry]:
    return clock_store.histories(s, [case_id])[case_id] if case_id else []


def clock_check(s: Any, d: WorkflowDefinition, case_id: int | None, state: str, fields: Any,
                extra: Sequence[HistoryEntry], now: datetime) -> datetime | None:
    """When the sweep must next look at the case for its milestones and progress checks (None: never)."""
    if not has_clocks(d) or d.states[state].terminal:
        return None
    spans = spans_of([*_history(s, case_id), *extra])
    fired = ledger.fired_keys(s, case_id, CASE_ENTRY) if case_id else set()
    return next_check(statutory_points(d, state, fields, spans, now), fired)


def first_check(s: Any, d: WorkflowDefinition, move: Move, case_id: int | None) -> datetime | None:
    """When the sweep must first look at a case that has just made `move`: the stage's first checkpoint or
    the next of its running milestones and progress checks, whichever is earlier."""
    stage = next_check(checkpoints(d, d.states[move.dest], move.at, move.due_at), ())
    if not has_clocks(d):
        return stage
    entry = HistoryEntry(0, move.at, "", move.trigger, move.source, move.dest, dict(move.supplied))
    return earliest(stage, clock_check(s, d, case_id, move.dest, move.fields, [entry], move.at))


def deadline_of(s: Any, d: WorkflowDefinition, case_id: int, state: str, stage_due: datetime | None,
                fields: Any) -> Deadline | None:
    """The binding deadline of a case (its stage's, or an earlier running milestone's)."""
    if not d.milestones:
        return None if stage_due is None else binding_deadline(d, state, stage_due, fields, Spans())
    return binding_deadline(d, state, stage_due, fields, spans_of(_history(s, case_id)))


def deadlines(s: Any, defs: dict[tuple[str, int], WorkflowDefinition],
              cases: Sequence[Any]) -> dict[int, Deadline | None]:
    """The binding deadline of many open cases (CaseRecords), their histories read in one query."""
    wanted = [c for c in cases if c.is_open and defs[(c.workflow, c.version)].milestones]
    found = clock_store.histories(s, [c.case_id for c in wanted])
    return {c.case_id: binding_deadline(defs[(c.workflow, c.version)], c.state, c.due_at, c.fields,
                                        spans_of(found[c.case_id])) for c in wanted}


# --- the sweep ------------------------------------------------------------------------------------------------

@dataclass
class ClockSweep:
    """The milestones and progress checks of one batch of due cases: loaded at once, fired once each."""

    ctx: ServiceContext
    defs: dict[tuple[str, int], WorkflowDefinition]
    fields: dict[int, dict[str, Any]] = field(default_factory=dict)
    spans: dict[int, Spans] = field(default_factory=dict)
    fired: dict[int, set[str]] = field(default_factory=dict)

    def load(self, s: Any, due: Sequence[DueCase]) -> None:
        ids = [c.case_id for c in due if has_clocks(self.defs[(c.workflow, c.version)])]
        self.fields = clock_store.fields_of(s, ids)
        self.spans = {case_id: spans_of(h) for case_id, h in clock_store.histories(s, ids).items()}
        found = ledger.fired_keys_for(s, [(case_id, CASE_ENTRY) for case_id in ids])
        self.fired = {case_id: found[(case_id, CASE_ENTRY)] for case_id in ids}

    def fire(self, case: DueCase, now: datetime, directory: dict[str, list[Recipient]]
             ) -> tuple[list[Fired], list[Outgoing], list[LedgerEntry], datetime | None]:
        """What is due now of the case's running milestones and progress checks, and when to look again."""
        from reviewflow.engine.services.escalation import Fired

        spans = self.spans.get(case.case_id)
        if spans is None or (spans.pauses and spans.pauses[-1][1] is None):  # a paused clock fires nothing
            return [], [], [], None
        d = self.defs[(case.workflow, case.version)]
        points = statutory_points(d, case.state, self.fields[case.case_id], self.spans[case.case_id], now)
        fired = set(self.fired[case.case_id])
        done: list[Fired] = []
        items: list[Outgoing] = []
        entries: list[LedgerEntry] = []
        link = self.ctx.settings.link(case.ref)
        state = d.states[case.state]
        for p in due_now(points, fired, now):
            needed = (f"record the outcome with 'reviewflow case check {case.ref} --outcome "
                      f"{'|'.join(OUTCOMES)}'" if p.event == "progress_check"
                      else f"move {case.ref} on from {state.label}, or pause its clock with a reason")
            payload = {"ref": case.ref, "workflow": d.name, "workflow_title": d.title, "state": case.state,
                       "state_label": state.label, "level": p.level, "level_label": p.label,
                       "headline": p.reason, "timing": p.reason, "needed": needed, "link": link,
                       "due_date": p.day}
            new = expand(f"{case.ref}:{CASE_ENTRY}:{p.key}", p.event, p.roles, payload, directory, webhook=True)
            items.extend(new)
            people = tuple(dict.fromkeys(o.recipient for o in new if o.channel != "webhook"))
            done.append(Fired(case.ref, d.name, case.state, p.key, p.level, p.label, p.at, p.roles, people, p.reason))
            entries.append(LedgerEntry(case.case_id, CASE_ENTRY, p.key, p.level, p.label, case.state,
                                       p.due_at or p.at, p.at, now, p.roles, people, p.reason, case.ref))
            fired.add(p.key)
        return done, items, entries, next_check(points, fired)


# --- recording a progress check's outcome ---------------------------------------------------------------------

@dataclass(frozen=True)
class CheckRecorded:
    ref: str
    check: str
    label: str
    number: int
    outcome: str
    at: datetime


def _check_named(d: WorkflowDefinition, ref: str, state: str, name: str | None) -> ProgressCheck:
    running = [c for c in d.progress_checks if state in c.during]
    if not running:
        raise TransitionNotAllowed(f"{ref} has no progress checks in state {state!r}: nothing to record",
                                   ref=ref, state=state)
    if name is None:
        if len(running) > 1:
            names = tuple(c.name for c in running)
            raise InvalidValue(f"{ref} has several progress checks: name one with --check ({', '.join(names)})",
                               ref=ref, field="check", allowed=names)
        return running[0]
    found = next((c for c in running if c.name == name), None)
    if found is None:
        names = tuple(c.name for c in running)
        raise InvalidValue(f"{ref} has no progress check {name!r} in state {state!r}: use one of "
                           f"{', '.join(names)}", ref=ref, field="check", value=name, allowed=names)
    return found


def record_outcome(ctx: ServiceContext, ref: str, actor: str | Identity, outcome: str, note: str | None,
                   check: str | None = None, revision: int | None = None) -> CheckRecorded:
    """Record the outcome of the latest progress check of `ref` that has gone out without one, in the case's
    sealed history; the missed-check escalation of that check then no longer falls due."""
    from reviewflow.engine.services.cases import check_revision, not_before

    if outcome not in OUTCOMES:
        raise InvalidValue(f"outcome {outcome!r} is not one of {', '.join(OUTCOMES)}: give --outcome with one",
                           ref=ref, field="outcome", value=outcome, allowed=OUTCOMES)
    limits.check_optional(note, "note", limits.NOTE)
    now = ctx.clock()
    with ctx.transaction() as s:
        record = repo.get_case_record(s, ref)
        who = ctx.who(s, actor)
        d = ctx.definition_in(s, record.workflow, record.version)
        require_visible(s, who if isinstance(actor, Identity) else None, d, record)
        check_revision(record, revision)
        not_before(ref, repo.last_change(s, ref), now)
        ctx.write_time(s, now)
        if not record.is_open:
            raise TransitionNotAllowed(f"case {ref} is closed: its progress checks are over", ref=ref,
                                       state=record.state)
        c = _check_named(d, ref, record.state, check)
        if not who.roles & set(c.recorded_by):
            held = ", ".join(sorted(who.roles)) or "no roles"
            raise NotPermitted(f"recording the outcome of {c.label} of {ref} needs one of the roles "
                               f"{', '.join(c.recorded_by)}; {who.name} has {held}",
                               ref=ref, allowed=c.recorded_by, user=who.name)
        history = _history(s, record.case_id)
        fired = ledger.fired_keys(s, record.case_id, CASE_ENTRY)
        number = awaiting_outcome(c, fired, spans_of(history))
        if number is None:
            upcoming = next_check_after(d, c, record.fields, spans_of(history), now)
            next_one = f"; the next is due on {local_date(upcoming).isoformat()}" if upcoming else ""
            raise TransitionNotAllowed(f"no {c.label} of {ref} is waiting for an outcome{next_one}: record it once "
                                       "its notice has gone out", ref=ref, state=record.state)
        fields = {"check": c.name, "occurrence": number, "outcome": outcome}
        entry = HistoryEntry(0, now, who.recorded, CHECK_EVENT, record.state, record.state, fields)
        stage = None
        if record.due_at is not None and record.paused_at is None:
            stage = next_check(checkpoints(d, d.states[record.state], record.entered_at, record.due_at),
                               ledger.fired_keys(s, record.case_id, record.entry_seq))
        when = None if record.paused_at is not None else earliest(
            stage, clock_check(s, d, record.case_id, record.state, record.fields, [entry], now))
        repo.record_event(s, record.case, CHECK_EVENT, now, who.recorded, note.strip() if note else None, fields,
                          next_check_at=when)
    log.info("case.progress_check", ref=ref, check=c.name, occurrence=number, outcome=outcome, actor=who.recorded)
    return CheckRecorded(ref, c.name, c.label, number, outcome, now)
