"""Schema migrations: a first-release database, filled, upgraded to the newest schema, loses nothing."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from click.testing import CliRunner
from sqlalchemy import text
from sqlmodel import SQLModel

from reviewflow.cli import cli
from reviewflow.engine.core.clock import SteppingClock
from reviewflow.engine.services.escalation import Sweeper
from reviewflow.engine.services.facade import Reviewflow
from reviewflow.store import schema
from reviewflow.store.db import Database
from reviewflow.workflows import shipped_files

from tests.conftest import ADMIN

MINIMAL = (Path(__file__).parent / "fixtures" / "minimal.yaml").read_text("utf-8")
T0 = datetime(2026, 1, 5, 9, 0)


def _to(db: Database, revision: str) -> None:
    with db.engine.begin() as conn:
        command.upgrade(schema._config(conn), revision)


def _fill_first_release(db: Database) -> None:
    """Rows as the first release wrote them: a definition, two users, two cases with history,
    a ledger row and notifications."""
    rows = [
        ("insert into workflow_definitions (name, version, title, content_hash, source, source_name, loaded_at) "
         "values ('minimal', 1, 'Minimal review', 'x', :source, 'minimal.yaml', :t)", {"source": MINIMAL}),
        ("insert into users (name, email, created_at) values ('a.khan', 'a.khan@example.org', :t)", {}),
        ("insert into users (name, email, created_at) values ('d.osei', null, :t)", {}),
        ("insert into user_roles (user_id, role) values (1, 'business_manager')", {}),
        ("insert into user_roles (user_id, role) values (2, 'subgroup_chair')", {}),
    ]
    for n in (1, 2):
        rows += [
            ("insert into cases (ref, workflow, version, state, is_open, fields, fields_schema, opened_by, opened_at, "
             "entered_at, due_at, revision, entry_seq, next_check_at) values "
             f"('MIN-{n}', 'minimal', 1, 'referral', :true, :fields, 1, 'a.khan', :t, :t, :due, 1, 1, :due)",
             {"fields": json.dumps({"notifying_agency": "Police"}), "due": datetime(2026, 1, 13)}),
            ("insert into case_history (case_id, seq, at, actor, trigger, from_state, to_state, fields, "
             f"fields_schema, note) values ({n}, 1, :t, 'a.khan', 'open', null, 'referral', :fields, 1, 'opened')",
             {"fields": json.dumps({"notifying_agency": "Police"})}),
        ]
    rows += [
        ("insert into escalations (case_id, entry_seq, key, level, label, state, due_at, fired_at, scheduled_at, "
         "roles, recipients, reason) values (1, 1, 'level-1', 1, 'Owner', 'referral', :due, :late, :due, "
         "'[\"business_manager\"]', '[\"a.khan\"]', 'Referral overdue by 1 working day')",
         {"due": datetime(2026, 1, 13), "late": datetime(2026, 1, 14)}),
        ("insert into outbox (key, case_id, event, role, channel, recipient, address, payload, status, attempts, "
         "created_at, next_attempt_at) values ('MIN-1:1:level-1:business_manager:a.khan:email', 1, 'escalation', "
         "'business_manager', 'email', 'a.khan', 'a.khan@example.org', '{\"ref\": \"MIN-1\"}', 'pending', 0, "
         ":late, :late)", {"late": datetime(2026, 1, 14)}),
    ]
    with db.engine.begin() as conn:
        for statement, params in rows:
            conn.execute(text(statement), {"t": T0, "true": True, **params})


def _snapshot(db: Database) -> dict[str, list[tuple[object, ...]]]:
    tables = {"workflow_definitions": "name, version, source", "users": "name, email", "user_roles": "user_id, role",
              "cases": "ref, state, fields, opened_at, due_at, revision", "outbox": "key, status, payload",
              "case_history": "case_id, seq, at, actor, trigger, to_state, fields, note",
              "escalations": "case_id, key, level, reason, fired_at"}
    with db.engine.connect() as conn:
        return {t: [tuple(r) for r in conn.execute(text(f"select {cols} from {t} order by 1, 2"))]
                for t, cols in tables.items()}


def test_migrations_build_exactly_the_tables_the_code_expects(database: Database) -> None:
    _to(database, "head")
    with database.engine.connect() as conn:
        differences = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}),
                                       SQLModel.metadata)
    assert differences == []


def test_first_release_database_upgrades_to_head_losing_nothing(database: Database) -> None:
    _to(database, schema.FIRST)
    _fill_first_release(database)
    before = _snapshot(database)
    runner = CliRunner()
    refused = runner.invoke(cli, ["--db", database.url, "case", "list"])
    assert refused.exit_code == 4
    assert "has schema 0001, older than this reviewflow's: back it up, then run 'reviewflow db upgrade'" in (
        refused.output)
    upgraded = runner.invoke(cli, ["--db", database.url, "db", "upgrade"])
    assert upgraded.exit_code == 0, upgraded.output
    assert f"upgraded from 0001 to {schema.head()}" in upgraded.output
    assert _snapshot(database) == before
    # A database from before accounts has no administrator: `init` makes whoever runs it the first one.
    assert runner.invoke(cli, ["--db", database.url, "audit", "verify"]).exit_code == 7
    made = runner.invoke(cli, ["--db", database.url, "init"])
    assert made.exit_code == 0, made.output
    assert f"administrator {ADMIN} registered" in made.output
    verified = runner.invoke(cli, ["--db", database.url, "audit", "verify"])
    assert verified.exit_code == 0, verified.output
    # 3 history rows; in the administration log the upgrade, each shipped workflow's new version, the 2
    # sub-groups they name (case_review, audit), the first administrator and their set-up code
    assert f"ok: {8 + len(shipped_files())} sealed rows in 2 case(s)" in verified.output
    # The upgraded database works: a move, an escalation sweep, and the chain stays whole.
    clock = SteppingClock(datetime(2026, 1, 20, 9, 0, tzinfo=UTC))
    service = Reviewflow(Database(database.url), clock)
    assert service.fire("MIN-2", "accept", "d.osei", {"decision": "yes"}).state == "on"
    assert [h.trigger for h in service.case("MIN-2").history] == ["open", "accept"]
    Sweeper(service.ctx).sweep()
    assert runner.invoke(cli, ["--db", database.url, "audit", "verify"]).exit_code == 0
    again = runner.invoke(cli, ["--db", database.url, "db", "upgrade"])
    assert "already at" in again.output


def test_a_first_release_database_without_a_version_table_is_recognised(database: Database) -> None:
    _to(database, schema.FIRST)
    _fill_first_release(database)
    with database.engine.begin() as conn:
        conn.execute(text("drop table alembic_version"))
    service = Reviewflow(database, SteppingClock(datetime(2026, 1, 20, 9, 0, tzinfo=UTC)))
    service.init()
    assert service.case("MIN-1").state == "referral"
    with database.engine.connect() as conn:
        assert schema.current(conn) == schema.head()
    assert service.verify_audit().ok


def test_db_upgrade_refuses_a_missing_database(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["--db", f"sqlite:///{tmp_path / 'none.db'}", "db", "upgrade"])
    assert result.exit_code == 4
    assert "no database at" in result.output


@pytest.mark.parametrize("revision", [schema.FIRST])
def test_downgrade_then_upgrade_round_trips(database: Database, revision: str) -> None:
    _to(database, "head")
    with database.engine.begin() as conn:
        command.downgrade(schema._config(conn), revision)
    _to(database, "head")
    with database.engine.connect() as conn:
        assert schema.current(conn) == schema.head()


def test_the_recorded_head_is_the_newest_migration() -> None:
    """Commands check a database against `schema.HEAD` without importing Alembic: it must name the
    newest migration, or every command would call an up-to-date database old (or an old one current)."""
    assert schema.HEAD == schema.head()
