"""The neutral, validated model of a workflow definition (frozen dataclasses)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from functools import cached_property
from typing import Any, Literal

from reviewflow.engine.core.durations import DEFAULT_CALENDAR, Duration
from reviewflow.engine.core.grading import GradingRules
from reviewflow.engine.core.learning import LearningRules
from reviewflow.engine.core.legacy import Legacy
from reviewflow.engine.core.links import DEFAULT_PAUSE_REASONS, Opens
from reviewflow.engine.core.milestones import Milestone, ProgressCheck
from reviewflow.engine.core.returns import ReturnsRules

FieldType = Literal["text", "choice", "date", "yesno"]
OWNER = "owner"
"""Reserved role name in escalation ladders: the owner role of the overdue stage (or the overdue action's
named owner)."""
EXPRESSION = "expression"
"""Condition name of a CEL expression guard; its argument is the expression text."""


@dataclass(frozen=True)
class FieldSpec:
    name: str
    type: FieldType
    label: str = ""
    options: tuple[str, ...] = ()
    sensitive: bool = False
    readers: tuple[str, ...] = ()
    """With `sensitive`: the roles that may see the value (default: the workflow's `access.sensitive`)."""
    reason_if_no: bool = False
    """A yes/no field answered no needs a reason, given as the field `<name>_reason`."""

    @property
    def reason_name(self) -> str:
        """The companion field holding the reason for a no."""
        return f"{self.name}_reason"

    def describe(self) -> str:
        """'decision (choice: scr, nfa)' style summary used in messages."""
        if self.type == "choice":
            return f"{self.name} ({self.type}: {', '.join(self.options)})"
        return f"{self.name} ({self.type})"


@dataclass(frozen=True)
class Access:
    """Who sees what of this workflow's cases (`access:` in the definition)."""

    partnership: tuple[str, ...] | None = None
    """Roles whose holders see every case of the workflow (default: every role but the learning loop's
    `contribute` roles, which are held by agency staff)."""
    sensitive: tuple[str, ...] | None = None
    """Roles that may see a `sensitive: true` field (default: the learning loop's `manage` roles)."""
    agency_fields: tuple[str, ...] | None = None
    """Fields naming the agencies taking part (default: every field whose name contains 'agenc')."""


@dataclass(frozen=True)
class Condition:
    """A built-in condition by name, with its optional argument."""

    name: str
    argument: Any = None


@dataclass(frozen=True)
class StateDef:
    name: str
    label: str
    description: str = ""
    terminal: bool = False
    time_limit: Duration | None = None
    owner: str | None = None
    requires: tuple[str, ...] = ()
    remind: Duration | None = None
    time_limit_from: str | None = None
    """The date field the time limit counts from (`time_limit: {duration: ..., from: FIELD}`); None: from entry."""
    time_limit_before: str | None = None
    """The date field the time limit counts back from (`time_limit: {duration: ..., before: FIELD}`): the stage is
    due that long before the recorded date."""


@dataclass(frozen=True)
class TransitionDef:
    trigger: str
    sources: tuple[str, ...]
    dest: str
    roles: tuple[str, ...]
    label: str = ""
    requires: tuple[FieldSpec, ...] = ()
    when: tuple[Condition, ...] = ()
    opens: Opens | None = None
    """Firing it opens (or links) a case of another workflow (`opens:`, core/links.py)."""

    def field(self, name: str) -> FieldSpec | None:
        return next((f for f in self.requires if f.name == name), None)


@dataclass(frozen=True)
class EscalationLevel:
    after: Duration
    notify: tuple[str, ...]
    label: str = ""


@dataclass(frozen=True)
class OpenRule:
    roles: tuple[str, ...]
    requires: tuple[FieldSpec, ...] = ()


@dataclass(frozen=True)
class Schedule:
    """A fixed rhythm on which new cases open: `every` from `starting`, or a `cron` expression."""

    ref: str
    every: Duration | None = None
    starting: date | None = None
    cron: str | None = None
    fields: Mapping[str, str] = field(default_factory=dict)
    note: str = ""
    dates: tuple[date, ...] = ()
    """`dates:`: one period per listed date (a Board meeting calendar), instead of `every` or `cron`."""
    open_before: Duration | None = None
    """With `dates`: each period's case opens this long before its date (None: on the date)."""

    def describe(self) -> str:
        if self.dates:
            ahead = f" ({self.open_before} ahead)" if self.open_before else ""
            return f"{len(self.dates)} dates from {min(self.dates)} to {max(self.dates)}{ahead}"
        return f"cron {self.cron}" if self.cron else f"every {self.every} from {self.starting}"


@dataclass(frozen=True, eq=False)
class WorkflowDefinition:
    """A whole review type; compared and hashed by identity (one object per loaded version)."""

    name: str
    title: str
    version: int
    roles: Mapping[str, str]
    states: Mapping[str, StateDef]
    initial: str
    transitions: tuple[TransitionDef, ...]
    open: OpenRule
    description: str = ""
    calendar: str = DEFAULT_CALENDAR
    escalation: tuple[EscalationLevel, ...] = ()
    notify: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    remind: Duration | None = None
    pause_roles: tuple[str, ...] = ()
    pause_reasons: tuple[str, ...] = ()
    """The reasons a clock may be paused for (`pause_reasons:`); empty: DEFAULT_PAUSE_REASONS."""
    learning_rules: LearningRules | None = None
    learning_escalation: tuple[EscalationLevel, ...] | None = None
    schedule: Schedule | None = None
    access: Access = field(default_factory=Access)
    returns: ReturnsRules | None = None
    """`returns:`: agencies' returns on a case (engine/core/returns.py); None when the workflow has none."""
    milestones: tuple[Milestone, ...] = ()
    progress_checks: tuple[ProgressCheck, ...] = ()
    subgroup: str | None = None
    """The sub-group of the partnership its cases belong to (`subgroup:`, engine/core/subgroups.py)."""
    grading: GradingRules | None = None
    """`grading:`: the scale audits are graded on (engine/core/grading.py); None when the workflow grades nothing."""
    legacy: Legacy | None = None
    """`legacy:`: a review type no longer commissioned (engine/core/legacy.py); None for a current one."""
    sources: tuple[int, ...] = ()
    """`sources:`: the rows (1-14) of the framework's table of sources of learning it serves
    (engine/core/framework.py)."""

    @property
    def learning(self) -> LearningRules:
        """Who may do what in the learning loop (defaults: the opener roles manage and verify)."""
        return self.learning_rules or LearningRules(manage=self.open.roles, contribute=(), verify=self.open.roles)

    @property
    def action_ladder(self) -> tuple[EscalationLevel, ...]:
        """Levels climbed by an overdue action: `learning.escalation`, else the stage ladder."""
        return self.escalation if self.learning_escalation is None else self.learning_escalation

    @property
    def pause_reason_list(self) -> tuple[str, ...]:
        """The reasons a case's clock may be paused for."""
        return self.pause_reasons or DEFAULT_PAUSE_REASONS

    def may_pause(self, state: str) -> tuple[str, ...]:
        """Roles that may pause or resume a case in `state`: `pause_roles`, else opener roles, plus the owner."""
        owner = self.states[state].owner
        base = self.pause_roles or self.open.roles
        return tuple(dict.fromkeys([*base, *([owner] if owner else [])]))

    @cached_property
    def _leaving(self) -> dict[str, tuple[TransitionDef, ...]]:
        """Transitions by the state they leave, in definition order (worked out once: the definition is frozen)."""
        leaving: dict[str, list[TransitionDef]] = {}
        for t in self.transitions:
            for source in dict.fromkeys(t.sources):
                leaving.setdefault(source, []).append(t)
        return {source: tuple(ts) for source, ts in leaving.items()}

    @cached_property
    def _moves(self) -> dict[tuple[str, str], TransitionDef]:
        """The first transition of each (state, trigger), in definition order."""
        moves: dict[tuple[str, str], TransitionDef] = {}
        for source, ts in self._leaving.items():
            for t in ts:
                moves.setdefault((source, t.trigger), t)
        return moves

    def transitions_from(self, state: str) -> list[TransitionDef]:
        """Transitions that may leave `state`, in definition order."""
        return list(self._leaving.get(state, ()))

    def transition(self, state: str, trigger: str) -> TransitionDef | None:
        """The first transition (in definition order) that `trigger` fires from `state`, if any."""
        return self._moves.get((state, trigger))

    @property
    def field_specs(self) -> dict[str, FieldSpec]:
        """Every field the definition asks for, by name (the first declaration of each)."""
        found: dict[str, FieldSpec] = {}
        for spec in [*self.open.requires, *(f for t in self.transitions for f in t.requires)]:
            found.setdefault(spec.name, spec)
        return found

    @property
    def sensitive_fields(self) -> frozenset[str]:
        """Fields marked `sensitive` anywhere in the definition."""
        specs = [*self.open.requires, *(f for t in self.transitions for f in t.requires)]
        return frozenset(f.name for f in specs if f.sensitive)

    @cached_property
    def partnership_roles(self) -> frozenset[str]:
        """Roles whose holders see every case of this workflow."""
        if self.access.partnership is not None:
            return frozenset(self.access.partnership)
        return frozenset(self.roles) - set(self.learning.contribute)

    @cached_property
    def field_readers(self) -> dict[str, frozenset[str]]:
        """For each sensitive field, the roles that may see its value."""
        default = self.access.sensitive if self.access.sensitive is not None else self.learning.manage
        readers: dict[str, set[str]] = {}
        for spec in [*self.open.requires, *(f for t in self.transitions for f in t.requires)]:
            if spec.sensitive:
                readers.setdefault(spec.name, set()).update(spec.readers or default)
        return {name: frozenset(roles) for name, roles in readers.items()}

    @cached_property
    def agency_fields(self) -> tuple[str, ...]:
        """Fields whose values name the agencies taking part in a case: `access: agency_fields`, else the text and
        choice fields whose names speak of an agency (not `agency_reports_date`, a date)."""
        if self.access.agency_fields is not None:
            return self.access.agency_fields
        return tuple(name for name, spec in self.field_specs.items()
                     if "agenc" in name.lower() and spec.type not in ("date", "yesno"))

    def shareable(self, fields: Mapping[str, Any]) -> dict[str, Any]:
        """`fields` without the sensitive ones: what notifications, logs and reports may carry."""
        hidden = self.sensitive_fields
        return {k: v for k, v in fields.items() if k not in hidden}

    @property
    def triggers(self) -> set[str]:
        return {t.trigger for t in self.transitions}
