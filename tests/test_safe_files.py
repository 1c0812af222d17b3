"""Files reviewflow writes are its owner's only and whole: exports, reports, timelines, the SQLite database and
the evidence folder, whatever the umask; a failed write keeps the previous file; an export can be encrypted."""

from __future__ import annotations

import errno
import os
import sqlite3
import stat
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import BinaryIO

import pytest
from click.testing import CliRunner, Result

from reviewflow.cli import cli
from reviewflow.engine.core.access import Identity
from reviewflow.engine.core.clock import SteppingClock
from reviewflow.engine.core.errors import InvalidValue, UsageError
from reviewflow.engine.services.facade import Reviewflow
from reviewflow.engine.services.private_files import write_private
from reviewflow.engine.services.settings import Settings, WebSettings
from reviewflow.engine.services.transfer import MAGIC, PASSPHRASE_ENV, read_file, write_file
from reviewflow.store.db import Database

from tests.databases import Templates
from tests.test_evidence_files import PDF, T0, _init, _story
from tests.test_import_export import NO_ENV, _demo_like

PASSPHRASE = "correct horse battery staple"


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def leftovers(folder: Path) -> list[str]:
    """Temporary files left in `folder` (there must be none)."""
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


@pytest.fixture
def umask_022() -> Iterator[None]:
    """The usual umask, which makes new files readable by every local user (0644)."""
    before = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(before)


def run(url: str, *args: str, code: int = 0, stdin: str | None = None, **env: str) -> Result:
    result = CliRunner().invoke(cli, ["--db", url, *args], env={**NO_ENV, PASSPHRASE_ENV: None, **env}, input=stdin)
    assert "Traceback" not in result.output + result.stderr
    assert result.exit_code == code, result.output + result.stderr
    return result


@pytest.fixture
def full(db_url: str, templates: Templates) -> str:
    """A small database with a case, its learning records and an escalation (see test_import_export)."""
    templates.copy(db_url, "test_import_export: _demo_like", _demo_like)
    return db_url


# --- the private write --------------------------------------------------------------------------------------

@pytest.mark.parametrize("umask", [0o022, 0o000])
def test_a_new_file_is_the_owners_only_whatever_the_umask(tmp_path: Path, umask: int) -> None:
    before = os.umask(umask)
    try:
        write_private(tmp_path / "out.txt", "text ✓")
        write_private(tmp_path / "out.bin", b"\x00\x01")
    finally:
        os.umask(before)
    assert (tmp_path / "out.txt").read_text("utf-8") == "text ✓"
    assert (tmp_path / "out.bin").read_bytes() == b"\x00\x01"
    assert mode(tmp_path / "out.txt") == mode(tmp_path / "out.bin") == 0o600
    assert leftovers(tmp_path) == []


def test_a_file_written_over_keeps_or_gains_mode_0600(tmp_path: Path, umask_022: None) -> None:
    private, shared = tmp_path / "private.json", tmp_path / "shared.json"
    private.write_text("old")
    private.chmod(0o600)
    shared.write_text("old")
    shared.chmod(0o644)
    for path in (private, shared):
        write_private(path, "new")
        assert (path.read_text(), mode(path)) == ("new", 0o600)


def test_a_write_that_fails_midway_keeps_the_old_file_and_leaves_no_temporary_file(tmp_path: Path) -> None:
    target = tmp_path / "report.csv"
    target.write_text("the old report")

    def disk_full(out: BinaryIO) -> None:
        out.write(b"half a rep")
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    with pytest.raises(InvalidValue, match=r"^cannot write .*report\.csv: No space left on device: .*nothing was "
                                           r"written$"):
        write_private(target, disk_full)
    assert target.read_text() == "the old report"
    assert leftovers(tmp_path) == []

    def broken(out: BinaryIO) -> None:
        out.write(b"half")
        raise RuntimeError("renderer failed")

    with pytest.raises(RuntimeError, match="renderer failed"):
        write_private(target, broken)
    assert target.read_text() == "the old report"
    assert leftovers(tmp_path) == []


