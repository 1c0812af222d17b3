"""SQLModel tables. Times are stored as naive UTC and read back as aware UTC."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import JSON, Column, DateTime, Index, UniqueConstraint
from sqlalchemy.types import TypeDecorator
from sqlmodel import AutoString, Field, SQLModel

from reviewflow.engine.core.references import ref_key

SCHEMA_VERSION = 1
"""Version of the JSON stored in `fields` columns."""


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in, aware UTC datetimes out, on every database."""

    impl = DateTime(timezone=False)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store; pass an aware UTC datetime")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


def _time(**kw: Any) -> Any:
    return Field(sa_column=Column(UTCDateTime(), **kw))


def _time_nullable(**kw: Any) -> Any:
    return Field(default=None, sa_column=Column(UTCDateTime(), nullable=True, **kw))


def row_id(value: int | None) -> int:
    """The id of a row read from the database or flushed to it: the database has set it by then.

    The `id` fields are `int | None` only because a row built in Python has none until it is written.
    """
    assert value is not None, "a row's id was used before the row was written"
    return value


class DefinitionRow(SQLModel, table=True):
    __tablename__ = "workflow_definitions"
    __table_args__ = (UniqueConstraint("name", "version", name="uq_definition_version"),)

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(index=True)
    version: int
    title: str
    content_hash: str
    source: str
    source_name: str
    loaded_at: datetime = _time(nullable=False)


class CaseRow(SQLModel, table=True):
    __tablename__ = "cases"
    __table_args__ = (
        Index("ix_cases_open_due", "is_open", "due_at"),
        Index("ix_cases_workflow_state", "workflow", "state"),
        Index("ix_cases_next_check", "next_check_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    ref: str = Field(unique=True, index=True)
    ref_key: str = Field(default=None, sa_column=Column(AutoString(), nullable=False, unique=True, index=True,
                                                        default=lambda ctx: ref_key(ctx.current_parameters["ref"])))
    """`ref` folded (core/references.py): unique, so SCR-1 and scr-1. cannot both exist; filled from `ref`."""
    workflow: str
    version: int
    state: str
    is_open: bool = True
    fields: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    fields_schema: int = SCHEMA_VERSION
    opened_by: str
    opened_at: datetime = _time(nullable=False)
    entered_at: datetime = _time(nullable=False)
    due_at: datetime | None = _time_nullable()
    closed_at: datetime | None = _time_nullable()
    revision: int = 1
    entry_seq: int = 1
    """History seq of the move that entered the current stage: escalations are once per entry."""
    paused_at: datetime | None = _time_nullable()
    pause_reason: str | None = None
    pause_until: date | None = None
    """The day the pause is expected to end (its reminder falls on it); NULL when not paused or none was given."""
    pause_note: str | None = None
    """The text given with the pause reason `other` (or a note with any reason)."""
    next_check_at: datetime | None = _time_nullable()
    """When the sweep must next look at this case (reminder or ladder level); NULL when nothing is due."""
    subgroup: str | None = None
    """The sub-group the case belongs to (engine/core/subgroups.py); NULL: the whole partnership."""


class HistoryRow(SQLModel, table=True):
    __tablename__ = "case_history"
    __table_args__ = (
        UniqueConstraint("case_id", "seq", name="uq_history_seq"),
        Index("ix_case_history_chain_seq", "chain_seq", unique=True),
    )

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="cases.id", index=True)
    seq: int
    at: datetime = _time(nullable=False)
    actor: str
    trigger: str
    from_state: str | None = None
    to_state: str
    fields: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    fields_schema: int = SCHEMA_VERSION
    note: str | None = None
    chain_seq: int | None = None
    """Position in the database's audit chain (see store/chain.py); set when the row is written."""
    hash: str | None = None
    """Seal: SHA-256 of the previous row of this case's history and this row's content."""
    recorded_at: datetime | None = _time_nullable()
    """The server's own time when the row was written (never --now); NULL on rows written before 0005."""


class UserRow(SQLModel, table=True):
    __tablename__ = "users"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(unique=True, index=True)
    email: str | None = None
    agency: str | None = None
    """The agency they work for: overdue actions of that agency go to its people first."""
    created_at: datetime = _time(nullable=False)
    is_admin: bool = False
    """The administrator capability (users, roles, workflows, imports, exports, deliveries, the database)."""
    disabled_at: datetime | None = _time_nullable()
    """A leaver: cannot sign in; their sessions and tokens stop working; their history is kept."""
    password_hash: str | None = None
    """Argon2id hash of their password; NULL until one is set."""
    os_account: str | None = Field(default=None, unique=True)
    """The operating-system account the command line acts as this user from."""
    sso_subject: str | None = Field(default=None, unique=True)
    """The single sign-on provider's subject for this user, remembered at their first sign-in."""
    notify: str = Field(default="immediate", sa_column_kwargs={"server_default": "immediate"})
    """`immediate`: each notification is an e-mail of its own; `daily`: their e-mails are gathered into one a day."""


class UserRoleRow(SQLModel, table=True):
    __tablename__ = "user_roles"

    user_id: int = Field(foreign_key="users.id", primary_key=True)
    role: str = Field(primary_key=True, index=True)


class EscalationRow(SQLModel, table=True):
    """The escalation ledger: each reminder or ladder level, once per (case, stage entry, level)."""

    __tablename__ = "escalations"
    __table_args__ = (
        UniqueConstraint("case_id", "entry_seq", "key", name="uq_escalation_once"),
        Index("ix_escalations_chain_seq", "chain_seq", unique=True),
    )

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="cases.id", index=True)
    entry_seq: int
    key: str
    level: int | None = None
    label: str
    state: str
    due_at: datetime = _time(nullable=False)
    fired_at: datetime = _time(nullable=False)
    scheduled_at: datetime = _time(nullable=False)
    roles: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    recipients: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    reason: str
    chain_seq: int | None = None
    """Position in the database's audit chain (see store/chain.py); set when the row is written."""
    hash: str | None = None
    """Seal: SHA-256 of the previous ledger row of this case and this row's content."""
    recorded_at: datetime | None = _time_nullable()
    """The server's own time when the row was written (never --now); NULL on rows written before 0005."""


