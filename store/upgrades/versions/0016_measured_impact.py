"""Measured impact: an action's baseline, target and measured values; dissemination reach; training attendance.

Revision ID: 0016
Revises: 0015
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("actions") as batch:
        batch.add_column(sa.Column("measure_baseline", sa.Float(), nullable=True))
        batch.add_column(sa.Column("measure_target", sa.Float(), nullable=True))
        batch.add_column(sa.Column("measure_unit", sa.String(), nullable=True))
        batch.add_column(sa.Column("measure_lower_is_better", sa.Boolean(), nullable=True))
    with op.batch_alter_table("dissemination") as batch:
        batch.add_column(sa.Column("reach", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("theme", sa.String(), nullable=True))
    op.create_table(
        "action_measurements",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("action_id", sa.Integer(), nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
        sa.Column("measured_on", sa.Date(), nullable=False),
        sa.Column("note", sa.String(), nullable=True),
        sa.Column("source", sa.String(), nullable=False),
        sa.Column("recorded_by", sa.String(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["action_id"], ["actions.id"]),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_action_measurements_case_id", "action_measurements", ["case_id"])
    op.create_index("ix_action_measurements_action_id", "action_measurements", ["action_id"])


def downgrade() -> None:
    op.drop_index("ix_action_measurements_action_id", table_name="action_measurements")
    op.drop_index("ix_action_measurements_case_id", table_name="action_measurements")
    op.drop_table("action_measurements")
    with op.batch_alter_table("dissemination") as batch:
        batch.drop_column("theme")
        batch.drop_column("reach")
    with op.batch_alter_table("actions") as batch:
        batch.drop_column("measure_lower_is_better")
        batch.drop_column("measure_unit")
        batch.drop_column("measure_target")
        batch.drop_column("measure_baseline")
