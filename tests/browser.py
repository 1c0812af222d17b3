"""A real browser for the tests: the system Chromium driven by Playwright, and the axe accessibility check.

`chromium` is a session fixture (one browser per test process); `browser_page` makes pages, each in a context of
its own (its own cookies) at the width asked for. Without a `chromium` on the PATH the tests that use them are
skipped with the reason, unless REVIEWFLOW_REQUIRE_CHROMIUM=1 (as in CI), when they fail.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from typing import Any

import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
REQUIRE_CHROMIUM = os.environ.get("REVIEWFLOW_REQUIRE_CHROMIUM") == "1"
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"]
FAILING_IMPACTS = ("serious", "critical")


@pytest.fixture(scope="session")
def chromium() -> Iterator[Any]:
    """The system Chromium, headless, launched through Playwright."""
    if CHROMIUM is None:
        if REQUIRE_CHROMIUM:
            pytest.fail("chromium is not installed (REVIEWFLOW_REQUIRE_CHROMIUM=1): apt-get install chromium")
        pytest.skip("chromium is not installed: apt-get install chromium to run the browser tests")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def browser_page(chromium: Any) -> Iterator[Callable[..., Any]]:
    """Make a page in a fresh context (no cookies) `width` CSS pixels wide; every page made is closed after the
    test. Script errors and anything the Content-Security-Policy blocked are collected in `page.problems` (an error
status of a page itself is the page's business, not a problem)."""
    contexts: list[Any] = []

    def make(width: int = 1200, height: int = 900) -> Any:
        context = chromium.new_context(viewport={"width": width, "height": height})
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(15_000)
        page.problems = []
        page.on("console", lambda message: page.problems.append(message.text)
                if message.type == "error" and not message.text.startswith("Failed to load resource") else None)
        page.on("pageerror", lambda error: page.problems.append(str(error)))
        return page

    yield make
    for context in contexts:
        context.close()


def axe(page: Any) -> None:
    """Fail on any serious or critical accessibility violation axe finds on `page` (WCAG 2.2 A and AA rules and
    axe's best practices), naming each rule and the elements it found."""
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page, options={"runOnly": {"type": "tag", "values": WCAG_TAGS},
                                       "resultTypes": ["violations"]})
    found = [f"{v['id']} ({v['impact']}): {v['help']}: " + "; ".join(n["html"][:120] for n in v["nodes"][:3])
             for v in results.response["violations"] if v.get("impact") in FAILING_IMPACTS]
    assert found == [], f"accessibility problems on {page.url}:\n" + "\n".join(found)
