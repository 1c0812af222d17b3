"""Planning the move of open cases to another version of their workflow. Pure: the store reads the
cases and writes the plan; here we decide each case's new state, due time and next escalation check,
or refuse with every reason at once."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from reviewflow.engine.core.access import Identity
from reviewflow.engine.core.definition import WorkflowDefinition
from reviewflow.engine.core.durations import LOCAL_ZONE, due_date_of
from reviewflow.engine.core.errors import ConcurrentChange, InvalidValue, NotPermitted
from reviewflow.engine.core.escalation import checkpoints, next_check
from reviewflow.engine.core.statutory import stage_due

TRIGGER = "migrate"
"""The trigger recorded in a migrated case's history."""
MIGRATOR = "business_manager"


class MigrationRefused(InvalidValue):
    """The migration cannot be done as asked; nothing was changed."""


class MigrationInterrupted(ConcurrentChange):
    """A case changed between planning and writing; the whole migration was rolled back."""

    def __init__(self, ref: str, workflow: str, version: int) -> None:
        super().__init__(ref, f"nothing was migrated: case {ref} changed while {workflow} cases were being "
                              f"moved to v{version}; run the migration again (with --dry-run first to "
                              "see the new plan)")


@dataclass(frozen=True)
class OpenCase:
    """What planning needs to know about one open case (read by the store)."""

    case_id: int
    ref: str
    version: int
    state: str
    fields: Mapping[str, Any]
    entered_at: datetime
    due_at: datetime | None
    paused_at: datetime | None
    revision: int
    last_change: datetime | None = None
    fired: frozenset[str] = frozenset()
    """Escalation keys already fired for the current stage entry."""


@dataclass(frozen=True)
class CaseMove:
    """One case's planned move."""

    ref: str
    from_version: int
    from_state: str
    to_state: str
    due_before: datetime | None
    due_at: datetime | None
    next_check_at: datetime | None
    paused: bool
    case_id: int = 0
    revision: int = 0


@dataclass(frozen=True)
class MigrationPlan:
    workflow: str
    to_version: int
    at: datetime
    moves: tuple[CaseMove, ...]

    def summary(self) -> dict[str, Any]:
        """What a person (or a script) needs: each case's version, state and due date before and after."""
        return {"workflow": self.workflow, "to_version": self.to_version, "at": self.at.isoformat(),
                "cases": [{"ref": m.ref, "from_version": m.from_version, "from_state": m.from_state,
                           "to_state": m.to_state, "due_date_before": _date(m.due_before),
                           "due_date": _date(m.due_at), "paused": m.paused} for m in self.moves]}


def _date(instant: datetime | None) -> str | None:
    return due_date_of(instant).isoformat() if instant else None


def migrate_roles(target: WorkflowDefinition) -> tuple[str, ...]:
    """Who may migrate cases to `target`: its business manager role, else the roles that open its cases."""
    return (MIGRATOR,) if MIGRATOR in target.roles else target.open.roles


def check_actor(actor: str | Identity | None) -> str | Identity:
    if not actor:
        raise InvalidValue("say who is migrating: pass --as USER or set REVIEWFLOW_USER (preview with --dry-run "
                           "without it)")
    return actor


def check_may_migrate(target: WorkflowDefinition, actor: str, roles: Iterable[str]) -> None:
    allowed = migrate_roles(target)
    held = set(roles)
    if not held & set(allowed):
        raise NotPermitted(f"migrating {target.name} cases to v{target.version} needs one of the roles "
                           f"{', '.join(allowed)}; {actor} has {', '.join(sorted(held)) or 'no roles'}")


def parse_map(pairs: Sequence[str]) -> dict[str, str]:
    """['on=review', ...] -> {'on': 'review'}; refuse malformed or contradictory pairs."""
    mapping: dict[str, str] = {}
    for pair in pairs:
        old, sep, new = pair.partition("=")
        old, new = old.strip(), new.strip()
        if not sep or not old or not new:
            raise MigrationRefused(f"--map {pair!r} is not OLD=NEW: write the current state, '=' and the state "
                                   "of the new version, e.g. --map review=panel_review")
        if mapping.get(old, new) != new:
            raise MigrationRefused(f"--map gives two new states for {old}: {mapping[old]} and {new}; keep one")
        mapping[old] = new
    return mapping


def _open_states(target: WorkflowDefinition) -> str:
    return ", ".join(n for n, s in target.states.items() if not s.terminal)


def _check_map(target: WorkflowDefinition, known: set[str], mapping: Mapping[str, str]) -> list[str]:
    """Problems with --map itself: states that no version has, or that the target lacks or ends in."""
    v = f"v{target.version}"
    problems = [f"--map {old}={new}: no version of {target.name} has a state {old!r}"
                for old, new in mapping.items() if old not in known]
    problems += [f"--map {old}={new}: {v} has no state {new!r}" for old, new in mapping.items()
                 if new not in target.states]
    problems += [f"--map {old}={new}: {new} is an end state in {v}, and migrating never closes a case"
                 for old, new in mapping.items() if new in target.states and target.states[new].terminal]
    return problems


