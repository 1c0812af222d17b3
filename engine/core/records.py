"""The records every layer passes around, declared once: the store builds them from rows, the services
hand them to the renderers and front ends. Plain frozen dataclasses; no table row is ever one of these.

Ids (`id`, `case_id`, ...) are the store's keys, carried so that records read in bulk (the reports)
can be joined; a record built for one case may leave them 0.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from reviewflow.engine.core.decide import CaseState, TriggerOption
from reviewflow.engine.core.durations import DEFAULT_CALENDAR, due_date_of, local_date, working_days_between
from reviewflow.engine.core.learning import ActionFacts
from reviewflow.engine.core.measures import MeasuredImpact, Measurement
from reviewflow.engine.core.statutory import Deadline


@dataclass(frozen=True)
class StoredDefinition:
    """One loaded version of a workflow definition, as stored."""

    name: str
    version: int
    title: str
    content_hash: str
    source: str
    source_name: str
    loaded_at: datetime


@dataclass(frozen=True)
class HistoryEntry:
    """One row of a case's history: a stage move, a pause or resume, or a learning record."""

    seq: int
    at: datetime
    actor: str
    trigger: str
    from_state: str | None
    to_state: str
    fields: Mapping[str, Any] = field(default_factory=dict)
    note: str | None = None
    case_id: int = 0
    recorded_at: datetime | None = None
    """The server's own time when the row was written (`at` may be back-dated); None before it was kept."""


@dataclass(frozen=True)
class User:
    name: str
    email: str | None
    roles: tuple[str, ...]
    agency: str | None = None


@dataclass(frozen=True)
class CaseLink:
    """A link from a case to another: `kind` as seen from the case (routed_to: the other case took it on)."""

    ref: str
    other: str
    other_workflow: str
    other_state: str
    kind: str
    reason: str
    linked_by: str
    linked_at: datetime


@dataclass(frozen=True)
class CaseRecord:
    """A case with the bookkeeping the core's decisions do not need (who opened it, pauses, the stage entry)."""

    case: CaseState
    is_open: bool
    opened_by: str
    opened_at: datetime
    closed_at: datetime | None
    entry_seq: int = 1
    paused_at: datetime | None = None
    pause_reason: str | None = None
    next_check_at: datetime | None = None
    case_id: int = 0
    pause_until: date | None = None
    """The day the pause is expected to end."""
    pause_note: str | None = None
    subgroup: str | None = None
    """The sub-group the case belongs to (engine/core/subgroups.py); None: the whole partnership."""

    @property
    def id(self) -> int:
        return self.case_id

    @property
    def ref(self) -> str:
        return self.case.ref

    @property
    def workflow(self) -> str:
        return self.case.workflow

    @property
    def version(self) -> int:
        return self.case.version

    @property
    def state(self) -> str:
        return self.case.state

    @property
    def fields(self) -> Mapping[str, Any]:
        return self.case.fields

    @property
    def entered_at(self) -> datetime:
        return self.case.entered_at

    @property
    def due_at(self) -> datetime | None:
        return self.case.due_at


@dataclass(frozen=True)
class LedgerEntry:
    """One row of the escalation ledger: a reminder or a ladder level that fired, once.

    A stage's rows have the stage entry's history seq as `entry_seq`; an action's ladder rows have
    entry 0 and the action as `state` ('action A1').
    """

    case_id: int
    entry_seq: int
    key: str
    level: int | None
    label: str
    state: str
    due_at: datetime
    scheduled_at: datetime
    fired_at: datetime
    roles: tuple[str, ...]
    recipients: tuple[str, ...]
    reason: str
    ref: str = ""
    recorded_at: datetime | None = None
    """The server's own time when the row was written; None before it was kept."""


@dataclass(frozen=True)
class DueCase:
    """An open, unpaused case whose next reminder or ladder level is due."""

    case_id: int
    ref: str
    workflow: str
    version: int
    state: str
    entered_at: datetime
    due_at: datetime | None
    entry_seq: int
    next_check_at: datetime


@dataclass(frozen=True)
class Evidence:
    number: str
    action: str
    kind: str
    description: str
    reference: str
    submitted_by: str
    submitted_at: datetime
    status: str
    decided_by: str | None
    decided_at: datetime | None
    reason: str | None
    case_id: int = 0
    action_id: int = 0
    id: int = 0


