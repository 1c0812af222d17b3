"""The partnership's register of agencies.

The register starts with the usual partners of a children's safeguarding partnership and every distinct
agency already stored (actions' owning agencies, users' agencies, the agencies taking part in cases and those
named in recommendations), each under its normalised spelling; those stored uses are rewritten to the
register's spelling, so `Children’s social care` and `Children's social care` become one agency. History rows
are kept as written.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import json
import unicodedata
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

_SEED = ("Police", "Health", "Children's social care", "Education", "Early years", "Adult social care",
         "Public health", "Mental health services", "Ambulance service", "Probation service", "Youth justice service",
         "Housing", "Cafcass", "Voluntary and community sector")
"""The partners registered at this revision (engine/core/agencies.py SEED as it was then)."""

_AGENCIES = sa.table("agencies", sa.column("id", sa.Integer), sa.column("name", sa.String),
                     sa.column("key", sa.String))
_RECOMMENDATIONS = sa.table("recommendations", sa.column("id", sa.Integer), sa.column("agencies", sa.JSON))


def upgrade() -> None:
    op.create_table(
        "agencies",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("key", sa.String(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
        sa.UniqueConstraint("key"),
    )
    _register_stored(op.get_bind())


def _register_stored(bind: Any) -> None:
    from reviewflow.engine.core.agencies import agency_key, normalise

    def clean(name: str) -> str:
        return normalise("".join(c if unicodedata.category(c)[0] != "C" or c.isspace() else " " for c in name))

    register: dict[str, str] = {}
    for name in _SEED:
        register.setdefault(agency_key(name), name)
    actions = [n for (n,) in bind.execute(sa.text("SELECT DISTINCT owner_agency FROM actions")) if n]
    users = [n for (n,) in bind.execute(sa.text("SELECT DISTINCT agency FROM users WHERE agency IS NOT NULL")) if n]
    taking_part = list(bind.execute(sa.text("SELECT id, case_id, name FROM case_agencies ORDER BY id")))
    recommendations = [(i, json.loads(a) if isinstance(a, str) else a)
                       for i, a in bind.execute(sa.text("SELECT id, agencies FROM recommendations"))]
    named = [n for _, listed in recommendations for n in (listed or []) if isinstance(n, str)]
    for name in sorted({*actions, *users, *(r.name for r in taking_part), *named}):
        if clean(name):
            register.setdefault(agency_key(clean(name)), clean(name))
    bind.execute(sa.insert(_AGENCIES), [{"name": n, "key": k} for k, n in sorted(register.items())])

    def spelled(name: str) -> str:
        return register.get(agency_key(clean(name)), name)

    for table, column, names in (("actions", "owner_agency", actions), ("users", "agency", users)):
        for name in names:
            if spelled(name) != name:
                bind.execute(sa.text(f"UPDATE {table} SET {column} = :new WHERE {column} = :old"),  # noqa: S608
                             {"new": spelled(name), "old": name})
    _rewrite_case_agencies(bind, taking_part, spelled)
    _rewrite_recommendations(bind, recommendations, spelled)


def _rewrite_recommendations(bind: Any, recommendations: list[tuple[int, Any]], spelled: Any) -> None:
    for rec_id, listed in recommendations:
        if not listed:
            continue
        rewritten = list(dict.fromkeys(spelled(n) if isinstance(n, str) else n for n in listed))
        if rewritten != listed:
            bind.execute(sa.update(_RECOMMENDATIONS).where(_RECOMMENDATIONS.c.id == rec_id)
                         .values(agencies=rewritten))


def _rewrite_case_agencies(bind: Any, rows: list[Any], spelled: Any) -> None:
    """Each case's taking-part rows under the register's spelling and key; two that became one are merged."""
    from reviewflow.engine.core.agencies import agency_key

    kept: dict[tuple[int, str], int] = {}
    changed: list[dict[str, Any]] = []
    for row in rows:
        name = spelled(row.name)
        key = agency_key(name)
        if (row.case_id, key) in kept:
            bind.execute(sa.text("DELETE FROM case_agencies WHERE id = :id"), {"id": row.id})
            continue
        kept[(row.case_id, key)] = row.id
        changed.append({"id": row.id, "name": name, "key": key})
    if not changed:
        return
    update = sa.text("UPDATE case_agencies SET agency_key = :key, name = :name WHERE id = :id")
    bind.execute(update, [{**c, "key": f"#{c['id']}"} for c in changed])  # out of each other's way first
    bind.execute(update, changed)


def downgrade() -> None:
    op.drop_table("agencies")
