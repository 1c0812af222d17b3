"""The whole record is sealed with a key kept outside the database: plain-SQL changes to cases, learning records,
users and the outbox are found, a chain resealed without the key is found, an older copy of the database is
found against a signed checkpoint, and an old unkeyed chain is resealed with `audit rekey`."""

from __future__ import annotations

import json
import os
import sqlite3
import stat
from collections.abc import Callable
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import text

from reviewflow.cli import cli
from reviewflow.engine.core.clock import SteppingClock
from reviewflow.engine.core.errors import StoreError
from reviewflow.engine.services.facade import Reviewflow
from reviewflow.store import chain
from reviewflow.store.db import Database
from reviewflow.store.models import AdminEventRow, EscalationRow, HistoryRow

from tests.conftest import ADMIN, FIXTURES, pg_url_or_skip

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
REF = "POLICE-1"


def _build(url: str) -> Reviewflow:
    """A case with a recommendation and an action (whose owner is told: a pending notification), and users."""
    rf = Reviewflow(Database(url), SteppingClock(T0))
    rf.init([FIXTURES / "agency_review.yaml"])
    rf.first_admin(ADMIN, ADMIN)
    rf.add_user("bm", ["business_manager"], "bm@example.org")
    rf.add_user("chair", ["subgroup_chair"], "chair@example.org")
    rf.add_user("pc.jones", ["action_owner"], "pc.jones@example.org", "Police")
    rf.open_case("agency_review", REF, "bm", {"notifying_agency": "Police", "family_context": "private"})
    rf.open_case("agency_review", "HEALTH-1", "bm", {"notifying_agency": "Health", "family_context": "private"})
    rf.pause("HEALTH-1", "bm", "awaiting criminal proceedings")
    rf.recommend(REF, "bm", "Share concerns at once", [], ["Police"])
    rf.add_action(REF, "bm", "R1", "Same-day referrals", "Police", "2026-06-30", "pc.jones")
    return rf


@pytest.fixture
def rf(db_url: str) -> Any:
    service = _build(db_url)
    yield service
    service.db.dispose()


def _sql(rf: Reviewflow, statement: str, **params: object) -> None:
    with rf.db.engine.begin() as conn:
        conn.execute(text(statement), params)


def _one(rf: Reviewflow, statement: str, **params: object) -> Any:
    with rf.db.engine.connect() as conn:
        return conn.execute(text(statement), params).scalar_one()


def _run(url: str, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["--db", url, *args])
    assert "Traceback" not in result.output, result.output
    return result.exit_code, result.output


def _case_id(rf: Reviewflow, ref: str = REF) -> int:
    return int(_one(rf, "select id from cases where ref = :r", r=ref))


TAMPERING: dict[str, tuple[Callable[[Reviewflow], None], str]] = {
    "case closed": (
        lambda rf: _sql(rf, "update cases set is_open = false, closed_at = opened_at where ref = :r", r=REF),
        f"ALTERED {REF} case open/closed: is closed but its state 'referral' is open"),
    "state changed": (
        lambda rf: _sql(rf, "update cases set state = 'review' where ref = :r", r=REF),
        f"ALTERED {REF} case state: is 'review' but its history says 'referral'"),
    "fields changed": (
        lambda rf: _sql(rf, "update cases set fields = '{\"notifying_agency\": \"Health\", \"family_context\": "
                            "\"private\"}' where ref = :r", r=REF),
        f"ALTERED {REF} case fields: notifying_agency differ from what its history recorded"),
    "pause lifted": (
        lambda rf: _sql(rf, "update cases set paused_at = null, pause_reason = null where ref = 'HEALTH-1'"),
        "ALTERED HEALTH-1 case pause: is not paused but its history says paused"),
    "action embedded": (
        lambda rf: _sql(rf, "update actions set status = 'embedded', embedded_at = created_at where number = 'A1'"),
        f"ALTERED {REF} learning action A1: is marked embedded but its history never embedded it"),
    "action renumbered": (
        lambda rf: _sql(rf, "update actions set number = 'A9' where number = 'A1'"),
        f"ALTERED {REF} learning action A1: is in its history but missing: deleted outside reviewflow"),
    "pending notification deleted": (
        lambda rf: _sql(rf, "delete from outbox where id = (select max(id) from outbox where status = 'pending')"),
        "notifications were queued but"),
    "role changed": (
        lambda rf: _sql(rf, "update user_roles set role = 'subgroup_chair' where user_id = "
                            "(select id from users where name = 'pc.jones')"),
        "ALTERED user pc.jones users roles: are subgroup_chair but the administration log says action_owner"),
    "administrator made": (
        lambda rf: _sql(rf, "update users set is_admin = true where name = 'bm'"),
        "ALTERED user bm users admin: is True but the administration log says False"),
    "user inserted": (
        lambda rf: _sql(rf, "insert into users (name, created_at, is_admin, notify) "
                            "values ('intruder', '2026-03-02 09:00:00', true, 'immediate')"),
        "ALTERED user intruder users registration: is not in the administration log"),
}


