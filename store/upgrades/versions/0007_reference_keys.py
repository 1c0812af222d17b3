"""A case reference's key: references unique regardless of case and trailing punctuation.

Every case gets `ref_key`, its reference folded (engine/core/references.py), under a unique index. When
two cases already in the database fold to the same key the upgrade stops, changing nothing, and names
them: rename one (export, edit, import) and upgrade again.

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

from collections import defaultdict

import sqlalchemy as sa
from alembic import op

from reviewflow.engine.core.errors import StoreError
from reviewflow.engine.core.references import ref_key

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

_CASES = sa.table("cases", sa.column("id", sa.Integer()), sa.column("ref", sa.String()),
                  sa.column("ref_key", sa.String()))


def _keys(connection: sa.engine.Connection) -> dict[int, str]:
    """Each case's key; StoreError naming the cases whose references fold to the same key."""
    keys: dict[int, str] = {}
    refs: dict[str, list[str]] = defaultdict(list)
    for case_id, ref in connection.execute(sa.select(_CASES.c.id, _CASES.c.ref).order_by(_CASES.c.id)):
        keys[case_id] = ref_key(ref)
        refs[keys[case_id]].append(ref)
    clashes = [found for found in refs.values() if len(found) > 1]
    if clashes:
        listed = "; ".join(" and ".join(repr(r) for r in found) for found in clashes)
        raise StoreError(f"these case references differ only in letter case or trailing punctuation, so they would "
                         f"name the same case: {listed}; nothing was changed: rename all but one of each "
                         "(export with 'reviewflow export', edit, import) and run 'reviewflow db upgrade' again",
                         clashes=clashes)
    return keys


def upgrade() -> None:
    connection = op.get_bind()
    keys = _keys(connection)
    with op.batch_alter_table("cases") as batch:
        batch.add_column(sa.Column("ref_key", sa.String(), nullable=True))
    for case_id, key in keys.items():
        connection.execute(sa.update(_CASES).where(_CASES.c.id == case_id).values(ref_key=key))
    with op.batch_alter_table("cases") as batch:
        batch.alter_column("ref_key", existing_type=sa.String(), nullable=False)
        batch.create_index("ix_cases_ref_key", ["ref_key"], unique=True)


def downgrade() -> None:
    with op.batch_alter_table("cases") as batch:
        batch.drop_index("ix_cases_ref_key")
        batch.drop_column("ref_key")