class AuditHeadRow(SQLModel, table=True):
    """The head of the database's audit chain: how many rows are sealed and the running hash over them."""

    __tablename__ = "audit_head"

    id: int = Field(default=1, primary_key=True)
    seq: int = 0
    hash: str = ""
    scheme: str = Field(default="hmac-sha256", sa_column_kwargs={"server_default": "sha256"})
    """How rows are sealed: `hmac-sha256` with the audit key kept outside the database, or `sha256` (unkeyed, a
    database made before keyed seals until `audit rekey`)."""
    queued: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    """How many notifications were ever queued in the outbox."""
    mac: str | None = None
    """The head's own keyed seal over seq, hash and queued (see store/chain.py)."""


class OutboxRow(SQLModel, table=True):
    """A notification written with the change that caused it; delivered later by the worker."""

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_pending", "status", "next_attempt_at"),)

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(unique=True)
    case_id: int | None = Field(default=None, foreign_key="cases.id", index=True)
    event: str
    role: str
    channel: str = "log"
    recipient: str = ""
    address: str | None = None
    payload: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    status: str = "pending"
    attempts: int = 0
    last_error: str | None = None
    created_at: datetime = _time(nullable=False)
    next_attempt_at: datetime = _time(nullable=False)
    sent_at: datetime | None = _time_nullable()


class RecommendationRow(SQLModel, table=True):
    """A recommendation of a review, numbered R1, R2, ... within its case."""

    __tablename__ = "recommendations"
    __table_args__ = (UniqueConstraint("case_id", "number", name="uq_recommendation_number"),)

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="cases.id", index=True)
    number: str
    text: str
    themes: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    agencies: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    created_by: str
    created_at: datetime = _time(nullable=False)


