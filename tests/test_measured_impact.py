"""Measured impact through the real CLI: baselines and targets, measured values, met or not met, the reports,
refusals that write nothing, a due date already past, and the sealed history."""

from __future__ import annotations

import json
from datetime import date, datetime

import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from sqlalchemy import create_engine, text

from reviewflow.engine.core.errors import InvalidValue
from reviewflow.engine.core.measures import (
    MET,
    NOT_MEASURED,
    NOT_MET,
    Measure,
    MeasureInput,
    Measurement,
    build_measure,
    figure,
    measured_impact,
    outcome,
    parse_number,
)

from tests.test_cli import Cli
from tests.test_learning import run  # noqa: F401  (the fixture: init on 5 January 2026, people added)

REF = "MAR-2026-010"

PERCENT_40_80 = ("--baseline", "40", "--target", "80", "--unit", "percent")


def _with_actions(run: Cli) -> None:  # noqa: F811
    run("case", "open", "multi_agency_review", "--ref", REF, "--as", "a.khan", "--field", "referring_agency=Police",
        "--field", "review_criteria_considered=yes", now="2026-05-28")
    run("case", "recommend", REF, "--as", "a.khan", "--text", "Practitioners record the child's own words",
        "--theme", "voice of the child", now="2026-06-01")
    for agency, figures in [("Health", PERCENT_40_80), ("Police", PERCENT_40_80),
                            ("Children's social care", ("--baseline", "12", "--target", "5", "--lower-is-better"))]:
        run("action", "add", REF, "--rec", "R1", "--description", f"{agency} action", "--agency", agency,
            "--due", "2026-09-30", "--measure", "Files with the child's words", *figures, "--as", "a.khan",
            now="2026-06-03")


def _actions(run: Cli) -> dict[str, dict]:  # noqa: F811
    return {a["number"]: a for a in json.loads(run("action", "list", REF, "--json", now="2026-07-02").output)}


def test_met_and_not_met_in_the_list_the_case_and_both_reports(run: Cli) -> None:  # noqa: F811
    _with_actions(run)
    run("action", "measure", REF, "A1", "--value", "85", "--on", "2026-07-01", "--note", "Q2 dip sample",
        "--as", "h.nurse", now="2026-07-02")
    run("action", "measure", REF, "A2", "--value", "60", "--on", "2026-07-01", "--as", "a.khan", now="2026-07-02")
    actions = _actions(run)
    assert {n: a["measure"]["outcome"] for n, a in actions.items()} == {"A1": MET, "A2": NOT_MET, "A3": NOT_MEASURED}
    assert actions["A1"]["measure"] == {"baseline": 40.0, "target": 80.0, "unit": "percent", "lower_is_better": False,
                                        "latest": 85.0, "latest_on": "2026-07-01", "outcome": "met"}
    assert [m["note"] for m in actions["A1"]["measurements"]] == ["Q2 dip sample"]
    listed = run("action", "list", REF, now="2026-07-02").output
    assert "Measure" in listed.splitlines()[0]
    shown = " ".join(run("case", "show", REF, now="2026-07-02").output.split())  # as read, however wrapped
    assert "measure 40% → 80%, latest 85% on 2026-07-01: met" in shown
    assert "measure 40% → 80%, latest 60% on 2026-07-01: not met" in shown
    assert "measure 12 → 5 (lower is better): not measured" in shown

    board = run("report", "board", "--format", "md", now="2026-07-02").output
    assert "Measured impact" in board
    assert "At 2 July 2026: 1 met, 1 not met, 1 not measured yet." in board
    assert f"| {REF} | A1 | Health | 40% → 80% | 85% | 2026-07-01 | met |" in board
    assert f"| {REF} | A2 | Police | 40% → 80% | 60% | 2026-07-01 | not met |" in board
    annual = run("report", "annual", "--year", "2026", "--format", "md", now="2026-07-02").output
    assert f"| {REF} | A1 | Health | 40% → 80% | 85% | 2026-07-01 | met |" in annual
    assert f"| {REF} | A2 | Police | 40% → 80% | 60% | 2026-07-01 | not met |" in annual

    # A later value decides; the history tells each one and the sealed chain still verifies.
    run("action", "measure", REF, "A2", "--value", "81", "--on", "2026-07-02", "--as", "a.khan", now="2026-07-03")
    assert _actions(run)["A2"]["measure"]["outcome"] == MET
    history = run.show(REF)["history"]
    assert [h["fields"]["value"] for h in history if h["trigger"] == "action_measure"] == [85.0, 60.0, 81.0]
    assert "ok:" in run("audit", "verify").output


