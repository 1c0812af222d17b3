"""`reviewflow import tracker --update` and `--create-owners`: a board keeps its spreadsheet going beside reviewflow.

A second import of the same sheet with changes brings them in (stage, fields, new recommendations and actions,
changed actions), each sealed in the case's history; `--dry-run --update` lists every change and writes
nothing; the same sheet again changes nothing. Owners the sheet names who are not registered are listed once with
how to register them, or registered by `--create-owners`.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from reviewflow.cli import cli

from tests.conftest import pg_url_or_skip

NO_ENV = {"REVIEWFLOW_USER": None, "REVIEWFLOW_NOW": None, "REVIEWFLOW_DB": None, "REVIEWFLOW_CONFIG": None}
NOW = "2026-03-02T09:00"
LATER = "2026-03-16T09:00"

MAPPING = """\
case:
  ref: Ref
  workflow:
    column: Type
    values:
      Case audit: multi_agency_case_audit
  stage: Stage
  opened: Opened
  entered: Stage started
  fields:
    audit_period: Period
    audit_theme: Theme
recommendation:
  number: Rec
  text: Recommendation
action:
  description: Action
  agency: Agency
  owner: Owner
  due: Due
  status:
    column: Status
    values:
      Not started: agreed
      In progress: in_progress
      Superseded: superseded
  reason: Notes
