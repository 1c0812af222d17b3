"""`reviewflow import tracker`: a board's spreadsheet in, every bad row reported, nothing half-imported.

The shipped sample (docs/examples) imports cleanly as CSV and as XLSX, and the imported cases are then
overdue exactly when a person counting working days says they are, and escalate. A 5,000-row tracker
imports through a real process with its progress bar; a file with 20 bad rows reports each of them.
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from reviewflow.cli import cli

from tests.conftest import acting_for

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "docs" / "examples"
SAMPLE_CSV = EXAMPLES / "tracker.csv"
SAMPLE_XLSX = EXAMPLES / "tracker.xlsx"
MAPPING = EXAMPLES / "tracker-mapping.yaml"

NOW = "2026-03-02T09:00"
NO_ENV = {"REVIEWFLOW_USER": None, "REVIEWFLOW_NOW": None, "REVIEWFLOW_DB": None, "REVIEWFLOW_CONFIG": None}
PEOPLE = {"a.khan": "business_manager", "d.osei": "subgroup_chair", "h.nurse": "action_owner",
          "m.patel": "action_owner", "t.ng": "action_owner", "p.officer": "action_owner"}

EXPECTED = {
    # ref: (state, last day on time, overdue on Monday 2 March 2026), counted by hand on a 2025-26 calendar
    "SCR-2018-004": ("publication", "2025-11-15", True),            # a historical SCR: 2 months from 15 Sep 2025
    "RR-2025-007": ("no_further_action", None, False),
    "RR-2026-003": ("rapid_review", "2026-02-09", True),            # 15 working days from Mon 19 Jan 2026
    "RR-2026-005": ("notification", "2026-03-02", False),           # 5 working days from Mon 23 Feb: due today
    "LCSPR-2025-002": ("actions", "2026-05-03", False),             # 6 months from 3 Nov 2025
    "MAR-2025-001": ("evidence_of_embedding", "2026-03-01", True),  # 6 months from 1 Sep 2025
    "TR-2026-001": ("scoping", "2026-02-23", True),                 # 20 working days from Mon 26 Jan 2026
    "MACA-2025-Q3": ("actions", "2026-04-06", False),               # 6 months from 6 Oct 2025
    "S11-2025": ("challenge_panel", "2026-04-30", False),           # the tracker's agreed (extended) due date
    "SAAR-2025-009": ("closed", None, False),
    "DHR-2025-002": ("threshold_decision", "2026-01-26", True),     # 10 working days from Mon 12 Jan 2026
}
OVERDUE_ACTIONS = {("LCSPR-2025-002", "A1"), ("MACA-2025-Q3", "A1")}


class Cli:
    def __init__(self, url: str) -> None:
        self.url = url
        self.runner = CliRunner()

    def __call__(self, *args: str, now: str | None = NOW, code: int = 0) -> Result:
        argv = ["--db", self.url, *(["--now", now] if now else []), *args]
        result = self.runner.invoke(cli, argv, env=NO_ENV)
        assert "Traceback" not in result.output + result.stderr
        assert result.exit_code == code, result.output + result.stderr
        return result

    def json(self, *args: str) -> Any:
        return json.loads(self(*args, "--json").stdout)

    def tracker(self, path: Path, *args: str, code: int = 0, mapping: Path = MAPPING) -> Result:
        return self("import", "tracker", str(path), "--mapping", str(mapping), "--as", "a.khan", *args, code=code)


def _ready(url: str) -> Cli:
    run = Cli(url)
    run("init", now="2025-01-01")
    for name, role in PEOPLE.items():
        run("user", "add", name, "--role", role, now="2025-01-01")
    return run


@pytest.fixture
def run(db_url: str) -> Cli:
    return _ready(db_url)


@pytest.fixture
def lite(tmp_path: Path) -> Cli:
    return _ready(f"sqlite:///{tmp_path / 'tracker.db'}")


def _cases(run: Cli) -> dict[str, dict[str, Any]]:
    return {c["ref"]: c for c in run.json("case", "list")}


def _rows(path: Path = SAMPLE_CSV) -> list[list[str]]:
    with path.open(encoding="utf-8", newline="") as f:
        return list(csv.reader(f))


def _write(path: Path, rows: list[list[str]], encoding: str = "utf-8") -> Path:
    with path.open("w", encoding=encoding, newline="") as f:
        csv.writer(f).writerows(rows)
    return path


# --- the shipped sample ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("sample", [SAMPLE_CSV, SAMPLE_XLSX], ids=["csv", "xlsx"])
def test_the_sample_imports_and_its_cases_are_overdue_when_a_person_says(run: Cli, sample: Path) -> None:
    result = run.tracker(sample)
    assert result.stdout.strip().splitlines() == [
        f"imported 11 case(s), 5 recommendation(s) and 8 action(s) from {sample.name} (16 rows)",
        "added to the list of learning themes: non-mobile babies, chronologies, education, missing children (see "
        "'reviewflow theme list')"]
    listed = json.loads(run("theme", "list", "--json").output)
    assert {"key": "non-mobile babies", "label": "Non-mobile babies", "description": "", "retired_at": None} in listed
    cases = _cases(run)
    assert {ref: (c["state"], c["due_date"], c["overdue"]) for ref, c in cases.items()} == EXPECTED
    assert not cases["SAAR-2025-009"]["is_open"]
    overdue = {(a["ref"], a["number"]) for a in run.json("action", "list", "--overdue")}
    assert overdue == OVERDUE_ACTIONS
    fired = json.loads(run("escalate", "--json").stdout)["fired"]
    assert {f["ref"] for f in fired} == {ref for ref, e in EXPECTED.items() if e[2]} | {r for r, _ in OVERDUE_ACTIONS}
    assert json.loads(run("escalate", "--json").stdout)["fired"] == []


def test_imported_cases_say_where_they_came_from(lite: Cli) -> None:
    lite.tracker(SAMPLE_CSV)
    case = lite.json("case", "show", "LCSPR-2025-002")
    assert case["opened_by"] == acting_for("a.khan")
    assert case["opened_at"].startswith("2025-03-10")
    assert [(h["trigger"], h["actor"], h["note"], h["to_state"]) for h in case["history"]] == [
        ("import", acting_for("a.khan"), "imported from tracker.csv rows 6, 7, 8", "actions")]
    assert case["fields"] == {"notifying_agency": "Children's social care", "incident_date": "2025-03-05",
                              "incident_type": "child_seriously_harmed"}
    recs = case["recommendations"]
    assert [(r["number"], r["themes"], [a["number"] for a in r["actions"]]) for r in recs] == [
        ("R1", ["non-mobile babies", "multi-agency working"], ["A1", "A2"]), ("R2", ["chronologies"], ["A3"])]
    assert [(a["owner_agency"], a["owner"], a["due_date"], a["status"]) for a in recs[0]["actions"]] == [
        ("Health", "h.nurse", "2026-01-30", "in_progress"), ("Health", None, "2026-05-29", "agreed")]
    superseded = lite.json("case", "show", "MAR-2025-001")["recommendations"][1]["actions"][0]
    assert (superseded["status"], superseded["status_reason"]) == (
        "superseded", "Replaced by the force-wide missing persons system")
    closed = lite.json("case", "show", "RR-2025-007")
    assert closed["fields"]["decision_rationale"].startswith("Criteria for a local review not met")
    lite("audit", "verify")


def test_imported_cases_move_on_like_any_other(lite: Cli) -> None:
    lite.tracker(SAMPLE_CSV)
    lite("case", "fire", "DHR-2025-002", "no_further_action", "--as", "a.khan",
         "--field", "decision_rationale=Learning already taken forward", now="2026-03-03", code=1)
    moved = lite("case", "fire", "TR-2026-001", "withdraw", "--as", "a.khan", "--field", "withdrawal_reason=Merged",
                 "--json", now="2026-03-03")
    assert json.loads(moved.stdout)["state"] == "withdrawn"
    lite("action", "update", "LCSPR-2025-002", "A1", "--status", "superseded", "--reason", "Replaced",
         "--as", "a.khan", now="2026-03-03")


def test_the_xlsx_sample_holds_the_csv_sample() -> None:
    import openpyxl

    book = openpyxl.load_workbook(SAMPLE_XLSX, read_only=True)
    try:
        cells = [list(r) for r in book["Tracker"].iter_rows(values_only=True)]
    finally:
        book.close()
    as_text = [[c.strftime("%d/%m/%Y") if hasattr(c, "strftime") else ("" if c is None else str(c)) for c in row]
               for row in cells]
    assert as_text == _rows()


def test_a_dry_run_writes_nothing(lite: Cli) -> None:
    result = lite.tracker(SAMPLE_CSV, "--dry-run")
    assert result.stdout.startswith("would import 11 case(s)")
    assert "nothing written (dry run)" in result.stdout
    assert _cases(lite) == {}


def test_importing_twice_reports_every_reference_already_there(lite: Cli) -> None:
    lite.tracker(SAMPLE_CSV)
    result = lite.tracker(SAMPLE_CSV, code=1)
    bad = [line for line in result.stderr.splitlines() if line.startswith("row ")]
    assert len(bad) == 11
    assert all("already in the database" in line for line in bad)


# --- bad rows ------------------------------------------------------------------------------------------------

BAD_ROWS: list[tuple[dict[str, str], str]] = [
    # (cells changed from a good one-row case, words the reason must contain)
    ({"Ref": ""}, "no case reference in column 'Ref'"),
    ({"Ref": "SCR 2026 1"}, "is not usable"),
    ({"Review type": "Audit of sorts"}, "unknown review type 'Audit of sorts'"),
    ({"Review type": ""}, "no review type in column 'Review type'"),
    ({"Stage": "Somewhere"}, "unknown stage 'Somewhere' for serious_case_review"),
    ({"Date opened": "31/02/2026"}, "opening date '31/02/2026' (column 'Date opened') is not a date"),
    ({"Date opened": ""}, "no opening date"),
    ({"Stage started": "next Tuesday"}, "stage start date 'next Tuesday'"),
    ({"Stage started": "01/01/2025"}, "before the case was opened"),
    ({"Date opened": "01/01/2027"}, "is in the future"),
    ({"Stage due": "01/01/2025"}, "before it started"),
    ({"Review type": "Case audit", "Stage": "Case selection", "Stage due": "30/06/2026", "Notifying agency": "",
      "Incident": "", "Incident date": ""}, "has no time limit"),
    ({"Incident": "Bruised"}, "field 'incident_type' must be one of"),
    ({"Incident date": "yesterday"}, "field 'incident_date'"),
    ({"Stage": "No further action"}, "stage no_further_action needs decision_rationale"),
    ({"Review type": "Section 11", "Stage": "Returns"}, "section_11_audit has no field notifying_agency"),
    ({"Rec": "1", "Recommendation": "Do better", "Action": "A thing", "Lead agency": "Police",
      "Action due": "30/06/2026", "Action status": "Sort of done"}, "unknown action status 'Sort of done'"),
    ({"Rec": "1", "Recommendation": "Do better", "Action": "A thing", "Lead agency": "Police",
      "Action due": "30/06/2026", "Action owner": "nobody"}, "action owner 'nobody' is not a registered user"),
    ({"Action": "A thing", "Lead agency": "Police", "Action due": "30/06/2026"}, "an action with no recommendation"),
    ({"Rec": "1", "Recommendation": "Do better", "Action": "A thing", "Lead agency": "Police",
      "Action due": "30/06/2026", "Action status": "Superseded"}, "a superseded action needs its reason"),
]


def _good(rows: list[list[str]], ref: str) -> list[str]:
    header = rows[0]
    values = {"Ref": ref, "Review type": "SCR", "Stage": "Agency reports", "Date opened": "02/02/2026",
              "Stage started": "09/02/2026", "Notifying agency": "Police", "Incident date": "30/01/2026",
              "Incident": "Died"}
    return [values.get(h, "") for h in header]


def _with_bad_rows(tmp_path: Path) -> tuple[Path, dict[int, str], int]:
    """The sample with 20 one-row cases added, each with one defect, between good one-row cases."""
    rows = _rows()
    header = rows[0]
    expected: dict[int, str] = {}
    for i, (changes, reason) in enumerate(BAD_ROWS, 1):
        rows.append(_good(rows, f"GOOD-{i:02d}"))
        bad = _good(rows, f"BAD-{i:02d}")
        for heading, value in changes.items():
            bad[header.index(heading)] = value
        rows.append(bad)
        expected[len(rows)] = reason
    return _write(tmp_path / "with-bad-rows.csv", rows), expected, len(rows) - 1


def _reported(result: Result) -> dict[int, str]:
    found: dict[int, str] = {}
    for line in result.stderr.splitlines():
        if line.startswith("row "):
            number, reason = line[4:].split(": ", 1)
            assert int(number) not in found, f"row {number} reported twice: {result.stderr}"
            found[int(number)] = reason
    return found


def test_twenty_bad_rows_are_each_reported_and_nothing_is_imported(lite: Cli, tmp_path: Path) -> None:
    path, expected, total = _with_bad_rows(tmp_path)
    result = lite.tracker(path, code=1)
    reported = _reported(result)
    assert sorted(reported) == sorted(expected)
    for row, words in expected.items():
        assert words in reported[row], (row, reported[row])
    assert "20 bad row(s): nothing imported (all or nothing)" in result.stderr
    assert result.stdout == ""
    assert _cases(lite) == {}
    assert total == 16 + 40


def test_per_row_imports_every_good_case(lite: Cli, tmp_path: Path) -> None:
    path, expected, _ = _with_bad_rows(tmp_path)
    result = lite.tracker(path, "--per-row", code=1)
    assert sorted(_reported(result)) == sorted(expected)
    assert "imported 31 case(s), 5 recommendation(s) and 8 action(s)" in result.stdout
    assert "20 bad row(s) not imported" in result.stderr
    refs = set(_cases(lite))
    assert refs == set(EXPECTED) | {f"GOOD-{i:02d}" for i in range(1, 21)}
    assert not any(r.startswith("BAD-") for r in refs)


def test_a_case_with_one_bad_row_is_left_out_whole(lite: Cli, tmp_path: Path) -> None:
    rows = _rows()
    status = rows[0].index("Action status")
    second = next(i for i, r in enumerate(rows) if r[0] == "LCSPR-2025-002" and r[status] == "Not started")
    rows[second][status] = "Unheard of"
    result = lite.tracker(_write(tmp_path / "one-bad.csv", rows), "--per-row", code=1)
    assert _reported(result) == {second + 1: "LCSPR-2025-002: unknown action status 'Unheard of': map it under "
                                 "action.status.values to one of: agreed, in_progress, evidence_submitted, verified, "
                                 "impact_evaluated, embedded, superseded, not_implemented"}
    assert f"rows {second}, {second + 2} belong to a case with a bad row" in result.stderr
    assert "LCSPR-2025-002" not in _cases(lite)
    assert len(_cases(lite)) == 10


def test_rows_of_one_case_must_not_contradict_each_other(lite: Cli, tmp_path: Path) -> None:
    rows = _rows()
    later = next(i for i, r in enumerate(rows) if r[0] == "MAR-2025-001" and not r[2])
    rows[later][2] = "Actions"
    reported = _reported(lite.tracker(_write(tmp_path / "contradicts.csv", rows), code=1))
    assert list(reported) == [later + 1]
    assert "column 'Stage' says 'Actions' here but 'Evidence of embedding' on row" in reported[later + 1]


# --- files, encodings and mappings ---------------------------------------------------------------------------

def test_windows_and_bom_encodings_and_blank_rows(lite: Cli, tmp_path: Path) -> None:
    rows = _rows()
    header = rows[0]
    row = _good(rows, "ENC-1")
    row[header.index("Notifying agency")] = "Café de l'école, £5 fund"
    blank = [""] * len(header)
    _write(tmp_path / "windows.csv", [header, blank, row], "cp1252")
    lite.tracker(tmp_path / "windows.csv")
    case = lite.json("case", "show", "ENC-1")
    assert case["fields"]["notifying_agency"] == "Café de l'école, £5 fund"
    assert case["history"][0]["note"] == "imported from windows.csv row 3"
    row[0] = "ENC-2"
    _write(tmp_path / "bom.csv", [header, row], "utf-8-sig")
    lite.tracker(tmp_path / "bom.csv")
    assert lite.json("case", "show", "ENC-2")["fields"]["notifying_agency"] == "Café de l'école, £5 fund"
    (tmp_path / "binary.csv").write_bytes(b"Ref\x81\x8d\n")
    assert "not readable as UTF-8 or Windows-1252" in lite.tracker(tmp_path / "binary.csv", code=1).stderr


def test_mapping_problems_are_given_with_file_and_line(lite: Cli, tmp_path: Path) -> None:
    mapping = tmp_path / "mapping.yaml"
    mapping.write_text("case:\n"
                       "  ref: Reference\n"
                       "  workflow:\n"
                       "    column: Review type\n"
                       "    values:\n"
                       "      SCR: serious_case_reviw\n"
                       "  stage: Stage\n"
                       "  colour: red\n"
                       "action:\n"
                       "  description: Action\n", "utf-8")
    result = lite.tracker(SAMPLE_CSV, mapping=mapping, code=1)
    assert result.stderr.splitlines() == [
        f"Error: {mapping}:1: case: missing key `opened` (which column holds it)",
        f"{mapping}:8: case.colour: unknown key 'colour': use ref, workflow, stage, opened, entered, due, fields",
        f"{mapping}:9: action: missing key `agency` (which column holds it)",
        f"{mapping}:9: action: missing key `due` (which column holds it)",
        f"{mapping}:9: action: actions belong to recommendations: add a `recommendation:` section saying which "
        "column holds the recommendation's text"]
    fixed = tmp_path / "fixed.yaml"
    fixed.write_text(MAPPING.read_text("utf-8").replace("SCR: serious_case_review", "SCR: serious_case_reviw")
                     .replace("ref: Ref ", "ref: Reference "), "utf-8")
    lines = lite.tracker(SAMPLE_CSV, mapping=fixed, code=1).stderr.splitlines()
    assert lines[0].startswith(f"Error: {fixed}:8: case.ref: column 'Reference' is not a heading in row 1 of "
                               "tracker.csv; its headings: 'Ref', 'Review type'")
    assert lines[1].startswith(f"{fixed}:12: case.workflow.values: no workflow named 'serious_case_reviw'")
    assert _cases(lite) == {}


def test_the_importer_must_be_registered_and_may_need_roles(lite: Cli, tmp_path: Path) -> None:
    result = lite("import", "tracker", str(SAMPLE_CSV), "--mapping", str(MAPPING), "--as", "nobody", code=3)
    assert "no user named 'nobody'" in result.stderr
    result = lite("import", "tracker", str(SAMPLE_CSV), "--mapping", str(MAPPING), "--as", "h.nurse", code=1)
    assert "h.nurse may not open serious_case_review cases" in result.stderr
    unknown = lite("import", "tracker", str(tmp_path / "tracker.ods"), "--mapping", str(MAPPING), "--as", "a.khan",
                   code=1)
    assert "give a .csv or .xlsx file" in unknown.stderr


def test_a_log_line_counts_what_was_done(lite: Cli) -> None:
    result = lite.runner.invoke(cli, ["--db", lite.url, "--now", NOW, "--log-json", "-v", "import", "tracker",
                                      str(SAMPLE_CSV), "--mapping", str(MAPPING), "--as", "a.khan"], env=NO_ENV)
    assert result.exit_code == 0, result.stderr
    events = [json.loads(line) for line in result.stderr.splitlines() if line.startswith("{")]
    done = [e for e in events if e["event"] == "tracker.imported"]
    assert len(done) == 1
    assert {k: done[0][k] for k in ("file", "rows", "cases", "recommendations", "actions", "bad_rows")} == {
        "file": "tracker.csv", "rows": 16, "cases": 11, "recommendations": 5, "actions": 8, "bad_rows": 0}
    assert "Partners to agree" not in result.stderr


# --- a large tracker --------------------------------------------------------------------------------------------

LARGE_MAPPING = """
case:
  ref: Ref
  workflow:
    column: Review type
    values: {SCR: serious_case_review, MAR: multi_agency_review, Case audit: multi_agency_case_audit}
  stage:
    column: Stage
    values: {Action plan: actions}
  opened: Date opened
  entered: Stage started
