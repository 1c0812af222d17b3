"""The real CLI: an SCR from notification to closed, and every refusal one clear line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from reviewflow.cli import cli

from tests.conftest import ADMIN, acting_for
from tests.databases import Templates

PEOPLE = {
    "la.duty": ["la_notifier"],
    "a.khan": ["business_manager"],
    "d.osei": ["subgroup_chair"],
    "p.hughes": ["board_chair"],
    "j.reid": ["lead_reviewer"],
    "lscp.board": ["board"],
}


class Cli:
    """Runs `reviewflow --db URL [--now DATE] ...` in-process through click's runner."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.runner = CliRunner()

    def __call__(self, *args: str, now: str | None = None, ok: bool = True) -> Result:
        argv = ["--db", self.url, *(["--now", now] if now else []), *args]
        result = self.runner.invoke(cli, argv, env={"REVIEWFLOW_USER": None, "REVIEWFLOW_NOW": None})
        assert "Traceback" not in result.output + result.stderr
        if ok:
            assert result.exit_code == 0, result.output + result.stderr
        return result

    def refused(self, *args: str, now: str | None = None, status: int = 1) -> str:
        result = self(*args, now=now, ok=False)
        assert result.exit_code == status, result.output
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1, result.stderr
        return lines[0]

    def show(self, ref: str) -> dict[str, object]:
        return json.loads(self("case", "show", ref, "--json").output)


def _init_with_people(url: str) -> None:
    c = Cli(url)
    c("init", now="2026-01-05")
    for name, roles in PEOPLE.items():
        c("user", "add", name, *[a for r in roles for a in ("--role", r)], "--email", f"{name}@example.org")


@pytest.fixture
def run(db_url: str, templates: Templates) -> Cli:
    """`init` on 5 January 2026 and PEOPLE added (a copy of a database built so once per process)."""
    templates.copy(db_url, "test_cli: init on 2026-01-05, PEOPLE added", _init_with_people)
    return Cli(db_url)


def _open_scr(run: Cli, ref: str, now: str) -> None:
    """Open a serious case review as the local authority's notifier, dated `now`."""
    run("case", "open", "serious_case_review", "--legacy", "--ref", ref, "--as", "la.duty",
        "--field", "notifying_agency=Police", "--field", "incident_date=2026-01-02",
        "--field", "incident_type=child_died", now=now)


def _fire(run: Cli, ref: str, trigger: str, actor: str, now: str, **fields: str) -> dict[str, object]:
    args = [a for k, v in fields.items() for a in ("--field", f"{k}={v}")]
    run("case", "fire", ref, trigger, "--as", actor, *args, now=now)
    return run.show(ref)


