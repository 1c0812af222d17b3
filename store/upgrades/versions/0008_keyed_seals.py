"""Keyed seals: the audit chain's sealing scheme, the count of queued notifications and the head's own seal.

An existing database keeps its unkeyed SHA-256 seals (scheme `sha256`) until `reviewflow audit rekey` reseals
them with the audit key; a new database seals with HMAC-SHA256 from its first row.

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("audit_head") as batch:
        batch.add_column(sa.Column("scheme", sa.String(), nullable=False, server_default="sha256"))
        batch.add_column(sa.Column("queued", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("mac", sa.String(), nullable=True))
    op.execute("UPDATE audit_head SET queued = (SELECT count(*) FROM outbox)")


def downgrade() -> None:
    with op.batch_alter_table("audit_head") as batch:
        batch.drop_column("mac")
        batch.drop_column("queued")
        batch.drop_column("scheme")
