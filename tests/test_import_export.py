"""`reviewflow export` and `reviewflow import dump`: everything out to one JSON file and back, exactly.

Generated histories (cases, moves, pauses, learning records, escalations, notifications, with hostile text)
are made through the service, exported, imported into a new database and exported again: the two dumps
must be identical apart from `exported_at`, on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import json
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reviewflow.cli import cli
from reviewflow.engine.core.clock import SteppingClock
from reviewflow.engine.core.errors import AgencyExists, InvalidValue, ReviewflowError
from reviewflow.engine.services.escalation import Sweeper
from reviewflow.engine.services.facade import Reviewflow
from reviewflow.store.db import Database
from reviewflow.store.dump import FORMAT, FORMAT_VERSION
from reviewflow.store.importing import tables

from tests.conftest import FIXTURES, init_with_minimal, pg_url_or_skip
from tests.databases import Templates, templates

BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
NO_ENV = {"REVIEWFLOW_USER": None, "REVIEWFLOW_NOW": None, "REVIEWFLOW_DB": None, "REVIEWFLOW_CONFIG": None}

SPECIAL = ["O'Brien \"quoted\"", "line one\nline two\r\nline three", "tab\there", "😀 emoji", "مرحبا RTL \u202e",
           "\u2028 line separator \u2029", "back\\slash \\n not a newline", "{\"json\": [1, 2]}",
           "'; DROP TABLE cases; --",
           "bell \x07 escape \x1b[31m red", "\x7f delete", "zero\u200bwidth", "\ufeffbom", "ça, €, £"]
"""Hostile values stored as text: never NUL, which PostgreSQL cannot keep in a text column."""
TEXT = st.one_of(st.sampled_from(SPECIAL),
                 st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), min_size=1,
                         max_size=40)).filter(lambda s: bool(s.strip()))
EMAIL = st.one_of(st.none(), st.sampled_from(["a.khan@example.org", "o.brien@example-lscp.org.uk",
                                              "Chair+Board@Example.ORG"]))
"""E-mail addresses are checked when they are registered (one plain address each), so only such are generated."""
FIELD_TEXT = st.one_of(TEXT, st.sampled_from(["nul \x00 inside", "\x00"]).map(lambda s: s + " x"))
"""Field values are JSON, which keeps NUL as \\u0000 on both databases."""


def _url(backend: str, folder: Path, name: str) -> str:
    return f"sqlite:///{folder / name}" if backend == "sqlite" else pg_url_or_skip()


def _without_time(text: str) -> dict[str, Any]:
    data = json.loads(text)
    data.pop("exported_at")
    return data


def _without_import(text: str) -> dict[str, Any]:
    """A dump of a database a dump was imported into, less the import and this export: each is sealed as an
    administration event, which moves the chain head on by one."""
    data = _without_time(text)
    tables = data["tables"]
    assert [e["action"] for e in tables["admin_events"][-2:]] == ["dump.import", "dump.export"]
    del tables["admin_events"][-2:]
    data["counts"]["admin_events"] -= 2
    [head] = tables["audit_head"]
    head["seq"] -= 2
    head["hash"] = head["mac"] = None  # the head's own seal moves on with it
    return data


def _head_hash_left_out(data: dict[str, Any]) -> dict[str, Any]:
    for head in data["tables"]["audit_head"]:
        head["hash"] = head["mac"] = None
    return data


# --- generating a history through the service ------------------------------------------------------------

PEOPLE = {"bm": ["business_manager"], "chair": ["subgroup_chair"], "board": ["board"]}


@st.composite
def histories(draw: st.DrawFn) -> dict[str, Any]:
    return {
        "start": draw(st.datetimes(datetime(2025, 1, 1), datetime(2027, 12, 31))).replace(tzinfo=UTC),
        "emails": draw(st.lists(EMAIL, min_size=3, max_size=3)),
        "agencies": draw(st.lists(TEXT, min_size=3, max_size=3)),
        "cases": draw(st.lists(st.fixed_dictionaries({
            "agency": FIELD_TEXT,
            "note": st.one_of(st.none(), TEXT),
            "steps": st.lists(st.sampled_from(["accept", "report", "close", "withdraw", "pause", "recommend",
                                               "action", "evidence", "accept_evidence", "reject_evidence",
                                               "disseminate", "wait"]), max_size=8),
            "texts": st.lists(TEXT, min_size=4, max_size=4),
            "hours": st.integers(1, 24 * 40),
        }), min_size=1, max_size=4)),
        "sweep_days": draw(st.integers(0, 90)),
    }


class _Story:
    """Plays one generated case through the service; steps that are refused are simply skipped."""

    def __init__(self, service: Reviewflow, clock: SteppingClock, ref: str, texts: list[str]) -> None:
        self.s, self.clock, self.ref, self.texts = service, clock, ref, texts
        self.paused = False

    def step(self, name: str, hours: int) -> None:
        self.clock.advance(hours=hours)
        t = self.texts
        actions: dict[str, Any] = {
            "accept": lambda: self.s.fire(self.ref, "accept", "chair", {"decision": "yes"}, t[0]),
            "report": lambda: self.s.fire(self.ref, "record_report", "chair", {"report_date": "2026-01-05"}),
            "close": lambda: self.s.fire(self.ref, "close", "chair", {}, t[1]),
            "withdraw": lambda: self.s.fire(self.ref, "withdraw", "bm", {"withdrawal_reason": t[2]}),
            "pause": self._pause,
            "recommend": lambda: self.s.recommend(self.ref, "bm", t[0], [t[1]], ["Police"]),  # registered agencies
            "action": lambda: self.s.add_action(self.ref, "bm", "R1", t[1], "Children's social care", "2026-06-30",
                                                "chair", t[3], past_due_ok=True),
            "evidence": lambda: self.s.submit_evidence(self.ref, "A1", "chair", "data", t[2], t[3][:500]),
            "accept_evidence": lambda: self.s.decide_evidence(self.ref, "E1", "bm", True, t[0]),
            "reject_evidence": lambda: self.s.decide_evidence(self.ref, "E1", "bm", False, t[1]),
            "disseminate": lambda: self.s.record_dissemination(self.ref, "bm", "briefing", t[3][:300], "2025-01-01",
                                                               t[0][:500]),
            "wait": lambda: None,
        }
        try:
            actions[name]()
        except ReviewflowError:
            pass

    def _pause(self) -> None:
        if self.paused:
            self.s.resume(self.ref, "bm", self.texts[3])
        else:
            self.s.pause(self.ref, "bm", self.texts[2])
        self.paused = not self.paused


LOADED_AT = datetime(2024, 12, 31, 9, 0, tzinfo=UTC)
"""When the workflows are loaded, before any generated story starts (when is not what a round trip is about):
so each database starts as a copy of one built once per process."""


def _init_shipped(url: str) -> None:
    service = Reviewflow(Database(url), SteppingClock(LOADED_AT))
    try:
        service.init()
    finally:
        service.db.dispose()


def _registered(service: Reviewflow, agency: str) -> str | None:
    """`agency` registered (a person's agency must be), or None when it cannot be a name."""
    try:
        return service.add_agency(agency)
    except AgencyExists:
        return agency
    except ReviewflowError:
        return None


def _build(url: str, story: dict[str, Any]) -> Reviewflow:
    clock = SteppingClock(story["start"])
    templates().copy(url, f"init with minimal.yaml at {LOADED_AT.isoformat()}", init_with_minimal(LOADED_AT))
    service = Reviewflow(Database(url), clock)
    for (name, roles), email, agency in zip(PEOPLE.items(), story["emails"], story["agencies"], strict=True):
        service.add_user(name, roles, email, _registered(service, agency))
    for i, case in enumerate(story["cases"], 1):
        ref = f"GEN-{i:03d}"
        service.open_case("minimal", ref, "bm", {"notifying_agency": case["agency"]}, case["note"])
        played = _Story(service, clock, ref, case["texts"])
        for name in case["steps"]:
            played.step(name, case["hours"])
    clock.advance(days=story["sweep_days"])
    Sweeper(service.ctx).sweep()
    return service


@pytest.mark.parametrize("backend", BACKENDS)
@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(story=histories())
def test_round_trip_is_exact(backend: str, story: dict[str, Any]) -> None:
    with tempfile.TemporaryDirectory() as folder:
        source = _build(_url(backend, Path(folder), "source.db"), story)
        target = Reviewflow(Database(_url(backend, Path(folder), "target.db")), source.clock)
        try:
            first, counts = source.export_dump()
            templates().copy(target.db.url, f"init at {LOADED_AT.isoformat()}", _init_shipped)
            result = target.import_dump(first, "dump.json")
            second, _ = target.export_dump()
        finally:
            source.db.dispose()
            target.db.dispose()
    assert _without_import(second) == _head_hash_left_out(_without_time(first))
    assert result.counts["cases"] == len(story["cases"])
    assert result.counts == counts
    assert counts["cases"] == len(story["cases"])


# --- the file and the commands -------------------------------------------------------------------------------

class Cli:
    def __init__(self, url: str) -> None:
        self.url = url
        self.runner = CliRunner()

    def __call__(self, *args: str, now: str | None = None, code: int = 0) -> Result:
        argv = ["--db", self.url, *(["--now", now] if now else []), *args]
        result = self.runner.invoke(cli, argv, env=NO_ENV)
        assert "Traceback" not in result.output + result.stderr
        assert result.exit_code == code, result.output + result.stderr
        return result


def _demo_like(url: str) -> Cli:
    """A small database with a case, a recommendation, an action, its evidence and an escalation."""
    run = Cli(url)
    run("init", "--workflows", str(FIXTURES / "minimal.yaml"), now="2026-01-05")
    for name, roles in PEOPLE.items():
        run("user", "add", name, *[a for r in roles for a in ("--role", r)], "--email", f"{name}@example.org")
    run("case", "open", "minimal", "--ref", "MIN-2026-001", "--as", "bm", "--field", "notifying_agency=Police",
        now="2026-01-05T10:00")
    run("case", "recommend", "MIN-2026-001", "--text", "Share the learning", "--theme", "neglect", "--as", "bm",
        now="2026-01-06")
    run("action", "add", "MIN-2026-001", "--rec", "R1", "--description", "Brief the teams", "--agency", "Police",
        "--owner", "chair", "--due", "2026-01-20", "--as", "bm", now="2026-01-06")
    run("action", "evidence", "MIN-2026-001", "A1", "--kind", "data", "--description", "Briefing notes",
        "--link", "DOC-1", "--as", "chair", now="2026-01-07")
    run("escalate", now="2026-02-20")
    return run


@pytest.fixture
def full(db_url: str, templates: Templates) -> Cli:
    """A copy of the `_demo_like` database, built once per process."""
    templates.copy(db_url, "test_import_export: _demo_like", _demo_like)
    return Cli(db_url)


@pytest.fixture
def empty(tmp_path: Path, templates: Templates) -> Cli:
    """A new SQLite database after `init` (a copy of one built once per process)."""
    url = f"sqlite:///{tmp_path / 'new.db'}"
    templates.copy(url, "test_import_export: init", lambda new: Cli(new)("init"))
    return Cli(url)


def test_export_writes_every_table_and_column_with_a_header(full: Cli, tmp_path: Path) -> None:
    out = tmp_path / "dump.json"
    result = full("export", "--format", "json", "--out", str(out), now="2026-03-02T09:30")
    data = json.loads(out.read_text("utf-8"))
    assert data["format"] == FORMAT
    assert data["format_version"] == FORMAT_VERSION
    assert data["reviewflow_version"]
    assert data["exported_at"] == "2026-03-02T09:30:00+00:00"
    assert list(data["tables"]) == [t.name for t in tables()]
    for table in tables():
        rows = data["tables"][table.name]
        assert data["counts"][table.name] == len(rows)
        assert all(list(row) == [c.name for c in table.columns] for row in rows), table.name
    assert data["counts"]["cases"] == 1
    assert data["counts"]["escalations"] > 0
    assert data["counts"]["evidence"] == 1
    case = data["tables"]["cases"][0]
    assert case["opened_at"] == "2026-01-05T10:00:00+00:00"
    assert case["fields"] == {"notifying_agency": "Police"}
    assert data["tables"]["actions"][0]["due_date"] == "2026-01-20"
    assert f"to {out}" in result.stderr


def test_export_without_out_prints_the_dump(full: Cli) -> None:
    printed = full("export", now="2026-03-02").stdout
    assert json.loads(printed)["counts"]["cases"] == 1
    again = full("export", now="2026-03-02").stdout
    # The same data, but for the second export, sealed in the administration log like every export.
    first, second = json.loads(printed), json.loads(again)
    assert [e["action"] for e in second["tables"]["admin_events"][-2:]] == ["dump.export", "dump.export"]
    second["tables"]["admin_events"].pop()
    second["counts"]["admin_events"] -= 1
    for dump in (first, second):
        dump["tables"]["audit_head"] = []
    assert first == second


def test_import_into_a_new_database_gives_the_same_dump_and_fresh_ids(full: Cli, tmp_path: Path) -> None:
    dump = tmp_path / "dump.json"
    dump.write_text(full("export", now="2026-03-02").stdout, "utf-8")
    other = _url("postgres" if full.url.startswith("postgresql") else "sqlite", tmp_path, "copy.db")
    copy = Cli(other)
    copy("init")
    result = copy("import", "dump", str(dump))
    assert "imported" in result.stdout
    assert "cases" in result.stdout
    assert _without_import(copy("export", now="2026-03-02").stdout) == _head_hash_left_out(
        _without_time(dump.read_text("utf-8")))
    copy("audit", "verify")
    copy("case", "open", "minimal", "--ref", "MIN-2026-002", "--as", "bm", "--field", "notifying_agency=Health",
         now="2026-03-03")
    copy("case", "recommend", "MIN-2026-002", "--text", "Another", "--as", "bm", now="2026-03-03")
    ids = json.loads(copy("export", now="2026-03-03").stdout)["tables"]
    assert [c["id"] for c in ids["cases"]] == [1, 2]
    assert [r["id"] for r in ids["recommendations"]] == [1, 2]


def test_dry_run_checks_and_writes_nothing(full: Cli, empty: Cli, tmp_path: Path) -> None:
    dump = tmp_path / "dump.json"
    dump.write_text(full("export").stdout, "utf-8")
    result = empty("import", "dump", str(dump), "--dry-run")
    assert result.stdout.startswith("would import")
    assert "dry run" in result.stderr
    assert json.loads(empty("export").stdout)["counts"]["cases"] == 0
    empty("import", "dump", str(dump))


def _refusal(run: Cli, dump: Path, code: int = 1) -> str:
    result = run("import", "dump", str(dump), code=code)
    assert result.stderr.startswith("Error: ")
    return result.stderr


def test_a_database_with_data_is_refused(full: Cli, tmp_path: Path) -> None:
    dump = tmp_path / "dump.json"
    dump.write_text(full("export").stdout, "utf-8")
    message = _refusal(full, dump)
    assert "already holds data (1 cases" in message
    assert "reviewflow --db NEW_URL init" in message
    assert len(message.strip().splitlines()) == 1


def test_an_uninitialised_database_is_refused(full: Cli, tmp_path: Path) -> None:
    dump = tmp_path / "dump.json"
    dump.write_text(full("export").stdout, "utf-8")
    assert "run 'reviewflow init'" in _refusal(Cli(f"sqlite:///{tmp_path / 'none.db'}"), dump, code=4)


def _edited(full: Cli, tmp_path: Path, change: Any) -> Path:
    data = json.loads(full("export").stdout)
    change(data)
    path = tmp_path / "edited.json"
    path.write_text(json.dumps(data), "utf-8")
    return path


def test_unknown_tables_and_columns_are_named(full: Cli, empty: Cli, tmp_path: Path) -> None:
    def change(data: dict[str, Any]) -> None:
        data["tables"]["widgets"] = []
        data["tables"]["cases"][0]["colour"] = "red"

    message = _refusal(empty, _edited(full, tmp_path, change))
    assert "table 'widgets' is not a reviewflow table" in message
    assert "table cases row 1: table cases has no column 'colour'" in message
    assert json.loads(empty("export").stdout)["counts"]["cases"] == 0


def test_other_format_versions_and_other_files_are_refused(full: Cli, empty: Cli, tmp_path: Path) -> None:
    newer = _edited(full, tmp_path, lambda d: d.update(format_version=FORMAT_VERSION + 1))
    assert "upgrade reviewflow" in _refusal(empty, newer)
    other = tmp_path / "other.json"
    other.write_text('{"cases": []}', "utf-8")
    assert "is not a reviewflow dump" in _refusal(empty, other)
    broken = tmp_path / "broken.json"
    broken.write_text('{"format": "reviewflow-dump", "tables": {', "utf-8")
    assert "not JSON" in _refusal(empty, broken)
    missing = tmp_path / "missing.json"
    assert "cannot read" in _refusal(empty, missing)


def test_bad_values_and_truncated_tables_are_refused(full: Cli, empty: Cli, tmp_path: Path) -> None:
    def change(data: dict[str, Any]) -> None:
        data["tables"]["cases"][0]["opened_at"] = "yesterday"
        data["tables"]["cases"][0]["revision"] = "2"
        data["tables"]["case_history"].pop()

    message = _refusal(empty, _edited(full, tmp_path, change))
    assert "column opened_at holds 'yesterday'; expected an ISO date-time" in message
    assert "column revision holds '2'; expected a whole number" in message
    assert "table case_history: the header counts" in message


def test_the_service_refuses_a_half_import(tmp_path: Path) -> None:
    """A failure part-way (here a duplicate reference) leaves the new database as it was."""
    clock = SteppingClock(datetime(2026, 1, 5, 9, tzinfo=UTC))
    source = Reviewflow(Database(f"sqlite:///{tmp_path / 'a.db'}"), clock)
    source.init([FIXTURES / "minimal.yaml"])
    source.add_user("bm", ["business_manager"])
    source.open_case("minimal", "MIN-1", "bm", {"notifying_agency": "Police"})
    data = json.loads(source.export_dump()[0])
    twin = dict(data["tables"]["cases"][0], id=2)
    data["tables"]["cases"].append(twin)
    data["counts"]["cases"] = 2
    target = Reviewflow(Database(f"sqlite:///{tmp_path / 'b.db'}"), clock)
    target.init()
    with pytest.raises(ReviewflowError):
        target.import_dump(json.dumps(data), "twin.json")
    assert json.loads(target.export_dump()[0])["counts"]["cases"] == 0
    with pytest.raises(InvalidValue, match="not a reviewflow dump"):
        target.import_dump("[]", "list.json")