def test_scr_from_notification_to_closed(run: Cli) -> None:
    run("case", "open", "serious_case_review", "--legacy", "--ref", "SCR-2026-001", "--as", "la.duty",
        "--field", "notifying_agency=Children's social care", "--field", "incident_date=2026-01-02",
        "--field", "incident_type=child_seriously_harmed", now="2026-01-05T10:00")
    steps = [
        ("notify", "la.duty", "2026-01-07", {"notification_date": "2026-01-07"}, "subgroup_consideration"),
        ("recommend", "d.osei", "2026-01-16",
         {"subgroup_recommendation": "hold_scr", "subgroup_rationale": "Concern about joint working"},
         "threshold_decision"),
        ("hold_scr", "p.hughes", "2026-01-23", {"criteria_met": "yes", "decision_rationale": "Criteria met",
                                                 "decision_date": "2026-01-23"}, "commissioning"),
        ("commission", "a.khan", "2026-02-13", {"lead_reviewer_appointed": "yes",
                                                 "terms_of_reference_date": "13/02/2026"}, "agency_reports"),
        ("agency_reports_received", "j.reid", "2026-03-20", {"agency_reports_date": "2026-03-20"},
         "practitioner_engagement"),
        ("engagement_complete", "j.reid", "2026-04-14", {"practitioner_event_date": "2026-04-10",
                                                          "family_invited": "yes"}, "draft_and_qa"),
        ("submit_final_report", "j.reid", "2026-05-11", {"report_date": "2026-05-11"}, "recommendations"),
        ("accept_report", "lscp.board", "2026-05-28", {"board_acceptance_date": "2026-05-28"}, "publication"),
        ("publish", "a.khan", "2026-06-15", {"regulators_copied_date": "2026-06-04",
                                              "publication_date": "2026-06-15"}, "actions"),
        ("actions_complete", "d.osei", "2026-11-20", {"actions_verified_date": "2026-11-20"}, "evidence_of_embedding"),
        ("confirm_embedded", "d.osei", "2027-04-20", {"impact_evidence": "Re-audit of 20 cases, March 2027"}, "closed"),
    ]
    learning = {  # the action plan, evidenced and embedded, before the moves that need it
        "publish": [("case", "recommend", "--text", "Share concerns early", "--as", "a.khan"),
                    ("action", "add", "--rec", "R1", "--description", "Update the policy", "--agency", "Police",
                     "--due", "2026-09-30", "--as", "a.khan")],
        "actions_complete": [("action", "evidence", "A1", "--kind", "policy_change", "--description", "Policy v2",
                              "--link", "POL-2", "--as", "a.khan"),
                             ("action", "accept", "E1", "--as", "d.osei"),
                             ("action", "verify", "A1", "--as", "d.osei")],
        "confirm_embedded": [("action", "evaluate", "A1", "--method", "re_audit", "--date", "2027-04-01",
                              "--finding", "Policy followed", "--as", "d.osei"),
                             ("action", "update", "A1", "--status", "embedded", "--as", "d.osei"),
                             ("case", "disseminate", "--kind", "briefing", "--audience", "Partners",
                              "--date", "2027-04-02", "--as", "a.khan")],
    }
    for trigger, actor, now, fields, expected in steps:
        for command in learning.get(trigger, []):
            run(*command[:2], "SCR-2026-001", *command[2:], now=now)
        case = _fire(run, "SCR-2026-001", trigger, actor, now, **fields)
        assert case["state"] == expected, trigger
    case = run.show("SCR-2026-001")
    assert case["is_open"] is False
    assert isinstance(case["history"], list)
    history = [h for h in case["history"] if h["from_state"] != h["to_state"] or h["trigger"] == "open"]
    assert [h["trigger"] for h in history] == ["open"] + [s[0] for s in steps]
    assert [h["actor"] for h in history][1:] == [acting_for(s[1]) for s in steps]
    assert history[4]["fields"]["terms_of_reference_date"] == "2026-02-13"
    listing = run("case", "list", "--json")
    assert [c["ref"] for c in json.loads(listing.output)] == ["SCR-2026-001"]