@dataclass(frozen=True)
class Action:
    ref: str
    workflow: str
    number: str
    recommendation: str
    description: str
    owner_agency: str
    owner: str | None
    due_date: date
    success_measure: str
    status: str
    status_reason: str | None
    created_by: str
    created_at: datetime
    updated_at: datetime
    verified_by: str | None
    verified_at: datetime | None
    impact_method: str | None
    impact_measured_on: date | None
    impact_summary: str | None
    impact_by: str | None
    embedded_at: datetime | None
    themes: tuple[str, ...] = ()
    evidence: tuple[Evidence, ...] = ()
    id: int = 0
    case_id: int = 0
    recommendation_id: int = 0
    first_due_date: date | None = None
    redate_reason: str | None = None
    measure: MeasuredImpact | None = None
    """The success measure in figures (baseline, target, unit, direction) with its latest value and outcome."""
    measurements: tuple[Measurement, ...] = ()

    @property
    def ladder_due(self) -> date:
        """The first due date: the ladder climbs from it and on-time figures count against it."""
        return self.first_due_date or self.due_date

    def facts(self) -> ActionFacts:
        return ActionFacts(self.number, self.status, self.due_date, self.owner, self.recommendation,
                           accepted_evidence=sum(e.status == "accepted" for e in self.evidence),
                           pending_evidence=sum(e.status == "submitted" for e in self.evidence))


@dataclass(frozen=True)
class NewAction:
    """An action as an import writes it: its case and recommendation are given beside it."""

    number: str
    description: str
    owner_agency: str
    owner: str | None
    due_date: date
    success_measure: str
    status: str
    status_reason: str | None
    next_check_at: datetime | None


@dataclass(frozen=True)
class DueAction:
    """A working action whose next ladder level is due."""

    action_id: int
    case_id: int
    ref: str
    workflow: str
    version: int
    number: str
    owner: str | None
    owner_agency: str
    due_date: date
    status: str
    next_check_at: datetime
    first_due_date: date | None = None

    @property
    def ladder_due(self) -> date:
        """The first due date, from which the ladder climbs."""
        return self.first_due_date or self.due_date


@dataclass(frozen=True)
class Recommendation:
    number: str
    text: str
    themes: tuple[str, ...]
    agencies: tuple[str, ...]
    created_by: str
    created_at: datetime
    actions: tuple[Action, ...] = ()
    id: int = 0
    case_id: int = 0


@dataclass(frozen=True)
class Dissemination:
    kind: str
    audience: str
    held_on: date
    reference: str | None
    recorded_by: str
    recorded_at: datetime
    case_id: int = 0
    reach: int | None = None
    """How many practitioners it reached (for training, how many attended), when known."""
    theme: str | None = None
    """The learning theme of a training session recorded with `case training`."""


@dataclass(frozen=True)
class OutboxEntry:
    """A notification in the outbox and how its delivery stands."""

    id: int
    key: str
    ref: str | None
    event: str
    role: str
    channel: str
    recipient: str
    address: str | None
    status: str
    attempts: int
    last_error: str | None
    created_at: datetime
    next_attempt_at: datetime
    sent_at: datetime | None
    payload: dict[str, Any]


@dataclass(frozen=True)
class ScheduleRun:
    """A period of a recurring workflow whose case was opened."""

    workflow: str
    period: str
    case_ref: str
    scheduled_for: datetime
    opened_at: datetime
    late: bool


@dataclass(frozen=True)
class AuditFinding:
    """One break in a case's sealed chain, described for a person."""

    ref: str
    kind: str
    where: str
    problem: str

    def __str__(self) -> str:
        return f"{self.ref} {self.kind} {self.where}: {self.problem}"


@dataclass
class AuditReport:
    """What `audit verify` found: every case's chains and the database-wide sequence."""

    cases: int = 0
    rows: int = 0
    head_seq: int = 0
    head_hash: str = ""
    findings: list[AuditFinding] = field(default_factory=list)
    chain_problem: str | None = None
    scheme: str = "hmac-sha256"
    """How the chain is sealed: `hmac-sha256` with the audit key, or `sha256` (unkeyed: run `audit rekey`)."""

    @property
    def ok(self) -> bool:
        return not self.findings and self.chain_problem is None


@dataclass
class CaseView:
    """Everything `case show` shows about one case, as of `now`."""

    ref: str
    workflow: str
    workflow_title: str
    version: int
    state: str
    state_label: str
    is_open: bool
    fields: Mapping[str, Any]
    opened_by: str
    opened_at: datetime
    entered_at: datetime
    due_at: datetime | None
    closed_at: datetime | None
    now: datetime
    time_limit: str | None = None
    owner: str | None = None
    paused_at: datetime | None = None
    pause_reason: str | None = None
    history: list[HistoryEntry] = field(default_factory=list)
    escalations: list[LedgerEntry] = field(default_factory=list)
    options: list[TriggerOption] = field(default_factory=list)
    recommendations: list[Recommendation] = field(default_factory=list)
    dissemination: list[Dissemination] = field(default_factory=list)
    calendar: str = DEFAULT_CALENDAR
    revision: int = 0
    """Bumped by every change to the case: a change made on an older revision is refused."""
    agencies: list[str] = field(default_factory=list)
    """The agencies taking part (named in its fields, its recommendations or owning its actions)."""
    deadline: Deadline | None = None
    """The binding deadline when a running milestone's falls before the stage's (engine/core/statutory.py)."""
    pause_until: date | None = None
    """The day a pause is expected to end (its reminder falls on it)."""
    pause_note: str | None = None
    links: list[CaseLink] = field(default_factory=list)
    """The cases linked to this one (routed from or to, joint reviews, related)."""
    subgroup: str | None = None
    """The sub-group the case belongs to; None: the whole partnership."""
    returns: list[AgencyReturn] = field(default_factory=list)
    """The agencies asked for returns on the case (a workflow with `returns:`), as `case returns` lists them."""

    @property
    def overdue(self) -> bool:
        """Past the stage's time limit (a paused clock is never overdue)."""
        return self.is_open and self.paused_at is None and self.due_at is not None and self.now >= self.due_at

    @property
    def due_date(self) -> str | None:
        return due_date_of(self.due_at).isoformat() if self.due_at else None

    @property
    def days_in_stage(self) -> int:
        """Calendar days since the stage was entered; 0 when the time shown is before it (never negative)."""
        return max((local_date(self.now) - local_date(self.entered_at)).days, 0)

    @property
    def working_days_overdue(self) -> int:
        """Working days past the due date (0 when not overdue), in the workflow's calendar."""
        if not self.overdue or self.due_at is None:
            return 0
        return working_days_between(due_date_of(self.due_at), local_date(self.now), self.calendar)