def test_the_untouched_record_verifies(rf: Reviewflow) -> None:
    code, out = _run(rf.db.url, "audit", "verify")
    assert code == 0, out
    assert out.startswith("ok: ")
    assert _one(rf, "select count(*) from outbox where status = 'pending'") > 0
    assert json.loads(_run(rf.db.url, "audit", "verify", "--json")[1])["scheme"] == "hmac-sha256"


@pytest.mark.parametrize("case", list(TAMPERING), ids=list(TAMPERING))
def test_plain_sql_changes_to_the_record_are_found(rf: Reviewflow, case: str) -> None:
    tamper, expected = TAMPERING[case]
    tamper(rf)
    code, out = _run(rf.db.url, "audit", "verify")
    assert code == 1, out
    assert expected in out, out
    found = json.loads(_run(rf.db.url, "audit", "verify", "--json")[1])
    assert found["ok"] is False


def test_a_chain_resealed_without_the_key_is_found(rf: Reviewflow) -> None:
    """What an attacker with the database but not the key can do with reviewflow's own functions: rewrite a note
    and its actor, reseal the case's rows after it and the head the unkeyed way."""
    case_id = _case_id(rf)
    history: Any = HistoryRow.__table__  # type: ignore[attr-defined]
    with rf.db.engine.begin() as conn:
        previous = chain.genesis(chain.HISTORY, case_id)
        for row in conn.execute(history.select().where(history.c.case_id == case_id).order_by(history.c.seq)):
            values = dict(row._mapping)
            if row.seq == 1:
                values.update(note="nothing to see", actor="someone.else")
            values["hash"] = previous = chain.seal(previous, chain.HISTORY, SimpleNamespace(**values))
            conn.execute(history.update().where(history.c.id == row.id).values(
                note=values["note"], actor=values["actor"], hash=values["hash"]))
        conn.execute(text("update audit_head set hash = :h"), {"h": _unkeyed_fold(conn)})
    code, out = _run(rf.db.url, "audit", "verify")
    assert code == 1
    assert f"ALTERED {REF} history row 1: does not match its seal" in out


def _unkeyed_fold(conn: Any) -> str:
    seals = []
    for table in ("case_history", "escalations", "admin_events"):
        seals += conn.execute(text(f"select chain_seq, hash from {table} where chain_seq is not null")).all()
    running = ""
    for _, row_seal in sorted(seals):
        running = chain.fold(running, row_seal)
    return running