@pytest.mark.parametrize(
    ("args", "message", "status"),
    [
        pytest.param(["case", "fire", "SCR-1", "hold_scr", "--as", "p.hughes"],
                     "Error: `hold_scr` is not possible from `notification`; possible: notify, withdraw",
                     1, id="illegal-move"),
        pytest.param(["case", "fire", "SCR-1", "notify", "--as", "d.osei", "--field", "notification_date=2026-01-07"],
                     "Error: `notify` needs one of the roles la_notifier, business_manager; d.osei has "
                     "subgroup_chair: ask someone who holds one, or give the role with "
                     "'reviewflow user grant d.osei --role la_notifier'",
                     5, id="wrong-role"),
        pytest.param(["case", "fire", "SCR-1", "notify", "--as", "la.duty"],
                     "Error: `notify` needs notification_date (date): add --field notification_date=...",
                     1, id="missing-field"),
        pytest.param(["case", "fire", "SCR-1", "notify", "--as", "la.duty", "--field", "notification_date=7 Jan"],
                     "Error: field 'notification_date': '7 Jan' is not a date: write it as 2026-03-31 (or 31/03/2026)",
                     1, id="bad-date"),
        pytest.param(["case", "fire", "SCR-1", "notify", "--as", "la.duty", "--field", "notification_date"],
                     "Error: --field 'notification_date' is not NAME=VALUE: write e.g. "
                     "--field decision_rationale=\"...\"", 1, id="bad-field-syntax"),
        pytest.param(["case", "fire", "SCR-9", "notify", "--as", "la.duty"],
                     "Error: no case with reference 'SCR-9': check it with 'reviewflow case list'",
                     3, id="unknown-case"),
        pytest.param(["case", "fire", "SCR-1", "notify", "--as", "nobody"],
                     "Error: no user named 'nobody': register them with 'reviewflow user add nobody --role ROLE' "
                     "or pass --as with a registered user", 3, id="unknown-user"),
        pytest.param(["case", "fire", "SCR-1", "notify"],
                     f"Error: `notify` needs one of the roles la_notifier, business_manager; {ADMIN} has no roles: "
                     f"ask someone who holds one, or give the role with 'reviewflow user grant {ADMIN} --role "
                     "la_notifier'", 5, id="administrator-without-the-role"),
        pytest.param(["case", "open", "serious_case_review", "--legacy", "--ref", "SCR-1", "--as", "la.duty"],
                     "Error: a case with reference 'SCR-1' already exists: choose another reference or look at it "
                     "with 'reviewflow case show SCR-1'", 6, id="duplicate-ref"),
        pytest.param(["case", "open", "serious_case_revue", "--ref", "SCR-2", "--as", "la.duty"],
                     "Error: no workflow named 'serious_case_revue'; known workflows: ", 3, id="unknown-workflow"),
        pytest.param(["--now", "next monday", "case", "list"],
                     "Error: 'next monday' is not a date or date-time: write e.g. 2026-03-31, 31/03/2026 or "
                     "2026-03-31T09:30",
                     1, id="bad-now"),
    ],
)
def test_refusals_are_one_line_and_change_nothing(run: Cli, args: list[str], message: str, status: int) -> None:
    _open_scr(run, "SCR-1", "2026-01-05")
    before = run.show("SCR-1")
    assert run.refused(*args, status=status).startswith(message)
    after = run.show("SCR-1")
    assert (after["state"], after["history"], after["fields"]) == (before["state"], before["history"], before["fields"])


def test_show_lists_next_steps_and_what_they_need(run: Cli) -> None:
    _open_scr(run, "SCR-3", "2026-01-05T09:00")
    text = run("case", "show", "SCR-3", "--as", "d.osei", now="2026-01-14").output
    assert "state:    Notification [notification]" in text
    assert "limit 5 working days, due 2026-01-12, OVERDUE by 2 working days" in text
    assert "needs: notification_date (date)  (not your role)" in text
    overdue = json.loads(run("case", "list", "--overdue", "--json", now="2026-01-14").output)
    assert [(c["ref"], c["working_days_overdue"]) for c in overdue] == [("SCR-3", 2)]
    assert json.loads(run("case", "list", "--overdue", "--json", now="2026-01-12").output) == []


def test_workflow_commands(run: Cli) -> None:
    names = [w["name"] for w in json.loads(run("workflow", "list", "--json").output)]
    assert "serious_case_review" in names
    shown = run("workflow", "show", "serious_case_review").output
    assert "* notification" in shown
    assert "hold_scr" in shown
    users = json.loads(run("user", "list", "--json").output)
    assert {u["name"]: u["roles"] for u in users}["p.hughes"] == ["board_chair"]


def test_database_problems_are_one_line(tmp_path: Path) -> None:
    c = Cli(f"sqlite:///{tmp_path / 'missing.db'}")
    assert c.refused("case", "list", status=4) == (
        f"Error: no database at {tmp_path / 'missing.db'}: run 'reviewflow init' first, or pass --db")
    assert not (tmp_path / "missing.db").exists()
    assert Cli(f"sqlite:///{tmp_path / 'no' / 'such' / 'dir.db'}").refused("init", status=4).startswith(
        "Error: cannot open the database")
    assert Cli("mysql+nothing://x").refused("case", "list", status=4).startswith("Error: no driver for")
    assert Cli("not a url").refused("case", "list", status=4).startswith("Error: 'not a url' is not a database URL")
    (tmp_path / "empty.db").write_bytes(b"")
    assert Cli(f"sqlite:///{tmp_path / 'empty.db'}").refused("case", "list", status=4).endswith(
        "is not initialised: run 'reviewflow init'")


