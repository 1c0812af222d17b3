"""Sub-groups: workflows, cases and roles held for one sub-group.

A sub-group is a row of `subgroups`; a case's sub-group is `cases.subgroup` (NULL: the whole partnership);
a role held for one sub-group only is a `user_roles` row whose role reads ROLE@SUBGROUP (so no key changes).

Revision ID: 0012
Revises: 0011
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "subgroups",
        sa.Column("name", sa.String(), primary_key=True),
        sa.Column("title", sa.String(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
    )
    with op.batch_alter_table("cases") as batch:
        batch.add_column(sa.Column("subgroup", sa.String(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("cases") as batch:
        batch.drop_column("subgroup")
    op.drop_table("subgroups")
