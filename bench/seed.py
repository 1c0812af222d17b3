"""Seeding: a few real cases through the service, then bulk copies of them by one SQL statement each.

Copies keep the real table layout (`store.models`, created by `Database.create_schema`) and the
real stored values of the template case; only the reference changes.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import text

from reviewflow.engine.core.clock import SteppingClock, parse_instant
from reviewflow.engine.services.accounts import os_account
from reviewflow.engine.services.facade import Reviewflow
from reviewflow.store.db import Database
from reviewflow.store.models import (
    ActionRow,
    CaseAgencyRow,
    CaseRow,
    DisseminationRow,
    EvidenceRow,
    HistoryRow,
    RecommendationRow,
)

WORKFLOW = "serious_case_review"
PEOPLE = {"la.duty": "la_notifier", "a.khan": "business_manager", "d.osei": "subgroup_chair",
          "p.hughes": "board_chair", "lscp.board": "board"}
OPEN_FIELDS = {"notifying_agency": "Police", "incident_date": "2026-01-02", "incident_type": "child_died"}
CHUNK = 100_000


def at(text_: str) -> datetime:
    return parse_instant(text_)


def _initialise(db: Database, clock: SteppingClock) -> None:
    service = Reviewflow(db, clock)
    service.init()
    service.switch_off_time_limits()  # its changes are dated in 2026, whatever the day it runs
    service.first_admin(os_account(), os_account())  # the command-line figures act as this administrator
    for name, role in PEOPLE.items():
        service.add_user(name, [role], f"{name}@example.org")


def _copy_pristine(path: Path, clock: SteppingClock) -> None:
    """Copy an initialised database (shipped workflows, PEOPLE) made once per folder to `path`."""
    pristine = path.parent / "pristine.sqlite"
    if not pristine.exists():
        partial = path.parent / "pristine.partial"
        partial.unlink(missing_ok=True)
        db = Database(f"sqlite:///{partial}")
        _initialise(db, clock)
        db.dispose()
        conn = sqlite3.connect(partial)
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        conn.close()
        partial.rename(pristine)
        key = Path(f"{partial}.audit-key")
        if key.exists():  # made beside it unless REVIEWFLOW_AUDIT_KEY_FILE names the key
            key.rename(f"{pristine}.audit-key")
    shutil.copyfile(pristine, path)
    if Path(f"{pristine}.audit-key").exists():
        shutil.copyfile(f"{pristine}.audit-key", f"{path}.audit-key")
        os.chmod(f"{path}.audit-key", 0o600)


@dataclass
class Seeder:
    """An initialised database with PEOPLE registered, and a clock to open template cases at."""

    url: str
    service: Reviewflow
    clock: SteppingClock

    @classmethod
    def create(cls, url: str, start: str = "2026-01-05T09:00") -> Seeder:
        """Initialise `url` (a SQLite file is copied from one initialised once per folder)."""
        clock = SteppingClock(at(start))
        db = Database(url)
        if db.is_sqlite and db.path:
            _copy_pristine(Path(db.path), clock)
        else:
            _initialise(db, clock)
        return cls(url, Reviewflow(db, clock), clock)

    def open(self, ref: str, when: str | datetime) -> int:
        """Open one real case through the service; return its id."""
        self.clock.now = at(when) if isinstance(when, str) else when
        self.service.open_case(WORKFLOW, ref, "la.duty", OPEN_FIELDS, legacy=True)
        with self.service.db.transaction() as s:
            return int(s.execute(text("SELECT id FROM cases WHERE ref = :r"), {"r": ref}).scalar_one())

    def copy(self, template: str, prefix: str, count: int, history: bool = True,
             progress: Callable[[str], None] | None = None, learning: bool = False) -> tuple[int, int]:
        """Insert `count` copies of case `template` as PREFIX0000001...; return their (first id, last id).

        Copied history rows are not sealed into the audit chain (its position and seal are left
        empty): the engine starts each copied case's chain afresh when it writes to it. With `learning`,
        each copy also gets the template's agencies taking part, recommendations, actions, evidence and
        dissemination (`_copy_learning`).
        """
        first = last = 0
        done = 0
        while done < count:
            n = min(CHUNK, count - done)
            lo, hi = self._copy_chunk(template, prefix, done + 1, n, history, learning)
            first, last = first or lo, hi
            done += n
            if progress and count > CHUNK:
                progress(f"seeded {done:,} of {count:,} {prefix}* cases")
        return first, last

    def _copy_chunk(self, template: str, prefix: str, start: int, n: int, history: bool,
                    learning: bool = False) -> tuple[int, int]:
        cases: Any = CaseRow.__table__  # type: ignore[attr-defined]
        hist: Any = HistoryRow.__table__  # type: ignore[attr-defined]
        cols = [c.name for c in cases.columns if c.name not in ("id", "ref", "ref_key")]
        picked = ", ".join(f"c.{c}" for c in cols)
        if self.service.db.is_sqlite:
            series = ("WITH RECURSIVE seq(i) AS (SELECT :start UNION ALL SELECT i + 1 FROM seq WHERE i < :stop) ",
                      "seq", ":prefix || printf('%07d', seq.i)")
        else:
            series = ("", "generate_series(CAST(:start AS integer), CAST(:stop AS integer)) AS seq(i)",
                      ":prefix || lpad(seq.i::text, 7, '0')")
        params = {"start": start, "stop": start + n - 1, "prefix": prefix, "template": template}
        hcols = [c.name for c in hist.columns if c.name not in ("id", "case_id", "chain_seq", "hash")]
        with self.service.db.engine.begin() as conn:
            before = conn.execute(text("SELECT COALESCE(MAX(id), 0) FROM cases")).scalar_one()
            conn.execute(text(f"{series[0]}INSERT INTO cases (ref, ref_key, {', '.join(cols)}) "
                              f"SELECT {series[2]}, lower({series[2]}), {picked} FROM {series[1]}, cases c "
                              "WHERE c.ref = :template"),
                         params)
            after = conn.execute(text("SELECT MAX(id) FROM cases")).scalar_one()
            if history:
                conn.execute(text(
                    f"INSERT INTO case_history (case_id, {', '.join(hcols)}) "
                    f"SELECT n.id, {', '.join(f'h.{c}' for c in hcols)} FROM cases n "
                    "JOIN cases t ON t.ref = :template JOIN case_history h ON h.case_id = t.id "
                    "WHERE n.id > :before"), {"template": template, "before": before})
            if learning:
                _copy_learning(conn, template, before)
        return before + 1, after

    def close(self) -> None:
        self.service.db.dispose()


def _columns(model: Any, *skip: str) -> list[str]:
    table: Any = model.__table__
    return [c.name for c in table.columns if c.name not in ("id", *skip)]


_NEW_CASES = "FROM cases n JOIN cases t ON t.ref = :template "
"""The copies made after id :before, each joined to its template `t` (SQL shared by every learning table)."""


def _copy_learning(conn: Any, template: str, before: int) -> None:
    """Copy the learning records of case `template` to every case with an id above `before`.

    One `INSERT ... SELECT` per table. A copied action points at its own case's copy of its recommendation,
    and copied evidence at its own case's copy of its action, matched by number (R1, A1: unique in a case).
    """
    params = {"template": template, "before": before}
    for model in (CaseAgencyRow, RecommendationRow, DisseminationRow):
        cols = _columns(model, "case_id")
        conn.execute(text(
            f"INSERT INTO {model.__tablename__} (case_id, {', '.join(cols)}) "
            f"SELECT n.id, {', '.join(f'r.{c}' for c in cols)} {_NEW_CASES}"
            f"JOIN {model.__tablename__} r ON r.case_id = t.id WHERE n.id > :before"), params)
    cols = _columns(ActionRow, "case_id", "recommendation_id")
    conn.execute(text(
        f"INSERT INTO actions (case_id, recommendation_id, {', '.join(cols)}) "
        f"SELECT n.id, nr.id, {', '.join(f'a.{c}' for c in cols)} {_NEW_CASES}"
        "JOIN actions a ON a.case_id = t.id JOIN recommendations tr ON tr.id = a.recommendation_id "
        "JOIN recommendations nr ON nr.case_id = n.id AND nr.number = tr.number WHERE n.id > :before"), params)
    cols = _columns(EvidenceRow, "case_id", "action_id")
    conn.execute(text(
        f"INSERT INTO evidence (case_id, action_id, {', '.join(cols)}) "
        f"SELECT n.id, na.id, {', '.join(f'e.{c}' for c in cols)} {_NEW_CASES}"
        "JOIN evidence e ON e.case_id = t.id JOIN actions ta ON ta.id = e.action_id "
        "JOIN actions na ON na.case_id = n.id AND na.number = ta.number WHERE n.id > :before"), params)
