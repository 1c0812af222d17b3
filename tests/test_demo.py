"""`reviewflow demo` builds a real database a user can explore afterwards, with a story that ends on the day the
command is given (today, or `--now`)."""

from __future__ import annotations

import json
import re
from pathlib import Path

from click.testing import CliRunner

from reviewflow.cli import cli

END = "2027-04-14"
NO_ENV = {"REVIEWFLOW_NOW": None, "REVIEWFLOW_DB": None}


def test_demo_walks_cases_and_leaves_an_explorable_database(tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(cli, ["--now", END, "demo", "--dir", str(tmp_path)], env=NO_ENV)
    assert result.exit_code == 0, result.output + result.stderr
    out = result.output
    assert re.search(r"^Loaded \d+ workflows: .*rapid_review_lcspr", out, re.M)
    assert out.count("refused:") == 2
    assert "d.osei tried commission_lcspr: `commission_lcspr` needs one of the roles board_chair" in out
    assert "d.osei tried actions_complete: `actions_complete` is not possible yet: all_actions_verified" in out
    assert f"Where things stand on {END}:" in out
    assert "decide evidence E2 rejected, action now in_progress [by d.osei]" in out
    assert "ESCALATED level 4: action A1 (Police) overdue" in out
    assert "MACA-2026-Q1  Evidence of embedding -> Closed [confirm_embedded by d.osei]" in out
    assert "serious_case_review" not in out.split("Registered")[1]  # no serious case review is opened
    dates = re.findall(r"^(\d{4}-\d\d-\d\d)  ", out, re.M)
    assert dates == sorted(dates)
    assert dates[-1] <= END
    db = f"sqlite:///{tmp_path / 'reviewflow-demo.db'}"
    cases = json.loads(runner.invoke(cli, ["--db", db, "--now", END, "case", "list", "--json"], env=NO_ENV).output)
    by_ref = {c["ref"]: c for c in cases}
    assert len(by_ref) == 10
    assert {c["workflow"] for c in cases} == {"rapid_review_lcspr", "multi_agency_review", "multi_agency_case_audit",
                                              "section_11_audit", "domestic_homicide_review", "thematic_review"}
    assert by_ref["RR-2026-001"]["state"] == "evidence_of_embedding"
    assert by_ref["DHR-2027-001"]["state"] == "actions"
    assert by_ref["RR-2026-003"]["overdue"] is True
    rr = json.loads(runner.invoke(cli, ["--db", db, "--now", END, "case", "show", "RR-2026-001", "--json"],
                                  env=NO_ENV).output)
    assert [h["trigger"] for h in rr["history"]][:4] == ["open", "notify", "submit_rapid_review", "commission_lcspr"]
    assert [a["status"] for r in rr["recommendations"] for a in r["actions"]] == ["verified"] * 3
    overdue = json.loads(runner.invoke(cli, ["--db", db, "--now", END, "action", "list", "--overdue",
                                             "--json"], env=NO_ENV).output)
    assert [(a["ref"], a["number"]) for a in overdue] == [("S11-2026", "A1")]
    # Running it again into the same folder starts afresh.
    again = runner.invoke(cli, ["--now", END, "demo", "--dir", str(tmp_path)], env=NO_ENV)
    assert again.exit_code == 0
    assert len(json.loads(runner.invoke(cli, ["--db", db, "case", "list", "--json"], env=NO_ENV).output)) == 10


def test_the_demo_ends_today_and_its_hints_run_as_printed(tmp_path: Path) -> None:
    """Without --now the story ends today: its closing hints run as printed, a case shows no negative time, and a
    move made today is accepted."""
    runner = CliRunner()
    result = runner.invoke(cli, ["demo", "--dir", str(tmp_path)], env=NO_ENV)
    assert result.exit_code == 0, result.output + result.stderr
    hints = re.findall(r"^(?:Try:|    ) reviewflow (.*)$", result.output, re.M)
    assert len(hints) == 3
    assert all("--now" not in hint for hint in hints)
    for hint in hints:
        ran = runner.invoke(cli, hint.split(), env=NO_ENV)
        assert ran.exit_code == 0, hint + ran.output + ran.stderr
    shown = runner.invoke(cli, hints[1].split(), env=NO_ENV).output
    assert "days in stage" in shown
    assert not re.search(r"-\d+ (working )?days?", shown)
    ref = hints[1].split()[-1]
    db = hints[1].split()[1]
    moved = runner.invoke(cli, ["--db", db, "case", "recommend", ref, "--text", "Learning shared at the Board",
                                "--theme", "neglect", "--as", "a.khan"], env=NO_ENV)
    assert moved.exit_code == 0, moved.output + moved.stderr
