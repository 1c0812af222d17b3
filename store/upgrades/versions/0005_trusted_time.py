"""Trusted time: the server's recorded-at time on history and ledger rows, and the database settings that bound --now.

The `recorded_at` columns are nullable: rows written before this revision keep NULL (and their seals, which
leave an absent time out). The `database_settings` table starts with the time limits' defaults (5 minutes
ahead, 30 days back: engine/core/time_limits.py), which an administrator changes with 'reviewflow settings set'.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_TABLES = ("case_history", "escalations", "admin_events")
DEFAULTS = (("future-tolerance", "5m"), ("backdate-window", "30d"))
"""The defaults as this revision wrote them (kept here: a later change of the defaults does not change them)."""


def upgrade() -> None:
    for table in _TABLES:
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("recorded_at", sa.DateTime(), nullable=True))
    settings = op.create_table(
        "database_settings",
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("value", sa.String(), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    op.bulk_insert(settings, [{"name": name, "value": value} for name, value in DEFAULTS])


def downgrade() -> None:
    op.drop_table("database_settings")
    for table in reversed(_TABLES):
        with op.batch_alter_table(table) as batch:
            batch.drop_column("recorded_at")