class ActionRow(SQLModel, table=True):
    """An action of a recommendation, numbered A1, A2, ... within its case."""

    __tablename__ = "actions"
    __table_args__ = (
        UniqueConstraint("case_id", "number", name="uq_action_number"),
        Index("ix_actions_next_check", "next_check_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="cases.id", index=True)
    recommendation_id: int = Field(foreign_key="recommendations.id", index=True)
    number: str
    description: str
    owner_agency: str = Field(index=True)
    owner: str | None = None
    due_date: date
    success_measure: str = ""
    status: str = "agreed"
    status_reason: str | None = None
    first_due_date: date | None = None
    redate_reason: str | None = None
    created_by: str
    created_at: datetime = _time(nullable=False)
    updated_at: datetime = _time(nullable=False)
    verified_by: str | None = None
    verified_at: datetime | None = _time_nullable()
    impact_method: str | None = None
    impact_measured_on: date | None = None
    impact_summary: str | None = None
    impact_by: str | None = None
    embedded_at: datetime | None = _time_nullable()
    next_check_at: datetime | None = _time_nullable()
    """When the sweep must next look at this action (a ladder level of an overdue action)."""
    measure_baseline: float | None = None
    measure_target: float | None = None
    measure_unit: str | None = None
    measure_lower_is_better: bool | None = None
    """The success measure in figures (engine/core/measures.py): all four set, or none."""


class EvidenceRow(SQLModel, table=True):
    """Evidence for an action: a description and a reference or link (never an uploaded file)."""

    __tablename__ = "evidence"
    __table_args__ = (UniqueConstraint("case_id", "number", name="uq_evidence_number"),)

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="cases.id", index=True)
    action_id: int = Field(foreign_key="actions.id", index=True)
    number: str
    kind: str
    description: str
    reference: str
    submitted_by: str
    submitted_at: datetime = _time(nullable=False)
    status: str = "submitted"
    decided_by: str | None = None
    decided_at: datetime | None = _time_nullable()
    reason: str | None = None


class DisseminationRow(SQLModel, table=True):
    """One dissemination of a review's learning: a briefing, training session, newsletter..."""

    __tablename__ = "dissemination"

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="cases.id", index=True)
    kind: str
    audience: str
    held_on: date
    reference: str | None = None
    recorded_by: str
    recorded_at: datetime = _time(nullable=False)
    reach: int | None = None
    """How many practitioners it reached (for a training session, how many attended)."""
    theme: str | None = None
    """The learning theme of a training session (`case training`)."""


class ScheduleRunRow(SQLModel, table=True):
    """A period of a recurring workflow whose case has been opened: at most one row per period."""

    __tablename__ = "schedule_runs"
    __table_args__ = (UniqueConstraint("workflow", "period", name="uq_schedule_period"),)

    id: int | None = Field(default=None, primary_key=True)
    workflow: str
    period: str
    """The period's start as YYYY-MM-DD (or YYYY-MM-DDTHH:MM for cron periods)."""
    case_ref: str
    scheduled_for: datetime = _time(nullable=False)
    opened_at: datetime = _time(nullable=False)
    late: bool = False


class AuthSessionRow(SQLModel, table=True):
    """A signed-in browser session; the cookie holds the token, the database only its hash."""

    __tablename__ = "auth_sessions"

    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(unique=True)
    user_id: int = Field(foreign_key="users.id", index=True)
    via: str = "password"
    address: str | None = None
    created_at: datetime = _time(nullable=False)
    last_seen_at: datetime = _time(nullable=False)
    expires_at: datetime = _time(nullable=False)
    ended_at: datetime | None = _time_nullable()


class ApiTokenRow(SQLModel, table=True):
    """A personal API token: shown once, stored hashed, with a scope and an expiry."""

    __tablename__ = "api_tokens"

    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(unique=True)
    prefix: str
    user_id: int = Field(foreign_key="users.id", index=True)
    name: str
    scope: str = "read"
    created_at: datetime = _time(nullable=False)
    expires_at: datetime = _time(nullable=False)
    revoked_at: datetime | None = _time_nullable()
    last_used_at: datetime | None = _time_nullable()


