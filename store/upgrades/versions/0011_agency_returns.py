"""Agencies taking part in a case: requests, returns and excuses.

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "agency_returns",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("agency_key", sa.String(), nullable=False),
        sa.Column("agency", sa.String(), nullable=False),
        sa.Column("requested_on", sa.Date(), nullable=False),
        sa.Column("due_date", sa.Date(), nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("returned_on", sa.Date(), nullable=True),
        sa.Column("reason", sa.String(), nullable=True),
        sa.Column("requested_by", sa.String(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("next_check_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("case_id", "agency_key", name="uq_agency_return"),
    )
    op.create_index("ix_agency_returns_case_id", "agency_returns", ["case_id"])
    op.create_index("ix_agency_returns_next_check", "agency_returns", ["next_check_at"])


def downgrade() -> None:
    op.drop_index("ix_agency_returns_next_check", table_name="agency_returns")
    op.drop_index("ix_agency_returns_case_id", table_name="agency_returns")
    op.drop_table("agency_returns")
