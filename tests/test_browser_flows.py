"""The web pages in a real browser (the system Chromium, through Playwright) against a real `reviewflow serve`, on
SQLite and PostgreSQL: the learning loop from an overdue action to its verification, a refused move, the main
flows at 375 px, a keyboard-only pass, and axe on every page."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from reviewflow.engine.core.clock import SteppingClock
from reviewflow.engine.services.facade import Reviewflow

from tests.browser import axe
from tests.conftest import FIXTURES, pg_url_or_skip
from tests.served import serving

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
PASSWORD = "correct horse battery staple"
PEOPLE = {"bm": (["business_manager"], None), "chair": (["subgroup_chair"], None),
          "pc.jones": (["action_owner"], "Police"), "hv.smith": (["action_owner"], "Health")}
PDF = (b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n"
       b"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 200 200]>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n")
FILES = hasattr(Reviewflow, "attach_evidence_file")
"""Whether this build stores evidence files."""


def build(url: str) -> None:
    rf = Reviewflow.connect(url, SteppingClock(NOW))
    try:
        rf.init([FIXTURES / "agency_review.yaml"])
        rf.first_admin("ada", None)
        for name, (roles, agency) in PEOPLE.items():
            rf.add_user(name, roles, f"{name}@example.org", agency)
            rf.set_password(None, name, PASSWORD)
        for ref in ("POLICE-1", "NARROW-1", "KEYS-1", "MISSING-1", "AXE-1"):
            rf.open_case("agency_review", ref, "bm", {"notifying_agency": "Police", "family_context": "private"})
        for ref, due in (("POLICE-1", "2026-02-20"), ("NARROW-1", "2026-02-23"), ("AXE-1", "2026-06-30")):
            rf.recommend(ref, "bm", "Share concerns at once", ["information sharing"], ["Police"])
            rf.add_action(ref, "bm", "R1", "Same-day referrals for neglect", "Police", due, "pc.jones",
                          past_due_ok=True)
        rf.submit_evidence("AXE-1", "A1", "pc.jones", "data", "Referral figures", "DATA-1")
        rf.pause("AXE-1", "bm", "awaiting criminal proceedings")
        # the case page's returns table and linked cases, checked by axe with the rest of the page
        rf.request_returns("AXE-1", "bm", ["Police", "Health"], "2026-03-20")
        rf.mark_return_in("AXE-1", "bm", "Police", "2026-03-02")
        rf.link_cases("AXE-1", "KEYS-1", "related", "Same family, same week", "bm")
        # the risk register's table and its three forms, checked by axe
        rf.open_case("risk_register", "RISK-2026", "bm", {"register_year": "2026-27", "year_start": "2026-03-01"})
        rf.add_risk("RISK-2026", "bm", "Too few independent reviewers", "pc.jones", 3, 4,
                    "A pool of reviewers shared with two partnerships")
    finally:
        rf.db.dispose()


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('browser') / 'reviewflow.db'}"
    else:
        url = pg_url_or_skip()
    build(url)
    folder = tmp_path_factory.mktemp("evidence-files")
    with serving(url, now=NOW.isoformat(), env={"REVIEWFLOW_EVIDENCE_DIR": str(folder)}) as base:
        yield base


def sign_in(page: Any, base: str, name: str) -> None:
    page.goto(f"{base}/sign-in")
    page.get_by_label("User name").fill(name)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(r".*/$"))


def sign_out(page: Any) -> None:
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(re.compile(r".*/sign-in\?signed_out=1$"))


def banner(page: Any) -> str:
    return str(page.locator(".govuk-notification-banner__heading").inner_text())


def submit_evidence(page: Any, description: str, pdf: bool) -> None:
    page.get_by_label("Policy change").check()
    page.get_by_label("What does it show?").fill(description)
    if pdf and FILES:
        page.get_by_label("Attach the file (optional)").set_input_files(
            {"name": "referral-policy.pdf", "mimeType": "application/pdf", "buffer": PDF})
    else:
        page.get_by_label("Where is it kept?").fill("POL-77")
    page.get_by_role("button", name="Submit the evidence").click()


def decide(page: Any, base: str, number: str, accept: bool, reason: str = "") -> None:
    page.goto(f"{base}/")
    page.get_by_role("link", name=re.compile(f"POLICE-1 evidence {number}")).click()
    page.get_by_label("Accept it" if accept else "Reject it: the owner is told and may submit again").check()
    if reason:
        page.get_by_label("Reason").fill(reason)
    page.get_by_role("button", name="Save the decision").click()


def test_an_owner_submits_evidence_the_chair_rejects_then_accepts_and_verifies(
        server: str, browser_page: Callable[..., Any]) -> None:
    owner = browser_page()
    sign_in(owner, server, "pc.jones")
    card = owner.locator(".rf-card", has_text="POLICE-1 action A1")
    assert "Overdue by 6 working days" in card.inner_text()
    assert "overdue" in owner.locator(".rf-count").inner_text()
    card.get_by_role("link", name="Submit evidence").click()
    submit_evidence(owner, "Referral policy v3, in force since 1 March", pdf=True)
    assert banner(owner) == "Evidence E1 submitted"
    if FILES:
        assert owner.get_by_role("link", name="Download referral-policy.pdf").count() == 1
    sign_out(owner)

    chair = browser_page()
    sign_in(chair, server, "chair")
    decide(chair, server, "E1", accept=False, reason="The policy alone does not show practice changed: add an audit")
    assert banner(chair) == "Evidence E1 rejected"
    assert "The policy alone does not show practice changed" in chair.locator("#evidence-E1").inner_text()

    sign_in(owner, server, "pc.jones")
    owner.locator(".rf-card", has_text="POLICE-1 action A1").get_by_role("link", name="Submit evidence").click()
    submit_evidence(owner, "Audit of 20 referrals: 19 made the same day", pdf=False)
    assert banner(owner) == "Evidence E2 submitted"

    decide(chair, server, "E2", accept=True)
    assert banner(chair) == "Evidence E2 accepted"
    chair.get_by_role("link", name="Verify action A1").click()
    chair.get_by_role("button", name="Verify the action").click()
    assert banner(chair) == "Action A1 verified"
    assert "Verified by chair" in chair.locator("#action-A1").inner_text()
    assert owner.problems == []
    assert chair.problems == []


def test_a_missing_required_field_shows_the_engines_message_beside_it(
        server: str, browser_page: Callable[..., Any]) -> None:
    chair = browser_page()
    sign_in(chair, server, "chair")
    chair.goto(f"{server}/cases/MISSING-1/move/accept")
    chair.get_by_label("Note for the history (optional)").fill("Agreed at the meeting")
    chair.get_by_role("button", name="Accept").click()
    group = chair.locator(".govuk-form-group--error")
    assert " ".join(group.locator(".govuk-error-message").inner_text().split()) == \
        "Error: `accept` needs decision (choice: yes, no): add --field decision=..."
    assert group.locator("legend").inner_text() == "decision".capitalize()
    assert chair.get_by_label("Note for the history (optional)").input_value() == "Agreed at the meeting"
    assert chair.title().startswith("Error: ")
    axe(chair)
    chair.locator(".govuk-error-summary a").click()  # the summary's link takes the focus to the field
    assert chair.evaluate("document.activeElement.name") == "decision"


def test_the_main_flows_work_at_375_pixels_wide(server: str, browser_page: Callable[..., Any]) -> None:
    narrow = browser_page(width=375, height=800)

    def fits() -> None:
        width = narrow.evaluate("document.documentElement.scrollWidth")
        assert width <= 375, f"{narrow.url} is {width} px wide"

    narrow.goto(f"{server}/sign-in")
    fits()
    sign_in(narrow, server, "pc.jones")
    fits()
    narrow.locator(".rf-card", has_text="NARROW-1 action A1").get_by_role("link", name="Submit evidence").click()
    fits()
    submit_evidence(narrow, "Briefing notes for every custody sergeant", pdf=False)
    assert banner(narrow) == "Evidence E1 submitted"
    fits()
    narrow.goto(f"{server}/cases")
    fits()
    assert narrow.get_by_role("link", name="NARROW-1").is_visible()
    narrow.get_by_role("link", name="Board").count()  # the navigation wraps rather than hiding links
    assert narrow.get_by_role("button", name="Sign out").is_visible()
    sign_out(narrow)
    sign_in(narrow, server, "bm")
    for path in ("/cases/AXE-1", "/cases/RISK-2026", "/cases/RISK-2026/risks/new", "/cases/RISK-2026/risks/R1/review"):
        narrow.goto(f"{server}{path}")
        fits()  # the case page's tables scroll inside their own boxes


def tab_to(page: Any, test: str, limit: int = 80) -> None:
    """Press Tab until the JavaScript expression `test` (about `el`, the focused element) holds."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate(f"(() => {{ const el = document.activeElement; return Boolean({test}); }})()"):
            return
    raise AssertionError(f"Tab never reached an element where {test}")


