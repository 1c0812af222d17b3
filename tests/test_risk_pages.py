"""The risk register's forms on the case page, without JavaScript: the empty register with its Add link, a risk
added through the form (score, band, trend), refusals shown by their field with what was typed kept and nothing
written, a review re-scoring a risk, closing one with a reason, and people without the manage roles refused by
the services when they post the forms directly; on SQLite and PostgreSQL."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from httpx import Response

from reviewflow.engine.core.clock import fixed_clock
from reviewflow.engine.services.facade import Reviewflow
from reviewflow.web.app import create_app

from tests.databases import Templates
from tests.test_cli import Cli

LONDON = ZoneInfo("Europe/London")
REF = "RISK-2026"
PASSWORD = "correct horse battery staple"
RISK = {"title": "Too few independent reviewers", "owner": "p.ward", "likelihood": "3", "impact": "4",
        "controls": "Reviewer pool shared with the next authority"}


def _init(url: str) -> None:
    c = Cli(url)
    c("init", now="2026-01-05")
    c("settings", "set", "backdate-window", "off")
    c("user", "add", "a.khan", "--role", "business_manager", "--email", "a.khan@example.org")
    c("user", "add", "p.hughes", "--role", "board_chair", "--email", "p.hughes@example.org")
    c("user", "add", "p.ward", "--role", "risk_owner", "--agency", "Police", "--email", "p.ward@example.org")
    c("user", "add", "h.lee", "--role", "risk_owner", "--agency", "Health", "--email", "h.lee@example.org")


@pytest.fixture
def rf(db_url: str, templates: Templates) -> Iterator[Reviewflow]:
    """An open risk register RISK-2026 with no risk yet; a business manager, a Board chair, two risk owners."""
    templates.copy(db_url, "test_risk_pages: init, four people", _init)
    Cli(db_url)("case", "open", "risk_register", "--ref", REF, "--as", "a.khan", "--field", "register_year=2026-27",
                "--field", "year_start=2026-04-01", now="2026-04-01T09:00")
    found = Reviewflow.connect(db_url, fixed_clock(datetime(2026, 4, 2, 9, tzinfo=LONDON)))
    for name in ("a.khan", "p.hughes", "p.ward", "h.lee"):
        found.set_password(None, name, PASSWORD)
    try:
        yield found
    finally:
        found.db.dispose()


def _browser(rf: Reviewflow, name: str) -> TestClient:
    browser = TestClient(create_app(rf, secure_cookies=False), base_url="http://127.0.0.1")
    signed_in = browser.post("/sign-in", data={"name": name, "password": PASSWORD}, follow_redirects=False)
    assert signed_in.status_code == 303, signed_in.text
    return browser


def _hidden(page: Response) -> dict[str, str]:
    """The CSRF token and case revision a form page carries."""
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    revision = re.search(r'name="revision" value="(\d+)"', page.text)
    assert token, page.text
    assert revision, page.text
    return {"csrf_token": token.group(1), "revision": revision.group(1)}


def _form(browser: TestClient, path: str) -> dict[str, str]:
    page = browser.get(path)
    assert page.status_code == 200, page.text
    return _hidden(page)


def _written(rf: Reviewflow) -> tuple[int, list[tuple[str, str, int, str]]]:
    """The case's revision and its risks (number, status, score, trend): what a refusal must leave alone."""
    return rf.case(REF, "a.khan").revision, [(r.number, r.status, r.score, r.trend) for r in rf.risks(REF)]


def _row(page: Response, number: str) -> str:
    found = re.search(rf'<tr class="govuk-table__row" id="risk-{number}">(.*?)</tr>', page.text, re.S)
    assert found, page.text
    return " ".join(re.sub(r"<[^>]+>", " ", found.group(1)).split())


def _add(browser: TestClient, **changes: str) -> Response:
    return browser.post(f"/cases/{REF}/risks/new", data={**_form(browser, f"/cases/{REF}/risks/new"), **RISK,
                                                         **changes}, follow_redirects=False)