def _counted(states: Counter[str]) -> str:
    return ", ".join(f"{s} ({n} case{'s' if n != 1 else ''})" for s, n in sorted(states.items()))


def _case_problems(target: WorkflowDefinition, cases: Sequence[OpenCase], mapping: Mapping[str, str],
                   now: datetime) -> list[str]:
    v = f"v{target.version}"
    unmapped = Counter(c.state for c in cases if c.state not in mapping and c.state not in target.states)
    ending = Counter(c.state for c in cases if c.state not in mapping and c.state in target.states
                     and target.states[c.state].terminal)
    problems = []
    if unmapped:
        problems.append(f"{v} has no state for {_counted(unmapped)}")
    if ending:
        problems.append(f"{_counted(ending)} would end the case{'s' if ending.total() != 1 else ''}: "
                        f"{', '.join(sorted(ending))} is an end state in {v}")
    if unmapped or ending:
        example = sorted(unmapped | ending)[0]
        problems.append(f"map each with --map OLD=NEW (e.g. --map {example}=STATE) to an open state of {v}: "
                        f"{_open_states(target)}")
    later = [c.ref for c in cases if c.last_change is not None and c.last_change > now]
    if later:
        problems.append(f"{', '.join(later)} changed after {now.astimezone(LOCAL_ZONE):%Y-%m-%d %H:%M}: a migration "
                        "cannot be dated earlier than a case's last change; check --now")
    return problems


def _missing_fields(target: WorkflowDefinition, cases: Sequence[OpenCase], mapping: Mapping[str, str]) -> list[str]:
    problems = []
    for c in cases:
        dest = target.states.get(mapping.get(c.state, c.state))
        missing = [f for f in dest.requires if c.fields.get(f) in (None, "")] if dest else []
        if missing:
            problems.append(f"{c.ref} lacks {', '.join(missing)}, which state {dest.name if dest else '?'} of "
                            f"v{target.version} "
                            "requires (set it, or map its state elsewhere)")
    return problems


def _paused_for(source: WorkflowDefinition | None, case: OpenCase) -> timedelta:
    """Time the stage's clock was stopped by earlier pauses: the due time's shift from its nominal value."""
    limit = source.states[case.state].time_limit if source and case.state in source.states else None
    if source is None or limit is None or case.due_at is None:
        return timedelta(0)
    nominal = stage_due(source, case.state, case.fields, case.entered_at)
    return max(case.due_at - nominal, timedelta(0)) if nominal else timedelta(0)


def _move(target: WorkflowDefinition, source: WorkflowDefinition | None, case: OpenCase, dest: str,
          now: datetime | None = None) -> CaseMove:
    state = target.states[dest]
    nominal = stage_due(target, dest, case.fields, case.entered_at)  # from entry, or from its `from` date field
    due = nominal + _paused_for(source, case) if nominal else None
    paused = case.paused_at is not None
    check = None if paused else next_check(checkpoints(target, state, case.entered_at, due), case.fired)
    if not paused and now is not None and (target.milestones or target.progress_checks):
        check = min(check, now) if check else now  # the next sweep works out its milestones and checks
    return CaseMove(case.ref, case.version, case.state, dest, case.due_at, due, check, paused,
                    case.case_id, case.revision)


def plan_migration(target: WorkflowDefinition, versions: Mapping[int, WorkflowDefinition],
                   cases: Sequence[OpenCase], mapping: Mapping[str, str], now: datetime) -> MigrationPlan:
    """Plan moving `cases` (open cases of other versions) to `target`, or refuse listing every problem.

    A state maps to itself when the target has it, unless `mapping` says otherwise. The due time is
    recomputed from the stage's entry with the target's time limit (plus time already spent paused);
    a paused case stays paused; the next escalation check follows the target's reminder and ladder,
    counting the levels already fired for this stage entry.
    """
    known = {s for d in versions.values() for s in d.states}
    problems = _check_map(target, known, mapping) + _case_problems(target, cases, mapping, now)
    problems += [] if problems else _missing_fields(target, cases, mapping)
    if problems:
        raise MigrationRefused(f"cannot migrate {target.name} cases to v{target.version}, nothing was changed: "
                               + "; ".join(problems))
    moves = [_move(target, versions.get(c.version), c, mapping.get(c.state, c.state), now) for c in cases]
    return MigrationPlan(target.name, target.version, now, tuple(moves))


def plan_lines(plan: MigrationPlan, dry_run: bool) -> list[str]:
    """The plan as a person reads it: one line per case, then what happened."""
    if not plan.moves:
        return [f"no open {plan.workflow} cases on other versions: nothing to migrate to v{plan.to_version}"]
    lines = []
    for m in plan.moves:
        timing = ("clock paused (stays paused)" if m.paused else
                  f"due {_date(m.due_before) or 'none'} -> {_date(m.due_at) or 'none (no time limit)'}")
        lines.append(f"{m.ref:<16} v{m.from_version} {m.from_state} -> v{plan.to_version} {m.to_state}; {timing}")
    verb = "would move" if dry_run else "moved"
    lines.append(f"{verb} {len(plan.moves)} open case(s) of {plan.workflow} to v{plan.to_version}"
                 + (" (dry run: nothing was changed)" if dry_run else ""))
    return lines
