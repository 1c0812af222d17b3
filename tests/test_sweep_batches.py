"""Sweeps over many due cases in several batches, on SQLite and PostgreSQL: each reminder and ladder level
is recorded once, with its notifications, sealed into the audit chain as every other ledger row is."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from reviewflow.engine.core.clock import SteppingClock, fixed_clock
from reviewflow.engine.core.errors import StoreError
from reviewflow.engine.core.escalation import checkpoints, due_now
from reviewflow.engine.services.escalation import Sweeper
from reviewflow.engine.services.facade import Reviewflow
from reviewflow.store import ledger
from reviewflow.store.db import Database
from reviewflow.store.models import EscalationRow
from reviewflow.store.time_settings import recorded_at

from tests.conftest import FIXTURES, pg_url_or_skip
from tests.databases import Templates

CASES = 300
BATCH = 40
PAUSED = {7, 150, 299}
"""Cases whose clock is paused: nothing of theirs may fire."""
FEW = 60
"""Cases for the tests that need several batches but not CASES (one of them paused)."""
SMALL = 25
PEOPLE = {"a.khan": "business_manager", "d.osei": "subgroup_chair"}
"""Nobody holds `board`: its level goes to the business manager as an unassigned-role notice."""


def _at(text_: str) -> datetime:
    return datetime.fromisoformat(text_).replace(tzinfo=UTC)


def _sql(service: Reviewflow, statement: str, **params: Any) -> list[Any]:
    with service.db.engine.begin() as conn:
        result = conn.execute(text(statement), params)
        return list(result.all()) if result.returns_rows else []


def _ref(n: int) -> str:
    return f"MIN-{n:03d}"


def _open(service: Reviewflow, clock: SteppingClock, count: int) -> Reviewflow:
    """`count` minimal cases opened 20 a day (so with several due dates), those in PAUSED paused."""
    for name, role in PEOPLE.items():
        service.add_user(name, [role], f"{name}@example.org")
    for n in range(count):
        service.open_case("minimal", _ref(n), "a.khan", {"notifying_agency": "Police"})
        if n % 20 == 19:
            clock.advance(days=1)
    for n in PAUSED:
        if n < count:
            service.pause(_ref(n), "a.khan", "awaiting criminal proceedings")
    return service


@pytest.fixture
def many(service: Reviewflow, clock: SteppingClock) -> Reviewflow:
    return _open(service, clock, CASES)


def _init_and_open(count: int, start: datetime) -> Callable[[str], None]:
    def build(url: str) -> None:
        clock = SteppingClock(start)
        service = Reviewflow(Database(url), clock)
        try:
            service.init([FIXTURES / "minimal.yaml"])
            _open(service, clock, count)
        finally:
            service.db.dispose()

    return build


@pytest.fixture
def few(database: Database, clock: SteppingClock, templates: Templates) -> Reviewflow:
    """`_open` of FEW cases on an initialised database: a copy of one built so once per process, with the
    clock moved on as `_open` moves it."""
    templates.copy(database.url, f"test_sweep_batches: {FEW} cases opened from {clock().isoformat()}",
                   _init_and_open(FEW, clock()))
    clock.advance(days=FEW // 20)
    return Reviewflow(database, clock)


def _expected(service: Reviewflow, now: datetime) -> set[tuple[str, str]]:
    """(ref, key) of every checkpoint due by `now`, worked out case by case from the definition."""
    d = service.definition("minimal")
    found = set()
    for view in service.cases("minimal"):
        if view.paused_at is None:
            for p in due_now(checkpoints(d, d.states[view.state], view.entered_at, view.due_at), (), now):
                found.add((view.ref, p.key))
    return found


def _ledger(service: Reviewflow) -> list[tuple[str, int, str]]:
    return [tuple(r) for r in _sql(service, "select c.ref, e.entry_seq, e.key from escalations e "
                                            "join cases c on c.id = e.case_id")]


def _outbox_keys(service: Reviewflow) -> list[str]:
    return [k for (k,) in _sql(service, "select key from outbox where event in ('escalation', 'unassigned_role')")]


def _sealed_rows(service: Reviewflow) -> int:
    return sum(n for (n,) in _sql(service, "select count(*) from case_history where chain_seq is not null "
                                           "union all select count(*) from escalations where chain_seq is not null "
                                           "union all select count(*) from admin_events where chain_seq is not null"))


def _assert_chain_whole(service: Reviewflow) -> None:
    report = service.verify_audit()
    assert report.ok, [str(f) for f in report.findings] + [report.chain_problem]
    assert report.head_seq == _sealed_rows(service) == report.rows


def test_a_sweep_in_many_batches_fires_each_level_once(many: Reviewflow, clock: SteppingClock) -> None:
    clock.now = _at("2026-03-30T09:00")  # every level of every unpaused case is due
    expected = _expected(many, clock.now)
    assert len(expected) == 3 * (CASES - len(PAUSED))

    report = Sweeper(many.ctx).sweep(batch=BATCH)

    assert Counter((f.ref, f.key) for f in report.fired) == Counter(expected)
    assert report.batches >= CASES // BATCH
    ledger = _ledger(many)
    assert Counter((ref, key) for ref, _, key in ledger) == Counter(expected)
    assert {entry for _, entry, _ in ledger} == {1}
    # One notice per level: the owner and the sub-group chair by e-mail, the Board's level to the business
    # manager because nobody holds `board`.
    whom = {"level-1": "business_manager:a.khan", "level-2": "subgroup_chair:d.osei",
            "level-3": "board:unassigned:business_manager:a.khan"}
    assert Counter(_outbox_keys(many)) == Counter(f"{ref}:1:{key}:{whom[key]}:email" for ref, key in expected)
    assert {f.recipients for f in report.fired} == {("a.khan",), ("d.osei",)}
    _assert_chain_whole(many)

    assert Sweeper(many.ctx).sweep(batch=BATCH).fired == []
    assert len(_ledger(many)) == len(expected)
    assert len(_outbox_keys(many)) == len(expected)
    _assert_chain_whole(many)


def test_levels_climb_one_sweep_at_a_time_and_never_repeat(few: Reviewflow, clock: SteppingClock) -> None:
    fired: list[tuple[str, str]] = []
    for when in ("2026-01-10T09:00", "2026-01-14T09:00", "2026-01-27T09:00", "2026-02-03T09:00",
                 "2026-02-10T09:00", "2026-03-30T09:00", "2026-04-30T09:00"):
        clock.now = _at(when)
        report = Sweeper(few.ctx).sweep(batch=SMALL)
        assert {(f.ref, f.key) for f in report.fired} == _expected(few, clock.now) - set(fired), when
        fired += [(f.ref, f.key) for f in report.fired]
        _assert_chain_whole(few)
    assert len(fired) == len(set(fired)) == 3 * (FEW - 1)
    assert Counter((ref, key) for ref, _, key in _ledger(few)) == Counter(fired)


def test_the_ledger_in_the_audit_chain_after_sweeps_and_moves(few: Reviewflow, clock: SteppingClock) -> None:
    clock.now = _at("2026-01-27T09:00")
    Sweeper(few.ctx).sweep(batch=SMALL)
    # A move writes a sealed history row after the sweep's ledger rows; the next stage climbs anew.
    for n in (0, 1, 41, 42):
        few.fire(_ref(n), "accept", "d.osei", {"decision": "yes"})
    clock.now = _at("2026-06-30T09:00")
    report = Sweeper(few.ctx).sweep(batch=SMALL)
    assert {(f.ref, f.state) for f in report.fired if f.ref in {_ref(0), _ref(41)}} == {
        (_ref(0), "on"), (_ref(41), "on")}
    _assert_chain_whole(few)
    # Edited outside reviewflow, a ledger row written by the sweep no longer matches its seal.
    _sql(few, "update escalations set reason = 'nothing to see' where id = (select max(id) from escalations)")
    report_after = few.verify_audit()
    assert not report_after.ok
    assert any(f.kind == "ledger" and "does not match its seal" in f.problem for f in report_after.findings)


def test_a_dry_run_writes_nothing_and_previews_the_sweep(few: Reviewflow, clock: SteppingClock) -> None:
    clock.now = _at("2026-02-03T09:00")
    counts = "select (select count(*) from escalations), (select count(*) from outbox), (select seq from audit_head)"
    before = _sql(few, counts)
    checks = _sql(few, "select id, next_check_at from cases order by id")
    preview = Sweeper(few.ctx).sweep(dry_run=True, batch=SMALL)
    assert preview.fired
    assert _sql(few, counts) == before
    assert _sql(few, "select id, next_check_at from cases order by id") == checks
    report = Sweeper(few.ctx).sweep(batch=SMALL)
    assert sorted((f.ref, f.key) for f in report.fired) == sorted((f.ref, f.key) for f in preview.fired)


def test_a_notification_key_already_queued_stops_the_batch_whole(few: Reviewflow, clock: SteppingClock) -> None:
    """As with every write of the outbox, a key already there is refused, and the batch with it: none of
    its ledger rows, notices or next checks are kept, and the audit chain is untouched."""
    clock.now = _at("2026-01-14T09:00")
    ref = _ref(0)  # due first, so in the first batch
    case_id = _sql(few, "select id from cases where ref = :r", r=ref)[0][0]
    _sql(few, "insert into outbox (key, case_id, event, role, channel, recipient, payload, status, attempts, "
               "created_at, next_attempt_at) values (:k, :c, 'escalation', 'business_manager', 'email', 'a.khan', "
               "'{}', 'pending', 0, '2026-01-13 09:00:00', '2026-01-13 09:00:00')",
         k=f"{ref}:1:level-1:business_manager:a.khan:email", c=case_id)
    head = _sql(few, "select seq, hash from audit_head")
    checks = _sql(few, "select id, next_check_at from cases order by id")
    with pytest.raises(StoreError, match="outbox"):
        Sweeper(few.ctx).sweep(batch=SMALL)
    assert _ledger(few) == []
    assert len(_outbox_keys(few)) == 1
    assert _sql(few, "select seq, hash from audit_head") == head
    assert _sql(few, "select id, next_check_at from cases order by id") == checks
    _assert_chain_whole(few)


def test_a_reminder_that_falls_before_the_stage_was_entered_is_skipped_case_by_case(
        service: Reviewflow, clock: SteppingClock) -> None:
    """Cases entered on a Saturday and on a Sunday share a due date (5 working days on) and so the same
    checkpoints, but the reminder (5 days before it, at the start of Sunday) only for Saturday's."""
    minimal = (FIXTURES / "minimal.yaml").read_text()
    service.load_workflow_text(minimal.replace("name: minimal", "name: reminded")
                               .replace("initial: referral", "remind: 5 days before\ninitial: referral"),
                               "reminded.yaml")
    for name, role in PEOPLE.items():
        service.add_user(name, [role], f"{name}@example.org")
    entered = {"SAT-1": "2026-01-10T10:00", "SUN-1": "2026-01-11T10:00", "SAT-2": "2026-01-10T11:00",
               "SUN-2": "2026-01-11T11:00"}
    for ref, when in entered.items():
        clock.now = _at(when)
        service.open_case("reminded", ref, "a.khan", {"notifying_agency": "Police"})
    assert len({v.due_at for v in service.cases("reminded")}) == 1
    clock.now = _at("2026-01-19T09:00")
    fired = sorted((f.ref, f.key) for f in Sweeper(service.ctx).sweep(batch=3).fired)
    assert fired == [("SAT-1", "level-1"), ("SAT-1", "reminder"), ("SAT-2", "level-1"), ("SAT-2", "reminder"),
                     ("SUN-1", "level-1"), ("SUN-2", "level-1")]
    d = service.definition("reminded")
    for view in service.cases("reminded"):
        points = checkpoints(d, d.states[view.state], view.entered_at, view.due_at)
        assert {key for ref, key in fired if ref == view.ref} == {p.key for p in due_now(points, (), clock.now)}


