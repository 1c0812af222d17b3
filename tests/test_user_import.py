"""`reviewflow user import FILE.csv`: the people a spreadsheet lists, registered in one go (every row or none),
sealed like `user add`; the tracker example imports on a fresh database after its people are imported."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from hypothesis import example, given
from hypothesis import strategies as st

from reviewflow.cli import cli
from reviewflow.engine.core.access import Identity
from reviewflow.engine.core.clock import SteppingClock
from reviewflow.engine.core.user_list import InvalidUserList, parse_user_list
from reviewflow.engine.services.facade import Reviewflow
from reviewflow.store.db import Database

from tests.conftest import ADMIN
from tests.databases import Templates

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
EXAMPLES = Path(__file__).parent.parent / "docs" / "examples"
NO_ENV = {"REVIEWFLOW_USER": None, "REVIEWFLOW_NOW": None, "REVIEWFLOW_TOKEN": None, "REVIEWFLOW_CONFIG": None}


def _build(url: str) -> None:
    rf = Reviewflow(Database(url), SteppingClock(T0))
    try:
        rf.init()
        rf.first_admin(ADMIN, ADMIN)
    finally:
        rf.db.dispose()


@pytest.fixture
def url(db_url: str, templates: Templates) -> str:
    templates.copy(db_url, "test_user_import: shipped workflows and an administrator", _build)
    return db_url


def _cli(url: str, *args: str, code: int = 0) -> Result:
    result = CliRunner().invoke(cli, ["--db", url, "--now", T0.isoformat(), *args], env=NO_ENV)
    assert "Traceback" not in result.output + result.stderr
    assert result.exit_code == code, result.output + result.stderr
    return result


def _people(url: str) -> dict[str, dict[str, object]]:
    return {u["name"]: u for u in json.loads(_cli(url, "user", "list", "--json").stdout)}


def test_the_example_list_registers_everyone_once_then_the_tracker_imports(url: str) -> None:
    users = str(EXAMPLES / "users.csv")
    preview = _cli(url, "user", "import", users, "--dry-run")
    assert preview.stdout.splitlines()[0] == "add       a.khan: business_manager"
    assert "dry run, nothing written: 5 to add" in preview.stderr
    assert "m.patel" not in _people(url)

    done = _cli(url, "user", "import", users)
    assert done.stderr.strip() == "5 added, 0 gained roles, 0 unchanged"
    people = _people(url)
    assert people["m.patel"]["roles"] == ["action_owner", "agency_safeguarding_lead"]
    assert people["m.patel"]["agency"] == "Children's social care"
    assert people["h.nurse"]["email"] == "h.nurse@example.org"

    again = _cli(url, "user", "import", users)
    assert again.stderr.strip() == "0 added, 0 gained roles, 5 unchanged"

    # the mapping beside the file is found without --mapping
    preview = _cli(url, "import", "tracker", str(EXAMPLES / "tracker.csv"), "--as", "a.khan", "--dry-run")
    assert preview.stdout.startswith("would import 11 case(s)")
    tracker = _cli(url, "import", "tracker", str(EXAMPLES / "tracker.csv"), "--mapping",
                   str(EXAMPLES / "tracker-mapping.yaml"), "--as", "a.khan")
    assert tracker.stdout.startswith("imported ")
    assert _cli(url, "audit", "verify").stdout.startswith("ok: ")


def test_a_grown_list_grants_the_new_roles_only(url: str, tmp_path: Path) -> None:
    first = tmp_path / "people.csv"
    first.write_text("Name,E-mail,Agency,Roles\nj.reid,j.reid@example.org,,lead_reviewer\n", "utf-8")
    _cli(url, "user", "import", str(first))
    first.write_text("Name,E-mail,Agency,Roles\nj.reid,other@example.org,,lead_reviewer; subgroup_chair\n"
                     "k.lee,,Police,action_owner\n", "utf-8")
    result = _cli(url, "user", "import", str(first), "--json")
    report = json.loads(result.stdout)
    assert [(p["name"], p["status"], p["roles"]) for p in report["people"]] == [
        ("j.reid", "granted", ["subgroup_chair"]), ("k.lee", "added", ["action_owner"])]
    people = _people(url)
    assert people["j.reid"]["roles"] == ["lead_reviewer", "subgroup_chair"]
    assert people["j.reid"]["email"] == "j.reid@example.org"  # details are changed with `user change`
    assert _cli(url, "audit", "verify").stdout.startswith("ok: ")


def test_one_bad_row_writes_nothing_and_every_problem_is_named(url: str, tmp_path: Path) -> None:
    bad = tmp_path / "people.csv"
    # a spreadsheet's byte-order mark, a good row, then three bad ones
    bad.write_bytes("\ufeffname,email,agency,roles\n"
                    "ok.person,ok@example.org,Police,action_owner\n"
                    "x y,,Police,action_owner\n"
                    "q.reid,,,chair\n"
                    "s.tan,s.tan@example.org,Polis,action_owner\n"
                    "ok.person,,,board\n".encode())
    result = _cli(url, "user", "import", str(bad), code=1)
    lines = result.stderr.removeprefix("Error: ").splitlines()
    assert [line.split(":")[1] for line in lines] == ["3", "4", "5", "6"]
    assert lines[0] == (f"{bad}:3: x y: user name 'x y' is not usable: use letters, digits and . _ @ - with no "
                        "spaces, e.g. a.khan")
    assert "role(s) chair are not used by any loaded workflow" in lines[1]
    assert "'Polis' is not a registered agency: did you mean 'Police'?" in lines[2]
    assert "ok.person is listed twice (first on line 2)" in lines[3]
    assert "ok.person" not in _people(url)


def test_a_file_the_spreadsheet_saved_in_another_encoding_is_named(url: str, tmp_path: Path) -> None:
    latin = tmp_path / "people.csv"
    latin.write_bytes("name,roles,agency\nr.gonz\u00e1lez,action_owner,Police\n".encode("cp1252"))
    result = _cli(url, "user", "import", str(latin), code=1)
    assert result.stderr.strip() == (f"Error: cannot read {latin}: it is not UTF-8 text (byte 0xE1); save it "
                                     "from the spreadsheet as 'CSV UTF-8'")
    missing = _cli(url, "user", "import", str(tmp_path / "none.csv"), code=1)
    assert "there is no such file; check the path" in missing.stderr


def test_only_an_administrator_imports(url: str) -> None:
    _cli(url, "user", "add", "b.manager", "--role", "business_manager")
    rf = Reviewflow(Database(url), SteppingClock(T0))
    try:
        token = rf.create_token(Identity("b.manager"), "b.manager", "import test", "write").secret
    finally:
        rf.db.dispose()
    result = CliRunner().invoke(cli, ["--db", url, "--now", T0.isoformat(), "user", "import",
                                      str(EXAMPLES / "users.csv")], env={**NO_ENV, "REVIEWFLOW_TOKEN": token})
    assert result.exit_code == 5, result.output
    assert "administrator" in result.stderr
    assert "m.patel" not in _people(url)


NAMES = st.from_regex(r"[a-z][a-z0-9._-]{0,12}", fullmatch=True)
ROLES = st.lists(st.from_regex(r"[a-z][a-z_]{0,10}", fullmatch=True), min_size=1, max_size=3, unique=True)
TEXT = st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), max_size=20)


@given(st.lists(st.tuples(NAMES, ROLES, TEXT), min_size=1, max_size=5, unique_by=lambda r: r[0]))
@example([("a.khan", ["business_manager"], "Children's social care, north")])
@example([("b", ["x"], ' "quoted" ')])
def test_what_a_spreadsheet_writes_reads_back(rows: list[tuple[str, list[str], str]]) -> None:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["name", "roles", "agency"])
    for name, roles, agency in rows:
        writer.writerow([name, "; ".join(roles), agency])
    listed = parse_user_list(out.getvalue(), "people.csv")
    assert listed.problems == []
    entries = listed.entries
    assert [(e.name, list(e.roles), e.agency) for e in entries] == [
        (name, roles, agency.strip() or None) for name, roles, agency in rows]


def test_a_list_without_its_columns_is_refused_before_any_row() -> None:
    with pytest.raises(InvalidUserList, match="missing column\\(s\\) roles"):
        parse_user_list("name,email\na.b,a@b.org\n", "people.csv")
    with pytest.raises(InvalidUserList, match="unknown column\\(s\\) 'colour'"):
        parse_user_list("name,roles,colour\n", "people.csv")