class LoginFailureRow(SQLModel, table=True):
    """A failed sign-in, by account name and address, for throttling."""

    __tablename__ = "login_failures"
    __table_args__ = (Index("ix_login_failures_account_at", "account", "at"),
                      Index("ix_login_failures_address_at", "address", "at"))

    id: int | None = Field(default=None, primary_key=True)
    account: str
    address: str
    at: datetime = _time(nullable=False)


class SetupCodeRow(SQLModel, table=True):
    """A one-time code to set a password (the first administrator's, or after a reset)."""

    __tablename__ = "setup_codes"

    id: int | None = Field(default=None, primary_key=True)
    code_hash: str = Field(unique=True)
    user_id: int = Field(foreign_key="users.id", index=True)
    created_at: datetime = _time(nullable=False)
    expires_at: datetime = _time(nullable=False)
    used_at: datetime | None = _time_nullable()


class AdminEventRow(SQLModel, table=True):
    """An administrator's change (users, roles, workflows, imports, exports, deliveries, the database),
    sealed in the audit chain like a case's history."""

    __tablename__ = "admin_events"
    __table_args__ = (Index("ix_admin_events_chain_seq", "chain_seq", unique=True),)

    id: int | None = Field(default=None, primary_key=True)
    seq: int = Field(unique=True)
    at: datetime = _time(nullable=False)
    actor: str
    action: str
    target: str
    details: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    chain_seq: int | None = None
    hash: str | None = None
    recorded_at: datetime | None = _time_nullable()
    """The server's own time when the event was written (never --now); NULL on events written before 0005."""


class CaseAgencyRow(SQLModel, table=True):
    """An agency taking part in a case: named in an agency field, a recommendation or as an action's owner.
    Who may see a case follows from these rows (docs/security.md)."""

    __tablename__ = "case_agencies"
    __table_args__ = (UniqueConstraint("case_id", "agency_key", name="uq_case_agency"),
                      Index("ix_case_agencies_key", "agency_key"))

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="cases.id", index=True)
    agency_key: str
    name: str


class AgencyRow(SQLModel, table=True):
    """An agency of the partnership's register: what people type is matched to `key`, and `name` is stored and
    shown (engine/core/agencies.py)."""

    __tablename__ = "agencies"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(unique=True)
    key: str = Field(unique=True)


class EvidenceFileRow(SQLModel, table=True):
    """A file attached to evidence. Its bytes are kept outside the database, in the evidence folder, under
    their SHA-256 (the same content is kept once however often it is attached)."""

    __tablename__ = "evidence_files"

    id: int | None = Field(default=None, primary_key=True)
    evidence_id: int = Field(foreign_key="evidence.id", index=True)
    case_id: int = Field(foreign_key="cases.id", index=True)
    name: str
    """The file name as uploaded, made safe (no path, no control characters)."""
    media_type: str
    """What the content was found to be (never what the name or the browser said)."""
    size: int
    sha256: str = Field(index=True)
    uploaded_by: str
    uploaded_at: datetime = _time(nullable=False)


class CalendarFeedRow(SQLModel, table=True):
    """A person's private calendar feed: the address holds a secret, the database only its hash."""

    __tablename__ = "calendar_feeds"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="users.id", unique=True)
    secret_hash: str = Field(unique=True)
    created_at: datetime = _time(nullable=False)


class DatabaseSettingRow(SQLModel, table=True):
    """A setting kept in the database itself, changed only by an administrator (each change sealed in the
    administration log): the time limits of engine/core/time_limits.py. A missing row holds the default."""

    __tablename__ = "database_settings"

    name: str = Field(primary_key=True)
    value: str


class CaseLinkRow(SQLModel, table=True):
    """One direction of a link between two cases (a link is two rows, one from each case)."""

    __tablename__ = "case_links"
    __table_args__ = (UniqueConstraint("case_id", "other_id", name="uq_case_link"),)

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="cases.id", index=True)
    other_id: int = Field(foreign_key="cases.id")
    kind: str
    """joint_review, related, routed_from (the other case was routed here) or routed_to."""
    reason: str
    linked_by: str
    linked_at: datetime = _time(nullable=False)


