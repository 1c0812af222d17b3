"""Every broken definition in tests/broken/ gives exactly the problems it is named for.

Each file is tests/fixtures/minimal.yaml with one change (its first line says which), except
several_problems.yaml, which has four graph defects at once to prove they are all reported together,
in line order.
The table below pins every problem line in full: `file:line: path: message`, where `file` is the
name passed to the parser (the bare file name here; the CLI tests run from inside tests/broken/).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from reviewflow.cli import cli, main
from reviewflow.engine.core.durations import Duration
from reviewflow.engine.core.errors import InvalidDefinition
from reviewflow.engine.core.parse import parse_definition

TESTS = Path(__file__).parent
BROKEN = TESTS / "broken"
FIXTURES = TESTS / "fixtures"
WORKFLOWS = TESTS.parent / "workflows"

BUILTIN_CONDITIONS = ("all_actions_embedded, all_actions_verified, all_returns_in, every_recommendation_has_actions, "
                      "fields_present, has_recommendations, no_overdue_actions")
STATES_ARE = "states are: closed, on, referral, withdrawn"
ROLES_ARE = "declare it there or use one of: board, business_manager, subgroup_chair"
NAME_HINT = "is not a valid name: use lower-case letters, digits and underscores, starting with a letter"
DURATION_HINT = "write a whole number and a unit, e.g. '5 working days', '20 days', '6 weeks' or '1 month'"
NO_PATH = ("to a terminal state: a case there could never close; "
           "mark it `terminal: true` if it is an end state, or add a transition towards one")
EMPTY = "the file is empty: start from an example in docs/workflow-format.md"
SYNTAX_FIX = "fix the indentation or quoting on this line"
DUPLICATE = "key appears twice in the same mapping"
TOP_LEVEL_KEYS = ("access, calendar, description, escalation, grading, initial, learning, legacy, milestones, name, "
                  "notify, open, pause_reasons, pause_roles, progress_checks, remind, returns, roles, schedule, "
                  "sources, states, subgroup, title, transitions, version")
STATE_KEYS = "description, label, owner, remind, requires, terminal, time_limit"
REMIND_EXAMPLES = "e.g. '10 working days before' or '2 weeks before'"
FIELDS = "decision, notifying_agency, report_date, withdrawal_reason"
IDENTIFIER = "a name: lower-case letters, digits and underscores, starting with a letter"

EXPECTED: dict[str, list[str]] = {
    # --- YAML level -----------------------------------------------------------------------------
    "empty_file.yaml": [f"empty_file.yaml:1: {EMPTY}"],
    "comments_only.yaml": [f"comments_only.yaml:1: {EMPTY}"],
    "yaml_syntax_error.yaml": [
        # the bracket opened on line 46 and never closed, not the line where the parser noticed
        "yaml_syntax_error.yaml:46: YAML syntax error: the [ opened here is not closed: add the ] where it "
        "ends (or write its items one per line, without brackets)",
    ],
    "tab_indentation.yaml": [
        f"tab_indentation.yaml:8: YAML syntax error: found character '\\t' that cannot start any token; {SYNTAX_FIX}",
    ],
    "duplicate_key.yaml": [f"duplicate_key.yaml:5: title: {DUPLICATE} (first on line 3): keep one"],
    "key_is_a_list.yaml": [
        "key_is_a_list.yaml:59: notify: a key here is a list or mapping: write each key as a plain name, one per line",
    ],
    "top_level_list.yaml": [
        "top_level_list.yaml:1: expected a mapping of keys (name, title, states, ...) at the top of the file, "
        "got a list",
    ],
    # --- schema -----------------------------------------------------------------------------------
    "unknown_key.yaml": [
        f"unknown_key.yaml:5: colour: unknown key 'colour'; allowed keys here: {TOP_LEVEL_KEYS}",
    ],
    "unknown_key_in_state.yaml": [
        "unknown_key_in_state.yaml:21: states.on.time_limt: unknown key 'time_limt'; did you mean 'time_limit'? "
        f"allowed keys here: {STATE_KEYS}",
    ],
    "wrong_type_version.yaml": [
        "wrong_type_version.yaml:4: version: expected a whole number, got text 'one' "
        "(integer version of this definition; raise it when the definition changes)",
    ],
    "version_zero.yaml": ["version_zero.yaml:4: version: must be at least 1, got 0"],
    "bad_workflow_name.yaml": [f"bad_workflow_name.yaml:2: name: 'Minimal-Review' {NAME_HINT}"],
    "bad_state_name.yaml": [f"bad_state_name.yaml:23: states.In-Review: 'In-Review' {NAME_HINT}"],
    "bad_trigger_name.yaml": [f"bad_trigger_name.yaml:43: transitions[2].trigger: 'close case' {NAME_HINT}"],
    "missing_title.yaml": [
        "missing_title.yaml:2: missing key 'title': add it (human title shown in listings and reports)",
    ],
    "no_initial.yaml": ["no_initial.yaml:2: missing key 'initial': add it (the state a new case starts in)"],
    "several_initial.yaml": [
        "several_initial.yaml:13: initial: several initial states (referral, on): "
        "a case starts in exactly one state; name one",
    ],
    "state_without_label.yaml": [
        "state_without_label.yaml:23: states.closed: missing key 'label': add it (human name of the stage)",
    ],
    "empty_roles.yaml": [
        "empty_roles.yaml:5: roles: must not be empty (roles this workflow uses, each with a short description)",
    ],
    "bad_calendar.yaml": [
        "bad_calendar.yaml:5: calendar: 'wales' is not allowed; "
        "use one of: england-and-wales, scotland, northern-ireland, weekends-only",
    ],
    "bad_field_type.yaml": [
        "bad_field_type.yaml:53: transitions[3].requires.withdrawal_reason.type: 'number' is not allowed; "
        "use one of: text, choice, date, yesno",
    ],
    "yes_is_not_boolean.yaml": [
        "yes_is_not_boolean.yaml:25: states.closed.terminal: expected true or false, got text 'yes' "
        "(true for an end state; no transition leaves it)",
    ],
    "condition_with_two_keys.yaml": [
        "condition_with_two_keys.yaml:47: transitions[2].when: "
        "a condition written as a mapping has exactly one key, the condition's name",
    ],
    # --- durations --------------------------------------------------------------------------------
    "bad_duration.yaml": [
        f"bad_duration.yaml:17: states.referral.time_limit: bad duration '5 fortnights': {DURATION_HINT}",
    ],
    "bad_escalation_duration.yaml": [
        f"bad_escalation_duration.yaml:56: escalation[1].after: bad duration 'ten working days': {DURATION_HINT}",
    ],
    # --- graph and semantic rules -----------------------------------------------------------------
    "unknown_initial.yaml": [f"unknown_initial.yaml:13: initial: unknown state 'referal'; {STATES_ARE}"],
    "unknown_state_in_from.yaml": [
        f"unknown_state_in_from.yaml:49: transitions[3].from[2]: unknown state 'reveiw'; {STATES_ARE}",
    ],
    "unknown_state_in_to.yaml": [
        f"unknown_state_in_to.yaml:56: transitions[4].to: unknown state 'reveiw'; {STATES_ARE}",
    ],
    "unknown_state_in_notify.yaml": [
        f"unknown_state_in_notify.yaml:60: notify.finished: unknown state 'finished'; {STATES_ARE}",
    ],
    "transition_from_terminal.yaml": [
        "transition_from_terminal.yaml:55: transitions[4].from: state 'closed' is terminal, so no transition "
        "may leave it: remove it from `from` or drop its `terminal: true`",
    ],
    "terminal_with_time_limit.yaml": [
        "terminal_with_time_limit.yaml:26: states.closed.time_limit: a terminal state has no time limit: "
        "remove `time_limit`",
    ],
    "no_terminal_state.yaml": [
        "no_terminal_state.yaml:14: states: no state is marked `terminal: true`: "
        "mark the end states (e.g. closed, withdrawn)",
        f"no_terminal_state.yaml:15: states.referral: no path from state 'referral' {NO_PATH}",
        f"no_terminal_state.yaml:19: states.on: no path from state 'on' {NO_PATH}",
        f"no_terminal_state.yaml:23: states.withdrawn: no path from state 'withdrawn' {NO_PATH}",
    ],
    "unreachable_state.yaml": [
        "unreachable_state.yaml:23: states.parked: state 'parked' cannot be reached from the initial state "
        "'referral': add a transition into it or remove it",
    ],
    "no_path_to_terminal.yaml": [f"no_path_to_terminal.yaml:23: states.limbo: no path from state 'limbo' {NO_PATH}"],
    "duplicate_trigger.yaml": [
        "duplicate_trigger.yaml:48: transitions[3].trigger: trigger 'withdraw' already leaves state 'on' "
        "(transitions[2]): give one of them another trigger name",
    ],
    "undeclared_role.yaml": [
        f"undeclared_role.yaml:46: transitions[2].roles[0]: role 'panel_chair' is not declared under `roles`: "
        f"{ROLES_ARE}",
    ],
    "owner_role_reserved.yaml": [
        "owner_role_reserved.yaml:9: roles.owner: 'owner' is reserved for 'the stage's owner' in escalation "
        "ladders: rename this role",
    ],
    "missing_open.yaml": [
        "missing_open.yaml:2: missing key 'open': add it (who may open a case of this type and the fields "
        "they supply when opening it)",
    ],
    "owner_missing_for_escalation.yaml": [
        "owner_missing_for_escalation.yaml:19: states.on: state 'on' has a time limit and the escalation ladder "
        "notifies `owner`, but the state has no owner: add `owner: ROLE`",
    ],
    "escalation_not_climbing.yaml": [
        "escalation_not_climbing.yaml:57: escalation[2].after: levels must climb: 5 working days is not later "
        "than the level before (10 working days); order the ladder from the earliest level",
    ],
    "choice_without_options.yaml": [
        "choice_without_options.yaml:36: transitions[0].requires.decision: "
        "a choice field needs `options`: list the allowed values",
    ],
    "options_on_text_field.yaml": [
        "options_on_text_field.yaml:53: transitions[3].requires.withdrawal_reason.options: "
        "only choice fields take `options`; this field is text",
    ],
    "state_requires_undeclared_field.yaml": [
        "state_requires_undeclared_field.yaml:26: states.closed.requires[0]: field 'outcome' is required in "
        "state 'closed' but neither `open` nor any transition asks for it: "
        "add it to the `requires` of the transition into the state",
    ],
    "unknown_condition.yaml": [
        "unknown_condition.yaml:47: transitions[2].when: unknown condition 'all_done'; "
        f"built-in conditions: {BUILTIN_CONDITIONS}",
    ],
    "bad_condition_argument.yaml": [
        "bad_condition_argument.yaml:47: transitions[2].when: condition 'fields_present' takes a list of "
        "field names, e.g. {fields_present: [decision_rationale]}",
    ],
    # --- reminders and pausing -------------------------------------------------------------------
    "bad_reminder.yaml": [
        "bad_reminder.yaml:22: states.on.remind: bad reminder '10 working days': write a whole number, a unit "
        f"and 'before', {REMIND_EXAMPLES}",
    ],
    "reminder_longer_than_limit.yaml": [
        "reminder_longer_than_limit.yaml:18: states.referral.remind: the reminder (2 weeks before) is not shorter "
        "than the time limit (5 working days), so it would never be sent: shorten it",
    ],
    "reminder_without_time_limit.yaml": [
        "reminder_without_time_limit.yaml:21: states.on.remind: a reminder needs a `time_limit` to count back "
        "from: add one or remove it",
    ],
    "time_limit_from_not_a_date.yaml": [
        "time_limit_from_not_a_date.yaml:17: states.referral.time_limit.from: field 'notifying_agency' is a text "
        "field: a clock counts from a date field",
    ],
    "milestone_misused.yaml": [
        "milestone_misused.yaml:62: milestones.report_due.from: field 'report_date' is not recorded on every way "
        "into state 'on': ask for it on the transition into the state or earlier (or on the open)",
        "milestone_misused.yaml:63: milestones.report_due.during[1]: state 'closed' is terminal: a clock cannot run "
        "in an end state; remove it",
        f"milestone_misused.yaml:69: progress_checks.progress.recorded_by[0]: role 'sub_group_chair' is not declared "
        f"under `roles`: {ROLES_ARE}",
    ],
    "reminder_without_owner.yaml": [
        "reminder_without_owner.yaml:19: states.on: state 'on' has a time limit and a reminder, which goes to the "
        "stage's owner, but the state has no owner: add `owner: ROLE`",
    ],
    "undeclared_pause_role.yaml": [
        f"undeclared_pause_role.yaml:13: pause_roles[1]: role 'panel_chair' is not declared under `roles`: "
        f"{ROLES_ARE}",
    ],
    "condition_names_unknown_field.yaml": [
        "condition_names_unknown_field.yaml:47: transitions[2].when: condition 'fields_present' names field(s) "
        f"'report_dat' that neither `open` nor any transition asks for: fix the name (declared fields: {FIELDS}) "
        "or add the field to a transition's `requires`",
    ],
    # --- several graph defects at once: all reported, in line order -------------------------------
    "several_problems.yaml": [
        f"several_problems.yaml:45: transitions[2].to: unknown state 'closd'; {STATES_ARE}",
        f"several_problems.yaml:46: transitions[2].roles[0]: role 'chair' is not declared under `roles`: "
        f"{ROLES_ARE}",
        "several_problems.yaml:47: transitions[2].when: unknown condition 'all_done'; "
        f"built-in conditions: {BUILTIN_CONDITIONS}",
        "several_problems.yaml:54: transitions[4].trigger: trigger 'close' already leaves state 'on' "
        "(transitions[2]): give one of them another trigger name",
    ],
}

CASES = sorted(EXPECTED)
IDS = [name.removesuffix(".yaml") for name in CASES]
SUBPROCESS_CASES = ["yaml_syntax_error.yaml", "duplicate_key.yaml", "key_is_a_list.yaml", "unknown_key.yaml",
                    "several_problems.yaml"]


def _problems(name: str) -> list[str]:
    text = (BROKEN / name).read_text("utf-8")
    with pytest.raises(InvalidDefinition) as caught:
        parse_definition(text, name)
    return [str(p) for p in caught.value.problems]


# --- the table itself -----------------------------------------------------------------------------

def test_every_broken_file_has_expectations() -> None:
    on_disk = {p.name for p in BROKEN.iterdir() if p.is_file()}
    assert on_disk - set(EXPECTED) == set(), "add these files to EXPECTED in tests/test_broken_definitions.py"
    assert set(EXPECTED) - on_disk == set(), "EXPECTED names files missing from tests/broken/"


def test_there_are_enough_broken_files() -> None:
    assert len(EXPECTED) >= 18


# --- the parser -----------------------------------------------------------------------------------

@pytest.mark.parametrize("name", CASES, ids=IDS)
def test_parse_reports_exactly_the_expected_problems(name: str) -> None:
    assert _problems(name) == EXPECTED[name]


def test_several_graph_problems_are_reported_together() -> None:
    problems = _problems("several_problems.yaml")
    assert len(problems) == 4
    assert len({p.split(": ")[1] for p in problems}) == 4, "four different places"


@pytest.mark.parametrize("name", CASES, ids=IDS)
def test_every_problem_has_a_line_number(name: str) -> None:
    text = (BROKEN / name).read_text("utf-8")
    with pytest.raises(InvalidDefinition) as caught:
        parse_definition(text, name)
    assert all(p.line is not None and p.line >= 1 for p in caught.value.problems)


def test_problems_after_a_bad_escalation_duration_point_at_the_right_level() -> None:
    text = (BROKEN / "bad_escalation_duration.yaml").read_text("utf-8")
    text = text.replace("notify:\n  closed:", "  - {label: Mayor, after: 10 working days, notify: [mayor]}\n"
                                               "notify:\n  closed:")
    with pytest.raises(InvalidDefinition) as caught:
        parse_definition(text, "f.yaml")
    assert [str(p) for p in caught.value.problems] == [
        f"f.yaml:56: escalation[1].after: bad duration 'ten working days': {DURATION_HINT}",
        f"f.yaml:58: escalation[3].notify[0]: role 'mayor' is not declared under `roles`: {ROLES_ARE}",
        "f.yaml:58: escalation[3].after: levels must climb: 10 working days is not later than the level before "
        "(20 working days); order the ladder from the earliest level",
    ]


@pytest.mark.parametrize("name", CASES, ids=IDS)
def test_problems_are_in_line_order(name: str) -> None:
    text = (BROKEN / name).read_text("utf-8")
    with pytest.raises(InvalidDefinition) as caught:
        parse_definition(text, name)
    lines = [p.line for p in caught.value.problems]
    assert lines == sorted(lines)  # type: ignore[type-var]


# --- variants of minimal.yaml: reminders, pause roles, names as keys, `oneOf` values --------------------

MINIMAL = (FIXTURES / "minimal.yaml").read_text("utf-8")


def _variant(*edits: tuple[str, str]) -> str:
    text = MINIMAL
    for old, new in edits:
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    return text


def _variant_problems(*edits: tuple[str, str]) -> list[str]:
    with pytest.raises(InvalidDefinition) as caught:
        parse_definition(_variant(*edits), "f.yaml")
    return [str(p) for p in caught.value.problems]


TOP = "version: 1\n"
PAUSE_ROLES = "roles that may pause and resume a case's clock, besides the stage owner"
REFERRAL_LIMIT = "    time_limit: 5 working days\n"


def test_reminders_and_pause_roles_are_read() -> None:
    definition = parse_definition(_variant(
        (TOP, "version: 1\nremind: 10 working days before\npause_roles: [business_manager, board]\n"),
        (REFERRAL_LIMIT, f"{REFERRAL_LIMIT}    remind: 2 Working Days  Before\n"),
    ), "f.yaml")
    assert definition.remind == Duration(10, "working_days")
    assert definition.pause_roles == ("business_manager", "board")
    assert definition.states["referral"].remind == Duration(2, "working_days")
    assert definition.states["on"].remind is None


def test_a_default_reminder_does_not_need_every_state_to_have_a_time_limit() -> None:
    definition = parse_definition(_variant((TOP, "version: 1\nremind: 3 months before\n")), "f.yaml")
    assert definition.remind == Duration(3, "months")


@pytest.mark.parametrize(("edit", "expected"), [
    ((TOP, "version: 1\nremind: 10 working days\n"),
     f"f.yaml:5: remind: bad reminder '10 working days': write a whole number, a unit and 'before', {REMIND_EXAMPLES}"),
    ((TOP, "version: 1\nremind: before\n"),
     f"f.yaml:5: remind: bad reminder 'before': write a whole number, a unit and 'before', {REMIND_EXAMPLES}"),
    ((TOP, "version: 1\nremind: 5\n"),
     "f.yaml:5: remind: expected text, got a whole number "
     "(default reminder to the stage owner before a stage falls due, e.g. '10 working days before')"),
    ((TOP, "version: 1\nremind: 5 fortnights before\n"),
     "f.yaml:5: remind: bad reminder '5 fortnights before': write a whole number, a unit and 'before', "
     f"{REMIND_EXAMPLES}"),
    ((REFERRAL_LIMIT, f"{REFERRAL_LIMIT}    remind: 5 working days before\n"),
     "f.yaml:18: states.referral.remind: the reminder (5 working days before) is not shorter than the time limit "
     "(5 working days), so it would never be sent: shorten it"),
    (("    label: Closed\n", "    label: Closed\n    remind: 2 days before\n"),
     "f.yaml:25: states.closed.remind: a terminal state has no time limit, so no reminder: remove `remind`"),
    ((TOP, "version: 1\npause_roles: []\n"), f"f.yaml:5: pause_roles: must not be empty ({PAUSE_ROLES})"),
    ((TOP, "version: 1\npause_roles: board\n"),
     f"f.yaml:5: pause_roles: expected a list, got text 'board' ({PAUSE_ROLES})"),
    ((TOP, "version: 1\npause_roles: [board, 5]\n"),
     f"f.yaml:5: pause_roles[1]: expected text, got a whole number ({IDENTIFIER})"),
], ids=["no-before", "only-before", "number", "bad-duration", "equal-to-limit", "terminal", "pause-empty",
        "pause-not-a-list", "pause-item"])
def test_reminder_and_pause_role_problems(edit: tuple[str, str], expected: str) -> None:
    assert _variant_problems(edit) == [expected]


@pytest.mark.parametrize(("edit", "expected"), [
    (("  board: The Board\n", "  board: The Board\n  Panel-Chair: Panel chair\n"),
     f"f.yaml:9: roles.Panel-Chair: 'Panel-Chair' {NAME_HINT}"),
    (("  closed: [business_manager]\n", "  Closed: [business_manager]\n"),
     f"f.yaml:59: notify.Closed: 'Closed' {NAME_HINT}"),
    (("      decision: {type", "      Decision: {type"),
     f"f.yaml:36: transitions[0].requires.Decision: 'Decision' {NAME_HINT}"),
    (("    notifying_agency: {", "    notifying-agency: {"),
     f"f.yaml:12: open.requires.notifying-agency: 'notifying-agency' {NAME_HINT}"),
], ids=["role", "notify", "transition-field", "open-field"])
def test_a_bad_name_as_a_key_is_reported_at_that_key(edit: tuple[str, str], expected: str) -> None:
    assert _variant_problems(edit) == [expected]


CONDITION = "a built-in condition: a name, or a one-key mapping of a name to its argument"
WHEN = "when: {fields_present: [report_date]}"


@pytest.mark.parametrize(("edit", "expected"), [
    (("    from: referral\n", "    from: 5\n"),
     ["f.yaml:32: transitions[0].from: expected source state, or a list of source states; got a whole number"]),
    ((WHEN, "when: 5"), [f"f.yaml:47: transitions[2].when: expected {CONDITION}; got a whole number"]),
    # A bad item in a list is blamed by its position, with the item's own message; good items are not blamed.
    (("    from: [referral, on]\n", "    from: [referral, 5]\n"),
     [f"f.yaml:49: transitions[3].from[1]: expected text, got a whole number ({IDENTIFIER})"]),
    (("    from: [referral, on]\n", "    from: [5, [on]]\n"), [
        f"f.yaml:49: transitions[3].from[0]: expected text, got a whole number ({IDENTIFIER})",
        f"f.yaml:49: transitions[3].from[1]: expected text, got a list ({IDENTIFIER})",
    ]),
    (("    from: [referral, on]\n", "    from: [referral, On-Hold]\n"),
     [f"f.yaml:49: transitions[3].from[1]: 'On-Hold' {NAME_HINT}"]),
    # An empty `from` list is not reported as such: only its consequence for the graph is (reported).
    (("    from: [referral, on]\n", "    from: []\n"), [
        "f.yaml:49: transitions[3].from: must not be empty",
    ]),
    ((WHEN, "when: [fields_present, 5]"),
     [f"f.yaml:47: transitions[2].when[1]: expected {CONDITION}; got a whole number"]),
    ((WHEN, "when: [fields_present, [all_done]]"),
     [f"f.yaml:47: transitions[2].when[1]: expected {CONDITION}; got a list"]),
    ((WHEN, "when: [{fields_present: [report_date], all_done: true}]"),
     ["f.yaml:47: transitions[2].when[0]: a condition written as a mapping has exactly one key, the condition's name"]),
    # No "what to do" for an empty mapping in a `when` list (reported).
    ((WHEN, "when: [{}]"), ["f.yaml:47: transitions[2].when[0]: must not be empty"]),
], ids=["from-number", "when-number", "from-list-item", "from-list-two-items", "from-list-bad-name", "from-empty",
        "when-list-item", "when-list-nested-list", "when-list-two-keys", "when-list-empty-mapping"])
def test_one_of_problems(edit: tuple[str, str], expected: list[str]) -> None:
    assert _variant_problems(edit) == expected


@pytest.mark.parametrize(("when", "path", "names"), [
    ("{fields_present: [report_date, decison, notifying_agency]}", "when", "'decison'"),
    ("[fields_present, {fields_present: [reprot_date, outcome]}]", "when[1]", "'reprot_date', 'outcome'"),
], ids=["one-condition", "second-of-two"])
def test_fields_present_must_name_declared_fields(when: str, path: str, names: str) -> None:
    assert _variant_problems((WHEN, f"when: {when}")) == [
        f"f.yaml:47: transitions[2].{path}: condition 'fields_present' names field(s) {names} that neither `open` "
        f"nor any transition asks for: fix the name (declared fields: {FIELDS}) or add the field to a transition's "
        "`requires`",
    ]


def test_fields_present_may_name_fields_from_open_and_any_transition() -> None:
    text = _variant((WHEN, "when: {fields_present: [notifying_agency, decision, report_date, withdrawal_reason]}"))
    assert parse_definition(text, "f.yaml").transitions[2].when[0].argument == [
        "notifying_agency", "decision", "report_date", "withdrawal_reason",
    ]


# --- the CLI, in-process ----------------------------------------------------------------------------

@pytest.fixture
def in_broken(monkeypatch: pytest.MonkeyPatch) -> Path:
    """Run from tests/broken/ so the file names on the command line match the table."""
    monkeypatch.chdir(BROKEN)
    return BROKEN


@pytest.mark.usefixtures("in_broken")
@pytest.mark.parametrize("name", CASES, ids=IDS)
def test_cli_validate_reports_each_problem_on_stderr(name: str) -> None:
    result = CliRunner().invoke(cli, ["workflow", "validate", name])
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    assert result.stdout == ""
    assert result.stderr.splitlines() == [*EXPECTED[name], f"{len(EXPECTED[name])} problem(s) found"]


@pytest.mark.usefixtures("in_broken")
def test_cli_validate_checks_every_file_given() -> None:
    valid = str(FIXTURES / "minimal.yaml")
    result = CliRunner().invoke(cli, ["workflow", "validate", "duplicate_key.yaml", valid, "unknown_key.yaml"])
    assert result.exit_code == 1
    assert result.stdout.startswith(f"ok: {valid} (minimal v1: ")
    assert result.stderr.splitlines() == [
        *EXPECTED["duplicate_key.yaml"], *EXPECTED["unknown_key.yaml"], "2 problem(s) found",
    ]


def test_cli_validate_valid_file_exits_0() -> None:
    result = CliRunner().invoke(cli, ["workflow", "validate", str(FIXTURES / "minimal.yaml")])
    assert result.exit_code == 0, result.output
    assert result.stderr == ""
    assert result.stdout.startswith("ok: ")


def test_cli_validate_unreadable_files(tmp_path: Path) -> None:
    missing = tmp_path / "missing.yaml"
    latin1 = tmp_path / "latin1.yaml"
    latin1.write_bytes("name: caf\u00e9\n".encode("latin-1"))
    result = CliRunner().invoke(cli, ["workflow", "validate", str(missing), str(latin1), str(tmp_path)])
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    assert result.stderr.splitlines() == [
        f"{missing}: cannot read the file: there is no such file; check the path",
        f"{latin1}:1: the file is not UTF-8 text: byte 0xE9 (in Windows-1252, 'é') on this line; save the "
        "file as UTF-8 (in most editors: Save As, encoding UTF-8)",
        f"{tmp_path}: cannot read the file (Is a directory): check the path and its permissions",
        "3 problem(s) found",
    ]


def test_cli_validate_needs_a_file() -> None:
    result = CliRunner().invoke(cli, ["workflow", "validate"])
    assert result.exit_code == 2
    assert "Missing argument" in result.stderr


@pytest.mark.usefixtures("in_broken")
def test_main_returns_the_exit_status() -> None:
    assert main(["workflow", "validate", "unknown_key.yaml"]) == 1
    assert main(["workflow", "validate", str(FIXTURES / "minimal.yaml")]) == 0


# --- --json -------------------------------------------------------------------------------------------

@pytest.mark.usefixtures("in_broken")
def test_cli_validate_json() -> None:
    valid = str(FIXTURES / "minimal.yaml")
    result = CliRunner().invoke(cli, ["workflow", "validate", "--json", "several_problems.yaml", valid,
                                      "empty_file.yaml"])
    assert result.exit_code == 1
    assert result.stderr == ""
    report = json.loads(result.stdout)
    assert isinstance(report, list)
    assert [(item["file"], item["valid"]) for item in report] == [
        ("several_problems.yaml", False), (valid, True), ("empty_file.yaml", False),
    ]
    for item in report:
        assert {"file", "valid", "problems"} <= set(item)
        for problem in item["problems"]:
            assert set(problem) == {"file", "path", "message", "line"}
            assert problem["file"] == item["file"]
    assert report[1]["problems"] == []
    several = report[0]["problems"]
    assert [p["line"] for p in several] == [45, 46, 47, 54]
    assert [p["path"] for p in several] == [
        "transitions[2].to", "transitions[2].roles[0]", "transitions[2].when", "transitions[4].trigger",
    ]
    assert several[0]["message"] == f"unknown state 'closd'; {STATES_ARE}"
    assert report[2]["problems"] == [{"file": "empty_file.yaml", "path": "", "message": EMPTY, "line": 1}]


@pytest.mark.usefixtures("in_broken")
@pytest.mark.parametrize("name", CASES, ids=IDS)
def test_cli_validate_json_matches_the_text_output(name: str) -> None:
    result = CliRunner().invoke(cli, ["workflow", "validate", "--json", name])
    assert result.exit_code == 1
    (item,) = json.loads(result.stdout)
    lines = []
    for p in item["problems"]:
        where = f"{p['file']}:{p['line']}" if p["line"] else p["file"]
        lines.append(f"{where}: {p['path']}: {p['message']}" if p["path"] else f"{where}: {p['message']}")
    assert lines == EXPECTED[name]


def test_cli_validate_json_valid_file_exits_0() -> None:
    result = CliRunner().invoke(cli, ["workflow", "validate", "--json", str(FIXTURES / "minimal.yaml")])
    assert result.exit_code == 0
    (item,) = json.loads(result.stdout)
    assert item["valid"] is True
    assert item["problems"] == []


# --- the installed command, in a real process ---------------------------------------------------------

def _reviewflow() -> str:
    beside_python = Path(sys.executable).parent / "reviewflow"
    found = str(beside_python) if beside_python.exists() else shutil.which("reviewflow")
    if found is None:
        pytest.skip("the `reviewflow` command is not installed (pip install -e .)")
    return found


@pytest.mark.parametrize("name", SUBPROCESS_CASES, ids=[n.removesuffix(".yaml") for n in SUBPROCESS_CASES])
def test_installed_command_reports_problems(name: str) -> None:
    run = subprocess.run([_reviewflow(), "workflow", "validate", name], cwd=BROKEN,
                         capture_output=True, text=True, timeout=60, check=False)
    assert run.returncode == 1
    assert run.stdout == ""
    assert "Traceback" not in run.stderr
    assert run.stderr.splitlines() == [*EXPECTED[name], f"{len(EXPECTED[name])} problem(s) found"]


def test_shipped_workflows_are_valid() -> None:
    shipped = sorted(WORKFLOWS.glob("*.yaml"))
    if not shipped:
        pytest.skip(f"no shipped workflows yet: {WORKFLOWS}/*.yaml is empty")
    run = subprocess.run([_reviewflow(), "workflow", "validate", *map(str, shipped)],
                         capture_output=True, text=True, timeout=120, check=False)
    assert run.returncode == 0, run.stderr
    assert run.stderr == ""
    assert len(run.stdout.splitlines()) == len(shipped)
    assert all(line.startswith("ok: ") for line in run.stdout.splitlines())
