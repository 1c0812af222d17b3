"""Accounts and sign-in: the administrator capability, disabled users, password hashes, operating-system
and single sign-on mappings, sessions, API tokens, throttling of failed sign-ins, one-time set-up codes,
and the sealed log of administrators' changes.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import json

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("is_admin", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch.add_column(sa.Column("disabled_at", sa.DateTime(), nullable=True))
        batch.add_column(sa.Column("password_hash", sa.String(), nullable=True))
        batch.add_column(sa.Column("os_account", sa.String(), nullable=True))
        batch.add_column(sa.Column("sso_subject", sa.String(), nullable=True))
        batch.create_unique_constraint("uq_users_os_account", ["os_account"])
        batch.create_unique_constraint("uq_users_sso_subject", ["sso_subject"])
    op.create_table(
        "auth_sessions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("via", sa.String(), nullable=False),
        sa.Column("address", sa.String(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.Column("ended_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("token_hash"),
    )
    op.create_index("ix_auth_sessions_user_id", "auth_sessions", ["user_id"])
    op.create_table(
        "api_tokens",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(), nullable=False),
        sa.Column("prefix", sa.String(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("scope", sa.String(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.Column("revoked_at", sa.DateTime(), nullable=True),
        sa.Column("last_used_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("token_hash"),
    )
    op.create_index("ix_api_tokens_user_id", "api_tokens", ["user_id"])
    op.create_table(
        "login_failures",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account", sa.String(), nullable=False),
        sa.Column("address", sa.String(), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_login_failures_account_at", "login_failures", ["account", "at"])
    op.create_index("ix_login_failures_address_at", "login_failures", ["address", "at"])
    op.create_table(
        "setup_codes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code_hash", sa.String(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.Column("used_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("code_hash"),
    )
    op.create_index("ix_setup_codes_user_id", "setup_codes", ["user_id"])
    op.create_table(
        "admin_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("actor", sa.String(), nullable=False),
        sa.Column("action", sa.String(), nullable=False),
        sa.Column("target", sa.String(), nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("chain_seq", sa.Integer(), nullable=True),
        sa.Column("hash", sa.String(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("seq"),
    )
    op.create_index("ix_admin_events_chain_seq", "admin_events", ["chain_seq"], unique=True)
    op.create_table(
        "case_agencies",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("agency_key", sa.String(), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("case_id", "agency_key", name="uq_case_agency"),
    )
    op.create_index("ix_case_agencies_case_id", "case_agencies", ["case_id"])
    op.create_index("ix_case_agencies_key", "case_agencies", ["agency_key"])
    _fill_case_agencies()


def _fill_case_agencies() -> None:
    """The agencies already taking part in existing cases: owning an action or named in a recommendation.
    (Agencies named in a case's fields are added when the service next writes the case.)"""
    from reviewflow.engine.core.access import agency_key

    bind = op.get_bind()
    found: dict[tuple[int, str], str] = {}
    for case_id, name in bind.execute(sa.text("SELECT case_id, owner_agency FROM actions")):
        found.setdefault((case_id, agency_key(name)), name.strip())
    for case_id, agencies in bind.execute(sa.text("SELECT case_id, agencies FROM recommendations")):
        for name in (json.loads(agencies) if isinstance(agencies, str) else agencies) or []:
            found.setdefault((case_id, agency_key(name)), name.strip())
    rows = [{"case_id": c, "agency_key": k, "name": n} for (c, k), n in sorted(found.items()) if k]
    if rows:
        bind.execute(sa.text("INSERT INTO case_agencies (case_id, agency_key, name) "
                             "VALUES (:case_id, :agency_key, :name)"), rows)


def downgrade() -> None:
    for index, table in (("ix_case_agencies_key", "case_agencies"), ("ix_case_agencies_case_id", "case_agencies"),
                         ("ix_admin_events_chain_seq", "admin_events"), ("ix_setup_codes_user_id", "setup_codes"),
                         ("ix_login_failures_address_at", "login_failures"),
                         ("ix_login_failures_account_at", "login_failures"), ("ix_api_tokens_user_id", "api_tokens"),
                         ("ix_auth_sessions_user_id", "auth_sessions")):
        op.drop_index(index, table_name=table)
    for table in ("case_agencies", "admin_events", "setup_codes", "login_failures", "api_tokens", "auth_sessions"):
        op.drop_table(table)
    with op.batch_alter_table("users") as batch:
        batch.drop_constraint("uq_users_sso_subject", type_="unique")
        batch.drop_constraint("uq_users_os_account", type_="unique")
        for column in ("sso_subject", "os_account", "password_hash", "disabled_at", "is_admin"):
            batch.drop_column(column)