"""

HEADER = ["Ref", "Type", "Stage", "Opened", "Stage started", "Period", "Theme", "Rec", "Recommendation", "Action",
          "Agency", "Owner", "Due", "Status", "Notes"]
FIRST = [
    ["MACA-2026-Q1", "Case audit", "Recommendations", "05/01/2026", "16/02/2026", "2025-26 Q4", "Neglect", "1",
     "Strengthen supervision of neglect cases", "Audit supervision records", "Police", "m.patel", "30/04/2026",
     "Not started", ""],
    ["MACA-2026-Q1", "Case audit", "Recommendations", "05/01/2026", "16/02/2026", "2025-26 Q4", "Neglect", "1",
     "Strengthen supervision of neglect cases", "Refresh the neglect toolkit", "Health", "", "31/05/2026",
     "Not started", ""],
]


class Cli:
    def __init__(self, url: str, folder: Path) -> None:
        self.url = url
        self.folder = folder
        self.runner = CliRunner()
        (folder / "tracker-mapping.yaml").write_text(MAPPING, encoding="utf-8")

    def __call__(self, *args: str, now: str = NOW, code: int = 0) -> Result:
        result = self.runner.invoke(cli, ["--db", self.url, "--now", now, *args], env=NO_ENV)
        assert "Traceback" not in result.output + result.stderr
        assert result.exit_code == code, result.output + result.stderr
        return result

    def sheet(self, rows: list[list[str]], name: str = "tracker.csv") -> Path:
        path = self.folder / name
        with path.open("w", encoding="utf-8", newline="") as f:
            csv.writer(f).writerows([HEADER, *rows])
        return path

    def tracker(self, rows: list[list[str]], *args: str, now: str = NOW, code: int = 0) -> Result:
        return self("import", "tracker", str(self.sheet(rows)), "--as", "a.khan", *args, now=now, code=code)

    def json(self, *args: str, now: str = NOW) -> Any:
        return json.loads(self(*args, "--json", now=now).stdout)


def _ready(url: str, folder: Path) -> Cli:
    run = Cli(url, folder)
    run("init", now="2025-12-01")
    run("user", "add", "a.khan", "--role", "business_manager", now="2025-12-01")
    run("user", "add", "d.osei", "--role", "subgroup_chair", now="2025-12-01")
    run("user", "add", "m.patel", "--role", "action_owner", "--agency", "Police", now="2025-12-01")
    run("user", "add", "h.nurse", "--role", "action_owner", "--agency", "Health", now="2025-12-01")
    return run


@pytest.fixture
def lite(tmp_path: Path) -> Cli:
    return _ready(f"sqlite:///{tmp_path / 'tracker.db'}", tmp_path)


def _changed(rows: list[list[str]]) -> list[list[str]]:
    """The sheet a fortnight on: the audit moved to its action plan, the theme reworded, the first action started
    and re-dated, the second given an owner, and a second recommendation with an action."""
    second = [list(r) for r in rows]
    for r in second:
        r[2], r[4], r[6] = "Actions", "09/03/2026", "Neglect and supervision"
    second[0][12], second[0][13] = "31/05/2026", "In progress"
    second[1][11] = "h.nurse"
    second.append(["MACA-2026-Q1", "Case audit", "Actions", "05/01/2026", "09/03/2026", "2025-26 Q4",
                   "Neglect and supervision", "2", "Hear the voice of the child in audits", "Add the child's view "
                   "to the audit template", "Health", "h.nurse", "30/06/2026", "Not started", ""])
    return second


def test_a_second_import_without_update_says_how_to_bring_changes_in(lite: Cli) -> None:
    lite.tracker(FIRST)
    result = lite.tracker(FIRST, code=1)
    assert "row 2: MACA-2026-Q1: a case with this reference is already in the database: pass --update" \
        in result.stderr


def test_a_dry_run_lists_every_change_and_writes_nothing(lite: Cli) -> None:
    lite.tracker(FIRST)
    before = lite.json("case", "show", "MACA-2026-Q1", now=LATER)
    result = lite.tracker(_changed(FIRST), "--update", "--dry-run", now=LATER)
    assert result.stdout.splitlines()[:7] == [
        "MACA-2026-Q1: stage: recommendations -> actions",
        "MACA-2026-Q1: field audit_theme: Neglect -> Neglect and supervision",
        "MACA-2026-Q1: recommendation R2 added: Hear the voice of the child in audits",
        "MACA-2026-Q1: action A3 added to R2: Add the child's view to the audit template (due 2026-06-30)",
        "MACA-2026-Q1: action A1 status: agreed -> in_progress",
        "MACA-2026-Q1: action A1 due date: 2026-04-30 -> 2026-05-31",
        "MACA-2026-Q1: action A2 owner: (none) -> h.nurse",
    ]
    assert "1 case(s) already here would be updated, 0 unchanged; nothing written (dry run)" in result.stdout
    assert lite.json("case", "show", "MACA-2026-Q1", now=LATER) == before


def test_update_brings_the_changes_in_sealed_and_a_second_run_changes_nothing(lite: Cli) -> None:
    lite.tracker(FIRST)
    lite.tracker(_changed(FIRST), "--update", now=LATER)
    case = lite.json("case", "show", "MACA-2026-Q1", now=LATER)
    assert case["state"] == "actions"
    assert case["fields"]["audit_theme"] == "Neglect and supervision"
    actions = {a["number"]: a for a in lite.json("action", "list", "MACA-2026-Q1", now=LATER)}
    assert actions["A1"]["status"] == "in_progress"
    assert actions["A1"]["due_date"] == "2026-05-31"
    assert actions["A1"]["first_due_date"] == "2026-04-30"
    assert actions["A1"]["redate_reason"] == "changed by tracker import tracker.csv"
    assert actions["A2"]["owner"] == "h.nurse"
    assert actions["A3"]["recommendation"] == "R2"
    history = lite.json("case", "show", "MACA-2026-Q1", now=LATER)["history"]
    update = [h for h in history if h["trigger"] == "import_update"]
    assert len(update) == 1
    assert (update[0]["from_state"], update[0]["to_state"]) == ("recommendations", "actions")
    assert update[0]["note"] == "updated from tracker.csv rows 2, 3, 4"
    assert lite("audit", "verify", now=LATER).exit_code == 0
    again = lite.tracker(_changed(FIRST), "--update", now=LATER)
    assert "0 case(s) already here updated, 1 unchanged" in again.stdout
    assert lite.json("case", "show", "MACA-2026-Q1", now=LATER)["history"] == history


def test_a_field_change_alone_keeps_the_stage_and_a_pause(lite: Cli) -> None:
    lite.tracker(FIRST)
    lite("case", "pause", "MACA-2026-Q1", "--reason", "police request", "--expected-end", "2026-04-01", "--as",
         "a.khan")
    rows = [list(r) for r in FIRST]
    for r in rows:
        r[6] = "Neglect (re-scoped)"
    lite.tracker(rows, "--update", now=LATER)
    case = lite.json("case", "show", "MACA-2026-Q1", now=LATER)
    assert (case["state"], case["fields"]["audit_theme"]) == ("recommendations", "Neglect (re-scoped)")
    assert case["paused_at"] is not None
    assert lite("audit", "verify", now=LATER).exit_code == 0


def test_a_tracker_cannot_reopen_a_closed_case_nor_change_a_finished_action(lite: Cli) -> None:
    rows = [list(r) for r in FIRST]
    rows[1][13], rows[1][14] = "Superseded", "Replaced by the regional toolkit"
    lite.tracker(rows)
    rows[1][13] = "In progress"
    result = lite.tracker(rows, "--update", now=LATER, code=1)
    assert ("action A2 is superseded in reviewflow but the sheet says in_progress: a finished action does not "
            "change; correct the sheet") in result.stderr
    assert lite.json("action", "list", "MACA-2026-Q1", now=LATER)[1]["status"] == "superseded"


def test_missing_owners_are_listed_once_with_how_to_register_them(lite: Cli) -> None:
    rows = [list(r) for r in FIRST]
    rows[0][11] = "j.bloggs"
    rows[1][11] = "j.bloggs"
    result = lite.tracker(rows, code=1)
    assert "1 action owner(s) named in the sheet are not registered users:" in result.stderr
    assert "  j.bloggs (Police): row(s) 2, 3" in result.stderr
    assert "reviewflow user import users.csv" in result.stderr
    assert "--create-owners" in result.stderr
    assert lite.json("case", "list") == []


def test_create_owners_registers_them_as_action_owners_of_their_agency(lite: Cli) -> None:
    rows = [list(r) for r in FIRST]
    rows[0][11] = "j.bloggs"
    dry = lite.tracker(rows, "--create-owners", "--dry-run")
    assert "would register j.bloggs as an action owner of Police (rows 2)" in dry.stdout
    assert "j.bloggs" not in lite("user", "list").stdout
    result = lite.tracker(rows, "--create-owners")
    assert "registered j.bloggs as an action owner of Police (rows 2)" in result.stdout
    users = {u["name"]: u for u in lite.json("user", "list")}
    assert users["j.bloggs"]["roles"] == ["action_owner"]
    assert users["j.bloggs"]["agency"] == "Police"
    assert lite.json("action", "list", "MACA-2026-Q1")[0]["owner"] == "j.bloggs"
    assert lite("audit", "verify").exit_code == 0


@pytest.mark.postgres
def test_update_on_postgresql(tmp_path: Path) -> None:
    run = _ready(pg_url_or_skip(), tmp_path)
    run.tracker(FIRST)
    run.tracker(_changed(FIRST), "--update", now=LATER)
    assert run.json("case", "show", "MACA-2026-Q1", now=LATER)["state"] == "actions"
    assert run("audit", "verify", now=LATER).exit_code == 0


def test_the_timeline_and_case_show_give_one_overdue_figure(lite: Cli) -> None:
    """A stage whose limit is in months, overdue: both count the working days past its due date."""
    lite.tracker(FIRST)  # in `recommendations` since 16 February 2026; its limit is 1 month
    late = "2026-05-11T09:00"
    shown = lite.json("case", "show", "MACA-2026-Q1", now=late)
    assert shown["overdue"]
    days = shown["working_days_overdue"]
    assert f"OVERDUE by {days} working days" in lite("case", "show", "MACA-2026-Q1", now=late).stdout
    timeline = lite("case", "timeline", "MACA-2026-Q1", now=late).stdout
    assert f"OVERDUE: over by {days} working days" in timeline


def test_json_gives_the_changes_and_the_people_missing(lite: Cli) -> None:
    lite.tracker(FIRST)
    rows = _changed(FIRST)
    rows[2][11] = "j.bloggs"
    result = lite.tracker(rows, "--update", "--dry-run", "--json", now=LATER, code=1)
    report = json.loads(result.stdout)["report"]
    assert report["missing_owners"] == [{"name": "j.bloggs", "agency": "Health", "rows": [4]}]
    assert report["changes"] == []  # a bad row of the case: nothing of it is planned
    rows[2][11] = "h.nurse"
    report = json.loads(lite.tracker(rows, "--update", "--dry-run", "--json", now=LATER).stdout)["report"]
    assert report["updated"] == 1
    assert "MACA-2026-Q1: stage: recommendations -> actions" in report["changes"]
