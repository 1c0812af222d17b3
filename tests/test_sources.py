"""The framework's sources of learning: `sources:` in a definition, and the annual report's "Sources of learning"
section (every row of the framework's table, its workflows, figures and where its learning went) with the
learning themes across all reviews; through the real `reviewflow report annual`."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from reviewflow.cli import cli
from reviewflow.engine.core.clock import SteppingClock
from reviewflow.engine.core.errors import InvalidDefinition
from reviewflow.engine.core.framework import LEARNING_LOOP, NUMBERS, SOURCES
from reviewflow.engine.core.parse import parse_definition
from reviewflow.engine.core.reports.annual import annual_figures
from reviewflow.engine.core.reports.annual_sections import annual_layout
from reviewflow.engine.core.reports.data import ReportData
from reviewflow.engine.core.reports.period import annual_period
from reviewflow.engine.core.reports.sources_section import NOT_SERVED
from reviewflow.engine.services.facade import Reviewflow
from reviewflow.store.db import Database

from tests.conftest import ADMIN
from tests.databases import Templates

WORKFLOWS = Path(__file__).parent.parent / "workflows"
T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
FIELDS = {"theme": "Neglect of adolescents", "theme_source": "board_priority"}


def _build(url: str) -> None:
    clock = SteppingClock(T0)
    rf = Reviewflow(Database(url), clock)
    try:
        rf.init()
        rf.first_admin(ADMIN, ADMIN)
        rf.add_user("a.khan", ["business_manager"])
        rf.add_user("m.patel", ["action_owner"], None, "Children's social care")
        rf.open_case("thematic_review", "TR-2026-001", "a.khan", FIELDS)
        rf.open_case("thematic_review", "TR-2026-002", "a.khan", FIELDS)
        rf.recommend("TR-2026-001", "a.khan", "Use the neglect toolkit", ["Neglect", "Voice of the child"], ["Police"])
        rf.recommend("TR-2026-001", "a.khan", "Hear the adolescent", ["voice of the child"], ["Police"])
        rf.recommend("TR-2026-002", "a.khan", "Neglect training", ["neglect"], ["Police"])
        rf.add_action("TR-2026-001", "a.khan", "R1", "Neglect toolkit training", "Children's social care",
                      "2026-03-02", "m.patel")
        rf.record_dissemination("TR-2026-001", "a.khan", "briefing", "GP leads", "2026-01-05")
    finally:
        rf.db.dispose()


@pytest.fixture
def url(db_url: str, templates: Templates) -> str:
    templates.copy(db_url, "test_sources: two thematic reviews with learning", _build)
    return db_url


def _annual(url: str) -> dict:
    result = CliRunner().invoke(cli, ["--db", url, "--now", "2027-01-04", "report", "annual", "--year", "2026",
                                      "--format", "json"], env={"REVIEWFLOW_USER": None, "REVIEWFLOW_NOW": None})
    assert result.exit_code == 0, result.output + result.stderr
    return json.loads(result.output)["figures"]


def test_every_shipped_workflow_names_the_rows_it_serves() -> None:
    served: set[int] = set()
    for path in sorted(WORKFLOWS.glob("*.yaml")):
        d = parse_definition(path.read_text("utf-8"), path.name)
        assert d.sources, f"{path.name} has no sources:"
        assert set(d.sources) <= set(NUMBERS)
        served |= set(d.sources)
    assert served <= set(NUMBERS)


@pytest.mark.parametrize(("sources", "problem"), [
    pytest.param("[15]", "f.yaml:4: sources[0]: must be at most 14, got 15", id="past-14"),
    pytest.param("[3, 3]", "f.yaml:4: sources: [3, 3] has non-unique elements", id="twice"),
    pytest.param("three", "f.yaml:4: sources:", id="not-a-list"),
])
def test_a_bad_sources_key_is_refused_with_file_and_line(sources: str, problem: str) -> None:
    text = (WORKFLOWS / "thematic_review.yaml").read_text("utf-8")
    data = yaml.safe_load(text)
    data["sources"] = yaml.safe_load(sources)
    head = f"name: {data.pop('name')}\ntitle: {data.pop('title')}\nversion: 1\nsources: {sources}\n"
    data.pop("version")
    data.pop("sources")
    with pytest.raises(InvalidDefinition) as caught:
        parse_definition(head + yaml.safe_dump(data, sort_keys=False), "f.yaml")
    assert problem in str(caught.value)


def test_the_annual_report_lists_every_row_with_its_figures(url: str) -> None:
    report = _annual(url)
    rows = {r["source"]["number"]: r for r in report["sources"]["rows"]}
    assert sorted(rows) == list(range(1, 15))
    thematic = rows[12]
    assert thematic["served_by"] == ["Thematic Review"]
    assert (thematic["opened"], thematic["closed"], thematic["open_at_end"]) == (2, 0, 2)
    assert thematic["recommendations"] == 3
    assert thematic["actions"] == {"in_progress": 1}
    assert thematic["dissemination"] == 1
    assert thematic["themes"] == [["neglect", 2], ["voice of the child", 2]]
    assert rows[3]["served_by"] == ["Section 11 Self-Assessment Audit"]
    assert (rows[3]["opened"], rows[3]["recommendations"], rows[3]["themes"]) == (0, 0, [])
    assert rows[1]["served_by"][-1] == "reviewflow report annual"
    assert rows[2]["served_by"][-1] == "reviewflow report board"


def test_the_annual_report_counts_themes_across_all_reviews(url: str) -> None:
    report = _annual(url)
    across = [(t["theme"], t["recommendations"], t["reviews"]) for t in report["sources"]["themes"]]
    assert across == [("neglect", 2, 2), ("voice of the child", 2, 1)]
    loop = {stage: n for stage, _how, n in report["sources"]["loop"]}
    assert loop == {"identification of learning": 3, "actions for improvement": 1, "dissemination of learning": 1,
                    "evaluation of practice and learning": 0}


def test_the_section_is_in_every_format(url: str) -> None:
    result = CliRunner().invoke(cli, ["--db", url, "--now", "2027-01-04", "report", "annual", "--year", "2026",
                                      "--format", "csv", "--table", "sources_of_learning"],
                                env={"REVIEWFLOW_USER": None, "REVIEWFLOW_NOW": None})
    assert result.exit_code == 0, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 15  # the header and one line for each of the 14 rows
    assert lines[12].startswith("12,Thematic reviews and audits,")
    markdown = CliRunner().invoke(cli, ["--db", url, "--now", "2027-01-04", "report", "annual", "--year", "2026"],
                                  env={"REVIEWFLOW_USER": None, "REVIEWFLOW_NOW": None}).output
    assert "Sources of learning" in markdown
    assert "Learning themes across all reviews" in markdown


def test_a_row_no_loaded_workflow_serves_says_so() -> None:
    thematic = parse_definition((WORKFLOWS / "thematic_review.yaml").read_text("utf-8"), "thematic_review.yaml")
    data = ReportData(definitions={(thematic.name, thematic.version): thematic})
    now = datetime(2027, 1, 4, tzinfo=UTC)
    report = annual_figures(data, now, annual_period("2026", now.date()))
    rows = {r.source.number: r for r in report.sources.rows}
    assert rows[12].has_workflow
    assert rows[12].opened == 0
    assert not rows[3].has_workflow
    assert rows[3].served_by == ()
    assert rows[1].served_by == ("reviewflow report annual",)
    section = next(s for s in annual_layout(report).sections if s.anchor == "sources")
    cells = {row[0]: row for row in section.tables[0].rows}
    assert cells[3][3] == NOT_SERVED
    assert cells[1][3] == "reviewflow report annual (no workflow loaded)"
    unserved = replace(data, definitions={})
    assert all(not r.has_workflow for r in annual_figures(unserved, now, annual_period("2026", now.date()))
               .sources.rows)


def test_the_framework_holds_its_fourteen_rows_and_the_loop() -> None:
    assert [s.number for s in SOURCES] == list(range(1, 15))
    assert SOURCES[4].name == "Serious Case Review"
    assert [stage for stage, _ in LEARNING_LOOP] == ["identification of learning", "actions for improvement",
                                                     "dissemination of learning",
                                                     "evaluation of practice and learning"]
