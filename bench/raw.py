"""Raw DB-API connections (sqlite3, psycopg) for the baselines: the same writes, no engine around them."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from sqlalchemy.engine import make_url

from bench.pg import conninfo


class Raw:
    """One connection; `tx()` is one transaction (BEGIN IMMEDIATE on SQLite, like the store)."""

    def __init__(self, url: str) -> None:
        parsed = make_url(url)
        self.is_sqlite = parsed.get_backend_name() == "sqlite"
        if self.is_sqlite:
            self.conn: Any = sqlite3.connect(parsed.database or "", isolation_level=None, timeout=5)
            for pragma in ("journal_mode=WAL", "synchronous=FULL", "foreign_keys=ON", "busy_timeout=5000"):
                self.conn.execute(f"PRAGMA {pragma}")
        else:
            import psycopg

            self.conn = psycopg.connect(conninfo(url), autocommit=True)  # tx() opens each transaction

    def sql(self, statement: str) -> str:
        return statement if self.is_sqlite else statement.replace("?", "%s")

    def value(self, v: Any) -> Any:
        """A value read back from the database, ready to be written again."""
        if not self.is_sqlite and isinstance(v, dict | list):
            from psycopg.types.json import Json

            return Json(v)
        return v

    @contextmanager
    def tx(self) -> Iterator[Raw]:
        if self.is_sqlite:
            self.conn.execute("BEGIN IMMEDIATE")
            try:
                yield self
            except BaseException:
                self.conn.execute("ROLLBACK")
                raise
            self.conn.execute("COMMIT")
        else:
            with self.conn.transaction():
                yield self

    def execute(self, statement: str, params: Sequence[Any] = ()) -> Any:
        return self.conn.execute(self.sql(statement), [self.value(p) for p in params])

    def one(self, statement: str, params: Sequence[Any] = ()) -> Any:
        return self.execute(statement, params).fetchone()

    def rows(self, statement: str, params: Sequence[Any] = ()) -> list[Any]:
        return list(self.execute(statement, params).fetchall())

    def columns(self, statement: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        cur = self.execute(statement, params)
        names = [d[0] for d in cur.description]
        return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]

    def close(self) -> None:
        self.conn.close()
