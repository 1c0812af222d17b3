"""Re-dated actions: an action keeps its first due date and the reason it was re-dated.

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("actions") as batch:
        batch.add_column(sa.Column("first_due_date", sa.Date(), nullable=True))
        batch.add_column(sa.Column("redate_reason", sa.String(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("actions") as batch:
        batch.drop_column("redate_reason")
        batch.drop_column("first_due_date")
