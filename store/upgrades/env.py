"""Alembic environment: reviewflow passes its own connection (see store/schema.py)."""

from __future__ import annotations

from alembic import context
from sqlmodel import SQLModel

from reviewflow.store import models  # noqa: F401  (registers the tables)

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=SQLModel.metadata, render_as_batch=True,
                  compare_type=True)
with context.begin_transaction():
    context.run_migrations()