recommendation:
  number: Rec
  text: Recommendation
action:
  description: Action
  agency: Lead agency
  due: Action due
  status:
    column: Action status
    values: {Not started: agreed, On track: in_progress}
"""


def _large(path: Path, rows: int) -> tuple[int, int]:
    """`rows` rows of one to four actions per case (two per recommendation), across three workflows and
    several stages; returns how many cases and recommendations they hold."""
    header = ["Ref", "Review type", "Stage", "Date opened", "Stage started", "Rec", "Recommendation", "Action",
              "Lead agency", "Action due", "Action status"]
    stages = {"SCR": ["Notification", "Agency reports", "Action plan"], "MAR": ["Referral", "Report", "Actions"],
              "Case audit": ["Agency audits", "Actions"]}
    body: list[list[str]] = []
    cases = recommendations = 0
    while len(body) < rows:
        cases += 1
        kind = list(stages)[cases % 3]
        actions = min(1 + cases % 4, rows - len(body))
        recommendations += (actions + 1) // 2
        for j in range(actions):
            first = j == 0
            body.append([f"BIG-{cases:05d}", kind if first else "",
                         stages[kind][cases // 3 % len(stages[kind])] if first else "", "05/01/2026" if first else "",
                         "02/02/2026" if first else "", str(1 + j // 2), f"Recommendation {1 + j // 2}",
                         f"Action {j + 1}", ["Police", "Health", "Education"][j % 3], "27/02/2026",
                         ["Not started", "On track", "Verified"][j % 3]])
    _write(path, [header, *body])
    return cases, recommendations


def test_a_5000_row_tracker_imports_with_a_progress_bar(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'large.db'}"
    run = _ready(url)
    cases, recommendations = _large(tmp_path / "large.csv", 5000)
    (tmp_path / "large.yaml").write_text(LARGE_MAPPING, "utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "reviewflow.cli", "--db", url, "--now", NOW, "import", "tracker",
         str(tmp_path / "large.csv"), "--mapping", str(tmp_path / "large.yaml"), "--as", "a.khan", "--progress"],
        capture_output=True, text=True, timeout=1200, cwd=ROOT, check=False,
        env={k: v for k, v in os.environ.items() if k not in NO_ENV})
    assert done.returncode == 0, done.stderr
    assert done.stdout == (f"imported {cases} case(s), {recommendations} recommendation(s) and 5000 action(s) "
                           "from large.csv (5000 rows)\n")
    bar = done.stderr.splitlines()
    assert bar[0] == "checking rows   [------------------------------] 0/5000 rows   0%"
    assert bar[-1] == "importing cases [##############################] 5000/5000 rows 100%"
    assert len([line for line in bar if line.startswith("importing cases [")]) == 11
    listed = run.json("case", "list")
    assert len(listed) == cases
    # 2 Feb + 5 working days (notification, referral) and + 15 (agency audits) are past by 2 March;
    # + 20 (report: due that day), + 30 (agency reports) and 6 months (actions) are not
    assert {c["state"] for c in listed if c["overdue"]} == {"notification", "referral", "agency_audits"}
    assert {c["state"] for c in listed if not c["overdue"]} == {"agency_reports", "report", "actions"}


def test_fixed_values_semicolons_and_other_date_formats(lite: Cli, tmp_path: Path) -> None:
    (tmp_path / "themes.csv").write_text(
        "Reference;Started;Step;Theme;Recommendation;Action;Agency;Due\n"
        "TR-2026-010;05 Jan 2026;Scoping;Neglect;Agencies to share chronologies;Write the guide;Health;30 Jun 2026\n"
        "TR-2026-010;;;;;Brief the teams;Police;31 Jul 2026\n", "utf-8")
    (tmp_path / "themes.yaml").write_text(
        'delimiter: ";"\n'
        'date_format: "%d %b %Y"\n'
        "case:\n"
        "  ref: Reference\n"
        "  workflow: {fixed: thematic_review}\n"
        "  stage: Step\n"
        "  opened: Started\n"
        "  fields:\n"
        "    theme: Theme\n"
        "    theme_source: {fixed: case_reviews}\n"
        "recommendation:\n"
        "  text: Recommendation\n"
        "action:\n"
        "  description: Action\n"
        "  agency: Agency\n"
        "  due: Due\n"
        "  status: {fixed: in progress}\n", "utf-8")
    lite.tracker(tmp_path / "themes.csv", mapping=tmp_path / "themes.yaml")
    case = lite.json("case", "show", "TR-2026-010")
    assert (case["workflow"], case["state"], case["entered_at"][:10]) == ("thematic_review", "scoping", "2026-01-05")
    assert case["fields"] == {"theme": "Neglect", "theme_source": "case_reviews"}
    [rec] = case["recommendations"]
    assert [(a["number"], a["owner_agency"], a["due_date"], a["status"]) for a in rec["actions"]] == [
        ("A1", "Health", "2026-06-30", "in_progress"), ("A2", "Police", "2026-07-31", "in_progress")]


def test_a_missing_sheet_is_a_mapping_problem(lite: Cli, tmp_path: Path) -> None:
    mapping = tmp_path / "sheet.yaml"
    mapping.write_text(MAPPING.read_text("utf-8").replace("sheet: Tracker", "sheet: Reviews"), "utf-8")
    result = lite.tracker(SAMPLE_XLSX, mapping=mapping, code=1)
    assert result.stderr == f"Error: {mapping}:5: sheet: tracker.xlsx has no sheet 'Reviews'; its sheets: Tracker\n"


def test_a_sensitive_field_is_imported_but_its_value_never_repeated(lite: Cli, tmp_path: Path) -> None:
    minimal = (ROOT / "tests" / "fixtures" / "minimal.yaml").read_text("utf-8")
    definition = minimal.replace(
        "    notifying_agency: {type: text, label: Which agency referred the case}\n",
        "    notifying_agency: {type: text, label: Which agency referred the case}\n"
        "    family_context: {type: choice, options: [disclosed, none], sensitive: true}\n")
    assert definition != minimal
    (tmp_path / "minimal.yaml").write_text(definition, "utf-8")
    lite("workflow", "load", str(tmp_path / "minimal.yaml"))
    (tmp_path / "family.csv").write_text("Ref,Agency,Family\nMIN-1,Police,disclosed\nMIN-2,Police,Secret words\n",
                                         "utf-8")
    (tmp_path / "family.yaml").write_text(
        "case:\n  ref: Ref\n  workflow: {fixed: minimal}\n  stage: {fixed: referral}\n  opened: {fixed: 2026-02-02}\n"
        "  fields:\n    notifying_agency: Agency\n    family_context: Family\n", "utf-8")
    result = lite.runner.invoke(cli, ["--db", lite.url, "--now", NOW, "--log-json", "-v", "import", "tracker",
                                      str(tmp_path / "family.csv"), "--mapping", str(tmp_path / "family.yaml"),
                                      "--as", "a.khan", "--per-row"], env=NO_ENV)
    assert result.exit_code == 1
    assert _reported(result) == {3: "MIN-2: field 'family_context' (column 'Family') holds a value it does not take; "
                                    "it is sensitive, so the value is not repeated here: it takes family_context "
                                    "(choice: disclosed, none)"}
    assert "Secret words" not in result.output + result.stderr
    assert "disclosed" not in result.stdout
    assert lite.json("case", "show", "MIN-1")["fields"] == {"notifying_agency": "Police", "family_context": "disclosed"}
