"""The Board, workflow and administration pages through a real `reviewflow serve` process on 127.0.0.1, on SQLite
and PostgreSQL, driven as a browser drives them: plain HTML forms carrying the page's CSRF token.

Administrators only on /admin (everyone else refused, nothing written); registering, disabling and resetting a
password from the forms; a broken definition shows every located problem and loads nothing; a good one shows its
differences, then loads on confirmation; failed deliveries go back in the queue; the Board report downloads as
CSV, Markdown and a workbook with typed cells.
"""

from __future__ import annotations

import html
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import openpyxl
import pytest

from reviewflow.engine.core.clock import SteppingClock
from reviewflow.engine.core.errors import InvalidDefinition
from reviewflow.engine.core.parse import parse_definition
from reviewflow.engine.services.facade import Reviewflow
from reviewflow.engine.services.settings import Settings, SmtpSettings
from reviewflow.store.db import Database

from tests.conftest import FIXTURES, pg_url_or_skip
from tests.served import Browser, serving
from tests.servers import free_port

PASSWORD = "correct horse battery staple"
SECRET = "grandmother's address is 12 Acacia Avenue"
"""A sensitive field's value: no report and no page may show it."""
ADMIN_PAGES = ("/admin", "/admin/users", "/admin/users/new", "/admin/users/bm", "/admin/workflows",
               "/admin/deliveries", "/admin/log")
PEOPLE = [("bm", ["business_manager"], None), ("chair", ["subgroup_chair"], None), ("pb", ["board"], None),
          ("pc.jones", ["action_owner"], "Police"), ("hv.smith", ["action_owner"], "Health"),
          ("l.eaver", ["action_owner"], "Health")]


@dataclass
class World:
    url: str
    base: str