def _one_at_a_time(s: Any, rows: list[Any]) -> None:
    """How the sweep used to write ledger rows: ORM objects, sealed by the flush hook."""
    for row in rows:
        values = {k: getattr(row, k) for k in ledger._COLUMNS}
        s.add(EscalationRow(**{**values, "roles": list(row.roles), "recipients": list(row.recipients),
                               "recorded_at": recorded_at(s)}))
    s.flush()


def test_ledger_rows_written_in_bulk_are_sealed_as_the_flush_seals_orm_rows(
        db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The same sweeps on two databases, one writing its ledger rows as ORM objects: the same seals in the
    same positions, and the same chain head."""
    other_url = f"sqlite:///{tmp_path / 'other.db'}" if db_url.startswith("sqlite") else pg_url_or_skip()
    found = []
    for url, bulk in ((db_url, True), (other_url, False)):
        clock = SteppingClock(_at("2026-01-05T09:00"))
        service = Reviewflow(Database(url), clock, wall=fixed_clock(_at("2026-03-30T10:00")))  # same recorded_at
        try:
            service.init([FIXTURES / "minimal.yaml"])
            _open(service, clock, FEW)
            with monkeypatch.context() as m:
                if not bulk:
                    m.setattr(ledger, "record_many", _one_at_a_time)
                for n, when in enumerate(("2026-01-14T09:00", "2026-01-27T09:00", "2026-03-30T09:00")):
                    clock.now = _at(when)
                    Sweeper(service.ctx).sweep(batch=SMALL)
                    service.fire(_ref(n), "accept", "d.osei", {"decision": "yes"})  # a history row between sweeps
            _assert_chain_whole(service)
            found.append((_sql(service, "select c.ref, e.entry_seq, e.key, e.chain_seq, e.hash from escalations e "
                                        "join cases c on c.id = e.case_id order by e.id"),
                          _sql(service, "select seq, hash from audit_head")))
        finally:
            service.db.dispose()
    assert len(found[0][0]) >= 3 * (FEW - 1)
    assert found[0] == found[1]