def test_a_folder_that_does_not_exist_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(InvalidValue) as refused:
        write_private(tmp_path / "missing" / "out.md", "x")
    assert "\n" not in str(refused.value)
    assert str(refused.value).startswith(f"cannot write {tmp_path / 'missing' / 'out.md'}: No such file or directory")
    assert refused.value.field == "out"


# --- what the command line writes -----------------------------------------------------------------------------

def test_exports_reports_and_timelines_are_written_0600(full: str, tmp_path: Path, umask_022: None) -> None:
    dump = tmp_path / "dump.json"
    dump.write_text("an older dump")
    dump.chmod(0o600)
    run(full, "export", "--out", str(dump))
    assert dump.read_text("utf-8").startswith("{")
    written = [dump]
    for suffix in ("md", "csv", "html", "json", "xlsx"):
        out = tmp_path / f"board.{suffix}"
        run(full, "--now", "2026-03-02", "report", "board", "--out", str(out))
        written.append(out)
    timeline = tmp_path / "timeline.txt"
    run(full, "case", "timeline", "MIN-2026-001", "--out", str(timeline))
    written.append(timeline)
    assert {p.name: mode(p) for p in written} == {p.name: 0o600 for p in written}
    assert leftovers(tmp_path) == []


def test_the_sqlite_database_and_its_journal_files_are_0600(tmp_path: Path, umask_022: None) -> None:
    path = tmp_path / "new.db"
    run(f"sqlite:///{path}", "init")
    with sqlite3.connect(path) as held:  # held open, the WAL and its index stay on disk to be looked at
        held.execute("PRAGMA journal_mode=WAL")
        held.execute("CREATE TABLE probe (x)")
        journals = [Path(f"{path}{suffix}") for suffix in ("-wal", "-shm")]
        assert all(p.exists() for p in journals)
        assert [mode(p) for p in (path, *journals)] == [0o600, 0o600, 0o600]
    held.close()


def test_an_existing_database_keeps_its_mode(tmp_path: Path) -> None:
    path = tmp_path / "shared.db"
    sqlite3.connect(path).close()
    path.chmod(0o640)
    Database(f"sqlite:///{path}").create_schema()
    assert mode(path) == 0o640


def test_the_evidence_folder_is_made_private(tmp_path: Path, templates: Templates, umask_022: None) -> None:
    url = f"sqlite:///{tmp_path / 'files.db'}"
    templates.copy(url, f"init with agency_review.yaml at {T0.isoformat()}", _init)
    folder = tmp_path / "kept"
    rf = Reviewflow(Database(url), SteppingClock(T0 + timedelta(minutes=1)),
                    Settings(web=WebSettings(evidence_dir=str(folder), max_upload_mb=1)))
    try:
        _story(rf)
        kept = rf.attach_evidence_file("POLICE-1", "E1", Identity("pc.jones"), "policy.pdf", PDF)
    finally:
        rf.db.dispose()
    file = folder / kept.sha256[:2] / kept.sha256
    assert (mode(folder), mode(file.parent), mode(file)) == (0o700, 0o700, 0o600)


# --- encrypted exports --------------------------------------------------------------------------------------------

def _new_database(tmp_path: Path, name: str) -> str:
    url = f"sqlite:///{tmp_path / name}"
    run(url, "init")
    return url


def test_an_encrypted_export_imports_with_its_passphrase(full: str, tmp_path: Path, umask_022: None) -> None:
    sealed = tmp_path / "dump.rfx"
    told = run(full, "export", "--encrypt", "--out", str(sealed), stdin=f"{PASSPHRASE}\n{PASSPHRASE}\n")
    assert PASSPHRASE not in told.output + told.stderr
    assert "(encrypted)" in told.stderr
    data = sealed.read_bytes()
    assert data.startswith(MAGIC)
    assert b"MIN-2026-001" not in data
    assert b"Police" not in data
    assert mode(sealed) == 0o600
    target = _new_database(tmp_path, "copy.db")
    imported = run(target, "import", "dump", str(sealed), stdin=f"{PASSPHRASE}\n")
    assert imported.stdout.startswith("imported")
    assert PASSPHRASE not in imported.output + imported.stderr
    assert "MIN-2026-001" in run(target, "case", "list").stdout


