"""Audit grades in the Board and annual reports: two multi-agency case audits on the same theme, a quarter apart,
show the change in the share graded good or better (Markdown and JSON, through the real CLI); the distribution's
shares add up to 100."""

from __future__ import annotations

import json

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from reviewflow.engine.core.reports.grading_section import good_share, shares

from tests.databases import Templates
from tests.test_cli import Cli

FIRST, SECOND = "MACA-2026-Q4", "MACA-2027-Q1"
FIRST_GRADES = {"Police": "good", "Health": "inadequate", "Education": "requires_improvement",
                "Children's social care": "good"}
"""Two of four good or better: 50%."""
SECOND_GRADES = {"Police": "outstanding", "Health": "good", "Education": "requires_improvement",
                 "Children's social care": "good"}
"""Three of four: 75%."""


def _init(url: str) -> None:
    c = Cli(url)
    c("init", now="2026-01-05")
    c("settings", "set", "backdate-window", "off")
    c("user", "add", "s.lewis", "--role", "audit_lead", "--email", "s.lewis@example.org")


@pytest.fixture
def run(db_url: str, templates: Templates) -> Cli:
    templates.copy(db_url, "test_grading_reports: init and an audit lead", _init)
    return Cli(db_url)


def _audit(run: Cli, ref: str, theme: str, opened: str, graded: str, grades: dict[str, str]) -> None:
    run("case", "open", "multi_agency_case_audit", "--ref", ref, "--as", "s.lewis", "--field",
        f"audit_period=quarter of {opened}", "--field", f"audit_theme={theme}", now=f"{opened}T10:00")
    for agency, grade in grades.items():
        run("case", "grade", ref, "--agency", agency, "--grade", grade, "--as", "s.lewis", now=f"{graded}T10:00")


def _two_audits(run: Cli) -> None:
    """The first graded on 16 November 2026 (Health first graded good, then inadequate: the last grade counts);
    the second, on the same theme, on 15 February 2027."""
    run("case", "open", "multi_agency_case_audit", "--ref", FIRST, "--as", "s.lewis", "--field",
        "audit_period=2026-27 Q3", "--field", "audit_theme=Neglect", now="2026-10-01T10:00")
    run("case", "grade", FIRST, "--agency", "Health", "--grade", "good", "--as", "s.lewis", now="2026-11-16T09:00")
    for agency, grade in FIRST_GRADES.items():
        run("case", "grade", FIRST, "--agency", agency, "--grade", grade, "--as", "s.lewis", now="2026-11-16T10:00")
    _audit(run, SECOND, "neglect", "2027-01-04", "2027-02-15", SECOND_GRADES)
    _audit(run, "MACA-OTHER", "Exploitation", "2027-01-04", "2027-02-15", {"Police": "inadequate"})


def _rows(markdown: str, title: str) -> list[list[str]]:
    """The body rows of the Markdown table under the heading `title`."""
    lines = markdown.split(f"### {title}\n", 1)[1].strip().split("\n\n")[0].splitlines()
    return [[cell.strip() for cell in line.strip("|").split("|")] for line in lines[2:]]


CHANGE = "good or better: 50% → 75%, up 25 points"


def test_the_board_report_shows_the_change_in_good_or_better_against_the_quarter_before(run: Cli) -> None:
    _two_audits(run)
    args = ("report", "board", "--from", "2026-11-17", "--to", "2027-02-16")
    md = run(*args, "--format", "md", now="2027-02-20T09:00").output
    assert "Audit grades" in md
    change = {(r[0], r[1]): r for r in _rows(md, "Graded good or better, against the period before")}
    assert change[("Multi-Agency Case Audit", "all themes")][-1] == (
        "good or better: 50% → 60%, up 10 points")  # five graded this quarter, one on another theme
    assert change[("Multi-Agency Case Audit", "Neglect")][2:] == ["4", "50", "4", "75", "25", CHANGE]
    assert change[("Multi-Agency Case Audit", "Exploitation")][-1] == (
        "good or better: 0% (none graded in the period before)")
    distribution = _rows(md, "Grades given in the period, by type")
    assert distribution == [["Multi-Agency Case Audit", "Outstanding", "1", "20%"],
                            ["Multi-Agency Case Audit", "Good", "2", "40%"],
                            ["Multi-Agency Case Audit", "Requires improvement", "1", "20%"],
                            ["Multi-Agency Case Audit", "Inadequate", "1", "20%"]]

    figures = json.loads(run(*args, "--format", "json", now="2027-02-20T09:00").output)["figures"]
    neglect = next(g for g in figures["grading"] if g["theme"] == "Neglect")
    assert (neglect["graded_before"], neglect["good_or_better_before"], neglect["graded"],
            neglect["good_or_better"], neglect["change"], neglect["change_text"]) == (4, 50, 4, 75, 25, CHANGE)


def test_the_annual_report_shows_the_change_against_the_year_before(run: Cli) -> None:
    _two_audits(run)
    md = run("report", "annual", "--year", "2027", "--format", "md", now="2027-02-20T09:00").output
    change = {(r[0], r[1]): r for r in _rows(md, "Graded good or better, against the period before")}
    assert change[("Multi-Agency Case Audit", "Neglect")][-1] == CHANGE
    assert "1 January 2026 to 31 December 2026" in md  # the year before, named in the section's introduction
    figures = json.loads(run("report", "annual", "--year", "2027", "--format", "json",
                             now="2027-02-20T09:00").output)["figures"]
    neglect = next(g for g in figures["grading"] if g["theme"] == "Neglect")
    assert (neglect["good_or_better_before"], neglect["good_or_better"], neglect["change"]) == (50, 75, 25)
    assert [(c["label"], c["count"], c["share"]) for c in neglect["distribution"]] == [
        ("Outstanding", 1, 25), ("Good", 2, 50), ("Requires improvement", 1, 25), ("Inadequate", 0, 0)]


def test_a_report_with_no_grades_says_so(run: Cli) -> None:
    md = run("report", "board", "--format", "md", now="2026-02-20T09:00").output
    assert "No audit was graded in the period." in md
    assert "No audit was graded in the period or the period before." in md


@given(st.lists(st.integers(min_value=0, max_value=10_000), min_size=1, max_size=8))
@example([1, 1, 1])
@example([2, 1, 1, 0])
@example([0, 0, 0, 0])
@example([1, 0, 0, 0, 0, 0, 5])
@example([3333, 3333, 3334])
def test_the_shares_of_a_distribution_add_up_to_100(counts: list[int]) -> None:
    found = shares(counts)
    assert len(found) == len(counts)
    if sum(counts):
        assert sum(found) == 100
        assert all(abs(share - 100 * n / sum(counts)) < 1 for share, n in zip(found, counts, strict=True))
    else:
        assert set(found) == {0}


@given(st.lists(st.sampled_from(["outstanding", "good", "requires_improvement", "inadequate"]), max_size=40))
@example([])
@example(["good", "inadequate"])
def test_good_or_better_is_a_whole_percentage_of_the_grades(grades: list[str]) -> None:
    share = good_share(grades, {"outstanding", "good"})
    if not grades:
        assert share is None
    else:
        assert share is not None
        assert 0 <= share <= 100
        assert abs(share - 100 * sum(g in ("outstanding", "good") for g in grades) / len(grades)) <= 0.5