def test_the_empty_register_offers_the_add_link_and_a_risk_added_shows_with_its_score(rf: Reviewflow) -> None:
    manager = _browser(rf, "a.khan")
    case_page = manager.get(f"/cases/{REF}")
    assert '<h2 class="govuk-heading-m" id="risks">Risk register</h2>' in case_page.text
    assert "No risk has been added yet." in case_page.text
    assert f'href="/cases/{REF}/risks/new"' in case_page.text
    form = manager.get(f"/cases/{REF}/risks/new")
    assert form.status_code == 200
    assert '<legend class="govuk-fieldset__legend govuk-fieldset__legend--s">How likely is it?</legend>' in form.text
    assert '<option value="p.ward">p.ward (Police)</option>' in form.text
    added = _add(manager)
    assert added.status_code == 303, added.text
    assert added.headers["location"] == f"/cases/{REF}?done=risk_added&n=R1"
    shown = manager.get(added.headers["location"])
    assert "Risk R1 added" in shown.text
    assert "No risk has been added yet." not in shown.text
    assert _row(shown, "R1") == ("R1: Too few independent reviewers 12 (3 × 4) Amber New p.ward (Police) Reviewer "
                                 "pool shared with the next authority Review R1 Close R1")
    assert '<th scope="col" class="govuk-table__header">Actions</th>' in shown.text
    assert f'href="/cases/{REF}/risks/R1/review">Review<span class="govuk-visually-hidden"> R1</span></a>' in shown.text
    assert f'href="/cases/{REF}/risks/R1/close">Close<span class="govuk-visually-hidden"> R1</span></a>' in shown.text


@pytest.mark.parametrize(("changes", "field", "message"), [
    ({"likelihood": "7"}, "likelihood", "likelihood 7 is not a score from 1 to 5"),
    ({"impact": ""}, "impact", "impact (none) is not a score from 1 to 5"),
    ({"title": "  "}, "title", "give the risk&#39;s title"),
    ({"owner": "nobody"}, "owner", "no user named &#39;nobody&#39; to own the risk"),
], ids=["likelihood-7", "no-impact", "empty-title", "unknown-owner"])
def test_a_refused_form_shows_the_message_by_its_field_keeps_what_was_typed_and_writes_nothing(
        rf: Reviewflow, changes: dict[str, str], field: str, message: str) -> None:
    manager = _browser(rf, "a.khan")
    before = _written(rf)
    refused = _add(manager, **changes)
    assert refused.status_code == 422, refused.text
    assert f'href="#f-{field}"' in refused.text
    assert re.search(rf'<p id="f-{field}-error" class="govuk-error-message"><span class="govuk-visually-hidden">'
                     rf'Error:</span> {re.escape(message)}', refused.text), refused.text
    assert 'name="controls" rows="3" maxlength="4000"' in refused.text
    assert ">Reviewer pool shared with the next authority</textarea>" in refused.text  # what was typed is kept
    assert _written(rf) == before