def test_audit_verify_finds_a_measured_value_changed_outside_reviewflow(run: Cli, db_url: str) -> None:  # noqa: F811
    _with_actions(run)
    run("action", "measure", REF, "A2", "--value", "60", "--on", "2026-07-01", "--as", "a.khan", now="2026-07-02")
    assert run("audit", "verify").exit_code == 0
    engine = create_engine(db_url)
    try:
        with engine.begin() as conn:
            conn.execute(text("UPDATE action_measurements SET value = 85"))
    finally:
        engine.dispose()
    result = run("audit", "verify", ok=False)
    assert result.exit_code != 0
    out = result.output + result.stderr
    assert "value 85 of action A2 on 2026-07-01: is not in its history: inserted or changed outside reviewflow" in out
    assert "value 60 of action A2 on 2026-07-01: is in its history but missing" in out


def test_an_evaluation_carries_a_figure(run: Cli) -> None:  # noqa: F811
    _with_actions(run)
    run("action", "evidence", REF, "A1", "--kind", "audit_result", "--description", "Audit", "--link", "AUD-1",
        "--as", "h.nurse", now="2026-07-01")
    run("action", "accept", REF, "E1", "--as", "d.osei", now="2026-07-02")
    run("action", "verify", REF, "A1", "--as", "d.osei", now="2026-07-02")
    assert "not a number" in run.refused("action", "evaluate", REF, "A1", "--method", "re_audit", "--date",
                                         "2026-10-01", "--finding", "Better", "--value", "lots", "--as", "d.osei",
                                         now="2026-10-02")
    run("action", "evaluate", REF, "A1", "--method", "re_audit", "--date", "2026-10-01", "--finding", "Better",
        "--value", "82", "--as", "d.osei", now="2026-10-02")
    a1 = _actions(run)["A1"]
    assert (a1["status"], a1["measure"]["latest"], a1["measure"]["outcome"]) == ("impact_evaluated", 82.0, MET)
    assert [m["source"] for m in a1["measurements"]] == ["evaluation"]
    assert "ok:" in run("audit", "verify").output


@pytest.mark.parametrize(("args", "message"), [
    (("--value", "lots", "--on", "2026-07-01"), "value 'lots' is not a number: give digits, e.g. 85"),
    (("--value", "120", "--on", "2026-07-01"), "value 120% is not a percentage: give a value from 0 to 100"),
    (("--value", "85", "--on", "2026-07-03"),
     "measured on 2026-07-03 is in the future: give the date the value was measured"),
], ids=["not-a-number", "over-100-percent", "future-date"])
def test_a_measured_value_refused_writes_nothing(run: Cli, args: tuple[str, ...], message: str) -> None:  # noqa: F811
    _with_actions(run)
    before = run.show(REF)["revision"]
    assert run.refused("action", "measure", REF, "A1", *args, "--as", "a.khan", now="2026-07-02") == f"Error: {message}"
    assert run.show(REF)["revision"] == before
    assert _actions(run)["A1"]["measurements"] == []


@pytest.mark.parametrize(("figures", "message"), [
    (("--target", "80"), "a measure needs both a baseline and a target (the value before the action and the value "
                         "it aims for): add --baseline"),
    (("--baseline", "40"), "a measure needs both a baseline and a target (the value before the action and the value "
                           "it aims for): add --target"),
    (("--baseline", "40", "--target", "30"), "the target 30 is lower than the baseline 40 but higher is better: add "
                                             "--lower-is-better, or check the figures"),
    (("--baseline", "forty", "--target", "80"), "baseline 'forty' is not a number: give digits, e.g. 85"),
    (("--baseline", "40", "--target", "80", "--unit", "pounds"), "unknown unit 'pounds': use percent or number"),
], ids=["target-without-baseline", "baseline-without-target", "wrong-direction", "not-a-number", "unit"])
def test_a_measure_refused_writes_nothing(run: Cli, figures: tuple[str, ...], message: str) -> None:  # noqa: F811
    _with_actions(run)
    add = ("action", "add", REF, "--rec", "R1", "--description", "More", "--agency", "Health", "--due", "2026-12-01")
    assert run.refused(*add, *figures, "--as", "a.khan", now="2026-07-02") == f"Error: {message}"
    assert len(_actions(run)) == 3


