"""Every engine in a process shares one cache of compiled SQL, and each still reads its own database."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite

from reviewflow.store.compiled import COMPILED, SharedCompiledCache
from reviewflow.store.db import Database
from reviewflow.store.models import AgencyRow

from tests.databases import pg_url_or_skip


def _two_urls(backend: str, tmp_path: Path) -> tuple[str, str]:
    if backend == "sqlite":
        return f"sqlite:///{tmp_path / 'one.db'}", f"sqlite:///{tmp_path / 'two.db'}"
    return pg_url_or_skip(), pg_url_or_skip()


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_a_second_database_reuses_the_compiled_statement_and_reads_its_own_rows(backend: str,
                                                                                 tmp_path: Path) -> None:
    names: list[list[str]] = []
    compiled: list[int] = []
    query = select(AgencyRow.name).where(AgencyRow.key != "none of them").order_by(AgencyRow.name)
    for url, agency in zip(_two_urls(backend, tmp_path), ("Police", "Health"), strict=True):
        db = Database(url)
        try:
            db.create_schema()
            with db.transaction() as s:
                s.add(AgencyRow(name=agency, key=agency.lower()))
            before = len(COMPILED)
            with db.transaction(write=False) as s:
                names.append(list(s.scalars(query)))
            compiled.append(len(COMPILED) - before)
        finally:
            db.engine.dispose()
    assert names == [["Police"], ["Health"]]
    assert compiled == [1, 0]  # the query was compiled for the first database only


def test_dialects_that_write_sql_differently_do_not_share() -> None:
    cache = SharedCompiledCache(10)
    lite, pg, other_lite = sqlite.dialect(), postgresql.dialect(), sqlite.dialect()
    cache[(lite, "statement", (), False, False)] = "sqlite sql"
    cache[(pg, "statement", (), False, False)] = "postgresql sql"
    cache["a key of another shape"] = "kept as it is"
    assert cache.get((other_lite, "statement", (), False, False)) == "sqlite sql"
    assert cache[(pg, "statement", (), False, False)] == "postgresql sql"
    assert cache.get((pg, "another statement", (), False, False)) is None
    assert cache["a key of another shape"] == "kept as it is"
    other_lite.paramstyle = "named"  # a setting that changes the SQL's text
    assert cache.get((other_lite, "statement", (), False, False)) is None
    assert len(cache) == 3
