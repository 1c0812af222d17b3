"""The database schema's version: Alembic migrations, run on reviewflow's own connection."""

from __future__ import annotations

from typing import Any

from sqlalchemy import inspect
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError
from sqlmodel import SQLModel

from reviewflow.engine.core.errors import StoreError
from reviewflow.store import themes, time_settings

FIRST = "0001"
HEAD = "0017"
"""The newest migration in store/upgrades (a test keeps the two equal): checking a database against
it needs no Alembic import, which every command would otherwise pay for at start-up."""


def _config(connection: Connection) -> Any:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", "reviewflow.store:upgrades")
    config.attributes["connection"] = connection
    return config


def head() -> str:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(_config(None)).get_current_head()  # type: ignore[arg-type,return-value]


def current(connection: Connection) -> str | None:
    from alembic.migration import MigrationContext

    return MigrationContext.configure(connection).get_current_revision()


def _untracked_revision(tables: set[str]) -> str:
    """The revision of a database made before migrations were tracked in it."""
    if "audit_head" in tables:
        return "0002"  # migrations were tracked in the database from 0002 on
    if "recommendations" in tables:
        raise StoreError("the database has tables of an unreleased development version: export what you need "
                         "and start a new database with 'reviewflow init'")
    return FIRST


def upgrade(engine: Engine) -> tuple[str | None, str]:
    """Bring the schema to the newest revision; returns (revision before, revision after).

    An empty database gets every table at once and is stamped with the newest revision.
    """
    from alembic import command

    with engine.connect() as connection:
        sqlite = connection.dialect.name == "sqlite"
        if sqlite:  # SQLite rebuilds a changed table; its foreign keys are checked again once it is done
            _pragma(connection, "PRAGMA foreign_keys=OFF")
        try:
            with connection.begin():
                result = _upgrade(connection, command)
                if sqlite and connection.exec_driver_sql("PRAGMA foreign_key_check").first() is not None:
                    raise StoreError("the upgrade would break a reference between tables; nothing was changed: "
                                     "restore your backup and report this")
        finally:
            if sqlite:
                _pragma(connection, "PRAGMA foreign_keys=ON")
        return result


def _pragma(connection: Connection, statement: str) -> None:
    """A PRAGMA run outside any transaction (inside one, `foreign_keys` is ignored)."""
    connection.connection.driver_connection.execute(statement)  # type: ignore[union-attr]


def _upgrade(connection: Connection, command: Any) -> tuple[str | None, str]:
    config = _config(connection)
    before = current(connection)
    tables = set(inspect(connection).get_table_names())
    if before is None and "cases" not in tables:
        SQLModel.metadata.create_all(connection)
        time_settings.new_database(connection)
        themes.seed(connection)  # the shipped learning themes (an upgraded database gets them from 0017)
        command.stamp(config, "head")
        return None, HEAD
    if before == HEAD:  # nothing to do: Alembic need not read its scripts
        return before, HEAD
    if before is None:
        before = _untracked_revision(tables)
        command.stamp(config, before)
    command.upgrade(config, "head")
    return before, HEAD


UNINITIALISED = "uninitialised"
"""`readiness` of a database without reviewflow's tables."""


def readiness(engine: Engine) -> str | None:
    """None when the database has this reviewflow's schema; UNINITIALISED when it has no tables; else the older
    revision it has. A database at the newest revision (every command's first check) takes one query."""
    try:
        with engine.connect() as connection:
            if connection.exec_driver_sql("SELECT version_num FROM alembic_version").scalar() == HEAD:
                return None
    except DBAPIError:  # no such table (a new database, or one older than tracking), or unreachable: see below
        pass
    with engine.connect() as connection:
        if not inspect(connection).has_table("cases"):
            return UNINITIALISED
    return behind(engine)


def behind(engine: Engine) -> str | None:
    """The database's revision when it is older than this reviewflow's, else None."""
    with engine.connect() as connection:
        tables = set(inspect(connection).get_table_names())
        if "alembic_version" in tables:
            revision = connection.exec_driver_sql("SELECT version_num FROM alembic_version").scalar()
        else:
            revision = _untracked_revision(tables) if "cases" in tables else None
    return revision if revision is not None and revision != HEAD else None
