"""`reviewflow demo` builds a real database a user can explore afterwards."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from reviewflow.cli import cli


def test_demo_walks_cases_and_leaves_an_explorable_database(tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(cli, ["demo", "--dir", str(tmp_path)])
    assert result.exit_code == 0, result.output + result.stderr
    out = result.output
    assert "Loaded 9 workflows" in out
    assert out.count("refused:") == 2
    assert "d.osei tried hold_scr: `hold_scr` needs one of the roles board_chair" in out
    assert "Where things stand on 2027-04-14:" in out
    assert "decide evidence E2 rejected, action now in_progress [by d.osei]" in out
    assert "ESCALATED level 4: action A1 (Police) overdue" in out
    assert "MACA-2026-Q1  Evidence of embedding -> Closed [confirm_embedded by d.osei]" in out
    db = f"sqlite:///{tmp_path / 'reviewflow-demo.db'}"
    cases = json.loads(runner.invoke(cli, ["--db", db, "--now", "2027-04-14", "case", "list", "--json"]).output)
    by_ref = {c["ref"]: c for c in cases}
    assert len(by_ref) == 9
    assert by_ref["SCR-2026-001"]["state"] == "evidence_of_embedding"
    assert by_ref["DHR-2026-001"]["state"] == "withdrawn"
    assert by_ref["RR-2026-001"]["overdue"] is True
    scr = json.loads(runner.invoke(cli, ["--db", db, "case", "show", "SCR-2026-001", "--json"]).output)
    assert [h["trigger"] for h in scr["history"]][:4] == ["open", "notify", "recommend", "hold_scr"]
    assert [a["status"] for r in scr["recommendations"] for a in r["actions"]] == ["verified"] * 3
    overdue = json.loads(runner.invoke(cli, ["--db", db, "--now", "2027-04-14", "action", "list", "--overdue",
                                             "--json"]).output)
    assert [(a["ref"], a["number"]) for a in overdue] == [("S11-2026", "A1")]
    # Running it again into the same folder starts afresh.
    again = runner.invoke(cli, ["demo", "--dir", str(tmp_path)])
    assert again.exit_code == 0
    assert len(json.loads(runner.invoke(cli, ["--db", db, "case", "list", "--json"]).output)) == 9