def test_a_review_rescores_the_risk_and_closing_keeps_it_with_its_reason(rf: Reviewflow) -> None:
    manager = _browser(rf, "a.khan")
    assert _add(manager).status_code == 303
    # The risk's owner, without the manage roles, reviews their own risk; they are not offered closing it.
    owner = _browser(rf, "p.ward")
    owner_view = owner.get(f"/cases/{REF}")
    assert f'href="/cases/{REF}/risks/R1/review"' in owner_view.text
    assert f'href="/cases/{REF}/risks/R1/close"' not in owner_view.text
    assert f'href="/cases/{REF}/risks/new"' not in owner_view.text
    form = owner.get(f"/cases/{REF}/risks/R1/review")
    assert "Its score is now 12 (likelihood 3 × impact 4), amber." in form.text
    bad = owner.post(f"/cases/{REF}/risks/R1/review", data={**_hidden(form), "likelihood": "4", "impact": "9",
                                                             "note": "Two reviewers left"})
    assert bad.status_code == 422
    assert 'href="#f-impact"' in bad.text
    assert ">Two reviewers left</textarea>" in bad.text
    reviewed = owner.post(f"/cases/{REF}/risks/R1/review", data={**_hidden(form), "likelihood": "4", "impact": "4",
                                                                  "note": "Two reviewers left"},
                          follow_redirects=False)
    assert reviewed.status_code == 303, reviewed.text
    shown = owner.get(reviewed.headers["location"])
    assert "Risk R1 scored again" in shown.text
    assert _row(shown, "R1").startswith("R1: Too few independent reviewers 16 (4 × 4) Red Rising p.ward (Police)")
    assert [(s.likelihood, s.impact, s.note) for s in rf.risks(REF)[0].scores] == [(3, 4, None),
                                                                                  (4, 4, "Two reviewers left")]

    empty = manager.post(f"/cases/{REF}/risks/R1/close", data={**_form(manager, f"/cases/{REF}/risks/R1/close"),
                                                               "reason": " "})
    assert empty.status_code == 422
    assert 'href="#f-reason"' in empty.text
    closed = manager.post(f"/cases/{REF}/risks/R1/close", data={**_form(manager, f"/cases/{REF}/risks/R1/close"),
                                                                "reason": "Reviewer pool agreed"},
                          follow_redirects=False)
    assert closed.status_code == 303, closed.text
    shown = manager.get(closed.headers["location"])
    assert "Risk R1 closed" in shown.text
    assert "Closed 2 April 2026: Reviewer pool agreed" in _row(shown, "R1")
    assert f'href="/cases/{REF}/risks/R1/review"' not in shown.text  # a closed risk offers nothing more
    assert '<th scope="col" class="govuk-table__header">Actions</th>' not in shown.text
    again = manager.post(f"/cases/{REF}/risks/R1/review", data={**_form(manager, f"/cases/{REF}/risks/R1/review"),
                                                                "likelihood": "1", "impact": "1"})
    assert again.status_code == 422
    assert "risk R1 on RISK-2026 is closed (Reviewer pool agreed): it can no longer be reviewed" in again.text
    assert manager.get(f"/cases/{REF}/risks/R9/review").status_code == 404


def test_people_without_the_manage_roles_posting_the_forms_are_refused_and_nothing_is_written(
        rf: Reviewflow) -> None:
    manager = _browser(rf, "a.khan")
    assert _add(manager).status_code == 303
    assert _add(manager, title="Health data not shared at strategy meetings", owner="h.lee").status_code == 303
    before = _written(rf)
    chair = _browser(rf, "p.hughes")
    chair_view = chair.get(f"/cases/{REF}")
    assert "Risk register" in chair_view.text
    assert f'href="/cases/{REF}/risks/new"' not in chair_view.text
    assert '<th scope="col" class="govuk-table__header">Actions</th>' not in chair_view.text
    adding = _add(chair)
    assert adding.status_code == 403
    assert "adding a risk to RISK-2026 needs one of the roles business_manager, subgroup_chair" in adding.text
    assert 'value="Too few independent reviewers"' in adding.text
    closing = chair.post(f"/cases/{REF}/risks/R1/close", data={**_form(chair, f"/cases/{REF}/risks/R1/close"),
                                                               "reason": "Not ours"})
    assert closing.status_code == 403
    assert "closing risk R1 on RISK-2026 needs one of the roles" in closing.text
    # Another agency's risk owner (who sees the register through the risk they own) may not review a risk they
    # do not own.
    other = _browser(rf, "h.lee")
    other_view = other.get(f"/cases/{REF}")
    assert f'href="/cases/{REF}/risks/R2/review"' in other_view.text
    assert f'href="/cases/{REF}/risks/R1/review"' not in other_view.text
    reviewing = other.post(f"/cases/{REF}/risks/R1/review", data={
        **_form(other, f"/cases/{REF}/risks/R1/review"), "likelihood": "5", "impact": "5"})
    assert reviewing.status_code == 403
    assert "or to be its owner p.ward" in reviewing.text
    owner = _browser(rf, "p.ward")
    closing = owner.post(f"/cases/{REF}/risks/R1/close", data={**_form(owner, f"/cases/{REF}/risks/R1/close"),
                                                               "reason": "Mine"})
    assert closing.status_code == 403
    without_token = chair.post(f"/cases/{REF}/risks/new", data={"revision": str(before[0]), **RISK})
    assert without_token.status_code == 403
    assert _written(rf) == before
