"""Milestones across stages and recurring progress checks.

No table changes: a milestone's and a progress check's notices are escalation ledger rows (entry 0 of their
case, keyed `milestone-<name>-...` and `check-<name>-<n>`), and a check's outcome is a `progress_check` row
of the case's history; both are sealed into the audit chain as they are written.

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
