"""Grades recorded against a workflow's grading scale, per case, agency, standard or school.

Revision ID: 0015
Revises: 0014
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "grades",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("subject_key", sa.String(), nullable=False),
        sa.Column("agency", sa.String(), nullable=True),
        sa.Column("standard", sa.String(), nullable=True),
        sa.Column("school", sa.String(), nullable=True),
        sa.Column("grade", sa.String(), nullable=False),
        sa.Column("note", sa.String(), nullable=True),
        sa.Column("graded_by", sa.String(), nullable=False),
        sa.Column("graded_at", sa.DateTime(), nullable=False),
        sa.Column("replaced_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_grades_case_id", "grades", ["case_id"])


def downgrade() -> None:
    op.drop_index("ix_grades_case_id", table_name="grades")
    op.drop_table("grades")
