"""Definitions that change while cases are open: versions by meaning, pinned cases, diff and migration,
on a real SQLite file and a real PostgreSQL."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlmodel import select

from reviewflow.cli import cli
from reviewflow.engine.core import migration as migrating
from reviewflow.engine.core.clock import SteppingClock
from reviewflow.engine.core.diff import diff_definitions, place_version
from reviewflow.engine.core.durations import due_at, due_date_of
from reviewflow.engine.core.errors import InvalidValue, NotPermitted, TransitionNotAllowed
from reviewflow.engine.core.escalation import checkpoints, next_check
from reviewflow.engine.core.migration import MigrationInterrupted, MigrationRefused, migrate_roles
from reviewflow.engine.core.parse import parse_definition
from reviewflow.engine.services.facade import Reviewflow
from reviewflow.store import repo
from reviewflow.store.db import Database
from reviewflow.store.models import CaseRow

from tests.conftest import FIXTURES

V1 = (FIXTURES / "minimal.yaml").read_text("utf-8")
V2 = """\
# Minimal review, second edition: `on` is now `review` with a longer limit; withdrawing is `discontinue`.
name: minimal
title: Minimal review
version: 1
roles:
  business_manager: Safeguarding business manager
  subgroup_chair: Sub-group chair
  board: The Board
open:
  roles: [business_manager]
  requires:
    notifying_agency: {type: text, label: Which agency referred the case}
initial: referral
states:
  referral:
    label: Referral
    time_limit: 10 working days
    owner: business_manager
  review:
    label: Review
    time_limit: 2 months
    owner: subgroup_chair
  closed:
    label: Closed
    terminal: true
  withdrawn:
    label: Withdrawn
    terminal: true
    requires: [withdrawal_reason]
transitions:
  - trigger: accept
    from: referral
    to: review
    roles: [subgroup_chair]
    requires:
      decision: {type: choice, options: [yes, no]}
  - trigger: record_report
    from: review
    to: review
    roles: [subgroup_chair]
    requires:
      report_date: {type: date, label: Date the report was received}
  - trigger: close
    from: review
    to: closed
    roles: [subgroup_chair]
    when: {fields_present: [report_date]}
  - trigger: discontinue
    from: [referral, review]
    to: withdrawn
    roles: [business_manager]
    requires:
      withdrawal_reason: {type: text}
escalation:
  - {label: Owner, after: 0 days, notify: [owner]}
  - {label: Sub-group chair, after: 10 working days, notify: [subgroup_chair]}
  - {label: Board, after: 20 working days, notify: [board]}
notify:
  closed: [business_manager]
"""
"""A changed minimal workflow whose file still says `version: 1`."""


@pytest.fixture
def people(database: Database, clock: SteppingClock) -> Reviewflow:
    """A service with only the minimal workflow loaded (v1), a business manager and a sub-group chair."""
    service = Reviewflow(database, clock)
    database.create_schema()
    service.load_workflow_file(FIXTURES / "minimal.yaml")
    service.add_user("bm", ["business_manager"], "bm@example.org")
    service.add_user("chair", ["subgroup_chair"])
    return service


def _open(svc: Reviewflow, ref: str) -> None:
    svc.open_case("minimal", ref, "bm", {"notifying_agency": "Police"})


def _cases_at_v1(svc: Reviewflow, clock: SteppingClock) -> None:
    """REF-1 at referral, REF-2 and REF-3 under review (`on`), REF-4 withdrawn (closed)."""
    for ref in ("REF-1", "REF-2", "REF-3", "REF-4"):
        _open(svc, ref)
    clock.advance(days=1)
    svc.fire("REF-2", "accept", "chair", {"decision": "yes"})
    svc.fire("REF-3", "accept", "chair", {"decision": "yes"})
    svc.fire("REF-4", "withdraw", "bm", {"withdrawal_reason": "duplicate referral"})
    clock.advance(days=1)


def _rows(svc: Reviewflow) -> dict[str, tuple[Any, ...]]:
    """Every case's stored columns and history length: what must not change when nothing is written."""
    with svc.db.transaction() as s:
        cases = s.exec(select(CaseRow).order_by(CaseRow.ref)).all()
        return {c.ref: (c.version, c.state, c.revision, c.due_at, c.next_check_at, c.paused_at,
                        len(repo.history(s, c.ref))) for c in cases}


def _row(svc: Reviewflow, ref: str) -> CaseRow:
    with svc.db.transaction() as s:
        return s.exec(select(CaseRow).where(CaseRow.ref == ref)).one()


# --- versions by meaning ---------------------------------------------------------------------------

