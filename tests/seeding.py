"""Seeding many due cases fast: one real case through the service, then N copies by bulk SQL.

Expected ledger rows and notifications are computed from `engine.escalation.checkpoints`, so the
tests that use this never hard-code the ladder.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import create_engine, func, insert, select
from sqlalchemy.engine import Connection

from reviewflow.engine.core.clock import fixed_clock, parse_instant
from reviewflow.engine.core.definition import WorkflowDefinition
from reviewflow.engine.core.escalation import Checkpoint, checkpoints, next_check
from reviewflow.engine.services.accounts import os_account
from reviewflow.engine.services.facade import Reviewflow
from reviewflow.store.db import Database
from reviewflow.store.models import CaseRow, EscalationRow, HistoryRow, OutboxRow

from tests.databases import templates

WORKFLOW = "serious_case_review"
STATE = "notification"
OPENED = "2026-01-05T10:00"
"""When the template case is opened: its ladder levels fall on 13 Jan, 26 Jan and 9 Feb 2026."""

PEOPLE = {
    "la.duty": "la_notifier",
    "a.khan": "business_manager",
    "d.osei": "subgroup_chair",
    "lscp.board": "board",
    "i.scrutiny": "independent_scrutineer",
}
"""One holder per role, each with an e-mail address: escalation notices are queued on the e-mail
channel, which the worker leaves pending when no SMTP server is set (so delivery stays quick)."""

OPEN_FIELDS = {"notifying_agency": "Police", "incident_date": "2026-01-02", "incident_type": "child_died"}

Fire = tuple[int, int, str]
"""(case_id, entry_seq, key): one row of the escalation ledger."""


@dataclass(frozen=True)
class Seeded:
    url: str
    definition: WorkflowDefinition
    cases: dict[int, str]  # case id -> ref
    entered_at: datetime
    due_at: datetime

    @property
    def points(self) -> list[Checkpoint]:
        return checkpoints(self.definition, self.definition.states[STATE], self.entered_at, self.due_at)

    @property
    def first_check(self) -> datetime | None:
        """next_check_at of every seeded case before any sweep."""
        return next_check(self.points, ())

    def due_points(self, now: datetime) -> list[Checkpoint]:
        return [p for p in self.points if p.at <= now]

    def expected_ledger(self, now: datetime) -> set[Fire]:
        """Every (case, stage entry, key) that must have fired once a sweep at `now` is done."""
        return {(case_id, 1, p.key) for case_id in self.cases for p in self.due_points(now)}

    def expected_next_check(self, now: datetime) -> datetime | None:
        return next_check(self.points, {p.key for p in self.due_points(now)})

    def expected_outbox_keys(self, now: datetime) -> set[str]:
        """One notification per ledger row per person holding each role it tells."""
        holders = {role: [name for name, r in PEOPLE.items() if r == role] for role in PEOPLE.values()}
        return {f"{ref}:1:{p.key}:{role}:{name}:email"
                for ref in self.cases.values() for p in self.due_points(now)
                for role in p.roles for name in holders[role]}


def at(text: str) -> datetime:
    """An instant written as the CLI's --now reads it."""
    return parse_instant(text)


@contextmanager
def connect(url: str) -> Iterator[Connection]:
    """A plain read/write connection (no BEGIN IMMEDIATE) for seeding and for polling a live worker."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            yield conn
    finally:
        engine.dispose()


def _one_case(opened: str) -> Callable[[str], None]:
    """Initialise a database, register PEOPLE and open SCR-00000 at `opened`."""

    def build(url: str) -> None:
        service = Reviewflow(Database(url), fixed_clock(at(opened)))
        try:
            service.init()
            service.first_admin(os_account(), os_account())  # the command line acts as this administrator
            for name, role in PEOPLE.items():
                service.add_user(name, [role], f"{name}@example.org")
            service.open_case(WORKFLOW, "SCR-00000", "la.duty", OPEN_FIELDS, legacy=True)
        finally:
            service.db.dispose()

    return build


def seed(url: str, n: int, opened: str = OPENED) -> Seeded:
    """Initialise `url`, register PEOPLE, open one real case, and bulk-copy it to `n` cases in all.

    The database with the one real case is a copy of one built so once per process."""
    templates().copy(url, f"seeding: init, PEOPLE, SCR-00000 opened at {opened}", _one_case(opened))
    service = Reviewflow(Database(url), fixed_clock(at(opened)))
    try:
        view = service.case("SCR-00000")
        definition = service.definition(WORKFLOW)
    finally:
        service.db.dispose()
    assert view.state == STATE
    assert view.due_at is not None
    cases_t, history_t = CaseRow.__table__, HistoryRow.__table__  # type: ignore[attr-defined]
    with connect(url) as conn:
        template = conn.execute(select(cases_t).where(cases_t.c.ref == "SCR-00000")).mappings().one()
        first = conn.execute(select(history_t).where(history_t.c.case_id == template["id"])).mappings().one()
        row: dict[str, Any] = {k: v for k, v in template.items() if k not in ("id", "ref", "ref_key")}
        cases: dict[int, str] = {template["id"]: template["ref"]}
        if n > 1:
            conn.execute(insert(cases_t), [{**row, "ref": f"SCR-{i:05d}", "ref_key": f"scr-{i:05d}"}
                                          for i in range(1, n)])
            cases = {case_id: ref for case_id, ref in conn.execute(select(cases_t.c.id, cases_t.c.ref))}
            # Copies are not sealed into the audit chain (it is not what these tests look at).
            entry: dict[str, Any] = {k: v for k, v in first.items()
                                     if k not in ("id", "case_id", "chain_seq", "hash")}
            conn.execute(insert(history_t), [{**entry, "case_id": case_id}
                                             for case_id in cases if case_id != template["id"]])
            conn.commit()
    assert len(cases) == n
    return Seeded(url, definition, cases, view.entered_at, view.due_at)


@dataclass(frozen=True)
class Snapshot:
    ledger: list[Fire]
    next_checks: dict[int, datetime | None]
    outbox_keys: list[str]


def ledger_count(conn: Connection) -> int:
    esc = EscalationRow.__table__  # type: ignore[attr-defined]
    return int(conn.execute(select(func.count()).select_from(esc)).scalar_one())


def snapshot(url: str) -> Snapshot:
    esc, cases_t, out = (EscalationRow.__table__, CaseRow.__table__,  # type: ignore[attr-defined]
                         OutboxRow.__table__)  # type: ignore[attr-defined]
    with connect(url) as conn:
        ledger = [tuple(r) for r in conn.execute(select(esc.c.case_id, esc.c.entry_seq, esc.c.key)).all()]
        nexts = {case_id: when for case_id, when in conn.execute(select(cases_t.c.id, cases_t.c.next_check_at))}
        keys = list(conn.execute(select(out.c.key).where(out.c.event.in_(["escalation", "reminder"])))
                    .scalars().all())
    return Snapshot(ledger, nexts, keys)  # type: ignore[arg-type]