def test_the_encrypted_file_opens_to_the_dump_exactly(tmp_path: Path) -> None:
    text = '{"format": "reviewflow-dump", "note": "Séance \\u202e <b>"}\n'
    sealed, plain = tmp_path / "sealed", tmp_path / "plain"
    write_file(sealed, text, PASSPHRASE)
    write_file(plain, text)
    assert read_file(sealed, lambda: PASSPHRASE) == read_file(plain) == text
    asked: list[str] = []
    read_file(plain, lambda: asked.append("asked") or PASSPHRASE)
    assert asked == [], "a plain dump asks for no passphrase"
    with pytest.raises(UsageError, match=r"is an encrypted export: give its passphrase \(set "
                                         "REVIEWFLOW_EXPORT_PASSPHRASE"):
        read_file(sealed)
    with pytest.raises(InvalidValue, match="^wrong passphrase for "):
        read_file(sealed, lambda: PASSPHRASE + "!")


def test_scripts_give_the_passphrase_in_the_environment(full: str, tmp_path: Path) -> None:
    sealed = tmp_path / "dump.rfx"
    run(full, "export", "--encrypt", "--out", str(sealed), **{PASSPHRASE_ENV: PASSPHRASE})
    target = _new_database(tmp_path, "copy.db")
    run(target, "import", "dump", str(sealed), "--dry-run", **{PASSPHRASE_ENV: PASSPHRASE})
    run(target, "import", "dump", str(sealed), **{PASSPHRASE_ENV: PASSPHRASE})
    assert "MIN-2026-001" in run(target, "case", "list").stdout


def test_a_wrong_passphrase_is_one_line_and_imports_nothing(full: str, tmp_path: Path) -> None:
    sealed = tmp_path / "dump.rfx"
    run(full, "export", "--encrypt", "--out", str(sealed), **{PASSPHRASE_ENV: PASSPHRASE})
    target = _new_database(tmp_path, "copy.db")
    refused = run(target, "import", "dump", str(sealed), code=1, **{PASSPHRASE_ENV: "not the passphrase"})
    assert refused.stderr == (f"Error: wrong passphrase for {sealed}, or the file was changed after it was exported: "
                              "check the passphrase and try again; nothing was imported\n")
    assert "not the passphrase" not in refused.output + refused.stderr
    assert run(target, "case", "list").stdout.strip() == ""
    changed = bytearray(sealed.read_bytes())
    changed[-1] ^= 1
    sealed.write_bytes(bytes(changed))
    assert "wrong passphrase" in run(target, "import", "dump", str(sealed), code=1,
                                     **{PASSPHRASE_ENV: PASSPHRASE}).stderr


def test_encryption_refusals(full: str, tmp_path: Path) -> None:
    out = tmp_path / "dump.rfx"
    short = run(full, "export", "--encrypt", "--out", str(out), code=1, **{PASSPHRASE_ENV: "short"})
    assert short.stderr.startswith("Error: the passphrase has 5 characters; an encrypted export needs at least 8")
    assert not out.exists()
    mismatch = run(full, "export", "--encrypt", "--out", str(out), code=1, stdin=f"{PASSPHRASE}\nother one\n"
                   f"{PASSPHRASE}\nother one\n{PASSPHRASE}\nother one\n")
    assert not out.exists(), mismatch.stderr
    assert run(full, "export", "--encrypt", code=2).stderr == ("Error: --encrypt writes an encrypted file: add --out "
                                                               "FILE\n")
