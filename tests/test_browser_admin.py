"""The Board, workflow and administration pages in a real browser (the system Chromium, through Playwright) against
a real `reviewflow serve`, on SQLite and PostgreSQL: a Board member opens the Board report from the navigation and
downloads the workbook; the Board page at 375 px wide; axe on every page of this part, forms with errors included.
(docs/screenshots/make.py takes the Board page's screenshot, from the demo.)
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from reviewflow.engine.core.clock import SteppingClock
from reviewflow.engine.services.facade import Reviewflow
from reviewflow.engine.services.settings import Settings, SmtpSettings
from reviewflow.store.db import Database

from tests.browser import axe
from tests.conftest import FIXTURES, pg_url_or_skip
from tests.served import serving
from tests.servers import free_port

NOW = datetime(2026, 6, 15, 9, 0, tzinfo=UTC)
PASSWORD = "correct horse battery staple"
PEOPLE = {"bm": (["business_manager"], None), "chair": (["subgroup_chair"], None), "pb": (["board"], None),
          "pc.jones": (["action_owner"], "Police")}
BROKEN = (FIXTURES / "agency_review.yaml").read_text("utf-8").replace("time_limit: 20 working days",
                                                                       "time_limit: 20 workin days")
CHANGED = (FIXTURES / "agency_review.yaml").read_text("utf-8").replace("time_limit: 20 working days",
                                                                        "time_limit: 25 working days")


def build(url: str) -> None:
    """Serious case reviews at several stages and ages, agency cases with an action, and e-mails that failed."""
    clock = SteppingClock(datetime(2026, 1, 26, 9, 0, tzinfo=UTC))
    rf = Reviewflow(Database(url), clock, Settings(smtp=SmtpSettings("127.0.0.1", free_port(), timeout=5.0),
                                                   max_attempts=1))
    try:
        rf.init([FIXTURES / "agency_review.yaml"])
        rf.first_admin("ada", None, "ada@example.org")
        for name, (roles, agency) in PEOPLE.items():
            rf.add_user(name, roles, f"{name}@example.org", agency)
            rf.set_password(None, name, PASSWORD)
        rf.set_password(None, "ada", PASSWORD)
        for number, incident in enumerate(("2026-01-26", "2026-03-30", "2026-06-08"), start=1):
            clock.now = datetime.fromisoformat(f"{incident}T10:00:00+00:00")
            rf.open_case("serious_case_review", f"SCR-2026-00{number}", "bm", {
                "notifying_agency": "Children's social care", "incident_date": incident,
                "incident_type": "child_seriously_harmed"}, legacy=True)
        rf.open_case("agency_review", "POLICE-1", "bm", {"notifying_agency": "Police", "family_context": "private"})
        rf.recommend("POLICE-1", "bm", "Share concerns at once", ["information sharing"], ["Police"])
        rf.add_action("POLICE-1", "bm", "R1", "Same-day referrals for neglect", "Police", "2026-05-29", "pc.jones",
                      past_due_ok=True)
        rf.deliver()
    finally:
        rf.db.dispose()


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('browser-admin') / 'reviewflow.db'}"
    else:
        url = pg_url_or_skip()
    build(url)
    with serving(url, now=NOW.isoformat()) as base:
        yield base


def sign_in(page: Any, base: str, name: str) -> None:
    page.goto(f"{base}/sign-in")
    page.get_by_label("User name").fill(name)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(r".*/$"))


def test_a_board_member_opens_the_board_report_and_downloads_the_workbook(
        server: str, browser_page: Callable[..., Any], tmp_path: Path) -> None:
    page = browser_page(width=1200, height=1000)
    sign_in(page, server, "pb")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Board").click()
    page.wait_for_url(re.compile(r".*/board$"))
    assert page.get_by_role("heading", level=1).inner_text() == "Board report"
    table = page.get_by_role("table", name="Every open review and audit, overdue first")
    first = table.get_by_role("row").nth(1)
    assert first.get_by_role("link").inner_text() == "SCR-2026-001"
    assert first.locator(".govuk-tag").text_content() == "Overdue"  # in words, not only in colour
    with page.expect_download() as started:
        page.get_by_role("link", name="Excel workbook (XLSX)").click()
    download = started.value
    assert download.suggested_filename == "board-report-2026-06-15.xlsx"
    saved = tmp_path / download.suggested_filename
    download.save_as(saved)
    book = openpyxl.load_workbook(io.BytesIO(saved.read_bytes()))
    rows = {row[0].value: row for row in book["open_reviews"].iter_rows(min_row=2)}
    header = [c.value for c in book["open_reviews"][1]]
    late = dict(zip(header, rows["SCR-2026-001"], strict=False))
    assert late["RAG"].value == "Overdue"
    assert late["due date"].is_date
    assert late["due date"].value.date() == date(2026, 2, 2)
    assert isinstance(late["working days overdue"].value, int)
    assert late["working days overdue"].value > 0
    assert page.problems == []


def test_the_board_page_fits_375_pixels_with_its_tables_scrolling_in_their_own_box(
        server: str, browser_page: Callable[..., Any]) -> None:
    page = browser_page(width=375, height=800)
    sign_in(page, server, "pb")
    page.goto(f"{server}/board")
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    box = page.get_by_role("region", name="Every open review and audit, overdue first")
    assert box.evaluate("e => e.scrollWidth > e.clientWidth")  # it scrolls sideways, within its box
    box.focus()
    page.keyboard.press("ArrowRight")  # the keyboard scrolls it too (smoothly: wait until it has moved)
    page.wait_for_function("e => e.scrollLeft > 0", arg=box.element_handle())
    page.get_by_text("Choose another period").click()
    page.get_by_label("From").fill("2026-01-01")
    page.get_by_role("button", name="Show the report").click()
    page.wait_for_url(re.compile(r".*/board\?from=2026-01-01&to=$"))
    assert "1 January 2026 to 15 June 2026" in page.locator(".govuk-caption-l").inner_text()
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    axe(page)


def _upload(page: Any, server: str, name: str, text: str) -> None:
    page.goto(f"{server}/admin/workflows")
    page.get_by_label("Workflow definition file (YAML)").set_input_files(
        files=[{"name": name, "mimeType": "application/yaml", "buffer": text.encode("utf-8")}])
    page.get_by_role("button", name="Check the file").click()
    page.wait_for_url(re.compile(r".*/admin/workflows/check$"))


def test_no_page_of_this_part_has_a_serious_accessibility_problem(
        server: str, browser_page: Callable[..., Any]) -> None:
    page = browser_page(width=1200)
    sign_in(page, server, "ada")
    for path in ("/board", "/board/annual", "/board/annual/2026", "/board?from=not-a-date", "/workflows",
                 "/workflows/serious_case_review", "/workflows/agency_review", "/admin", "/admin/users",
                 "/admin/users/new", "/admin/users/pc.jones", "/admin/workflows", "/admin/deliveries",
                 "/admin/deliveries?status=all", "/admin/log"):
        page.goto(f"{server}{path}")
        axe(page)
    page.goto(f"{server}/admin/users/new")
    page.get_by_label("User name").fill("bad name")
    page.get_by_role("button", name="Register").click()
    assert page.get_by_role("link", name="Choose at least one role").is_visible()
    axe(page)
    page.goto(f"{server}/admin/users/pc.jones")
    page.get_by_role("button", name="Make a set-up code").click()
    assert page.locator("#setup-code").inner_text()
    axe(page)
    _upload(page, server, "agency_review.yaml", BROKEN)
    assert "problem" in page.get_by_role("heading", level=1).inner_text()
    axe(page)
    _upload(page, server, "agency_review.yaml", CHANGED)
    assert page.get_by_role("button", name="Load agency_review version 2").is_visible()
    axe(page)
    page.goto(f"{server}/admin/deliveries")
    page.get_by_role("button", name="Retry the ones chosen").click()
    page.get_by_role("link", name="Choose at least one failed delivery to retry, or retry them all").click()
    axe(page)
    page.goto(f"{server}/set-password")
    axe(page)
    assert [p for p in page.problems if "status of 422" not in p] == []  # a refused form answers 422
