"""Cases: opening them, moving them on, pausing their clocks, and reading where they stand."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date, datetime, timedelta
from typing import Any

import structlog

from reviewflow.engine.core import limits
from reviewflow.engine.core.access import Identity
from reviewflow.engine.core.decide import Actor, Move, options, plan_fire, plan_open
from reviewflow.engine.core.definition import WorkflowDefinition
from reviewflow.engine.core.durations import LOCAL_ZONE, due_date_of, local_date
from reviewflow.engine.core.errors import (
    CaseExists,
    InvalidValue,
    NotPermitted,
    StaleRevision,
    TimeRefused,
    TransitionNotAllowed,
    UsageError,
)
from reviewflow.engine.core.escalation import checkpoints, next_check, shift_for_pause
from reviewflow.engine.core.filters import require_known
from reviewflow.engine.core.legacy import require_confirmed
from reviewflow.engine.core.links import OTHER, check_expected_end, parse_day, pause_label, pause_reason
from reviewflow.engine.core.notices import expand
from reviewflow.engine.core.records import CaseRecord, CaseView, Fired, HistoryEntry, LedgerEntry
from reviewflow.engine.core.subgroups import narrow
from reviewflow.engine.services import clocks
from reviewflow.engine.services.agencies import filtered
from reviewflow.engine.services.context import ServiceContext
from reviewflow.engine.services.links import complete_route, split_route
from reviewflow.engine.services.subgroups import on_case, opening_subgroup, scoped_versions, sealed_move
from reviewflow.engine.services.themes import for_filter as themes_for_filter
from reviewflow.engine.services.visibility import note_agencies, partnership_versions, require_visible, shown_view
from reviewflow.store import learning as learning_store
from reviewflow.store import ledger, outbox, participants, repo, schedule_runs, time_settings
from reviewflow.store import links as links_store
from reviewflow.store import returns as returns_store
from reviewflow.store import subgroups as subgroup_store

log = structlog.get_logger("reviewflow")

_REF = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,63}$")
SCHEDULE_ACTOR = "schedule"
"""The actor recorded when a workflow's schedule opens a case."""


def check_ref(ref: str) -> str:
    limits.check(ref, "ref", limits.REFERENCE, "case reference")
    if not _REF.match(ref):
        raise InvalidValue(f"case reference {ref!r} is not usable: use letters, digits and . _ / - "
                           "with no spaces, e.g. SCR-2026-001 (a reference, never a child's name)",
                           field="ref", value=ref)
    return ref


def not_before(ref: str, last: datetime | None, now: datetime) -> None:
    """History stays in order: a change cannot be dated before the case's last one."""
    if last is not None and now < last:
        raise InvalidValue(f"{ref} last changed at {last.astimezone(LOCAL_ZONE):%Y-%m-%d %H:%M}; a change cannot "
                           "be dated earlier: check --now (or REVIEWFLOW_NOW)", ref=ref, field="now")


def not_before_escalations(s: Any, case_id: int, ref: str, entry_seq: int, now: datetime) -> None:
    """A move cannot be dated before a reminder or ladder level already sent for the stage it leaves."""
    sent = ledger.fired_after(s, case_id, entry_seq, now)
    if sent:
        first = sent[0]
        raise TimeRefused(f"{ref}'s escalation {first.key} ({first.label}) was sent at "
                          f"{first.fired_at.astimezone(LOCAL_ZONE):%Y-%m-%d %H:%M} for the stage this move leaves; "
                          "a move cannot be dated before it: nothing was written; check --now (or REVIEWFLOW_NOW)",
                          ref=ref, field="now", value=now.isoformat(), escalation=first.key,
                          fired_at=first.fired_at.isoformat())


def check_revision(record: CaseRecord, revision: int | None) -> None:
    """Refuse a change made on a case that someone else has changed since it was read (`revision` None: no check)."""
    if revision is not None and revision != record.case.revision:
        raise StaleRevision(record.ref, f"case {record.ref} was changed by someone else (it is now at revision "
                                           f"{record.case.revision}, you had {revision}): nothing was written; "
                                           "look at it again and redo your change")


