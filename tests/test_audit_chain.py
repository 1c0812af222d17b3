"""The audit chain catches rows edited, deleted or inserted directly in SQL, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from click.testing import CliRunner
from sqlalchemy import text

from reviewflow.cli import cli
from reviewflow.engine.core.clock import SteppingClock
from reviewflow.engine.services.escalation import Sweeper
from reviewflow.engine.services.facade import Reviewflow

from tests.conftest import administer


def _seed(service: Reviewflow, clock: SteppingClock) -> None:
    """Three cases with several history rows each, and escalation ledger rows for two of them."""
    administer(service.db.url)
    service.add_user("a.khan", ["business_manager"])
    service.add_user("d.osei", ["subgroup_chair"])
    for n in (1, 2, 3):
        service.open_case("minimal", f"MIN-{n}", "a.khan", {"notifying_agency": "Police"})
        clock.advance(hours=1)
        service.pause(f"MIN-{n}", "a.khan", "awaiting criminal proceedings")
        clock.advance(hours=1)
        service.resume(f"MIN-{n}", "a.khan")
    service.fire("MIN-3", "accept", "d.osei", {"decision": "yes"})
    clock.advance(days=60)
    assert Sweeper(service.ctx).sweep().fired


def _sql(service: Reviewflow, statement: str, **params: object) -> None:
    with service.db.engine.begin() as conn:
        conn.execute(text(statement), params)


def _case_id(service: Reviewflow, ref: str) -> int:
    with service.db.engine.connect() as conn:
        return conn.execute(text("select id from cases where ref = :r"), {"r": ref}).scalar_one()


def _verify(service: Reviewflow, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["--db", service.db.url, "audit", "verify", *args])
    assert "Traceback" not in result.output
    return result.exit_code, result.output


def test_an_untouched_database_verifies(service: Reviewflow, clock: SteppingClock) -> None:
    _seed(service, clock)
    code, out = _verify(service)
    assert code == 0, out
    assert out.startswith("ok: ")
    data = json.loads(_verify(service, "MIN-2", "--json")[1])
    assert data["ok"] is True
    assert data["cases"] == 1


TAMPERING: dict[str, tuple[Callable[[Reviewflow], None], str]] = {
    "history edited": (
        lambda s: _sql(s, "update case_history set note = 'changed' where case_id = :c and seq = 2",
                       c=_case_id(s, "MIN-2")),
        "ALTERED MIN-2 history row 2: does not match its seal: it was edited outside reviewflow"),
    "history field edited": (
        lambda s: _sql(s, "update case_history set actor = 'someone.else' where case_id = :c and seq = 1",
                       c=_case_id(s, "MIN-1")),
        "ALTERED MIN-1 history row 1: does not match its seal"),
    "history row deleted": (
        lambda s: _sql(s, "delete from case_history where case_id = :c and seq = 2", c=_case_id(s, "MIN-2")),
        "ALTERED MIN-2 history row 2: is missing: deleted outside reviewflow"),
    "last history row deleted": (
        lambda s: _sql(s, "delete from case_history where case_id = :c and seq = 3", c=_case_id(s, "MIN-1")),
        "ALTERED database chain: position"),
    "history row inserted": (
        lambda s: _sql(s, "insert into case_history (case_id, seq, at, actor, trigger, from_state, to_state, fields, "
                          "fields_schema) values (:c, 4, '2026-01-06 10:00:00', 'x', 'pause', 'referral', "
                          "'referral', '{}', 1)", c=_case_id(s, "MIN-2")),
        "ALTERED MIN-2 history row 4: has no seal: inserted outside reviewflow"),
    "ledger edited": (
        lambda s: _sql(s, "update escalations set reason = 'nothing to see' where case_id = :c",
                       c=_case_id(s, "MIN-1")),
        "ALTERED MIN-1 ledger entry"),
    "ledger row deleted": (
        lambda s: _sql(s, "delete from escalations where id = (select min(id) from escalations where case_id = :c)",
                       c=_case_id(s, "MIN-1")),
        "ALTERED MIN-1 ledger entry"),
    "head rewound": (
        lambda s: _sql(s, "update audit_head set seq = seq - 1"),
        "ALTERED database chain: the chain head says"),
}


@pytest.mark.parametrize("case", list(TAMPERING), ids=list(TAMPERING))
def test_tampering_is_caught_and_named(service: Reviewflow, clock: SteppingClock, case: str) -> None:
    _seed(service, clock)
    tamper, expected = TAMPERING[case]
    tamper(service)
    code, out = _verify(service)
    assert code == 1
    assert expected in out, out


def test_verifying_one_case_names_only_its_rows(service: Reviewflow, clock: SteppingClock) -> None:
    _seed(service, clock)
    _sql(service, "update case_history set note = 'changed' where case_id = :c and seq = 2",
         c=_case_id(service, "MIN-2"))
    assert _verify(service, "MIN-1")[0] == 0
    code, out = _verify(service, "MIN-2")
    assert code == 1
    assert "MIN-2 history row 2" in out


def test_new_rows_after_verification_keep_the_chain_whole(service: Reviewflow, clock: SteppingClock) -> None:
    _seed(service, clock)
    clock.advance(days=1)
    service.fire("MIN-1", "accept", "d.osei", {"decision": "yes"})
    clock.advance(days=90)
    Sweeper(service.ctx).sweep()
    code, out = _verify(service)
    assert code == 0, out
