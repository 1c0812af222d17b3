"""`reviewflow case timeline` through the real CLI: a case's story in order, stages against their limits, HTML."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from tests.conftest import ADMIN
from tests.databases import Templates
from tests.test_cli import Cli, _fire
from tests.test_learning import PEOPLE

REF = "SCR-2026-050"
SCRIPT = "<script>alert(1)</script>"


def _init_with_people(url: str) -> None:
    c = Cli(url)
    c("init", now="2026-01-05")
    for name, (roles, agency) in PEOPLE.items():
        c("user", "add", name, *[a for r in roles for a in ("--role", r)], *(["--agency", agency] if agency else []))


@pytest.fixture
def run(db_url: str, templates: Templates) -> Cli:
    """`init` on 5 January 2026 and PEOPLE added (a copy of a database built so once per process)."""
    templates.copy(db_url, "test_timeline: init on 2026-01-05, PEOPLE added", _init_with_people)
    return Cli(db_url)


def _story(run: Cli) -> None:
    """An SCR notified late, paused during the sub-group's consideration, escalated while commissioning,
    with a recommendation, an action and rejected then accepted evidence."""
    run("case", "open", "serious_case_review", "--legacy", "--ref", REF, "--as", "la.duty",
        "--field", "notifying_agency=Police",
        "--field", "incident_date=2026-01-02", "--field", "incident_type=child_died", now="2026-01-05T10:00")
    _fire(run, REF, "notify", "la.duty", "2026-01-14T10:00", notification_date="2026-01-13")
    run("case", "pause", REF, "--reason", "other", "--note", f"awaiting police {SCRIPT}", "--as", "a.khan",
        now="2026-01-15T10:00")
    run("case", "resume", REF, "--as", "a.khan", "--note", "police content", now="2026-01-22T10:00")
    _fire(run, REF, "recommend", "d.osei", "2026-01-30T10:00", subgroup_recommendation="hold_scr",
          subgroup_rationale="criteria met")
    _fire(run, REF, "hold_scr", "p.hughes", "2026-02-02T10:00", criteria_met="yes", decision_rationale="met",
          decision_date="2026-02-02")
    run("escalate", now="2026-03-03T06:00")  # Commissioning was due on 2 March
    run("case", "recommend", REF, "--text", "Share concerns <img src=x onerror=alert(2)> early", "--theme", "neglect",
        "--agency", "Police", "--as", "a.khan", now="2026-03-04T10:00")
    run("action", "add", REF, "--rec", "R1", "--description", "Same-day referral policy", "--agency", "Police",
        "--owner", "p.officer", "--due", "2026-06-30", "--as", "a.khan", now="2026-03-04T11:00")
    _fire(run, REF, "commission", "a.khan", "2026-03-05T10:00", lead_reviewer_appointed="yes",
          terms_of_reference_date="2026-03-05")
    run("action", "evidence", REF, "A1", "--kind", "policy_change", "--description", "Policy v3",
        "--link", "POL-77", "--as", "p.officer", now="2026-03-09T10:00")
    run("action", "reject", REF, "E1", "--reason", f"Not in force yet {SCRIPT}", "--as", "d.osei",
        now="2026-03-10T10:00")
    run("action", "evidence", REF, "A1", "--kind", "policy_change", "--description", "Policy v3 in force",
        "--link", "POL-78", "--as", "p.officer", now="2026-03-16T10:00")
    run("action", "accept", REF, "E2", "--as", "d.osei", now="2026-03-17T10:00")
    run("action", "verify", REF, "A1", "--as", "d.osei", now="2026-03-17T11:00")


def _tags(page: str) -> list[tuple[str, list[str]]]:
    """Every start tag of an HTML page with its attribute names."""
    found: list[tuple[str, list[str]]] = []

    class Tags(HTMLParser):
        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            found.append((tag, [name for name, _ in attrs]))

    Tags().feed(page)
    return found


def _events(text: str) -> list[str]:
    """The headline of every event: its time, kind and text."""
    return [" ".join(line.split()) for line in text.split("Events:\n", 1)[1].splitlines()
            if re.match(r"^ [ !]\d{4}-", line)]


def test_the_timeline_tells_the_story_in_order_against_the_limits(run: Cli) -> None:
    _story(run)
    text = run("case", "timeline", REF, now="2026-03-20T12:00").output
    assert text.startswith(f"{REF}  Serious Case Review (serious_case_review v4)\n"
                           "  open: at Agency reports since 2026-03-05 10:00\n"
                           "  2 of 5 timed stages late; 1 escalation\n")
    stages = text.split("Stages:\n", 1)[1].split("\n\n", 1)[0].splitlines()
    assert [" ".join(s.split()) for s in stages] == [
        "Notification 2026-01-05 10:00 -> 2026-01-14 10:00 7 working days limit 5 working days "
        "LATE: over by 2 working days (due 2026-01-12)",
        "Sub-group consideration 2026-01-14 10:00 -> 2026-01-30 10:00 12 working days limit 10 working days "
        "on time (due 2026-02-03)",  # counted from the notification date, 13 January
        "Chair's decision 2026-01-30 10:00 -> 2026-02-02 10:00 3 days limit 1 month "
        "on time (due 2026-02-13)",  # a month from the notification date
        "Commissioning 2026-02-02 10:00 -> 2026-03-05 10:00 23 working days limit 20 working days "
        "LATE: over by 3 working days (due 2026-03-02)",
        "Agency reports 2026-03-05 10:00 -> … so far 11 working days limit 30 working days "
        "in time so far (due 2026-04-20)",  # Good Friday and Easter Monday are not working days
    ]
    assert _events(text) == [
        f"2026-01-05 10:00 OPENED Opened at Notification (by {ADMIN} for la.duty)",
        f"!2026-01-14 10:00 STAGE notify: Notification → Sub-group consideration (by {ADMIN} for la.duty)",
        f"2026-01-15 10:00 PAUSED Clock paused (by {ADMIN} for a.khan)",
        f"2026-01-22 10:00 RESUMED Clock resumed (by {ADMIN} for a.khan)",
        f"2026-01-30 10:00 STAGE recommend: Sub-group consideration → Chair's decision (by {ADMIN} for d.osei)",
        f"2026-02-02 10:00 STAGE hold_scr: Chair's decision → Commissioning (by {ADMIN} for p.hughes)",
        "2026-03-03 06:00 REMINDER Reminder: Commissioning due 2026-03-02",
        "!2026-03-03 06:00 ESCALATION Commissioning overdue: escalated to Stage owner",
        f"2026-03-04 10:00 RECOMMENDATION Recommendation R1 recorded (by {ADMIN} for a.khan)",
        f"2026-03-04 11:00 ACTION Action A1 agreed for R1: Police, due 2026-06-30 (by {ADMIN} for a.khan)",
        f"!2026-03-05 10:00 STAGE commission: Commissioning → Agency reports (by {ADMIN} for a.khan)",
        f"2026-03-09 10:00 EVIDENCE Evidence E1 submitted for action A1 (policy_change) (by {ADMIN} for p.officer)",
        f"2026-03-10 10:00 EVIDENCE Evidence E1 for action A1 rejected (by {ADMIN} for d.osei)",
        f"2026-03-16 10:00 EVIDENCE Evidence E2 submitted for action A1 (policy_change) (by {ADMIN} for p.officer)",
        f"2026-03-17 10:00 EVIDENCE Evidence E2 for action A1 accepted (by {ADMIN} for d.osei)",
        f"2026-03-17 11:00 ACTION Action A1 verified (by {ADMIN} for d.osei)",
    ]
    details = " | ".join(" ".join(line.split()) for line in text.splitlines() if line.startswith(" " * 35))
    for expected in [
        "Notification took 7 working days (limit 5 working days): LATE: over by 2 working days (due 2026-01-12)",
        "Sub-group consideration: limit 10 working days from notification_date, due 2026-01-27",
        f"reason: Other: awaiting police {SCRIPT}",
        f"was paused for: Other: awaiting police {SCRIPT} | note: police content | due date now 2026-02-03",
        "Sub-group consideration took 12 working days (limit 10 working days), clock paused 7 days: "
        "on time (due 2026-02-03)",
        "Commissioning overdue by 1 working day (limit 20 working days, due 2026-03-02); escalated to Stage owner "
        "| told business_manager (a.khan)",
        "told business_manager (a.khan); due to be sent 2026-02-16 00:00",
        "Share concerns <img src=x onerror=alert(2)> early | themes: neglect | agencies: Police",
        f"reason: Not in force yet {SCRIPT}",
        "Policy v3 in force | kept at: POL-78",
        "notification_date: 2026-01-13",
    ]:
        assert expected in details


def test_the_html_timeline_is_one_escaped_self_contained_page(run: Cli, tmp_path: Path) -> None:
    _story(run)
    out = tmp_path / "timeline.html"
    result = run("case", "timeline", REF, "--format", "html", "--out", str(out), now="2026-03-20T12:00")
    assert result.stderr == f"timeline written to {out}\n"
    page = out.read_text("utf-8")
    assert page.startswith("<!DOCTYPE html>\n")
    assert page.rstrip().endswith("</html>")
    # Nothing from the database becomes markup, and the page fetches and runs nothing.
    tags = _tags(page)
    assert {name for name, _ in tags} <= {"html", "head", "meta", "title", "style", "body", "h1", "h2", "p", "table",
                                          "thead", "tbody", "tr", "th", "td", "ol", "ul", "li", "span", "footer"}
    assert {a for _, attrs in tags for a in attrs} <= {"lang", "charset", "class"}
    assert "awaiting police &lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "Share concerns &lt;img src=x onerror=alert(2)&gt; early" in page
    assert "@page { size: A4;" in page
    # Lateness is said in words, not by colour alone.
    assert page.count("[LATE] </span>") == 3
    assert ('<tr class="late"><td>Notification</td><td class="when">2026-01-05 10:00</td>'
            '<td class="when">2026-01-14 10:00</td><td>7 working days</td><td>5 working days</td>'
            '<td class="result">LATE: over by 2 working days (due 2026-01-12)</td></tr>') in page


def test_a_paused_case_and_a_closed_case(run: Cli) -> None:
    run("case", "open", "serious_case_review", "--legacy", "--ref", REF, "--as", "la.duty",
        "--field", "notifying_agency=Police",
        "--field", "incident_date=2026-01-02", "--field", "incident_type=child_died", now="2026-01-05T10:00")
    run("case", "pause", REF, "--reason", "inquest", "--as", "a.khan", now="2026-01-06T10:00")
    text = run("case", "timeline", REF, now="2026-02-20T10:00").output
    assert ("  open: at Notification since 2026-01-05 10:00; clock paused since 2026-01-06 10:00 "
            "(Awaiting an inquest)\n") in text
    assert " ".join(text.split("Stages:\n")[1].splitlines()[0].split()) == (
        "Notification 2026-01-05 10:00 -> … so far 34 working days limit 5 working days clock paused")
    run("case", "fire", REF, "withdraw", "--as", "a.khan", "--field", "withdrawal_reason=duplicate referral",
        now="2026-02-23T10:00")
    text = run("case", "timeline", REF, now="2026-03-01T10:00").output
    assert "  closed 2026-02-23 10:00 at Withdrawn\n" in text
    stages = [" ".join(s.split()) for s in text.split("Stages:\n")[1].split("\n\n")[0].splitlines()]
    assert stages == [
        "Notification 2026-01-05 10:00 -> 2026-02-23 10:00 35 working days limit 5 working days "
        "on time (due 2026-03-01)",  # the clock stopped from 6 January until the move
        "Withdrawn 2026-02-23 10:00 - end",
    ]
    assert "withdrawal_reason: duplicate referral" in text


def test_an_unknown_case_is_one_line(run: Cli) -> None:
    assert "SCR-404" in run.refused("case", "timeline", "SCR-404", status=3)