def test_postgres_down_is_one_line() -> None:
    line = Cli("postgresql+psycopg://nobody@127.0.0.1:1/none").refused("case", "list", status=4)
    assert line.startswith("Error: cannot reach the database postgresql+psycopg://nobody@127.0.0.1:1/none")


def test_console_script_runs_as_a_subprocess(tmp_path: Path) -> None:
    env = {**os.environ, "REVIEWFLOW_DB": f"sqlite:///{tmp_path / 'x.db'}"}
    exe = Path(sys.executable).with_name("reviewflow")
    ok = subprocess.run([str(exe), "init"], env=env, capture_output=True, text=True, check=False)
    assert ok.returncode == 0, ok.stderr
    bad = subprocess.run([str(exe), "case", "show", "NOPE"], env=env, capture_output=True, text=True, check=False)
    assert (bad.returncode, bad.stdout) == (3, "")
    assert bad.stderr == "Error: no case with reference 'NOPE': check it with 'reviewflow case list'\n"


def test_every_command_has_help() -> None:
    runner = CliRunner()

    def walk(group: object, path: list[str]) -> None:
        for name, command in getattr(group, "commands", {}).items():
            assert command.help, f"{' '.join([*path, name])} has no help text"
            result = runner.invoke(cli, [*path, name, "--help"])
            assert result.exit_code == 0
            walk(command, [*path, name])

    walk(cli, [])


def test_grant_gives_an_existing_user_a_role_they_can_then_use(run: Cli) -> None:
    _open_scr(run, "SCR-5", "2026-01-05")
    refusal = run.refused("case", "fire", "SCR-5", "notify", "--as", "d.osei",
                          "--field", "notification_date=2026-01-05", now="2026-01-06", status=5)
    assert refusal.endswith("or give the role with 'reviewflow user grant d.osei --role la_notifier'")
    assert run("user", "grant", "d.osei", "--role", "la_notifier").output == (
        "d.osei now holds: la_notifier, subgroup_chair\n")
    run("case", "fire", "SCR-5", "notify", "--as", "d.osei", "--field", "notification_date=2026-01-05",
        now="2026-01-06")
    assert run.show("SCR-5")["state"] == "subgroup_consideration"
    assert run.refused("user", "grant", "nobody", "--role", "board", status=3).startswith(
        "Error: no user named 'nobody'")


def test_a_change_cannot_be_dated_before_the_last_one(run: Cli) -> None:
    _open_scr(run, "SCR-6", "2026-01-07T09:00")
    line = run.refused("case", "fire", "SCR-6", "notify", "--as", "la.duty",
                       "--field", "notification_date=2026-01-05", now="05/01/2026")
    assert line == ("Error: SCR-6 last changed at 2026-01-07 09:00; a change cannot be dated earlier: "
                    "check --now (or REVIEWFLOW_NOW)")
    assert run.refused("case", "pause", "SCR-6", "--reason", "inquest", "--as", "a.khan",
                       now="2026-01-06").startswith("Error: SCR-6 last changed at")
    assert run.show("SCR-6")["history"][-1]["trigger"] == "open"


def test_paused_cases_are_listed_as_paused_and_unknown_versions_named(run: Cli) -> None:
    _open_scr(run, "SCR-7", "2026-01-05")
    run("case", "pause", "SCR-7", "--reason", "police request", "--as", "a.khan", now="2026-01-06")
    assert run("case", "list", now="2026-03-01").output.split()[-1] == "paused"
    assert run.refused("workflow", "show", "serious_case_review", "--version", "5", status=3) == (
        "Error: workflow serious_case_review has no version 5; loaded versions: 4")