def test_update_sets_a_measure_and_keeps_the_rest(run: Cli) -> None:  # noqa: F811
    _with_actions(run)
    run("action", "update", REF, "A1", "--target", "90", "--as", "a.khan", now="2026-07-02")
    assert _actions(run)["A1"]["measure"]["baseline"] == 40.0
    assert _actions(run)["A1"]["measure"]["target"] == 90.0
    assert run.refused("action", "update", REF, "A1", "--baseline", "95", "--as", "a.khan", now="2026-07-02") == (
        "Error: the target 90% is lower than the baseline 95% but higher is better: add --lower-is-better, or check "
        "the figures")
    assert _actions(run)["A1"]["measure"]["baseline"] == 40.0
    run("action", "add", REF, "--rec", "R1", "--description", "No figures", "--agency", "Health", "--due",
        "2026-12-01", "--as", "a.khan", now="2026-07-02")
    refused = run.refused("action", "measure", REF, "A4", "--value", "3", "--on", "2026-07-01", "--as", "a.khan",
                          now="2026-07-02")
    assert refused == (f"Error: action A4 has no baseline and target to measure against: set them with "
                       f"'reviewflow action update {REF} A4 --baseline N --target N'")


def test_a_due_date_already_past_needs_confirming(run: Cli) -> None:  # noqa: F811
    _with_actions(run)
    add = ("action", "add", REF, "--rec", "R1", "--description", "Written up late", "--agency", "Health",
           "--due", "2026-06-30", "--as", "a.khan")
    assert run.refused(*add, now="2026-07-02") == (
        "Error: the due date 2026-06-30 is already past (today is 2026-07-02): give a later date, or confirm it "
        "with --past-due-ok")
    assert len(_actions(run)) == 3
    run(*add, "--past-due-ok", now="2026-07-02")
    assert _actions(run)["A4"]["due_date"] == "2026-06-30"
    update = ("action", "update", REF, "A1", "--due", "2026-07-01", "--reason", "Slipped", "--as", "a.khan")
    assert "action A1's due date 2026-07-01 is already past" in run.refused(*update, now="2026-07-02")
    assert _actions(run)["A1"]["due_date"] == "2026-09-30"
    run(*update, "--past-due-ok", now="2026-07-02")
    assert _actions(run)["A1"]["due_date"] == "2026-07-01"
    run("action", "add", REF, "--rec", "R1", "--description", "Due today", "--agency", "Health",
        "--due", "2026-07-02", "--as", "a.khan", now="2026-07-02")


# --- the pure rules -------------------------------------------------------------------------------------------

def _m(value: float, on: date) -> Measurement:
    return Measurement(value, on, None, "measure", "a.khan", datetime(2026, 7, 2, 12, 0))


numbers = st.floats(min_value=0, max_value=100, allow_nan=False)


@given(baseline=numbers, target=numbers, value=numbers)
@example(baseline=40.0, target=80.0, value=85.0)
@example(baseline=40.0, target=80.0, value=60.0)
@example(baseline=40.0, target=80.0, value=80.0)
@example(baseline=12.0, target=5.0, value=5.0)
def test_met_exactly_when_the_latest_value_reaches_the_target(baseline: float, target: float, value: float) -> None:
    if baseline == target:
        return
    lower = target < baseline
    measure = build_measure(MeasureInput(baseline, target, "percent", lower))
    assert measure is not None
    reached = value <= target if lower else value >= target
    assert outcome(measure, value) == (MET if reached else NOT_MET)
    impact = measured_impact(measure, [_m(0 if not lower else 100, date(2026, 1, 1)), _m(value, date(2026, 6, 1))])
    assert impact is not None
    assert impact.outcome == outcome(measure, value)
    assert measured_impact(measure, []) is not None
    assert measured_impact(measure, []).outcome == NOT_MEASURED  # type: ignore[union-attr]


def _read(text: str) -> float | str:
    """The number read, or the refusal's message."""
    try:
        return parse_number(text, "value", "value")
    except InvalidValue as e:
        return str(e)


@given(st.text(max_size=12))
@example("85%")
@example("nan")
@example("1e400")
@example("")
def test_a_typed_number_is_read_or_refused_in_one_line(text: str) -> None:
    found = _read(text)
    if isinstance(found, str):
        assert "\n" not in found
        assert found.startswith("value ")
    else:
        assert found == found  # never NaN
        assert figure(found, "number")


def test_figures_read_as_people_write_them() -> None:
    assert figure(85.0, "percent") == "85%"
    assert figure(12.5, "number") == "12.5"
    assert build_measure(MeasureInput(None, "90"), Measure(40, 80, "percent")) == Measure(40, 90, "percent")