def test_changed_file_is_a_new_version_and_open_cases_stay_on_theirs(people: Reviewflow,
                                                                      clock: SteppingClock) -> None:
    _cases_at_v1(people, clock)
    loaded = people.load_workflow_text(V2, "minimal-v2.yaml")
    assert (loaded.status, loaded.version) == ("added", 2)
    assert loaded.note == "the file says version 1; v1 is already loaded with other content"
    assert people.definition("minimal").version == 2
    assert people.definition("minimal", 2).states["review"].time_limit is not None
    assert people.definition("minimal", 1).version == 1

    people.fire("REF-1", "withdraw", "bm", {"withdrawal_reason": "no longer meets the criteria"})  # v1 only
    people.fire("REF-2", "record_report", "chair", {"report_date": "2026-01-06"})  # from `on`, a v1 state
    old = people.case("REF-2")
    assert (old.version, old.state, old.time_limit) == (1, "on", "1 month")
    assert people.case("REF-1").state == "withdrawn"

    _open(people, "NEW-1")
    new = people.case("NEW-1")
    assert (new.version, new.time_limit) == (2, "10 working days")
    with pytest.raises(TransitionNotAllowed, match="minimal has no trigger `withdraw`"):
        people.fire("NEW-1", "withdraw", "bm", {"withdrawal_reason": "x"})
    people.fire("NEW-1", "discontinue", "bm", {"withdrawal_reason": "referred elsewhere"})
    assert [w.version for w in people.workflows() if w.name == "minimal"] == [2]


def test_comments_and_layout_are_not_a_change(people: Reviewflow) -> None:
    relaid = "# edited by the business unit\n\n" + V1.replace("version: 1", "version: 1  # first edition") \
        .replace("label: Referral", "label: 'Referral'").replace("    owner: subgroup_chair\n",
                                                                 "    owner: subgroup_chair   # the chair\n\n")
    assert relaid != V1
    result = people.load_workflow_text(relaid, "minimal-commented.yaml")
    assert (result.status, result.version, result.note) == ("unchanged", 1, "")
    again = people.load_workflow_text(V1.replace("version: 1", "version: 4"), "minimal-v4.yaml")
    assert (again.status, again.version) == ("unchanged", 1)
    assert again.note == "the file says version 4; its content is v1"
    first = people.init([FIXTURES / "minimal.yaml"])
    assert (first[-1].name, first[-1].status) == ("minimal", "unchanged")
    assert {r.status for r in people.init([FIXTURES / "minimal.yaml"])} == {"unchanged"}  # init is idempotent


def test_a_higher_file_version_is_kept(people: Reviewflow) -> None:
    result = people.load_workflow_text(V2.replace("version: 1", "version: 7"), "minimal-v7.yaml")
    assert (result.status, result.version, result.note) == ("added", 7, "")
    third = people.load_workflow_text(V2.replace("2 months", "3 months"), "minimal-v8.yaml")
    assert (third.status, third.version) == ("added", 8)
    assert third.note == "the file says version 1; v1 is already loaded with other content"
    assert people.definition("minimal", 8).version == 8


def test_version_placement_rules() -> None:
    assert place_version(1, {}, "a").version == 1
    assert place_version(3, {1: "a", 2: "b"}, "c").version == 3
    assert place_version(2, {1: "a", 2: "b"}, "c").note == ("the file says version 2; "
                                                            "v2 is already loaded with other content")
    assert place_version(1, {1: "a", 5: "b"}, "c").version == 6
    assert place_version(1, {3: "a"}, "c").note == "the file says version 1; v3 is the newest loaded"
    assert (place_version(9, {1: "a", 2: "b"}, "a").version, place_version(9, {1: "a"}, "a").status) == (1, "unchanged")


# --- diff ----------------------------------------------------------------------------------------

def test_diff_names_added_removed_and_changed_states_and_transitions(people: Reviewflow) -> None:
    people.load_workflow_text(V2, "minimal-v2.yaml")
    diff = people.diff("minimal", 1, 2)
    assert diff.of("state", "added") == ["review"]
    assert diff.of("state", "removed") == ["on"]
    assert diff.of("state", "changed") == ["referral"]
    assert diff.of("transition", "added") == ["record_report from review", "close from review",
                                              "discontinue from referral", "discontinue from review"]
    assert diff.of("transition", "removed") == ["record_report from on", "close from on", "withdraw from referral",
                                                "withdraw from on"]
    assert diff.of("transition", "changed") == ["accept from referral"]
    assert diff_definitions(people.definition("minimal", 2), people.definition("minimal", 2)).changes == ()


