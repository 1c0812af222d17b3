"""Alembic migrations of the reviewflow database (run with `reviewflow db upgrade`)."""