def test_the_key_file_is_made_beside_a_sqlite_database_and_never_shown(tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(chain.KEY_ENV)
    url = f"sqlite:///{tmp_path / 'board.db'}"
    code, out = _run(url, "init")
    assert code == 0, out
    key_file = tmp_path / "board.db.audit-key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    key = key_file.read_text().strip()
    assert len(bytes.fromhex(key)) == 32
    code, out = _run(url, "audit", "verify")
    assert code == 0, out
    assert key not in out
    key_file.unlink()
    code, out = _run(url, "audit", "verify")
    assert code != 0
    assert f"the audit key file {key_file} is missing" in out


def test_postgres_without_a_key_is_refused_with_how_to_set_one(monkeypatch: pytest.MonkeyPatch) -> None:
    url = pg_url_or_skip()
    monkeypatch.delenv(chain.KEY_ENV)
    rf = Reviewflow(Database(url), SteppingClock(T0))
    try:
        with pytest.raises(StoreError, match="REVIEWFLOW_AUDIT_KEY_FILE or by `key_file` in the \\[audit\\]"):
            rf.init()
    finally:
        rf.db.dispose()


def test_an_older_copy_of_the_database_is_found_against_a_checkpoint(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'reviewflow.db'}"
    rf = _build(url)
    try:
        older = tmp_path / "older.db"
        with closing(sqlite3.connect(tmp_path / "reviewflow.db")) as source, closing(sqlite3.connect(older)) as copy:
            source.backup(copy)
        rf.fire(REF, "accept", "chair", {"decision": "yes"})
        checkpoint = tmp_path / "checkpoints" / "nightly.json"
        checkpoint.parent.mkdir()
        code, out = _run(url, "audit", "checkpoint", "--out", str(checkpoint))
        assert code == 0, out
        assert stat.S_IMODE(checkpoint.stat().st_mode) == 0o600
        assert _run(url, "audit", "verify", "--against", str(checkpoint))[0] == 0
        rf.recommend(REF, "bm", "Train staff", [], ["Police"])  # later work: still a continuation
        assert _run(url, "audit", "verify", "--against", str(checkpoint))[0] == 0
    finally:
        rf.db.dispose()
    with closing(sqlite3.connect(older)) as source, closing(sqlite3.connect(tmp_path / "reviewflow.db")) as target:
        source.backup(target)
    assert _run(url, "audit", "verify")[0] == 0  # the older copy is whole in itself...
    code, out = _run(url, "audit", "verify", "--against", str(checkpoint))
    assert code == 1  # ...but it is not what the checkpoint saw
    assert "the database is an older copy" in out
    signed = json.loads(checkpoint.read_text())
    checkpoint.write_text(json.dumps({**signed, "head_seq": 1}))
    code, out = _run(url, "audit", "verify", "--against", str(checkpoint))
    assert code == 1
    assert "the checkpoint's signature does not match" in out


def _make_unkeyed(rf: Reviewflow) -> None:
    """Turn the database into what an older reviewflow left: every row sealed with plain SHA-256."""
    tables: list[tuple[str, Any]] = [(chain.HISTORY, HistoryRow.__table__), (chain.LEDGER, EscalationRow.__table__),
                                     (chain.ADMIN, AdminEventRow.__table__)]  # type: ignore[attr-defined]
    with rf.db.engine.begin() as conn:
        rows = [(r.chain_seq, kind, table, r) for kind, table in tables
                for r in conn.execute(table.select().where(table.c.chain_seq.is_not(None)))]
        tips: dict[tuple[str, int], str] = {}
        for _, kind, table, row in sorted(rows, key=lambda r: r[0]):
            case_id = row.case_id if kind != chain.ADMIN else 0
            tip = tips.get((kind, case_id)) or chain.genesis(kind, case_id)
            tips[(kind, case_id)] = new = chain.seal(tip, kind, row)
            conn.execute(table.update().where(table.c.id == row.id).values(hash=new))
        conn.execute(text("update audit_head set hash = :h, scheme = 'sha256', mac = null"),
                     {"h": _unkeyed_fold(conn)})


def test_an_unkeyed_database_keeps_its_scheme_until_rekey(rf: Reviewflow) -> None:
    _make_unkeyed(rf)
    code, out = _run(rf.db.url, "audit", "verify")
    assert code == 0, out
    assert "unkeyed seals: run 'reviewflow audit rekey'" in out
    rf.fire(REF, "accept", "chair", {"decision": "yes"})  # written the old way, and still whole
    assert _one(rf, "select scheme from audit_head") == "sha256"
    assert _run(rf.db.url, "audit", "verify")[0] == 0
    code, out = _run(rf.db.url, "audit", "rekey")
    assert code == 0, out
    assert "resealed" in out
    assert _one(rf, "select scheme from audit_head") == "hmac-sha256"
    code, out = _run(rf.db.url, "audit", "verify")
    assert code == 0, out
    assert "unkeyed" not in out
    assert any(e.action == "audit.rekey" for e in rf.admin_events())
    rf.fire(REF, "close", "chair", {})
    assert _run(rf.db.url, "audit", "verify")[0] == 0
    assert _run(rf.db.url, "audit", "rekey")[0] != 0  # nothing left to reseal


def test_rekey_refuses_an_old_chain_that_does_not_verify(rf: Reviewflow) -> None:
    _make_unkeyed(rf)
    _sql(rf, "update case_history set note = 'changed' where case_id = :c and seq = 1", c=_case_id(rf))
    code, out = _run(rf.db.url, "audit", "rekey")
    assert code != 0
    assert "does not verify" in out
    assert _one(rf, "select scheme from audit_head") == "sha256"


def test_key_file_setting_names_the_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(chain.KEY_ENV)
    key_file = tmp_path / "keys" / "audit.key"
    key_file.parent.mkdir()
    key_file.write_text(os.urandom(32).hex())
    config = tmp_path / "reviewflow.toml"
    config.write_text(f'[audit]\nkey_file = "{key_file}"\n')
    url = f"sqlite:///{tmp_path / 'reviewflow.db'}"
    result = CliRunner().invoke(cli, ["--config", str(config), "--db", url, "init"])
    assert result.exit_code == 0, result.output
    assert not (tmp_path / "reviewflow.db.audit-key").exists()
    assert CliRunner().invoke(cli, ["--config", str(config), "--db", url, "audit", "verify"]).exit_code == 0
    without = CliRunner().invoke(cli, ["--db", url, "audit", "verify"])
    assert without.exit_code == 4  # no key beside the database, and it will not make one for keyed seals
    assert "is missing but this database's seals are keyed" in without.output


def test_moves_events_and_a_version_migration_keep_the_record_whole(db_url: str) -> None:
    """A paused case migrated to a new version keeps its pause and fields; learning and moves replay to the rows."""
    from tests.test_versions import V2

    rf = Reviewflow(Database(db_url), SteppingClock(T0))
    try:
        rf.init([FIXTURES / "minimal.yaml"])
        rf.add_user("bm", ["business_manager"], "bm@example.org")
        rf.add_user("chair", ["subgroup_chair"])
        rf.open_case("minimal", "MIN-1", "bm", {"notifying_agency": "Police"})
        rf.fire("MIN-1", "accept", "chair", {"decision": "yes"})
        rf.pause("MIN-1", "bm", "awaiting criminal proceedings")
        rf.load_workflow_text(V2, "minimal-v2.yaml")
        rf.migrate("minimal", 2, {"on": "review"}, "bm")
        assert rf.case("MIN-1").state == "review"
        report = rf.verify_audit()
        assert report.ok, [str(f) for f in report.findings] + [report.chain_problem]
        rf.resume("MIN-1", "bm")
        assert rf.verify_audit().ok
    finally:
        rf.db.dispose()