def test_diff_covers_roles_ladder_learning_schedule_and_calendar() -> None:
    old = parse_definition(V1)
    new = parse_definition(V1.replace("board: The Board", "board: The Board\n  panel: Review panel")
                           .replace("after: 20 working days, notify: [board]",
                                    "after: 15 working days, notify: [board, panel]")
                           .replace("notify:\n  closed: [business_manager]",
                                    "notify:\n  closed: [business_manager, board]\ncalendar: scotland\n"
                                    "learning:\n  manage: [business_manager]\n  verify: [board]\n"
                                    "schedule:\n  every: 3 months\n  starting: 2026-04-01\n  ref: MIN-{date}\n"
                                    "  fields: {notifying_agency: Schedule}")
                           .replace("      withdrawal_reason: {type: text}",
                                    "      withdrawal_reason: {type: text}\n      withdrawn_on: {type: date}"))
    diff = diff_definitions(old, new)
    changed = {(c.kind, c.change, c.name): c.details for c in diff.changes}
    assert changed[("role", "added", "panel")] == ("Review panel",)
    assert changed[("escalation", "changed", "level 3")] == ("after: 20 working days -> 15 working days",
                                                            "notify: board -> board, panel")
    assert changed[("setting", "changed", "calendar")] == ("england-and-wales -> scotland",)
    assert changed[("notify", "changed", "closed")] == ("notify: business_manager -> business_manager, board",)
    assert ("learning", "added", "learning") in changed
    assert changed[("schedule", "added", "schedule")][0] == "when: every 3 months from 2026-04-01"
    assert changed[("transition", "changed", "withdraw from on")] == (
        "requires: withdrawal_reason (text) -> withdrawal_reason (text), withdrawn_on (date)",)


def test_diff_shows_the_date_a_time_limit_counts_from_or_back_from() -> None:
    """A stage due 10 working days before the meeting is not the stage due 10 working days after entering it."""
    from reviewflow.workflows import shipped_files

    path = next(p for p in shipped_files() if p.name == "performance_report.yaml")
    text = path.read_text("utf-8")
    old = parse_definition(text, path.name, known=None)
    new = parse_definition(text.replace("{duration: 10 working days, before: meeting_date}", "10 working days")
                           .replace("{duration: 10 working days, from: meeting_date}",
                                    "{duration: 5 working days, from: meeting_date}"), path.name, known=None)
    changed = {c.name: c.details for c in diff_definitions(old, new).changes if c.change == "changed"}
    assert ("time_limit: 10 working days before meeting_date -> 10 working days",) in changed.values()
    assert ("time_limit: 10 working days from meeting_date -> 5 working days from meeting_date",) in changed.values()


# --- migration -----------------------------------------------------------------------------------

def test_migrate_refuses_unmapped_states_and_writes_nothing(people: Reviewflow, clock: SteppingClock) -> None:
    _cases_at_v1(people, clock)
    people.load_workflow_text(V2, "minimal-v2.yaml")
    before = _rows(people)
    with pytest.raises(MigrationRefused) as refused:
        people.migrate("minimal", 2, {}, "bm")
    message = str(refused.value)
    assert "nothing was changed" in message
    assert "v2 has no state for on (2 cases)" in message
    assert "--map on=STATE" in message
    assert "referral, review" in message
    for mapping, expected in [({"on": "closed"}, "closed is an end state in v2"),
                              ({"on": "reveiw"}, "v2 has no state 'reveiw'"),
                              ({"on": "review", "onn": "review"}, "no version of minimal has a state 'onn'")]:
        with pytest.raises(MigrationRefused, match=expected):
            people.migrate("minimal", 2, mapping, "bm")
    clock.now -= timedelta(days=3)
    with pytest.raises(MigrationRefused, match="REF-1, REF-2, REF-3 changed after"):
        people.migrate("minimal", 2, {"on": "review"}, "bm")
    assert _rows(people) == before


