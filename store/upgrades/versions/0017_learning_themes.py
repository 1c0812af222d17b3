"""The partnership's list of learning themes, filled from the shipped list (workflows/themes/).

Revision ID: 0017
Revises: 0016
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    from reviewflow.store.themes import seed

    op.create_table(
        "learning_themes",
        sa.Column("key", sa.String(), primary_key=True),
        sa.Column("label", sa.String(), nullable=False),
        sa.Column("description", sa.String(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("retired_at", sa.DateTime(), nullable=True),
    )
    seed(op.get_bind())


def downgrade() -> None:
    op.drop_table("learning_themes")
