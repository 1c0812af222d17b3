"""Linked cases and pause reasons with an expected end date.

Revision ID: 0013
Revises: 0012
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "case_links",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("other_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("reason", sa.String(), nullable=False),
        sa.Column("linked_by", sa.String(), nullable=False),
        sa.Column("linked_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"]),
        sa.ForeignKeyConstraint(["other_id"], ["cases.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("case_id", "other_id", name="uq_case_link"),
    )
    op.create_index("ix_case_links_case_id", "case_links", ["case_id"])
    with op.batch_alter_table("cases") as batch:
        batch.add_column(sa.Column("pause_until", sa.Date(), nullable=True))
        batch.add_column(sa.Column("pause_note", sa.String(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("cases") as batch:
        batch.drop_column("pause_note")
        batch.drop_column("pause_until")
    op.drop_index("ix_case_links_case_id", table_name="case_links")
    op.drop_table("case_links")