class SubgroupRow(SQLModel, table=True):
    """A sub-group of the partnership (the case review sub-group, the audit sub-group...): workflows and cases
    belong to one, and a role can be held for one only (stored as ROLE@SUBGROUP in `user_roles`)."""

    __tablename__ = "subgroups"

    name: str = Field(primary_key=True)
    title: str
    created_at: datetime = _time(nullable=False)


class AgencyReturnRow(SQLModel, table=True):
    """An agency's return on a case (engine/core/returns.py): requested, returned or excused with a reason; each
    change is also an event of the case's sealed history, from which `audit verify` rebuilds these rows."""

    __tablename__ = "agency_returns"
    __table_args__ = (UniqueConstraint("case_id", "agency_key", name="uq_agency_return"),
                      Index("ix_agency_returns_next_check", "next_check_at"))

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="cases.id", index=True)
    agency_key: str
    agency: str
    requested_on: date
    due_date: date
    status: str = "requested"
    returned_on: date | None = None
    reason: str | None = None
    requested_by: str
    updated_at: datetime = _time(nullable=False)
    next_check_at: datetime | None = _time_nullable()
    """When the sweep must next look at this return (a ladder level of a late return); NULL when nothing is due."""


class RiskRow(SQLModel, table=True):
    """A risk on a case's risk register (engine/core/risks.py): numbered R1, R2... on its case, open or closed
    with a reason; each change is also an event of the case's sealed history, checked by `audit verify`."""

    __tablename__ = "risks"
    __table_args__ = (UniqueConstraint("case_id", "number", name="uq_risk_number"),)

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="cases.id", index=True)
    number: str
    title: str
    owner: str
    owner_agency: str
    controls: str
    status: str = "open"
    closed_reason: str | None = None
    closed_on: date | None = None
    added_by: str
    updated_at: datetime = _time(nullable=False)


class RiskScoreRow(SQLModel, table=True):
    """One scoring of a risk, in order (`seq` 1 when it was added, then one per review)."""

    __tablename__ = "risk_scores"
    __table_args__ = (UniqueConstraint("risk_id", "seq", name="uq_risk_score_seq"),)

    id: int | None = Field(default=None, primary_key=True)
    risk_id: int = Field(foreign_key="risks.id", index=True)
    seq: int
    likelihood: int
    impact: int
    scored_on: date
    scored_by: str
    note: str | None = None
    scored_at: datetime = _time(nullable=False)


class LearningThemeRow(SQLModel, table=True):
    """A learning theme of the partnership's list (engine/core/themes.py): recommendations carry its key; a
    retired theme stays on them and in reports, and is refused for new ones."""

    __tablename__ = "learning_themes"

    key: str = Field(primary_key=True)
    label: str
    description: str = ""
    position: int = 0
    """Where it is listed: the shipped list's order, then themes added later."""
    retired_at: datetime | None = _time_nullable()


class MeasurementRow(SQLModel, table=True):
    """A measured value of an action's success measure (engine/core/measures.py); each one is also an event of the
    case's sealed history."""

    __tablename__ = "action_measurements"

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="cases.id", index=True)
    action_id: int = Field(foreign_key="actions.id", index=True)
    value: float
    measured_on: date
    note: str | None = None
    source: str = "measure"
    recorded_by: str
    recorded_at: datetime = _time(nullable=False)


class GradeRow(SQLModel, table=True):
    """A grade given on a case (engine/core/grading.py) to an agency, a standard and an agency, or a school; grading
    the same subject again sets `replaced_at` on the earlier row. Each is also an event of the case's sealed
    history, from which `audit verify` rebuilds the current grades."""

    __tablename__ = "grades"

    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="cases.id", index=True)
    subject_key: str
    agency: str | None = None
    standard: str | None = None
    school: str | None = None
    grade: str
    note: str | None = None
    graded_by: str
    graded_at: datetime = _time(nullable=False)
    replaced_at: datetime | None = _time_nullable()
