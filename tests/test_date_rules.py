"""Date rules in workflow expressions: `working_days_between`, the 7-working-day Panel copy before
publication in the shipped SCR and rapid review/LCSPR workflows, and the publication time limit."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from hypothesis import assume, example, given
from hypothesis import strategies as st

from reviewflow.engine.core import expressions
from reviewflow.engine.core.conditions import GuardContext, unmet
from reviewflow.engine.core.durations import add_working_days, is_working_day, working_days_between
from reviewflow.engine.core.errors import InvalidDefinition
from reviewflow.engine.core.parse import parse_definition

from tests.test_cli import Cli
from tests.test_learning import REF, _to_publication, run  # noqa: F401  (`run` is a fixture)

WORKFLOWS = Path(__file__).parent.parent / "workflows"
FIXTURES = Path(__file__).parent / "fixtures"
RULE = "working_days_between(fields.regulators_copied_date, fields.publication_date) >= 7"
REFUSED = f"condition {RULE!r} does not hold"
# The early May bank holiday 2027 is Monday 3 May: from Wednesday 28 April, Friday 7 May is the 6th
# working day after it and Monday 10 May the 7th (without the holiday they would be the 7th and 8th).
COPIED = "2027-04-28"


def _publish(copied: str, published: str) -> tuple[str, ...]:
    return ("case", "fire", REF, "publish", "--as", "a.khan", "--field", f"regulators_copied_date={copied}",
            "--field", f"publication_date={published}")


def _with_an_action(run: Cli) -> None:  # noqa: F811
    run("case", "recommend", REF, "--as", "a.khan", "--text", "Agencies share concerns about neglect at once",
        "--theme", "neglect", "--agency", "Police", now="2026-06-01")
    run("action", "add", REF, "--rec", "R1", "--description", "Police action", "--agency", "Police",
        "--owner", "p.officer", "--due", "2026-09-30", "--measure", "Re-audit", "--as", "a.khan", now="2026-06-01")


def test_publishing_needs_the_panel_copy_seven_working_days_before(run: Cli) -> None:  # noqa: F811
    _to_publication(run)
    _with_an_action(run)
    # Sent to the Panel after publication: refused, naming the rule, in one line.
    assert run.refused(*_publish("2027-04-26", "2027-04-20"), now="2026-06-15").endswith(REFUSED)
    # 6 working days (the bank holiday does not count): refused.
    assert run.refused(*_publish(COPIED, "2027-05-07"), now="2026-06-15").endswith(REFUSED)
    assert run.show(REF)["state"] == "publication"
    # 7 working days: published.
    run(*_publish(COPIED, "2027-05-10"), now="2026-06-15")
    assert run.show(REF)["state"] == "actions"


def test_publication_has_a_time_limit_that_a_pause_stops(run: Cli) -> None:  # noqa: F811
    _to_publication(run)  # the report accepted on 28 May 2026
    assert run.show(REF)["due_date"] == "2026-07-28"
    run("case", "pause", REF, "--reason", "criminal proceedings", "--as", "a.khan", now="2026-06-01")
    run("escalate", now="2026-09-30T06:00")
    shown = run.show(REF)
    assert shown["overdue"] is False
    escalations = shown["escalations"]
    assert isinstance(escalations, list)
    assert [e for e in escalations if e["state"] == "publication"] == []


@pytest.mark.parametrize("name", ["serious_case_review", "rapid_review_lcspr"])
@pytest.mark.parametrize(("copied", "published", "holds"), [
    ("2027-04-26", "2027-04-20", False), (COPIED, "2027-05-07", False), (COPIED, "2027-05-10", True),
    # Easter 2027: Good Friday 26 March and Easter Monday 29 March are bank holidays.
    ("2027-03-23", "2027-04-02", False), ("2027-03-23", "2027-04-05", True),
])
def test_shipped_workflows_check_the_panel_copy(name: str, copied: str, published: str, holds: bool) -> None:
    path = WORKFLOWS / f"{name}.yaml"
    d = parse_definition(path.read_text("utf-8"), path.name)
    publish = d.transition("publication", "publish")
    assert publish is not None
    assert d.states["publication"].time_limit is not None
    ctx = GuardContext(fields={"regulators_copied_date": date.fromisoformat(copied),
                               "publication_date": date.fromisoformat(published)},
                       target=d.states["actions"], state="publication")
    reasons = [r for r in unmet(publish.when, ctx) if "working_days_between" in r]
    assert reasons == ([] if holds else [REFUSED])


WHEN = "when: {fields_present: [report_date]}"
USAGE = "write working_days_between(fields.start_date, fields.end_date) with two date fields"


@pytest.mark.parametrize(("expression", "problem"), [
    ("working_days_between(fields.report_date) > 1",
     f"working_days_between takes 2 arguments, got 1: {USAGE}"),
    ("working_days_between(fields.report_date, fields.report_date, fields.report_date) > 1",
     f"working_days_between takes 2 arguments, got 3: {USAGE}"),
    ("working_days_between(fields.decision, fields.report_date) >= 7",
     f"working_days_between needs date fields, but fields.decision is choice: {USAGE}"),
    ("working_days_between('2027-01-04', fields.report_date) >= 7",
     f"working_days_between takes date fields as arguments: {USAGE}"),
    ("working_days_between(fields.report_dat, fields.report_date) >= 7",
     "unknown field 'report_dat' in fields.report_dat; declared fields: decision, notifying_agency, report_date, "
     "withdrawal_reason"),
], ids=["one-argument", "three-arguments", "not-a-date", "not-a-field", "unknown-field"])
def test_misuse_is_a_validation_problem_with_file_and_line(expression: str, problem: str) -> None:
    text = (FIXTURES / "minimal.yaml").read_text("utf-8")
    assert text.count(WHEN) == 1
    with pytest.raises(InvalidDefinition) as caught:
        parse_definition(text.replace(WHEN, f'when: "{expression}"'), "f.yaml")
    assert [str(p) for p in caught.value.problems] == [f"f.yaml:47: transitions[2].when: {problem}"]


def test_a_valid_date_rule_passes_validation() -> None:
    text = (FIXTURES / "minimal.yaml").read_text("utf-8")
    rule = "working_days_between(fields.report_date, fields.report_date) == 0"
    d = parse_definition(text.replace(WHEN, f'when: "{rule}"'), "f.yaml")
    assert d.transitions[2].when[0].argument == rule


def test_an_unset_date_is_not_a_pass() -> None:
    result = expressions.evaluate("working_days_between(fields.a, fields.b) >= 0", {"fields": {"a": "2027-01-04"}})
    assert isinstance(result, str)
    assert result.startswith("could not be evaluated")


DAYS = st.dates(min_value=date(2020, 1, 1), max_value=date(2032, 12, 31))


def _between(a: date, b: date) -> int:
    result = expressions.evaluate(f"working_days_between(fields.a, fields.b) == {working_days_between(a, b)}",
                                  {"fields": {"a": a.isoformat(), "b": b.isoformat()}})
    assert result is True
    return working_days_between(a, b)


@given(DAYS, DAYS)
@example(date(2027, 4, 26), date(2027, 4, 20))
@example(date(2027, 5, 1), date(2027, 5, 3))  # a Saturday to the bank holiday after it: 0
@example(date(2026, 12, 24), date(2027, 1, 4))
def test_working_days_between_is_antisymmetric(a: date, b: date) -> None:
    assert _between(a, b) == -_between(b, a)


@given(DAYS, st.integers(min_value=-400, max_value=400))
@example(date(2027, 4, 28), 7)
@example(date(2027, 5, 1), 1)  # a Saturday to the Tuesday after the bank holiday
@example(date(2027, 3, 27), 1)  # Easter Saturday to the Tuesday after Easter Monday
@example(date(2027, 5, 4), -1)  # back over the bank holiday to Friday 30 April
def test_working_days_between_agrees_with_adding_working_days(start: date, count: int) -> None:
    """Going forward from any day; going back from a working day (the count includes its later end)."""
    assume(count >= 0 or is_working_day(start))
    assert _between(start, add_working_days(start, count)) == count
