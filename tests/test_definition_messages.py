"""Definition messages an administrator understands: look-alike characters named, a fractional version, a
file that is not UTF-8, an unclosed bracket located at the bracket; and warnings (exit 0, printed) for what
loads but cannot work as written."""

from __future__ import annotations

import os
import subprocess
import sys
import unicodedata
from pathlib import Path

from click.testing import CliRunner
from hypothesis import example, given
from hypothesis import strategies as st

from reviewflow.cli import cli
from reviewflow.engine.core.cautions import unknown_key

MINIMAL = (Path(__file__).parent / "fixtures" / "minimal.yaml").read_text("utf-8")


def _validate(path: Path) -> tuple[int, list[str], str]:
    result = CliRunner().invoke(cli, ["workflow", "validate", str(path)])
    assert "Traceback" not in result.output
    return result.exit_code, result.stderr.splitlines(), result.stdout


def _write(tmp_path: Path, text: str, name: str = "wf.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, "utf-8")
    return path


def test_a_cyrillic_letter_in_a_key_is_named_with_the_key_to_type(tmp_path: Path) -> None:
    path = _write(tmp_path, MINIMAL.replace("    time_limit: 1 month", "    t\u0456me_limit: 1 month"))
    status, err, _ = _validate(path)
    assert status == 1
    assert err[0] == (f"{path}:21: states.on.t\u0456me_limit: 't\u0456me_limit' contains a Cyrillic \u0456 (U+0456), "
                      "which only looks like a plain letter: retype it as 'time_limit'")


def test_a_misspelt_key_suggests_the_nearest(tmp_path: Path) -> None:
    path = _write(tmp_path, MINIMAL.replace("    owner: subgroup_chair", "    ownr: subgroup_chair"))
    status, err, _ = _validate(path)
    assert status == 1
    assert "unknown key 'ownr'; did you mean 'owner'? allowed keys here: " in err[0]


def test_a_fractional_version_says_what_to_write(tmp_path: Path) -> None:
    path = _write(tmp_path, MINIMAL.replace("version: 1", "version: 1.1"))
    status, err, _ = _validate(path)
    assert status == 1
    assert err[0] == f"{path}:4: version: version must be a whole number such as 2, not 1.1"


def test_a_windows_1252_file_is_named_as_such_with_its_first_bad_line(tmp_path: Path) -> None:
    text = MINIMAL.replace("title: Minimal review", "title: Minimal review \u2013 the Board\u2019s")
    path = tmp_path / "cp1252.yaml"
    path.write_bytes(text.encode("cp1252"))
    status, err, _ = _validate(path)
    assert status == 1
    assert err[0] == (f"{path}:3: the file is not UTF-8 text: byte 0x96 (in Windows-1252, '\u2013') on this "
                      "line; save the file as UTF-8 (in most editors: Save As, encoding UTF-8)")
    # `workflow load` reads it the same way, and loads nothing
    env = {**os.environ, "REVIEWFLOW_DB": f"sqlite:///{tmp_path / 'rf.db'}"}
    subprocess.run([sys.executable, "-m", "reviewflow.cli", "init"], env=env, check=True, capture_output=True)
    loaded = subprocess.run([sys.executable, "-m", "reviewflow.cli", "workflow", "load", str(path)], env=env,
                            capture_output=True, text=True)
    assert loaded.returncode == 1
    assert loaded.stderr.strip().endswith("line; save the file as UTF-8 (in most editors: Save As, encoding UTF-8)")
    assert f"{path}:3:" in loaded.stderr
    assert "Traceback" not in loaded.stderr
    listed = subprocess.run([sys.executable, "-m", "reviewflow.cli", "workflow", "list"], env=env,
                            capture_output=True, text=True, check=True)
    assert "minimal" not in listed.stdout


def test_an_unclosed_bracket_is_located_at_the_bracket(tmp_path: Path) -> None:
    unclosed = MINIMAL.replace("    roles: [subgroup_chair]\n    when:", "    roles: [subgroup_chair\n    when:")
    path = _write(tmp_path, unclosed)
    status, err, _ = _validate(path)
    assert status == 1
    assert err[0] == (f"{path}:46: YAML syntax error: the [ opened here is not closed: add the ] where it ends "
                      "(or write its items one per line, without brackets)")
    mapping = _write(tmp_path, MINIMAL.replace("{type: text, label: Which agency referred the case}",
                                               "{type: text, label: Which agency referred the case"), "m.yaml")
    status, err, _ = _validate(mapping)
    assert status == 1
    assert err[0].startswith(f"{mapping}:12: YAML syntax error: the {{ opened here is not closed: add the }}")


def test_load_and_validate_agree_on_a_missing_file(tmp_path: Path) -> None:
    missing = tmp_path / "my_review.yaml"
    status, err, _ = _validate(missing)
    assert status == 1
    assert err[0] == f"{missing}: cannot read the file: there is no such file; check the path"
    env = {**os.environ, "REVIEWFLOW_DB": f"sqlite:///{tmp_path / 'rf.db'}"}
    subprocess.run([sys.executable, "-m", "reviewflow.cli", "init"], env=env, check=True, capture_output=True)
    loaded = subprocess.run([sys.executable, "-m", "reviewflow.cli", "workflow", "load", str(missing)], env=env,
                            capture_output=True, text=True)
    assert loaded.returncode == 1
    assert loaded.stderr.strip() == f"Error: cannot read {missing}: there is no such file; check the path"


WARNED = (MINIMAL
          # a guard on a field only a later transition asks for: `accept` could never fire
          .replace("      decision: {type: choice, options: [yes, no]}",
                   "      decision: {type: choice, options: [yes, no]}\n    when: {fields_present: [report_date]}")
          # one field with two types
          .replace("      withdrawal_reason: {type: text}",
                   "      withdrawal_reason: {type: text}\n      report_date: {type: text}")
          # a zero time limit
          .replace("    time_limit: 5 working days", "    time_limit: 0 working days"))


def test_warnings_are_printed_and_do_not_fail(tmp_path: Path) -> None:
    text = WARNED
    path = _write(tmp_path, text)
    status, err, out = _validate(path)
    assert status == 0, err
    assert out.startswith(f"ok: {path} (minimal v1")
    assert err == [
        f"{path}:17: states.referral.time_limit: warning: a time limit of 0 working days makes every case overdue "
        "the moment it enters this stage: give a real limit or remove the key",
        f"{path}:37: transitions[0].when: warning: `accept` checks fields_present report_date, which no move "
        "before it records, so it can never fire: ask for the field on this transition or an earlier one",
        f"{path}:55: transitions[3].requires.report_date: warning: field report_date is a text here but a date "
        "where it is first declared; a field keeps one type: use the same type or another name",
    ]
    # loading it prints the same warnings and loads it
    env = {**os.environ, "REVIEWFLOW_DB": f"sqlite:///{tmp_path / 'rf.db'}"}
    subprocess.run([sys.executable, "-m", "reviewflow.cli", "init"], env=env, check=True, capture_output=True)
    loaded = subprocess.run([sys.executable, "-m", "reviewflow.cli", "workflow", "load", str(path)], env=env,
                            capture_output=True, text=True)
    assert loaded.returncode == 0, loaded.stderr
    assert loaded.stdout.startswith("added")
    assert [line for line in loaded.stderr.splitlines() if "warning:" in line] == err


def test_the_shipped_workflows_have_no_warnings() -> None:
    shipped = sorted((Path(__file__).parent.parent / "workflows").glob("*.yaml"))
    result = CliRunner().invoke(cli, ["workflow", "validate", *map(str, shipped)])
    assert result.exit_code == 0, result.output
    assert "warning:" not in result.stderr


@given(st.text(min_size=1, max_size=20).filter(lambda k: any(ord(c) > 127 for c in k)))
@example("t\u0456me_limit")
@example("\u200blabel")
def test_every_non_ascii_character_of_an_unknown_key_is_named_on_one_line(key: str) -> None:
    message = unknown_key(key, ["label", "time_limit"])
    assert "\n" not in message
    assert "\r" not in message
    for char in {c for c in key if ord(c) > 127}:
        assert f"U+{ord(char):04X}" in message
    if all(c.isprintable() for c in key):
        assert all(unicodedata.category(c) != "Cc" for c in message)
