"""The service API on a real SQLite file and a real PostgreSQL: rules, history, one transaction."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import pytest

from reviewflow.engine.core.clock import SteppingClock
from reviewflow.engine.core.decide import plan_fire
from reviewflow.engine.core.errors import (
    CaseExists,
    CaseNotFound,
    ConcurrentChange,
    FieldError,
    InvalidValue,
    NotPermitted,
    TransitionNotAllowed,
    UserNotFound,
    WorkflowNotFound,
)
from reviewflow.engine.services.facade import Reviewflow
from reviewflow.store import outbox, repo

from tests.conftest import FIXTURES


@pytest.fixture
def people(service: Reviewflow) -> Reviewflow:
    service.add_user("bm", ["business_manager"], "bm@example.org")
    service.add_user("chair", ["subgroup_chair"])
    return service


def _open(svc: Reviewflow, ref: str = "M-1") -> None:
    svc.open_case("minimal", ref, "bm", {"notifying_agency": "Police"})


def _snapshot(svc: Reviewflow, ref: str) -> tuple[str, int, int]:
    with svc.db.transaction() as s:
        case = repo.get_case(s, ref)
        return case.state, case.revision, len(repo.history(s, ref))


def test_open_records_state_due_date_and_history(people: Reviewflow) -> None:
    _open(people)
    view = people.case("M-1")
    assert (view.state, view.is_open, view.opened_by) == ("referral", True, "bm")
    # Monday 5 Jan 2026 + 5 working days = Monday 12 Jan; overdue from the midnight after.
    assert view.due_date == "2026-01-12"
    assert view.due_at == datetime(2026, 1, 13, 0, 0, tzinfo=UTC)
    assert [(h.trigger, h.from_state, h.to_state, h.actor) for h in view.history] == [
        ("open", None, "referral", "bm")]
    assert view.fields == {"notifying_agency": "Police"}


def test_fire_moves_case_and_appends_history(people: Reviewflow, clock: SteppingClock) -> None:
    _open(people)
    clock.advance(days=2)
    fired = people.fire("M-1", "accept", "chair", {"decision": "yes"}, note="sub-group met")
    assert (fired.state, fired.due_date) == ("on", "2026-02-07")  # entered 7 Jan + 1 month
    view = people.case("M-1")
    assert view.state == "on"
    assert view.due_date == "2026-02-07"
    last = view.history[-1]
    assert fired.entry == last
    assert (last.seq, last.trigger, last.from_state, last.to_state, last.note) == (
        2, "accept", "referral", "on", "sub-group met")
    assert last.fields == {"decision": "yes"}
    assert last.at == clock()


@pytest.mark.parametrize(
    ("trigger", "actor", "fields", "error", "message"),
    [
        pytest.param("close", "chair", {}, TransitionNotAllowed,
                     "`close` is not possible from `referral`; possible: accept, withdraw", id="illegal-move"),
        pytest.param("fly", "chair", {}, TransitionNotAllowed,
                     "minimal has no trigger `fly`; possible from `referral`: accept, withdraw", id="unknown-trigger"),
        pytest.param("accept", "bm", {"decision": "yes"}, NotPermitted,
                     "`accept` needs one of the roles subgroup_chair; bm has business_manager", id="wrong-role"),
        pytest.param("accept", "chair", {}, FieldError,
                     "`accept` needs decision (choice: yes, no): add --field decision=...", id="missing-field"),
        pytest.param("accept", "chair", {"decision": "maybe"}, FieldError,
                     "field 'decision' must be one of: yes, no (got 'maybe')", id="bad-choice"),
        pytest.param("accept", "chair", {"decision": "yes", "colour": "red"}, FieldError,
                     "`accept` does not take field(s) colour; it takes: decision (choice: yes, no)", id="extra-field"),
        pytest.param("withdraw", "bm", {"withdrawal_reason": "  "}, FieldError,
                     "field 'withdrawal_reason' is empty: give it a value", id="empty-text"),
    ],
)
def test_refusals_say_why_and_write_nothing(people: Reviewflow, trigger: str, actor: str,
                                           fields: dict[str, str], error: type[Exception], message: str) -> None:
    _open(people)
    before = _snapshot(people, "M-1")
    with pytest.raises(error) as caught:
        people.fire("M-1", trigger, actor, fields)
    assert str(caught.value).startswith(message)
    assert _snapshot(people, "M-1") == before


def test_guard_refusal_names_unmet_condition(people: Reviewflow, clock: SteppingClock) -> None:
    people.add_user("both", ["business_manager", "subgroup_chair"])
    people.open_case("minimal", "M-2", "both", {"notifying_agency": "Health"})
    people.fire("M-2", "accept", "both", {"decision": "no"})
    before = _snapshot(people, "M-2")
    with pytest.raises(TransitionNotAllowed) as caught:
        people.fire("M-2", "close", "both", {})
    assert str(caught.value) == "`close` is not possible yet: fields_present: fields not set yet: report_date"
    assert _snapshot(people, "M-2") == before
    with pytest.raises(FieldError, match="field 'report_date': '31/02/2026' is not a date"):
        people.fire("M-2", "record_report", "both", {"report_date": "31/02/2026"})
    clock.advance(days=10)
    view = people.fire("M-2", "record_report", "both", {"report_date": "27/02/2026"})
    assert (view.state, view.fields["report_date"], view.entered_at) == ("on", "2026-02-27", clock())
    assert people.fire("M-2", "close", "both", {}).state == "closed"
    closed = people.case("M-2")
    assert (closed.is_open, closed.closed_at, closed.due_at, closed.options) == (False, clock(), None, [])


def test_unknowns_are_clear_errors(people: Reviewflow) -> None:
    with pytest.raises(CaseNotFound, match="no case with reference 'NOPE'"):
        people.case("NOPE")
    with pytest.raises(WorkflowNotFound, match="no workflow named 'nope'; known workflows: "):
        people.open_case("nope", "X-1", "bm", {})
    with pytest.raises(UserNotFound, match="no user named 'ghost'"):
        people.open_case("minimal", "X-1", "ghost", {"notifying_agency": "Police"})
    with pytest.raises(InvalidValue, match="case reference 'Jane Doe' is not usable"):
        people.open_case("minimal", "Jane Doe", "bm", {"notifying_agency": "Police"})


def test_duplicate_reference_refused(people: Reviewflow) -> None:
    _open(people)
    with pytest.raises(CaseExists, match="a case with reference 'M-1' already exists"):
        _open(people)


def test_open_needs_an_opening_role(people: Reviewflow) -> None:
    with pytest.raises(NotPermitted, match="opening a minimal case needs one of the roles business_manager"):
        people.open_case("minimal", "M-9", "chair", {"notifying_agency": "Police"})


def test_user_roles_must_exist_in_some_workflow(service: Reviewflow) -> None:
    with pytest.raises(InvalidValue, match="role\\(s\\) subgroup_chiar are not used by any loaded workflow"):
        service.add_user("typo", ["subgroup_chiar"])


def test_stale_revision_loses(people: Reviewflow, clock: SteppingClock) -> None:
    _open(people)
    definition = people.definition("minimal")
    with people.db.transaction() as s:
        stale = repo.case_to_move(s, "M-1")
        chair = repo.get_actor(s, "chair")
    people.fire("M-1", "accept", "chair", {"decision": "yes"})
    move = plan_fire(definition, stale.record.case, "accept", chair, {"decision": "no"}, clock())
    with pytest.raises(ConcurrentChange, match="case M-1 changed since you loaded it; try again"), \
            people.db.transaction() as s:
        repo.apply_move(s, stale, move, "chair", False, None, None)
    assert _snapshot(people, "M-1") == ("on", 2, 2)


def test_concurrent_fires_only_one_wins(people: Reviewflow, clock: SteppingClock) -> None:
    _open(people)
    outcomes: list[str] = []
    barrier = threading.Barrier(6)

    def attempt() -> None:
        svc = Reviewflow(people.db, clock)
        barrier.wait()
        try:
            svc.fire("M-1", "accept", "chair", {"decision": "yes"})
            outcomes.append("ok")
        except (ConcurrentChange, TransitionNotAllowed) as exc:
            outcomes.append(type(exc).__name__)

    threads = [threading.Thread(target=attempt) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert outcomes.count("ok") == 1
    assert _snapshot(people, "M-1") == ("on", 2, 2)


def test_failure_while_writing_rolls_back_everything(people: Reviewflow, monkeypatch: pytest.MonkeyPatch) -> None:
    _open(people)
    before = _snapshot(people, "M-1")

    def broken(*_: object, **__: object) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr(outbox, "add_many", broken)
    people.add_user("both", ["business_manager", "subgroup_chair"])
    people.fire("M-1", "accept", "both", {"decision": "yes"})
    people.fire("M-1", "record_report", "both", {"report_date": "2026-01-05"})
    with pytest.raises(RuntimeError):
        people.fire("M-1", "close", "both", {})  # entering `closed` notifies the business manager
    assert _snapshot(people, "M-1") == ("on", 3, 3)
    assert before[0] == "referral"


def test_notifications_queued_with_the_change(people: Reviewflow) -> None:
    people.add_user("both", ["business_manager", "subgroup_chair"])
    people.open_case("minimal", "M-3", "both", {"notifying_agency": "Police"})
    people.fire("M-3", "accept", "both", {"decision": "yes"})
    people.fire("M-3", "record_report", "both", {"report_date": "2026-01-05"})
    people.fire("M-3", "close", "both", {})
    with people.db.transaction() as s:
        rows = outbox.listing(s)
    assert [(r.event, r.role, r.recipient, r.channel, r.address, r.ref, r.payload["state"]) for r in rows] == [
        ("entered_state", "business_manager", "bm", "email", "bm@example.org", "M-3", "closed"),
        ("entered_state", "business_manager", "both", "log", None, "M-3", "closed")]
    assert rows[1].key == "M-3:4:entered:business_manager:both:log"
    assert "notifying_agency" not in str(rows[0].payload)


def test_definition_versions_pin_open_cases(people: Reviewflow, tmp_path: object) -> None:
    source = (FIXTURES / "minimal.yaml").read_text()
    assert people.load_workflow_text(source, "minimal.yaml").status == "unchanged"
    _open(people, "OLD-1")
    changed = source.replace("time_limit: 1 month", "time_limit: 2 months")
    loaded = people.load_workflow_text(changed, "minimal.yaml")  # the file still says version 1
    assert (loaded.status, loaded.version) == ("added", 2)
    assert loaded.note == "the file says version 1; v1 is already loaded with other content"
    assert people.load_workflow_text(changed.replace("version: 1", "version: 2"), "m2.yaml").status == "unchanged"
    _open(people, "NEW-1")
    people.fire("OLD-1", "accept", "chair", {"decision": "yes"})
    people.fire("NEW-1", "accept", "chair", {"decision": "yes"})
    old, new = people.case("OLD-1"), people.case("NEW-1")
    assert (old.version, old.time_limit) == (1, "1 month")
    assert (new.version, new.time_limit) == (2, "2 months")


def test_overdue_listing_follows_the_clock(people: Reviewflow, clock: SteppingClock) -> None:
    _open(people, "A-1")
    clock.advance(days=3)
    _open(people, "A-2")
    assert [v.ref for v in people.cases(overdue=True)] == []
    clock.now = datetime(2026, 1, 13, 0, 0, tzinfo=UTC)
    overdue = people.cases(overdue=True)
    assert [v.ref for v in overdue] == ["A-1"]
    assert people.working_days_overdue(overdue[0]) == 1
