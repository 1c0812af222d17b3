"""A case reference's key: `SCR-2026-001`, `scr-2026-001` and `SCR-2026-001.` name one case."""

from __future__ import annotations

import json
import unicodedata
from pathlib import Path

import pytest
from alembic import command
from click.testing import CliRunner
from hypothesis import example, given
from hypothesis import strategies as st
from sqlalchemy import text

from reviewflow.cli import cli
from reviewflow.engine.core.errors import CaseExists, StoreError
from reviewflow.engine.core.references import ref_key
from reviewflow.engine.services.facade import Reviewflow
from reviewflow.store import schema
from reviewflow.store.db import Database

from tests.conftest import administer


@pytest.fixture
def people(service: Reviewflow) -> Reviewflow:
    service.add_user("bm", ["business_manager"], "bm@example.org")
    return service


def _open(svc: Reviewflow, ref: str) -> None:
    svc.open_case("minimal", ref, "bm", {"notifying_agency": "Police"})


# --- the pure function -----------------------------------------------------------------------------

@given(st.text())
@example("ß")
@example("ﬃ.")
@example("ǅ")
@example("ΐ")
@example("Ａ\u3000")
@example("ᾈ")
def test_ref_key_is_idempotent(ref: str) -> None:
    assert ref_key(ref_key(ref)) == ref_key(ref)


_REF = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._/-]{0,40}[A-Za-z0-9]", fullmatch=True)


@given(_REF, st.text(alphabet=".,;:!?-_/ \t", max_size=5))
@example("SCR-2026-001", ".")
@example("SCR-2026-001", " ")
def test_case_and_trailing_punctuation_variants_collide(ref: str, tail: str) -> None:
    assert ref_key(ref.lower() + tail) == ref_key(ref.upper()) == ref_key(ref)


@given(_REF)
def test_compatibility_forms_collide(ref: str) -> None:
    wide = "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in ref)  # full-width forms
    assert ref_key(wide) == ref_key(ref)
    assert unicodedata.is_normalized("NFKC", ref_key(wide))


def test_different_references_keep_different_keys() -> None:
    assert ref_key("SCR-2026-001") != ref_key("SCR-2026-0011")
    assert ref_key("SCR-2026-001") != ref_key("SCR-2026.001")


# --- cases -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("variant", ["scr-2026-001", "SCR-2026-001.", "Scr-2026-001_"])
def test_opening_a_variant_of_an_existing_reference_is_refused_naming_it(people: Reviewflow, variant: str) -> None:
    _open(people, "SCR-2026-001")
    with pytest.raises(CaseExists) as refused:
        _open(people, variant)
    assert "'SCR-2026-001'" in refused.value.message
    assert refused.value.data()["existing"] == "SCR-2026-001"
    assert [c.ref for c in people.cases()] == ["SCR-2026-001"]


def test_looking_a_case_up_by_a_variant_finds_it(people: Reviewflow) -> None:
    _open(people, "SCR-2026-001")
    assert people.case("scr-2026-001.").ref == "SCR-2026-001"


def test_the_cli_refuses_a_variant(people: Reviewflow) -> None:
    url = administer(people.db.url)
    runner = CliRunner()
    opened = runner.invoke(cli, ["--db", url, "case", "open", "minimal", "--ref", "SCR-2026-001", "--as", "bm",
                                 "--field", "notifying_agency=Police"])
    assert opened.exit_code == 0, opened.output
    again = runner.invoke(cli, ["--db", url, "case", "open", "minimal", "--ref", "scr-2026-001.", "--as", "bm",
                                "--field", "notifying_agency=Police"])
    assert again.exit_code == 6, again.output
    assert "'SCR-2026-001'" in again.output
    shown = runner.invoke(cli, ["--db", url, "case", "show", "scr-2026-001"])
    assert shown.exit_code == 0, shown.output
    assert "SCR-2026-001" in shown.output


# --- the upgrade -----------------------------------------------------------------------------------

def _to(db: Database, revision: str) -> None:
    with db.engine.begin() as conn:
        command.upgrade(schema._config(conn), revision)


def _case(db: Database, ref: str) -> None:
    with db.engine.begin() as conn:
        conn.execute(text(
            "insert into cases (ref, workflow, version, state, is_open, fields, fields_schema, opened_by, opened_at, "
            "entered_at, revision, entry_seq) values (:ref, 'minimal', 1, 'referral', :true, :fields, 1, 'bm', "
            ":t, :t, 1, 1)"), {"ref": ref, "true": True, "fields": json.dumps({}), "t": "2026-01-05 09:00:00"})


def test_the_upgrade_fills_the_key_of_existing_cases(database: Database) -> None:
    _to(database, "0006")
    _case(database, "SCR-2026-001")
    _case(database, "SCR-2026-002")
    _to(database, "0007")
    with database.engine.connect() as conn:
        keys = conn.execute(text("select ref, ref_key from cases order by ref")).all()
    assert [tuple(k) for k in keys] == [("SCR-2026-001", "scr-2026-001"), ("SCR-2026-002", "scr-2026-002")]


def test_the_upgrade_stops_naming_cases_that_would_collide(database: Database) -> None:
    _to(database, "0006")
    for ref in ("SCR-2026-001", "scr-2026-001.", "OTHER-1"):
        _case(database, ref)
    with pytest.raises(StoreError) as refused:
        _to(database, "0007")
    assert "'SCR-2026-001' and 'scr-2026-001.'" in refused.value.message
    with database.engine.connect() as conn:
        assert schema.current(conn) == "0006"
        assert conn.execute(text("select count(*) from cases")).scalar_one() == 3


# --- imports ---------------------------------------------------------------------------------------

def test_a_dump_from_before_reference_keys_imports_with_its_keys(people: Reviewflow, tmp_path: Path) -> None:
    _open(people, "SCR-2026-001")
    text_of, _ = people.export_dump()
    dump = json.loads(text_of)
    for row in dump["tables"]["cases"]:
        del row["ref_key"]  # as a dump made before the column existed
    target = Reviewflow(Database(f"sqlite:///{tmp_path / 'target.db'}"), people.clock)
    try:
        target.init()
        result = target.import_dump(json.dumps(dump), "old.json")
        assert result.counts["cases"] == 1
        assert target.case("scr-2026-001.").ref == "SCR-2026-001"
        with pytest.raises(CaseExists):
            target.open_case("minimal", "Scr-2026-001", "bm", {"notifying_agency": "Police"})
    finally:
        target.db.dispose()


def test_a_tracker_import_finds_references_already_there_whatever_their_case(tmp_path: Path) -> None:
    from tests.test_tracker import EXPECTED, SAMPLE_CSV, _ready, _rows, _write

    lite = _ready(f"sqlite:///{tmp_path / 'tracker.db'}")
    lite.tracker(SAMPLE_CSV)
    variants = [[f"{cell.lower()}." if cell in EXPECTED else cell for cell in row] for row in _rows()]
    assert sum(cell.endswith(".") for row in variants for cell in row) >= len(EXPECTED)
    result = lite.tracker(_write(tmp_path / "again.csv", variants), code=1)
    bad = [line for line in result.stderr.splitlines() if line.startswith("row ")]
    assert len(bad) == len(EXPECTED)
    assert all("already in the database" in line for line in bad)
