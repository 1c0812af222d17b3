"""Refusals carry the values they are about, so every front end can put the message where it belongs."""

from __future__ import annotations

import pytest

from reviewflow.engine.core.errors import (
    EXIT_STATUS,
    HTTP_STATUS,
    CaseExists,
    CaseNotFound,
    ConcurrentChange,
    FieldError,
    InvalidValue,
    NotFound,
    NotPermitted,
    ReviewflowError,
    StoreError,
    TransitionNotAllowed,
    UsageError,
    UserNotFound,
)
from reviewflow.engine.services.facade import Reviewflow


@pytest.fixture
def people(service: Reviewflow) -> Reviewflow:
    service.add_user("bm", ["business_manager"], "bm@example.org")
    service.add_user("chair", ["subgroup_chair"])
    service.open_case("minimal", "M-1", "bm", {"notifying_agency": "Police"})
    return service


def test_an_unknown_trigger_names_the_case_state_trigger_and_the_possible_ones(people: Reviewflow) -> None:
    with pytest.raises(TransitionNotAllowed, match=r"^minimal has no trigger `publish`; possible from `referral`: "
                                                   r"accept, withdraw$") as caught:
        people.fire("M-1", "publish", "chair", {})
    err = caught.value
    assert (err.ref, err.state, err.trigger, err.allowed) == ("M-1", "referral", "publish", ("accept", "withdraw"))
    assert err.kind == "refused"
    assert err.data() == {"ref": "M-1", "state": "referral", "trigger": "publish", "allowed": ["accept", "withdraw"]}


def test_a_missing_field_names_the_first_one_missing(people: Reviewflow) -> None:
    needs = r"^`accept` needs decision \(choice: yes, no\): add --field decision=\.\.\.$"
    with pytest.raises(FieldError, match=needs) as caught:
        people.fire("M-1", "accept", "chair", {})
    assert (caught.value.field, caught.value.more["missing"]) == ("decision", ["decision"])


def test_a_value_outside_the_choices_names_the_field_the_value_and_the_choices(people: Reviewflow) -> None:
    with pytest.raises(FieldError) as caught:
        people.fire("M-1", "accept", "chair", {"decision": "maybe"})
    assert (caught.value.field, caught.value.value, caught.value.allowed) == ("decision", "maybe", ("yes", "no"))


def test_a_role_refusal_is_forbidden_and_names_the_roles(people: Reviewflow) -> None:
    with pytest.raises(NotPermitted) as caught:
        people.fire("M-1", "accept", "bm", {"decision": "yes"})
    err = caught.value
    assert (err.kind, err.exit_status, err.http_status) == ("forbidden", 5, 403)
    assert (err.ref, err.trigger, err.allowed, err.more["user"]) == ("M-1", "accept", ("subgroup_chair",), "bm")


def test_not_found_and_conflict_are_kinds_of_their_own(people: Reviewflow) -> None:
    with pytest.raises(CaseNotFound) as missing:
        people.case("M-404")
    assert (missing.value.kind, missing.value.ref, missing.value.exit_status) == ("not_found", "M-404", 3)
    with pytest.raises(CaseExists) as twice:
        people.open_case("minimal", "M-1", "bm", {"notifying_agency": "Police"})
    assert (twice.value.kind, twice.value.exit_status, twice.value.http_status) == ("conflict", 6, 409)
    with pytest.raises(UserNotFound) as nobody:
        people.fire("M-1", "accept", "nobody", {"decision": "yes"})
    assert nobody.value.more["user"] == "nobody"


def test_an_unknown_action_is_not_found_and_lists_the_actions(people: Reviewflow) -> None:
    with pytest.raises(NotFound, match=r"^case M-1 has no action A9; it has: none$") as caught:
        people.verify_action("M-1", "A9", "chair")
    assert (caught.value.field, caught.value.value, caught.value.allowed) == ("action", "A9", ())


def test_a_bad_date_names_the_option(people: Reviewflow) -> None:
    with pytest.raises(InvalidValue, match=r"^--year 'soon' is not a year") as caught:
        people.annual_report("soon")
    assert (caught.value.field, caught.value.value) == ("year", "soon")


@pytest.mark.parametrize(("error", "kind"), [
    (InvalidValue("x"), "refused"), (TransitionNotAllowed("x"), "refused"), (UsageError("x"), "usage"),
    (CaseNotFound("R"), "not_found"), (StoreError("x"), "unavailable"), (NotPermitted("x"), "forbidden"),
    (ConcurrentChange("R"), "conflict")], ids=lambda v: v if isinstance(v, str) else type(v).__name__)
def test_every_kind_has_an_exit_status_and_an_http_status(error: ReviewflowError, kind: str) -> None:
    assert error.kind == kind
    assert (error.exit_status, error.http_status) == (EXIT_STATUS[kind], HTTP_STATUS[kind])
    assert len(set(EXIT_STATUS.values())) == len(EXIT_STATUS)
