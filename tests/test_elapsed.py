"""Time in a stage is said the same way in `case show` and on the case page (working days where the limit is in
working days), and never as a negative number: a time shown before the stage was entered says so."""

from __future__ import annotations

from datetime import UTC, datetime

from click.testing import CliRunner
from hypothesis import example, given
from hypothesis import strategies as st

from reviewflow.cli import cli
from reviewflow.engine.core.clock import SteppingClock
from reviewflow.engine.core.elapsed import time_in_stage
from reviewflow.engine.services.facade import Reviewflow
from reviewflow.store.db import Database

from tests.conftest import ADMIN

T0 = datetime(2026, 3, 10, 11, 0, tzinfo=UTC)
NO_ENV = {"REVIEWFLOW_USER": None, "REVIEWFLOW_NOW": None, "REVIEWFLOW_TOKEN": None, "REVIEWFLOW_CONFIG": None}


def test_case_show_counts_working_days_and_never_goes_negative(tmp_path: object) -> None:
    url = f"sqlite:///{tmp_path}/rf.db"
    rf = Reviewflow(Database(url), SteppingClock(T0))
    try:
        rf.init()
        rf.first_admin(ADMIN, ADMIN)
        rf.add_user("a.khan", ["business_manager"])
        rf.open_case("thematic_review", "TR-2026-001", "a.khan", {"theme": "Neglect", "theme_source": "audits"})
    finally:
        rf.db.dispose()

    def show(now: str) -> str:
        result = CliRunner().invoke(cli, ["--db", url, "--now", now, "case", "show", "TR-2026-001"], env=NO_ENV)
        assert result.exit_code == 0, result.output
        return next(line for line in result.stdout.splitlines() if line.strip().startswith("entered:"))

    assert "; 16 working days in stage, limit 5 working days, due 2026-03-17, OVERDUE by 11 working days" in \
        show("2026-04-01T09:00")
    before = show("2026-01-01T09:00")
    assert "not yet: the time shown (2026-01-01) is before the stage was entered (2026-03-10)" in before
    assert " -" not in before


MOMENTS = st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2030, 12, 31), timezones=st.just(UTC))


@given(MOMENTS, MOMENTS, st.sampled_from(["5 working days", "1 month", None]))
@example(datetime(2026, 3, 10, 11, tzinfo=UTC), datetime(2026, 1, 1, tzinfo=UTC), "5 working days")
def test_time_in_stage_is_never_negative(entered: datetime, now: datetime, limit: str | None) -> None:
    said = time_in_stage(entered, now, limit, "england-and-wales")
    assert not said.startswith("-")
    assert said.startswith("not yet") == (now < entered)