def test_a_keyboard_alone_signs_in_and_moves_a_case(server: str, browser_page: Callable[..., Any]) -> None:
    page = browser_page()
    page.goto(f"{server}/sign-in")
    tab_to(page, "el.id === 'f-name'")
    page.keyboard.type("chair")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "f-password"
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r".*/$"))
    tab_to(page, "el.getAttribute('href') === '/cases'")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r".*/cases$"))
    tab_to(page, "el.textContent.trim() === 'KEYS-1'")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r".*/cases/KEYS-1$"))
    tab_to(page, "el.getAttribute('href') === '/cases/KEYS-1/move/accept'")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r".*/move/accept$"))
    tab_to(page, "el.name === 'decision'")
    page.keyboard.press("Space")
    tab_to(page, "el.tagName === 'BUTTON' && el.type === 'submit' && el.textContent.trim() === 'Accept'")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r".*/cases/KEYS-1\?done=moved$"))
    assert banner(page) == "The case moved on"
    visible_focus = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert visible_focus is not None


PAGES = {
    "bm": ["/", "/cases", "/cases?overdue=yes", "/cases/AXE-1", "/cases/AXE-1/recommend", "/cases/AXE-1/actions/new",
           "/cases/AXE-1/actions/new?agency=Police", "/cases/AXE-1/dissemination", "/cases/AXE-1/resume",
           "/cases/POLICE-1/pause", "/cases/NO-SUCH-CASE", "/cases/RISK-2026", "/cases/RISK-2026/risks/new",
           "/cases/RISK-2026/risks/R1/review", "/cases/RISK-2026/risks/R1/close"],
    "chair": ["/", "/cases/AXE-1/evidence/E1/decide", "/cases/AXE-1/actions/A1/verify",
              "/cases/AXE-1/actions/A1/evaluate", "/cases/AXE-1/move/accept"],
    "pc.jones": ["/", "/cases/AXE-1", "/cases/AXE-1/actions/A1/evidence", "/account"],
}


def test_no_page_has_a_serious_accessibility_problem(server: str, browser_page: Callable[..., Any]) -> None:
    page = browser_page()
    page.goto(f"{server}/sign-in")
    axe(page)
    for name, paths in PAGES.items():
        sign_in(page, server, name)
        for path in paths:
            page.goto(f"{server}{path}")
            axe(page)
        sign_out(page)
    axe(page)  # the signed-out page
    assert page.problems == []
