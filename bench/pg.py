"""A private PostgreSQL schema for one bench run: created at the start, dropped at the end."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


def conninfo(url: str) -> str:
    """The libpq form of a SQLAlchemy psycopg URL."""
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


def problem(url: str) -> str | None:
    """None when the server answers, else why not."""
    import psycopg

    try:
        with psycopg.connect(conninfo(url), connect_timeout=3) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as exc:
        return f"PostgreSQL not reachable at {url}: {str(exc).strip().splitlines()[0]}"
    return None


def server_version(url: str) -> str:
    import psycopg

    with psycopg.connect(conninfo(url), connect_timeout=3) as conn:
        row: Any = conn.execute("SHOW server_version").fetchone()
        return str(row[0])


@contextmanager
def schema(url: str, name: str) -> Iterator[str]:
    """A URL whose search_path is a new, empty schema; the schema is dropped afterwards."""
    import psycopg

    schema_name = f"rf_bench_{os.getpid()}_{name}".replace("-", "_")
    with psycopg.connect(conninfo(url), autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA IF EXISTS {schema_name} CASCADE")
        conn.execute(f"CREATE SCHEMA {schema_name}")
    joiner = "&" if "?" in url else "?"
    try:
        yield f"{url}{joiner}options=-csearch_path%3D{schema_name}"
    finally:
        with psycopg.connect(conninfo(url), autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA IF EXISTS {schema_name} CASCADE")