def _guards_read_learning(d: WorkflowDefinition, state: str, trigger: str) -> bool:
    """Whether firing `trigger` from `state` has conditions that look at the learning records
    (anything but `fields_present`); only then are they loaded."""
    t = d.transition(state, trigger)
    return t is not None and any(c.name != "fields_present" for c in t.when)


def _with_part(s: Any, theme: str | None, agency: str | None) -> set[int] | None:
    """The ids of the cases with a recommendation of learning theme `theme` and with agency `agency` taking part
    (each when given); None when neither is given."""
    found: set[int] | None = None
    if agency:
        found = participants.case_ids_with_agency(s, agency)
    if theme:
        themed = learning_store.case_ids_with_theme(s, theme)
        found = themed if found is None else found & themed
    return found


def first_check(d: WorkflowDefinition, move: Move) -> datetime | None:
    """When the sweep must first look at a case that has just entered `move.dest`."""
    return next_check(checkpoints(d, d.states[move.dest], move.at, move.due_at), ())


class CaseService:
    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx

    # --- opening and moving ------------------------------------------------------------------

    def open(self, workflow: str, ref: str, actor: str | Identity, fields: Mapping[str, str],
             note: str | None = None, subgroup: str | None = None, legacy: bool = False) -> CaseView:
        """Open a new case in the newest version of `workflow`, in its sub-group or in `subgroup`; a legacy
        workflow's only with `legacy` (the opener confirms a historical case)."""
        check_ref(ref)
        limits.check_optional(note, "note", limits.NOTE)
        definition = self.ctx.definition(workflow)
        require_confirmed(definition, legacy)
        now = self.ctx.clock()
        with self.ctx.transaction() as s:
            self.ctx.write_time(s, now)
            who = self.ctx.who(s, actor)
            if (existing := repo.case_exists(s, ref)) is not None:
                raise CaseExists(ref, existing)
            group = opening_subgroup(s, definition, subgroup)
            move = plan_open(definition, Actor(who.name, narrow(who, group).roles), fields, now)
            terminal = definition.states[move.dest].terminal
            case_id = repo.insert_case(s, ref, definition.name, definition.version, sealed_move(move, group),
                                       who.recorded, terminal, note, clocks.first_check(s, definition, move, None))
            subgroup_store.set_case(s, case_id, group)
            note_agencies(s, definition, case_id, move.fields)
            self._queue(s, definition, ref, case_id, 1, move, group)
        log.info("case.opened", ref=ref, workflow=definition.name, version=definition.version,
                 state=move.dest, actor=who.recorded)
        return self.show(ref, actor)

    def fire(self, ref: str, trigger: str, actor: str | Identity, fields: Mapping[str, str],
             note: str | None = None, revision: int | None = None) -> Fired:
        """Fire `trigger` on case `ref` as `actor`: read, check, decide and write in one transaction.

        With `revision`, the case must still be at that revision (else ConcurrentChange: someone else
        changed it first). Returns what changed; `show(ref)` gives the whole case.
        """
        limits.check_optional(note, "note", limits.NOTE)
        now = self.ctx.clock()
        with self.ctx.transaction() as s:
            read = repo.case_to_move(s, ref)
            record, case = read.record, read.record.case
            who = on_case(self.ctx.who(s, actor), record)
            definition = self.ctx.definition_in(s, case.workflow, case.version)
            require_visible(s, who if isinstance(actor, Identity) else None, definition, record)
            check_revision(record, revision)
            not_before(ref, read.last_at, now)
            self.ctx.write_time(s, now)
            not_before_escalations(s, record.case_id, ref, record.entry_seq, now)
            recorded = time_settings.recorded_at(s)
            summary = returned = None
            if _guards_read_learning(definition, case.state, trigger):
                summary = learning_store.summary(s, record.case_id, local_date(now))
                returned = returns_store.summary(s, record.case_id, local_date(now)) if definition.returns else None
            own, route = split_route(self.ctx, definition, case.state, trigger, fields)
            move = plan_fire(definition, case, trigger, Actor(who.name, who.roles), own, now, summary, returned)
            state = definition.states[move.dest]
            _, seq = repo.apply_move(s, read, move, who.recorded, state.terminal, note,
                                     clocks.first_check(s, definition, move, record.case_id))
            if move.supplied:
                note_agencies(s, definition, record.case_id, move.supplied)
            self._queue(s, definition, ref, record.case_id, seq, move, record.subgroup)
            linked = (complete_route(s, route, case, record.case_id, move, who, self._open_routed)
                      if route is not None else None)
        log.info("case.moved", ref=ref, workflow=case.workflow, trigger=trigger,
                 from_state=move.source, to_state=move.dest, actor=who.recorded)
        entry = HistoryEntry(seq, move.at, who.recorded, trigger, move.source, move.dest, dict(move.supplied), note,
                             record.case_id, recorded)
        return Fired(ref, case.workflow, case.version, move.dest, state.label, not state.terminal, move.fields,
                     move.at, move.due_at, entry, case.revision + (2 if linked else 1), linked)

    def open_scheduled(self, workflow: str, ref: str, period: str, scheduled_for: datetime,
                       note: str | None = None, fields: Mapping[str, str] | None = None) -> CaseView | None:
        """Open the case of one period of a recurring workflow, exactly once across every worker.

        Returns None when the period already has its case. The case is opened by the schedule itself
        (actor `schedule`) with the schedule's fields; a period opened after its time says so in the history.
        """
        check_ref(ref)
        definition = self.ctx.definition(workflow)
        if definition.schedule is None:
            raise InvalidValue(f"workflow {workflow} has no `schedule`", value=workflow)
        now = self.ctx.clock()
        late = now - scheduled_for > timedelta(hours=1)
        text = "; ".join(filter(None, [
            note or definition.schedule.note,
            f"opened late: period {period} was due {scheduled_for.astimezone(LOCAL_ZONE):%Y-%m-%d %H:%M}, "
            "when no worker was running" if late else None]))
        who = Actor(SCHEDULE_ACTOR, frozenset(definition.open.roles))
        with self.ctx.transaction() as s:
            self.ctx.write_time(s, now)
            if not schedule_runs.claim(s, workflow, period, ref, scheduled_for, now, late):
                return None
            if (existing := repo.case_exists(s, ref)) is not None:
                raise CaseExists(ref, existing)
            move = plan_open(definition, who, definition.schedule.fields if fields is None else fields, now)
            terminal = definition.states[move.dest].terminal
            group = opening_subgroup(s, definition, None)
            case_id = repo.insert_case(s, ref, definition.name, definition.version, sealed_move(move, group),
                                       SCHEDULE_ACTOR, terminal, text or None,
                                       clocks.first_check(s, definition, move, None))
            subgroup_store.set_case(s, case_id, group)
            note_agencies(s, definition, case_id, move.fields)
            self._queue(s, definition, ref, case_id, 1, move, group)
        log.info("case.opened", ref=ref, workflow=definition.name, version=definition.version, state=move.dest,
                 actor=SCHEDULE_ACTOR, period=period, late=late)
        return self.show(ref)

    def _open_routed(self, s: Any, definition: WorkflowDefinition, ref: str, fields: Mapping[str, str],
                     who: Identity, now: datetime, note: str) -> int:
        """Open case `ref` of `definition` within the caller's transaction, as a routing transition does (the
        routing's roles authorised it); its id."""
        move = plan_open(definition, Actor(who.name, frozenset(definition.open.roles)), fields, now)
        terminal = definition.states[move.dest].terminal
        group = opening_subgroup(s, definition, None)
        case_id = repo.insert_case(s, ref, definition.name, definition.version, sealed_move(move, group),
                                   who.recorded, terminal, note, clocks.first_check(s, definition, move, None))
        subgroup_store.set_case(s, case_id, group)
        note_agencies(s, definition, case_id, move.fields)
        self._queue(s, definition, ref, case_id, 1, move, group)
        return case_id

    def _queue(self, s: Any, d: WorkflowDefinition, ref: str, case_id: int, seq: int, move: Move,
               subgroup: str | None) -> None:
        if not move.notify:
            return
        state = d.states[move.dest]
        settings = self.ctx.settings
        payload = {"ref": ref, "workflow": d.name, "workflow_title": d.title, "state": move.dest,
                   "state_label": state.label, "trigger": move.trigger, "headline": f"now at {state.label}",
                   "timing": f"due {due_date_of(move.due_at).isoformat()}" if move.due_at else None,
                   "needed": (state.description or state.label)[:200], "link": settings.link(ref)}
        items = expand(f"{ref}:{seq}:entered", "entered_state", move.notify, payload,
                       subgroup_store.directory(s, set(move.notify) | {"business_manager"}, subgroup),
                       webhook=True)
        outbox.add_many(s, [outbox.new_row(o, case_id, move.at) for o in items])

    # --- pausing the clock -------------------------------------------------------------------

    def _clock_change(self, ref: str, actor: str | Identity,
                      revision: int | None) -> tuple[CaseRecord, WorkflowDefinition, Identity]:
        with self.ctx.read() as s:
            record = repo.get_case_record(s, ref)
            who = on_case(self.ctx.who(s, actor), record)
            d = self.ctx.definition_in(s, record.workflow, record.version)
            require_visible(s, who if isinstance(actor, Identity) else None, d, record)
            check_revision(record, revision)
            not_before(ref, repo.last_change(s, ref), self.ctx.clock())
        if not record.is_open:
            raise TransitionNotAllowed(f"case {ref} is closed: its clock cannot be paused or resumed", ref=ref,
                                       state=record.state)
        allowed = d.may_pause(record.state)
        if not who.roles & set(allowed):
            raise NotPermitted(f"pausing or resuming {ref} needs one of the roles {', '.join(allowed)}; "
                               f"{who.name} has {', '.join(sorted(who.roles)) or 'no roles'}", ref=ref,
                               allowed=allowed)
        return record, d, who

    def pause(self, ref: str, actor: str | Identity, reason: str, revision: int | None = None,
              expected_end: str | date | None = None, note: str | None = None) -> CaseView:
        """Stop the stage's clock (and its escalation climb) for one of the workflow's pause reasons (its code or
        its label; `other` with a `note`), until `expected_end` when it is known: its reminder falls on that day."""
        if not reason.strip():
            raise InvalidValue("give the reason for pausing with --reason, e.g. --reason criminal_proceedings",
                               ref=ref, field="reason")
        limits.check(reason.strip(), "reason", limits.PAUSE_REASON, "reason for pausing")
        text = (note or "").strip() or None
        limits.check_optional(text, "note", limits.PAUSE_REASON, "note on the pause")
        until = parse_day(expected_end)
        record, d, who = self._clock_change(ref, actor, revision)
        allowed = d.pause_reason_list
        code = pause_reason(reason, allowed)
        if code is None:
            raise InvalidValue(f"{reason.strip()!r} is not a pause reason of {d.name}: use one of "
                               f"{', '.join(allowed)}" + (" (other with --note TEXT)" if OTHER in allowed else ""),
                               ref=ref, field="reason", value=reason, allowed=allowed)
        if code == OTHER and not text:
            raise InvalidValue("the pause reason other needs its text: add --note, e.g. --note 'awaiting the "
                               "outcome of a parallel disciplinary process'", ref=ref, field="note")
        if record.paused_at is not None:
            raise TransitionNotAllowed(f"case {ref} is already paused since {local_date(record.paused_at)} "
                                       f"({pause_label(record.pause_reason)}): resume it with "
                                       f"'reviewflow case resume {ref}'",
                                       ref=ref, state=record.state)
        now = self.ctx.clock()
        check_expected_end(ref, until, local_date(now))
        with self.ctx.transaction() as s:
            self.ctx.write_time(s, now)
            repo.record_event(s, record.case, "pause", now, who.recorded, text,
                              {"reason": code, "expected_end": until.isoformat() if until else None, "note": text},
                              paused_at=now, pause_reason=code, pause_until=until, pause_note=text,
                              next_check_at=None)
        log.info("case.paused", ref=ref, actor=who.recorded, reason=code)
        return self.show(ref, actor)

    def resume(self, ref: str, actor: str | Identity, note: str | None = None,
               revision: int | None = None) -> CaseView:
        """Restart a paused clock: the due time moves on by the time spent paused."""
        limits.check_optional(note, "note", limits.NOTE)
        record, d, who = self._clock_change(ref, actor, revision)
        if record.paused_at is None:
            raise TransitionNotAllowed(f"case {ref} is not paused", ref=ref, state=record.state)
        now = self.ctx.clock()
        case = record.case
        due = shift_for_pause(case.due_at, record.paused_at, now)
        paused_for = now - record.paused_at
        with self.ctx.transaction() as s:
            self.ctx.write_time(s, now)
            fired = ledger.fired_keys(s, record.case_id, record.entry_seq)
            when = next_check(checkpoints(d, d.states[case.state], case.entered_at, due), fired)
            resumed = HistoryEntry(0, now, who.recorded, "resume", case.state, case.state)
            when = clocks.earliest(when, clocks.clock_check(s, d, record.case_id, case.state, case.fields,
                                                            [resumed], now))
            repo.record_event(s, case, "resume", now, who.recorded, note,
                              {"paused_days": round(paused_for.total_seconds() / 86400, 2),
                               "reason": record.pause_reason,
                               **({"pause_note": record.pause_note} if record.pause_note else {})},
                              paused_at=None, pause_reason=None, pause_until=None, pause_note=None, due_at=due,
                              next_check_at=when)
        log.info("case.resumed", ref=ref, actor=who.recorded, paused_days=paused_for.days)
        return self.show(ref, actor)

    # --- reading -----------------------------------------------------------------------------

    def show(self, ref: str, actor: str | Identity | None = None) -> CaseView:
        """One case: where it stands, its history, escalations, learning records and the next steps `actor` may
        take. Given an `Identity`, only what that person may see: a case outside their view is not found."""
        with self.ctx.read() as s:
            record = repo.get_case_record(s, ref)
            who = on_case(self.ctx.who(s, actor, write=False), record) if actor else None
            d = self.ctx.definition_in(s, record.workflow, record.version)
            limited = who if isinstance(actor, Identity) else None
            require_visible(s, limited, d, record)
            entries = repo.history(s, ref)
            escalations = ledger.entries(s, record.case_id, ref)
            recommendations = learning_store.recommendations(s, record.case_id)
            shared = learning_store.dissemination(s, record.case_id)
            agencies = participants.agencies(s, record.case_id)
            deadline = clocks.deadline_of(s, d, record.case_id, record.state, record.due_at, record.fields)
            linked = links_store.of_case(s, record.case_id, record.ref)
            asked = returns_store.for_case(s, record.case_id) if d.returns else []
        view = self.view(record, entries, Actor(who.name, who.roles) if who else None, escalations)
        view.recommendations.extend(recommendations)
        view.dissemination.extend(shared)
        view.agencies = agencies
        view.deadline = deadline if record.is_open and deadline and deadline.milestone else None
        view.links = linked
        view.returns = asked
        return shown_view(limited, d, view) if limited else view

    def on_workflow(self, ref: str, workflow: str | None, version: int | None = None,
                    actor: str | Identity | None = None) -> tuple[CaseView, WorkflowDefinition]:
        """Case `ref` and the definition it runs on, refused unless it is a case of `workflow` (when one is given;
        on `version`, when one is given): a case is drawn only on the workflow version it follows."""
        view = self.show(ref, actor)
        workflow = workflow or view.workflow
        if view.workflow != workflow:
            raise InvalidValue(f"case {ref} is a {view.workflow} case: run "
                               f"'reviewflow workflow diagram {view.workflow} --case {ref}'",
                               ref=ref, field="workflow", value=workflow, allowed=(view.workflow,))
        if version is not None and version != view.version:
            raise InvalidValue(f"case {ref} is on version {view.version} of {workflow}: "
                               f"leave out --version or give --version {view.version}",
                               ref=ref, field="version", value=version, allowed=(str(view.version),))
        return view, self.ctx.definition(workflow, view.version)

    def view(self, record: CaseRecord, entries: list[HistoryEntry], who: Actor | None,
             escalations: list[LedgerEntry] | None = None) -> CaseView:
        """A case record as `case show` shows it, at the context's `now`."""
        c = record.case
        d = self.ctx.definition(c.workflow, c.version)
        state = d.states[c.state]
        return CaseView(
            ref=c.ref, workflow=c.workflow, workflow_title=d.title, version=c.version, state=c.state,
            state_label=state.label, is_open=record.is_open, fields=c.fields, opened_by=record.opened_by,
            opened_at=record.opened_at, entered_at=c.entered_at, due_at=c.due_at, closed_at=record.closed_at,
            now=self.ctx.clock(), time_limit=str(state.time_limit) if state.time_limit else None,
            owner=state.owner, paused_at=record.paused_at, pause_reason=record.pause_reason,
            pause_until=record.pause_until, pause_note=record.pause_note,
            history=entries, escalations=escalations or [], options=options(d, c.state, who), calendar=d.calendar,
            revision=c.revision, subgroup=record.subgroup,
        )

    def list(self, workflow: str | None = None, state: str | None = None, overdue: bool = False,
             include_closed: bool = True, actor: Identity | None = None, theme: str | None = None,
             agency: str | None = None, owner: str | None = None, mine: bool = False) -> list[CaseView]:
        """Cases in opening order; `overdue` keeps open cases past their stage's time limit; `theme` those with a
        recommendation of that learning theme; `agency` those that agency takes part in; `owner` those whose
        stage that role owns; `mine` those whose stage the person acting owns through a role they hold there.
        Given an `Identity`, only the cases that person may see."""
        every = self._check_filters(workflow, state, owner, mine and actor is None)
        definitions = self.ctx.all_definitions() if actor is not None else {}
        with self.ctx.read() as s:
            theme = themes_for_filter(s, theme)
            agency = filtered(s, agency)
            seen = None
            if actor is not None:
                who = self.ctx.who(s, actor, write=False)
                if not who.admin:
                    seen = participants.cases_filter(partnership_versions(who, definitions), who.agency, who.name,
                                                     who.recorded)
                    seen = subgroup_store.widen(seen, scoped_versions(who, definitions))
            records = repo.list_cases(s, workflow, state, self.ctx.clock() if overdue else None, include_closed,
                                      seen)
            wanted = _with_part(s, theme, agency)
            if wanted is not None:
                records = [r for r in records if r.case_id in wanted]
            binding = clocks.deadlines(s, every, records)
        views = [self.view(r, [], None) for r in records]
        for v, r in zip(views, records, strict=True):
            found = binding.get(r.case_id)
            v.deadline = found if found and found.milestone else None
        if actor is not None:
            views = [shown_view(narrow(who, v.subgroup), definitions[(v.workflow, v.version)], v) for v in views]
        if owner or mine:
            views = [v for v in views
                     if (held := every[(v.workflow, v.version)].states[v.state].owner) is not None
                     and (not owner or held == owner) and (not mine or held in narrow(who, v.subgroup).roles)]
        return views

    def _check_filters(self, workflow: str | None, state: str | None, owner: str | None,
                       mine_unknown: bool) -> dict[tuple[str, int], WorkflowDefinition]:
        """Every loaded definition, once the list's filters are known to name something: a workflow, a state
        (of that workflow), a role that owns a stage; `--mine` needs someone acting."""
        if workflow:
            self.ctx.definition(workflow)
        every = self.ctx.all_definitions()
        if state:
            known = {st for d in every.values() if not workflow or d.name == workflow for st in d.states}
            require_known("state", state, known, "state", f" in {workflow}" if workflow else "")
        if owner:
            require_known("stage owner role", owner, {st.owner for d in every.values() for st in d.states.values()
                                                      if st.owner}, "owner")
        if mine_unknown:
            raise UsageError("--mine lists the stages you own: say who you are (sign in, or --as)", field="mine")
        return every
