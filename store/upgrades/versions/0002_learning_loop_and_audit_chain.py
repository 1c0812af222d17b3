"""The learning loop (recommendations, actions, evidence, dissemination), recurring reviews, users' agencies,
and the audit chain: rows already written are sealed in the order they were written.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

from datetime import UTC
from types import SimpleNamespace
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('audit_head',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('hash', sa.String(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_table('schedule_runs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('workflow', sa.String(), nullable=False),
    sa.Column('period', sa.String(), nullable=False),
    sa.Column('case_ref', sa.String(), nullable=False),
    sa.Column('scheduled_for', sa.DateTime(), nullable=False),
    sa.Column('opened_at', sa.DateTime(), nullable=False),
    sa.Column('late', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('workflow', 'period', name='uq_schedule_period')
    )
    op.create_table('dissemination',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(), nullable=False),
    sa.Column('audience', sa.String(), nullable=False),
    sa.Column('held_on', sa.Date(), nullable=False),
    sa.Column('reference', sa.String(), nullable=True),
    sa.Column('recorded_by', sa.String(), nullable=False),
    sa.Column('recorded_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_dissemination_case_id'), 'dissemination', ['case_id'], unique=False)
    op.create_table('recommendations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('number', sa.String(), nullable=False),
    sa.Column('text', sa.String(), nullable=False),
    sa.Column('themes', sa.JSON(), nullable=False),
    sa.Column('agencies', sa.JSON(), nullable=False),
    sa.Column('created_by', sa.String(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('case_id', 'number', name='uq_recommendation_number')
    )
    op.create_index(op.f('ix_recommendations_case_id'), 'recommendations', ['case_id'], unique=False)
    op.create_table('actions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('recommendation_id', sa.Integer(), nullable=False),
    sa.Column('number', sa.String(), nullable=False),
    sa.Column('description', sa.String(), nullable=False),
    sa.Column('owner_agency', sa.String(), nullable=False),
    sa.Column('owner', sa.String(), nullable=True),
    sa.Column('due_date', sa.Date(), nullable=False),
    sa.Column('success_measure', sa.String(), nullable=False),
    sa.Column('status', sa.String(), nullable=False),
    sa.Column('status_reason', sa.String(), nullable=True),
    sa.Column('created_by', sa.String(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.Column('verified_by', sa.String(), nullable=True),
    sa.Column('verified_at', sa.DateTime(), nullable=True),
    sa.Column('impact_method', sa.String(), nullable=True),
    sa.Column('impact_measured_on', sa.Date(), nullable=True),
    sa.Column('impact_summary', sa.String(), nullable=True),
    sa.Column('impact_by', sa.String(), nullable=True),
    sa.Column('embedded_at', sa.DateTime(), nullable=True),
    sa.Column('next_check_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], ),
    sa.ForeignKeyConstraint(['recommendation_id'], ['recommendations.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('case_id', 'number', name='uq_action_number')
    )
    op.create_index(op.f('ix_actions_case_id'), 'actions', ['case_id'], unique=False)
    op.create_index('ix_actions_next_check', 'actions', ['next_check_at'], unique=False)
    op.create_index(op.f('ix_actions_owner_agency'), 'actions', ['owner_agency'], unique=False)
    op.create_index(op.f('ix_actions_recommendation_id'), 'actions', ['recommendation_id'], unique=False)
    op.create_table('evidence',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('action_id', sa.Integer(), nullable=False),
    sa.Column('number', sa.String(), nullable=False),
    sa.Column('kind', sa.String(), nullable=False),
    sa.Column('description', sa.String(), nullable=False),
    sa.Column('reference', sa.String(), nullable=False),
    sa.Column('submitted_by', sa.String(), nullable=False),
    sa.Column('submitted_at', sa.DateTime(), nullable=False),
    sa.Column('status', sa.String(), nullable=False),
    sa.Column('decided_by', sa.String(), nullable=True),
    sa.Column('decided_at', sa.DateTime(), nullable=True),
    sa.Column('reason', sa.String(), nullable=True),
    sa.ForeignKeyConstraint(['action_id'], ['actions.id'], ),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('case_id', 'number', name='uq_evidence_number')
    )
    op.create_index(op.f('ix_evidence_action_id'), 'evidence', ['action_id'], unique=False)
    op.create_index(op.f('ix_evidence_case_id'), 'evidence', ['case_id'], unique=False)
    op.add_column('case_history', sa.Column('chain_seq', sa.Integer(), nullable=True))
    op.add_column('case_history', sa.Column('hash', sa.String(), nullable=True))
    op.create_index('ix_case_history_chain_seq', 'case_history', ['chain_seq'], unique=True)
    op.add_column('escalations', sa.Column('chain_seq', sa.Integer(), nullable=True))
    op.add_column('escalations', sa.Column('hash', sa.String(), nullable=True))
    op.create_index('ix_escalations_chain_seq', 'escalations', ['chain_seq'], unique=True)
    op.add_column('users', sa.Column('agency', sa.String(), nullable=True))
    _seal_existing_rows()


def _aware(value: Any) -> Any:
    return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value


def _seal_existing_rows() -> None:
    """Seal history, then ledger rows, each in id order, exactly as new rows are sealed."""
    from reviewflow.store.chain import HISTORY, LEDGER, fold, genesis, seal

    bind = op.get_bind()
    meta = sa.MetaData()
    history = sa.Table("case_history", meta, autoload_with=bind)
    ledger = sa.Table("escalations", meta, autoload_with=bind)
    head_table = sa.Table("audit_head", meta, autoload_with=bind)
    position, head = 0, ""
    for kind, table, times in ((HISTORY, history, ("at",)), (LEDGER, ledger, ("due_at", "fired_at", "scheduled_at"))):
        tips: dict[int, str] = {}
        for row in bind.execute(sa.select(table).order_by(table.c.id)).mappings().all():
            position += 1
            values = dict(row)
            values.update({t: _aware(values[t]) for t in times}, chain_seq=position)
            previous = tips.get(row["case_id"], genesis(kind, row["case_id"]))
            row_seal = seal(previous, kind, SimpleNamespace(**values))
            tips[row["case_id"]] = row_seal
            head = fold(head, row_seal)
            bind.execute(table.update().where(table.c.id == row["id"]).values(chain_seq=position, hash=row_seal))
    bind.execute(head_table.insert().values(id=1, seq=position, hash=head))


def downgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.drop_column("agency")
    for table in ("case_history", "escalations"):
        op.drop_index(f"ix_{table}_chain_seq", table_name=table)
        with op.batch_alter_table(table) as batch:
            batch.drop_column("hash")
            batch.drop_column("chain_seq")
    for table in ("evidence", "actions", "recommendations", "dissemination", "schedule_runs", "audit_head"):
        op.drop_table(table)