def test_migrate_moves_every_open_case_and_records_it(people: Reviewflow, clock: SteppingClock) -> None:
    _cases_at_v1(people, clock)
    people.load_workflow_text(V2, "minimal-v2.yaml")
    closed_before = _rows(people)["REF-4"]
    clock.advance(days=2)
    plan = people.migrate("minimal", 2, {"on": "review"}, "bm")
    assert [(m.ref, m.from_state, m.to_state) for m in plan.moves] == [
        ("REF-1", "referral", "referral"), ("REF-2", "on", "review"), ("REF-3", "on", "review")]
    v2 = people.definition("minimal", 2)
    for ref, state in [("REF-1", "referral"), ("REF-2", "review"), ("REF-3", "review")]:
        view = people.case(ref)
        assert (view.version, view.state) == (2, state)
        limit = v2.states[state].time_limit
        assert limit is not None
        assert view.due_at == due_at(view.entered_at, limit, v2.calendar)
        assert _row(people, ref).next_check_at == next_check(
            checkpoints(v2, v2.states[state], view.entered_at, view.due_at), ())
        last = view.history[-1]
        assert (last.trigger, last.actor, last.at, last.to_state) == ("migrate", "bm", clock(), state)
        assert last.fields == {"from_version": 1, "to_version": 2}
    assert people.case("REF-2").history[-1].from_state == "on"
    assert due_date_of(people.case("REF-2").due_at).isoformat() == "2026-03-06"  # entered 6 Jan + 2 months
    assert _rows(people)["REF-4"] == closed_before  # closed cases stay on the version they ended on

    people.fire("REF-1", "discontinue", "bm", {"withdrawal_reason": "referred elsewhere"})
    people.fire("REF-2", "record_report", "chair", {"report_date": "2026-01-09"})
    with pytest.raises(TransitionNotAllowed, match="minimal has no trigger `withdraw`"):
        people.fire("REF-3", "withdraw", "bm", {"withdrawal_reason": "x"})
    assert people.migrate("minimal", 2, {}, "bm").moves == ()


def test_dry_run_plans_and_writes_nothing(people: Reviewflow, clock: SteppingClock) -> None:
    _cases_at_v1(people, clock)
    people.load_workflow_text(V2, "minimal-v2.yaml")
    before = _rows(people)
    plan = people.migrate("minimal", 2, {"on": "review"}, None, dry_run=True)
    assert [m.ref for m in plan.moves] == ["REF-1", "REF-2", "REF-3"]
    assert [m.due_at for m in plan.moves] == [due_at(people.case(m.ref).entered_at,
                                                     people.definition("minimal", 2).states[m.to_state].time_limit)
                                              for m in plan.moves]  # type: ignore[arg-type]
    assert "would move 3 open case(s) of minimal to v2 (dry run: nothing was changed)" in \
        migrating.plan_lines(plan, dry_run=True)
    assert _rows(people) == before


def test_paused_cases_keep_their_pause_and_the_time_already_paused(people: Reviewflow,
                                                                   clock: SteppingClock) -> None:
    _cases_at_v1(people, clock)
    people.pause("REF-2", "chair", "awaiting criminal proceedings")
    clock.advance(days=7)
    people.resume("REF-2", "chair")  # REF-2's due time moved on by 7 days
    people.pause("REF-3", "chair", "awaiting criminal proceedings")
    clock.advance(days=1)
    people.load_workflow_text(V2, "minimal-v2.yaml")
    people.migrate("minimal", 2, {"on": "review"}, "bm")
    v2 = people.definition("minimal", 2)
    resumed, paused = people.case("REF-2"), people.case("REF-3")
    nominal = due_at(resumed.entered_at, v2.states["review"].time_limit)  # type: ignore[arg-type]
    assert resumed.due_at == nominal + timedelta(days=7)
    assert (paused.version, paused.pause_reason, _row(people, "REF-3").next_check_at) == (
        2, "criminal_proceedings", None)
    assert paused.due_at == nominal
    clock.advance(days=3)
    assert people.resume("REF-3", "chair").due_at == nominal + timedelta(days=4)


def test_only_the_business_manager_may_migrate(people: Reviewflow, clock: SteppingClock) -> None:
    _cases_at_v1(people, clock)
    people.load_workflow_text(V2, "minimal-v2.yaml")
    before = _rows(people)
    with pytest.raises(NotPermitted, match="migrating minimal cases to v2 needs one of the roles business_manager; "
                                           "chair has subgroup_chair"):
        people.migrate("minimal", 2, {"on": "review"}, "chair")
    with pytest.raises(InvalidValue, match="say who is migrating"):
        people.migrate("minimal", 2, {"on": "review"}, None)
    assert _rows(people) == before
    v2 = people.definition("minimal", 2)
    assert migrate_roles(v2) == ("business_manager",)
    assert migrate_roles(replace(v2, roles={"subgroup_chair": "Chair"})) == v2.open.roles


