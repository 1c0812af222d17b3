"""`workflow show` lets an administrator confirm what loaded: each stage's limit, owner and reminder, each
transition's guards, the stage and action ladders, the learning roles and the notifications."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from click.testing import CliRunner

from reviewflow.cli import cli
from reviewflow.engine.core.clock import SteppingClock
from reviewflow.engine.services.facade import Reviewflow
from reviewflow.store.db import Database

from tests.conftest import ADMIN

NO_ENV = {"REVIEWFLOW_USER": None, "REVIEWFLOW_NOW": None, "REVIEWFLOW_TOKEN": None, "REVIEWFLOW_CONFIG": None}


def test_workflow_show_lists_guards_reminders_ladders_and_notifications(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'rf.db'}"
    rf = Reviewflow(Database(url), SteppingClock(datetime(2026, 1, 5, tzinfo=UTC)))
    try:
        rf.init()
        rf.first_admin(ADMIN, ADMIN)
    finally:
        rf.db.dispose()
    result = CliRunner().invoke(cli, ["--db", url, "workflow", "show", "rapid_review_lcspr"], env=NO_ENV)
    assert result.exit_code == 0, result.output
    out = result.stdout.splitlines()
    assert any(line.startswith("     rapid_review ") and "reminder 10 working days before due" in line for line in out)
    publish = out.index(next(line for line in out if line.strip().startswith("publish ")))
    assert out[publish + 1:publish + 3] == [
        "      when every_recommendation_has_actions",
        "      when working_days_between(fields.regulators_copied_date, fields.publication_date) >= 7"]
    assert "  escalation (an overdue stage):" in out
    ladder = out.index("  action ladder (an overdue action):")
    assert out[ladder + 1:ladder + 5] == [
        "    +0 days: owner (Action owner)",
        "    +10 working days: agency_safeguarding_lead (Agency safeguarding lead)",
        "    +20 working days: subgroup_chair (Sub-group chair)",
        "    +40 working days: board, independent_scrutineer (Board)"]
    assert any(line.startswith("  learning: manage business_manager") for line in out)
    notices = out.index("  notifications (on entering a stage):")
    assert out[notices + 1].split() == ["notification", "la_notifier,", "business_manager"]