@dataclass(frozen=True)
class Fired:
    """What one `fire` changed: the case's new stage and the history entry it wrote."""

    ref: str
    workflow: str
    version: int
    state: str
    state_label: str
    is_open: bool
    fields: Mapping[str, Any]
    entered_at: datetime
    due_at: datetime | None
    entry: HistoryEntry
    revision: int = 0
    """The case's revision after the move (its ETag in the API)."""
    linked: str | None = None
    """The case a routing transition opened or linked (`opens:`), if any."""

    @property
    def due_date(self) -> str | None:
        return due_date_of(self.due_at).isoformat() if self.due_at else None


@dataclass(frozen=True)
class Subgroup:
    """A sub-group of the partnership (engine/core/subgroups.py)."""

    name: str
    title: str
    created_at: datetime


@dataclass(frozen=True)
class AdminEvent:
    """One change made by an administrator: who, when, what, to what, and the details."""

    seq: int
    at: datetime
    actor: str
    action: str
    target: str
    details: Mapping[str, Any]
    recorded_at: datetime | None = None
    """The server's own time when the event was written; None before it was kept."""


@dataclass(frozen=True)
class Account:
    """A registered person as the administration pages show them (never their password hash)."""

    name: str
    email: str | None
    roles: tuple[str, ...]
    agency: str | None
    admin: bool
    disabled_at: datetime | None
    has_password: bool
    os_account: str | None
    created_at: datetime
    notify: str = "immediate"
    """How their notifications reach them: `immediate` (one e-mail each) or `daily` (one digest a day)."""

    @property
    def active(self) -> bool:
        return self.disabled_at is None


@dataclass(frozen=True)
class ApiToken:
    """A personal API token as listed (its secret is shown once, when it is made)."""

    id: int
    user: str
    name: str
    prefix: str
    scope: str
    created_at: datetime
    expires_at: datetime
    revoked_at: datetime | None
    last_used_at: datetime | None


@dataclass(frozen=True)
class EvidenceFile:
    """A file attached to a piece of evidence: what it is and who attached it (its bytes are kept apart, by hash)."""

    id: int
    ref: str
    evidence: str
    action: str
    name: str
    """The file name as uploaded, made safe (no path, no control characters), with its type's extension."""
    media_type: str
    size: int
    sha256: str
    uploaded_by: str
    uploaded_at: datetime
    case_id: int = 0
    evidence_id: int = 0


@dataclass(frozen=True)
class AgencyReturn:
    """An agency's return on a case: asked on `requested_on`, due on `due_date`, then returned (on
    `returned_on`) or excused (with `reason`). Late is worked out from the due date and the day, never stored."""

    ref: str
    agency: str
    requested_on: date
    due_date: date
    status: str
    returned_on: date | None = None
    reason: str | None = None
    requested_by: str = ""
    workflow: str = ""
    case_id: int = 0
    id: int = 0

    def is_late(self, today: date) -> bool:
        return self.status == "requested" and today > self.due_date

    def shown_status(self, today: date) -> str:
        """`late` for a requested return past its due date, else its status."""
        return "late" if self.is_late(today) else self.status


@dataclass(frozen=True)
class DueReturn:
    """A requested return whose next ladder level is due."""

    return_id: int
    case_id: int
    ref: str
    workflow: str
    version: int
    agency: str
    due_date: date
    next_check_at: datetime


@dataclass(frozen=True)
class PauseDue:
    """A paused case whose expected end has come, as the sweep's pause step needs it."""

    case_id: int
    ref: str
    workflow: str
    version: int
    state: str
    entry_seq: int
    subgroup: str | None
    pause_seq: int
    """The history seq of the pause: its reminder's ledger key."""
    pause_until: date
    pause_reason: str | None
    pause_note: str | None
    paused_by: str | None
    """The actor recorded on the pause ('ADMIN for USER' when an administrator acted for someone)."""