def _build(url: str) -> None:
    """People with passwords; a serious case review, a Health and a Police case; e-mails that failed for good."""
    down = SmtpSettings("127.0.0.1", free_port(), timeout=5.0)
    rf = Reviewflow(Database(url), SteppingClock(datetime.now(UTC) - timedelta(days=3)),
                    Settings(smtp=down, max_attempts=1))
    try:
        rf.init([FIXTURES / "agency_review.yaml"])
        rf.first_admin("ada", None, "ada@example.org")
        for name, roles, agency in PEOPLE:
            rf.add_user(name, roles, f"{name}@example.org", agency)
        for name in ["ada", *(p[0] for p in PEOPLE)]:
            rf.set_password(None, name, PASSWORD)
        rf.open_case("serious_case_review", "SCR-T-1", "bm", {
            "notifying_agency": "Children's social care", "incident_type": "child_seriously_harmed",
            "incident_date": (datetime.now(UTC) - timedelta(days=5)).date().isoformat()}, legacy=True)
        rf.open_case("agency_review", "HEALTH-1", "bm", {"notifying_agency": "Health", "family_context": SECRET})
        rf.open_case("agency_review", "POLICE-1", "bm", {"notifying_agency": "Police", "family_context": SECRET})
        assert rf.deliver().failed >= 1
    finally:
        rf.db.dispose()


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def world(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    url = (f"sqlite:///{tmp_path_factory.mktemp('pages-admin') / 'pages.db'}" if request.param == "sqlite"
           else pg_url_or_skip())
    _build(url)
    with serving(url) as base:
        yield World(url, base)


def _reviewflow(world: World) -> Reviewflow:
    return Reviewflow(Database(world.url))


def _signed_in(world: World, name: str) -> Browser:
    browser = Browser(world.base)
    assert browser.sign_in(name, PASSWORD).status_code == 200
    return browser


def _form(browser: Browser, path: str, data: dict[str, Any] | None = None, csrf: bool = True,
          **kw: Any) -> httpx.Response:
    """Submit a form as a browser does: the CSRF token is a field of the form, not a header."""
    fields = dict(data or {})
    if csrf:
        fields["csrf_token"] = browser.csrf
    return browser.request("POST", path, csrf=False, data=fields, **kw)


def _text(answer: httpx.Response) -> str:
    """The main part of a page as plain text (tags dropped, entities decoded, spaces squeezed)."""
    main = answer.text.split('id="main-content"', 1)[-1]
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", main)).split())


def _field_errors(answer: httpx.Response) -> dict[str, str]:
    """Each error shown beside a field: the field's id -> the message."""
    found = re.findall(r'<p id="(f-[\w-]+)-error" class="govuk-error-message">.*?</span>\s*(.*?)</p>', answer.text,
                       re.S)
    found += re.findall(r'<p class="govuk-error-message" id="(f-[\w-]+)-error">.*?</span>\s*(.*?)</p>', answer.text,
                        re.S)
    return {key: html.unescape(" ".join(text.split())) for key, text in found}


def _summary_links(answer: httpx.Response) -> list[str]:
    """Where the error summary's links go."""
    body = answer.text.split("govuk-error-summary__list", 1)[-1].split("</ul>", 1)[0]
    return re.findall(r'<a href="#([\w-]+)"', body)


def _value(answer: httpx.Response, field: str) -> str | None:
    found = re.search(rf'id="f-{re.escape(field)}" name="{re.escape(field)}" type="\w+" value="([^"]*)"', answer.text)
    return html.unescape(found.group(1)) if found else None


def test_pages_other_than_an_administrators_are_refused_and_nothing_is_written(world: World) -> None:
    anonymous = Browser(world.base)
    answer = anonymous.get("/admin/users")
    assert answer.status_code == 303
    assert answer.headers["location"] == "/sign-in?next=/admin/users"
    for name in ("pc.jones", "bm"):
        person = _signed_in(world, name)
        for path in ADMIN_PAGES:
            refused = person.get(path)
            assert refused.status_code == 403, path
            assert f"is for administrators; {name} is not one: ask an administrator" in _text(refused)
        attempt = _form(person, "/admin/users/new", {"name": f"made.by.{name}", "roles": ["board"]})
        assert attempt.status_code == 403
        assert _form(person, "/admin/users/hv.smith/status", {"status": "disable"}).status_code == 403
        assert _form(person, "/admin/deliveries/retry", {"scope": "all"}).status_code == 403
    names = [a.name for a in _reviewflow(world).accounts_list()]
    assert not [n for n in names if n.startswith("made.by.")]
    assert _reviewflow(world).account("hv.smith").active
    admin = _signed_in(world, "ada")
    assert _form(admin, "/admin/users/new", {"name": "no.token", "roles": ["board"]}, csrf=False).status_code == 403
    assert "no.token" not in [a.name for a in _reviewflow(world).accounts_list()]


def test_a_refused_registration_keeps_the_input_and_says_why_by_the_field(world: World) -> None:
    admin = _signed_in(world, "ada")
    answer = _form(admin, "/admin/users/new", {"name": "bad name", "roles": ["board"], "agency": "Police"})
    assert answer.status_code == 422
    assert _field_errors(answer) == {"f-name": "user name 'bad name' is not usable: use letters, digits and . _ @ - "
                                               "with no spaces, e.g. a.khan"}
    assert _summary_links(answer) == ["f-name"]
    assert _value(answer, "name") == "bad name"
    assert _value(answer, "agency") == "Police"
    assert re.search(r'value="board" checked', answer.text)
    none = _form(admin, "/admin/users/new", {"name": "n.body"})
    assert _field_errors(none) == {"f-roles": "Choose at least one role"}
    taken = _form(admin, "/admin/users/new", {"name": "bm", "roles": ["board"]})
    assert taken.status_code == 409
    assert _field_errors(taken) == {"f-name": "user 'bm' already exists: see 'reviewflow user list'"}
    names = [a.name for a in _reviewflow(world).accounts_list()]
    assert "bad name" not in names
    assert "n.body" not in names


def test_an_administrator_registers_someone_who_sets_a_password_with_the_code_shown_once(world: World) -> None:
    admin = _signed_in(world, "ada")
    added = _form(admin, "/admin/users/new", {"name": "n.newcomer", "roles": ["board", "action_owner"],
                                              "agency": "Education", "email": "n.newcomer@example.org"})
    assert added.status_code == 303
    assert added.headers["location"] == "/admin/users/n.newcomer?done=added"
    shown = _text(admin.get(added.headers["location"]))
    assert "n.newcomer registered" in shown
    assert "Roles action owner, board" in shown
    listed = _text(admin.get("/admin/users"))
    assert "n.newcomer action owner, board Education n.newcomer@example.org Active no password set" in listed

    coded = _form(admin, "/admin/users/n.newcomer/setup-code")
    assert coded.status_code == 200
    assert coded.headers["cache-control"] == "no-store"
    code = re.search(r'<code id="setup-code">([\w-]+)</code>', coded.text)
    assert code is not None
    newcomer = Browser(world.base)
    short = newcomer.request("POST", "/set-password", data={"code": code.group(1), "password": "short",
                                                            "confirm": "short"})
    assert short.status_code == 422
    assert _field_errors(short)["f-password"].startswith("the password is 5 characters long; use at least 12")
    assert _value(short, "code") == code.group(1)
    done = newcomer.request("POST", "/set-password", data={"code": code.group(1), "password": PASSWORD,
                                                           "confirm": PASSWORD})
    assert done.status_code == 303
    assert done.headers["location"] == "/sign-in?password_set=1"
    assert "Your password is set: sign in with it now." in newcomer.get("/sign-in?password_set=1").text
    assert newcomer.sign_in("n.newcomer", PASSWORD).status_code == 200
    assert newcomer.get("/board").status_code == 200
    again = Browser(world.base).request("POST", "/set-password", data={"code": code.group(1), "password": PASSWORD,
                                                                      "confirm": PASSWORD})
    assert _field_errors(again) == {"f-code": "this set-up code is not valid (unknown, used or expired): ask an "
                                              "administrator for a new one"}


def test_a_disabled_persons_session_stops_working_at_once(world: World) -> None:
    leaver = _signed_in(world, "l.eaver")
    assert leaver.get("/board").status_code == 200
    admin = _signed_in(world, "ada")
    page = admin.get("/admin/users/l.eaver")
    assert "Disable l.eaver" in page.text
    disabled = _form(admin, "/admin/users/l.eaver/status", {"status": "disable"})
    assert (disabled.status_code, disabled.headers["location"]) == (303, "/admin/users/l.eaver?done=disabled")
    assert "l.eaver disabled: they cannot sign in" in _text(admin.get(disabled.headers["location"]))

    after = leaver.get("/board")
    assert after.status_code == 303
    assert after.headers["location"].startswith("/sign-in")
    assert leaver.get("/api/v1/me").status_code == 401
    assert Browser(world.base).sign_in("l.eaver", PASSWORD).status_code == 401
    assert not _reviewflow(world).account("l.eaver").active
    log = _text(admin.get("/admin/log"))
    assert re.search(r"ada user\.change l\.eaver disabled: yes; sessions ended: 1", log)


def test_roles_e_mail_and_operating_system_account_change_from_the_persons_page(world: World) -> None:
    admin = _signed_in(world, "ada")
    granted = _form(admin, "/admin/users/chair/roles", {"grant": "board"})
    assert granted.headers["location"] == "/admin/users/chair?done=granted&role=board"
    revoked = _form(admin, "/admin/users/chair/roles", {"revoke": "board"})
    assert revoked.headers["location"] == "/admin/users/chair?done=revoked&role=board"
    refused = _form(admin, "/admin/users/chair/details", {"email": "chair@example.org, x@example.org",
                                                          "os_account": "chairos"})
    assert refused.status_code == 422
    assert _field_errors(refused)["f-email"].startswith("'chair@example.org, x@example.org' is not one e-mail "
                                                        "address")
    assert _value(refused, "os_account") == "chairos"
    saved = _form(admin, "/admin/users/chair/details", {"email": "chair@example.org", "os_account": "chairos"})
    assert saved.status_code == 303
    account = _reviewflow(world).account("chair")
    assert (account.roles, account.email, account.os_account) == (("subgroup_chair",), "chair@example.org", "chairos")
    last = _form(admin, "/admin/users/ada/admin", {"admin": "no"})
    assert _field_errors(last) == {"f-admin": "ada is the last administrator: make someone else one first"}


def _definition(**changes: str) -> bytes:
    text = (FIXTURES / "agency_review.yaml").read_text("utf-8")
    for old, new in changes.items():
        assert old in text
        text = text.replace(old, new)
    return text.encode("utf-8")


def test_a_broken_definition_shows_every_located_problem_and_loads_nothing(world: World) -> None:
    admin = _signed_in(world, "ada")
    broken = _definition(**{"time_limit: 20 working days": "time_limit: 20 workin days",
                            "to: closed": "to: nowhere"})
    answer = _form(admin, "/admin/workflows/check", files={"definition": ("agency_review.yaml", broken,
                                                                          "application/yaml")})
    assert answer.status_code == 422
    shown = _text(answer)
    with pytest.raises(InvalidDefinition) as found:
        parse_definition(broken.decode(), "agency_review.yaml")
    problems = found.value.problems
    assert len(problems) == 5
    assert "5 problems in agency_review.yaml" in shown
    assert "agency_review.yaml has 5 problems: nothing was loaded" in shown
    for problem in problems:
        assert f"{problem.line} {problem.path} {problem.message}" in shown
    line = next(n for n, text in enumerate(broken.decode().splitlines(), 1) if "workin days" in text)
    assert f"{line} states.review.time_limit bad duration '20 workin days': write a whole number and a unit" in shown
    assert "bad duration '20 workin days': write a whole number and a unit, e.g. '5 working days', '20 days', " \
           "'6 weeks' or '1 month' time_limit: 20 workin days" in shown
    assert "transitions[1].to unknown state 'nowhere'; states are: closed, referral, review" in shown
    assert _summary_links(answer) == ["f-definition"]
    assert 'action="/admin/workflows/load"' not in answer.text
    assert [(w.name, w.version) for w in _reviewflow(world).workflows() if w.name == "agency_review"] == \
        [("agency_review", 1)]
    empty = _form(admin, "/admin/workflows/check", files={"definition": ("x.yaml", b"\xff\xfe not text",
                                                                         "application/yaml")})
    assert _field_errors(empty) == {"f-definition": "x.yaml is not text in UTF-8: save it as UTF-8 and upload it "
                                                    "again"}


def test_a_good_definition_shows_its_differences_then_loads_on_confirmation(world: World) -> None:
    admin = _signed_in(world, "ada")
    changed = _definition(**{"time_limit: 20 working days": "time_limit: 25 working days"})
    checked = _form(admin, "/admin/workflows/check", files={"definition": ("agency_review.yaml", changed,
                                                                           "application/yaml")})
    assert checked.status_code == 200
    shown = _text(checked)
    assert "Loading it makes version 2 (the newest loaded is version 1)" in shown
    assert "What changes from version 1 Stages changed review time_limit: 20 working days -> 25 working days" in shown
    assert [w.version for w in _reviewflow(world).workflows() if w.name == "agency_review"] == [1]
    content = re.search(r'name="content" value="([^"]+)"', checked.text)
    source = re.search(r'name="source" value="([^"]+)"', checked.text)
    assert content is not None
    assert source is not None
    assert _form(admin, "/admin/workflows/load", {"source": source.group(1), "content": content.group(1)},
                 csrf=False).status_code == 403
    loaded = _form(admin, "/admin/workflows/load", {"source": source.group(1), "content": content.group(1)})
    assert loaded.status_code == 303
    assert loaded.headers["location"] == "/admin/workflows?loaded=agency_review&version=2&status=added"
    assert "Loaded agency_review version 2" in _text(admin.get(loaded.headers["location"]))
    assert [w.version for w in _reviewflow(world).workflows() if w.name == "agency_review"] == [2]
    assert "25 working days" in _text(admin.get("/workflows/agency_review"))
    assert re.search(r"ada workflow\.load agency_review version: 2; file: agency_review\.yaml",
                     _text(admin.get("/admin/log")))
    same = _form(admin, "/admin/workflows/check", files={"definition": ("agency_review.yaml", changed,
                                                                        "application/yaml")})
    assert "Loading it makes nothing new: this is version 2, loaded already" in _text(same)
    assert 'action="/admin/workflows/load"' not in same.text


def test_failed_deliveries_are_listed_and_go_back_in_the_queue(world: World) -> None:
    admin = _signed_in(world, "ada")
    failed = _reviewflow(world).outbox("failed")
    assert failed
    page = admin.get("/admin/deliveries")
    shown = _text(page)
    assert "Connection refused" in shown
    assert all(f'name="ids" type="checkbox" value="{entry.id}"' in page.text for entry in failed)
    nothing = _form(admin, "/admin/deliveries/retry", {"scope": "chosen"})
    assert nothing.status_code == 422
    assert _summary_links(nothing) == ["f-ids"]
    assert _field_errors(nothing) == {"f-ids": "Choose at least one failed delivery to retry, or retry them all"}
    assert len(_reviewflow(world).outbox("failed")) == len(failed)

    first = failed[0]
    retried = _form(admin, "/admin/deliveries/retry", {"scope": "chosen", "ids": [str(first.id)]})
    assert (retried.status_code, retried.headers["location"]) == (303, "/admin/deliveries?status=pending&retried=1")
    assert "1 notification queued again" in _text(admin.get(retried.headers["location"]))
    again = {e.id: e for e in _reviewflow(world).outbox()}[first.id]
    assert (again.status, again.attempts) == ("pending", 0)
    rest = _form(admin, "/admin/deliveries/retry", {"scope": "all"})
    assert rest.headers["location"] == f"/admin/deliveries?status=pending&retried={len(failed) - 1}"
    assert _reviewflow(world).outbox("failed") == []
    assert re.search(r"ada outbox\.retry outbox ids: " + str(first.id) + "; queued: 1", _text(admin.get("/admin/log")))


def test_the_board_report_is_a_page_over_what_the_person_may_see(world: World) -> None:
    board = _signed_in(world, "pb")
    page = board.get("/board")
    assert page.status_code == 200
    shown = _text(page)
    assert "Board report" in shown
    assert re.search(r'<a class="govuk-link" href="/cases/SCR-T-1">SCR-T-1</a>', page.text)
    assert re.search(r'<strong class="govuk-tag govuk-tag--\w+ rf-rag">(On time|Overdue|Due within \d+ working days)'
                     r"</strong>", page.text)
    assert "HEALTH-1" not in shown  # the Board role is not a partnership role of agency_review
    police = _text(_signed_in(world, "pc.jones").get("/board"))
    assert "POLICE-1" in police
    assert "SCR-T-1" not in police
    assert "HEALTH-1" not in police
    bad = board.get("/board", params={"from": "2026-13-45"})
    assert bad.status_code == 422
    assert _field_errors(bad) == {"f-from": "from '2026-13-45' is not a date: write e.g. 2026-03-31 or 31/03/2026"}
    assert _value(bad, "from") == "2026-13-45"
    for person in ("pb", "bm"):
        for path in ("/board", "/board/report.csv", "/board/report.md", "/board/report.html", "/board/report.json"):
            assert SECRET not in _signed_in(world, person).get(path).text


def test_the_board_report_downloads_as_csv_markdown_and_a_typed_workbook(world: World) -> None:
    board = _signed_in(world, "pb")
    today = datetime.now(UTC).date()
    csv = board.get("/board/report.csv")
    assert csv.headers["content-type"] == "text/csv; charset=utf-8"
    assert re.fullmatch(r'attachment; filename="board-report-\d{4}-\d{2}-\d{2}\.csv"',
                        csv.headers["content-disposition"])
    assert csv.text.startswith("[key_figures]\r\nfigure,value\r\n")
    assert "\r\n[open_reviews]\r\nref,type,stage,RAG," in csv.text
    markdown = board.get("/board/report.md")
    assert markdown.headers["content-type"] == "text/markdown; charset=utf-8"
    assert markdown.text.startswith("# Board report")
    assert "| SCR-T-1 |" in markdown.text

    answer = board.get("/board/report.xlsx")
    assert answer.headers["content-type"] == ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    assert answer.headers["content-disposition"].endswith('.xlsx"')
    book = openpyxl.load_workbook(io.BytesIO(answer.content))
    assert book.sheetnames[:3] == ["report", "key_figures", "open_by_type"]
    figures = {row[0]: row[1] for row in book["key_figures"].iter_rows(min_row=2, values_only=True)}
    assert figures["Open reviews and audits"] == 1
    sheet = book["open_reviews"]
    header = [c.value for c in sheet[1]]
    row = next(r for r in sheet.iter_rows(min_row=2) if r[0].value == "SCR-T-1")
    cells = dict(zip(header, row, strict=False))
    assert cells["due date"].is_date
    assert cells["due date"].number_format == "yyyy-mm-dd"
    assert isinstance(cells["due date"].value, datetime)
    assert cells["due date"].value.date() >= today - timedelta(days=10)
    assert cells["days in stage"].data_type == "n"
    assert isinstance(cells["days in stage"].value, int)
    assert cells["type"].value == "Serious Case Review"
    assert SECRET not in str([c.value for r in book["open_reviews"].iter_rows() for c in r])


def test_the_annual_report_is_a_page_and_downloads_for_a_year(world: World) -> None:
    board = _signed_in(world, "pb")
    year = str(date.today().year)
    chosen = board.get("/board/annual", params={"year": year})
    assert (chosen.status_code, chosen.headers["location"]) == (303, f"/board/annual/{year}")
    page = board.get(f"/board/annual/{year}")
    assert page.status_code == 200
    assert f"Annual report: 1 January {year} to 31 December {year}" in _text(page)
    assert f'href="/board/annual/{year}/report.xlsx"' in page.text
    workbook = board.get(f"/board/annual/{year}/report.xlsx")
    assert openpyxl.load_workbook(io.BytesIO(workbook.content)).sheetnames[0] == "report"
    bad = board.get("/board/annual/twenty")
    assert bad.status_code == 422
    assert _field_errors(bad)["f-year"].startswith("--year 'twenty' is not a year: write 2026 for the calendar year")


def test_workflow_pages_show_the_diagram_stages_limits_guards_and_ladders(world: World) -> None:
    person = _signed_in(world, "pc.jones")
    listed = _text(person.get("/workflows"))
    assert ("Serious Case Review Legacy legacy (Working Together 2015), replaced by rapid_review_lcspr "
            "serious_case_review") in listed
    page = person.get("/workflows/serious_case_review")
    shown = _text(page)
    assert re.search(r"Notification notification Start The local authority notifies Ofsted and the Board of the "
                     r"serious incident\. 5 working days", shown)
    assert re.search(r"Escalation ladder for a stage past its time limit Step When late by Tells Called "
                     r"1 0 days owner Stage owner 2 10 working days subgroup chair Sub-group chair", shown)
    assert "every_recommendation_has_actions" in shown
    image = re.search(r'<img [^>]*src="(/workflows/serious_case_review/diagram\.svg\?version=\d+)"[^>]* alt="([^"]+)"',
                      page.text)
    if image is None:  # no Graphviz on this machine: the Mermaid text instead
        assert "stateDiagram" in page.text or "flowchart" in page.text
        return
    assert "Diagram of the stages of Serious Case Review" in image.group(2)
    drawn = person.get(html.unescape(image.group(1)))
    assert drawn.headers["content-type"] == "image/svg+xml"
    assert drawn.text.lstrip().startswith("<?xml")
    assert "<svg" in drawn.text
    assert "<script" not in drawn.text
    assert "unsafe-inline" not in drawn.headers["content-security-policy"]
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert person.get("/workflows/no_such_flow").status_code == 404


def test_every_page_of_this_part_is_served_with_the_security_headers(world: World) -> None:
    admin = _signed_in(world, "ada")
    for path in (*ADMIN_PAGES, "/board", "/board/annual", "/workflows", "/set-password"):
        answer = admin.get(path)
        assert answer.status_code == 200, path
        policy = answer.headers["content-security-policy"]
        assert "unsafe-inline" not in policy
        assert "frame-ancestors 'none'" in policy
        assert "<script>" not in answer.text, path
        assert " style=" not in answer.text, path