def test_a_case_changed_during_migration_stops_all_of_it(people: Reviewflow, clock: SteppingClock,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    _cases_at_v1(people, clock)
    people.load_workflow_text(V2, "minimal-v2.yaml")
    real_plan = migrating.plan_migration

    def plan_then_someone_moves_a_case(*args: Any, **kwargs: Any) -> migrating.MigrationPlan:
        plan = real_plan(*args, **kwargs)
        other = Reviewflow(people.db, clock)
        other.fire("REF-3", "record_report", "chair", {"report_date": "2026-01-06"})
        return plan

    monkeypatch.setattr(migrating, "plan_migration", plan_then_someone_moves_a_case)
    with pytest.raises(MigrationInterrupted, match="nothing was migrated: case REF-3 changed"):
        people.migrate("minimal", 2, {"on": "review"}, "bm")
    rows = _rows(people)
    assert {ref: row[0] for ref, row in rows.items()} == {"REF-1": 1, "REF-2": 1, "REF-3": 1, "REF-4": 1}
    assert all(h.trigger != "migrate" for ref in rows for h in people.case(ref).history)
    assert people.case("REF-3").history[-1].trigger == "record_report"
    monkeypatch.setattr(migrating, "plan_migration", real_plan)
    assert len(people.migrate("minimal", 2, {"on": "review"}, "bm").moves) == 3


# --- the command line ----------------------------------------------------------------------------

def _cli(url: str, *args: str, now: str = "2026-01-07T09:00") -> Any:
    result = CliRunner().invoke(cli, ["--db", url, "--now", now, *args],
                                env={"REVIEWFLOW_USER": None, "REVIEWFLOW_NOW": None})
    assert "Traceback" not in result.output + result.stderr
    return result


def test_load_diff_and_migrate_from_the_command_line(db_url: str, tmp_path: Path) -> None:
    v2 = tmp_path / "minimal-v2.yaml"
    v2.write_text(V2, "utf-8")
    assert _cli(db_url, "init", "--workflows", str(FIXTURES / "minimal.yaml"), now="2026-01-05").exit_code == 0
    _cli(db_url, "user", "add", "bm", "--role", "business_manager")
    _cli(db_url, "user", "add", "chair", "--role", "subgroup_chair")
    for ref in ("M-1", "M-2"):
        _cli(db_url, "case", "open", "minimal", "--ref", ref, "--as", "bm", "--field", "notifying_agency=Police",
             now="2026-01-05T10:00")
    _cli(db_url, "case", "fire", "M-2", "accept", "--as", "chair", "--field", "decision=yes", now="2026-01-06")

    loaded = _cli(db_url, "workflow", "load", str(v2)).output
    assert loaded == (f"added     minimal v2 (the file says version 1; v1 is already loaded with other content) "
                      f"from {v2}\n")
    assert _cli(db_url, "workflow", "load", str(v2)).output.startswith("unchanged minimal v2 ")

    diff = _cli(db_url, "workflow", "diff", "minimal", "1", "2").output
    assert "added    review: label: Review; time_limit: 2 months; owner: subgroup_chair" in diff
    assert "removed  on: label: Review" in diff
    assert "changed  referral: time_limit: 5 working days -> 10 working days" in diff
    assert "changed  accept from referral: to: on -> review" in diff
    as_json = json.loads(_cli(db_url, "workflow", "diff", "minimal", "1", "2", "--json").output)
    assert {(c["change"], c["kind"], c["name"]) for c in as_json["changes"]} >= {
        ("removed", "transition", "withdraw from on"), ("added", "state", "review")}

    refused = _cli(db_url, "workflow", "migrate", "minimal", "--to", "2", "--as", "bm")
    assert refused.exit_code == 1
    assert refused.stderr.count("\n") == 1
    assert "v2 has no state for on (1 case)" in refused.stderr

    dry = _cli(db_url, "workflow", "migrate", "minimal", "--to", "2", "--map", "on=review", "--dry-run")
    assert dry.exit_code == 0, dry.stderr
    assert "M-2              v1 on -> v2 review; due 2026-02-06 -> 2026-03-06" in dry.output
    assert "would move 2 open case(s)" in dry.output
    case = json.loads(_cli(db_url, "case", "show", "M-2", "--json").output)
    assert case["version"] == 1

    done = _cli(db_url, "workflow", "migrate", "minimal", "--to", "2", "--map", "on=review", "--as", "bm", "--json")
    assert done.exit_code == 0, done.stderr
    summary = json.loads(done.output)
    assert (summary["dry_run"], [c["to_state"] for c in summary["cases"]]) == (False, ["referral", "review"])
    case = json.loads(_cli(db_url, "case", "show", "M-2", "--json").output)
    assert (case["version"], case["state"], case["due_date"]) == (2, "review", "2026-03-06")
    assert case["history"][-1]["trigger"] == "migrate"
    bad = _cli(db_url, "workflow", "migrate", "minimal", "--to", "2", "--map", "on", "--as", "bm")
    assert "--map 'on' is not OLD=NEW" in bad.stderr
