"""A person's due dates as an iCalendar feed (RFC 5545, written with `icalendar`): each stage they own (while its
clock runs) and each action they or their agency own, as an all-day event on its due date, with a stable UID, the
reference and a link to the case page; never anything typed into a case."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import date, datetime, timedelta

from icalendar import Calendar, Event

from reviewflow.engine.core.durations import due_date_of
from reviewflow.engine.core.records import Action, CaseView

PRODID = "-//reviewflow//due dates//EN"
Link = Callable[[str, str | None], str | None]
"""The address of a case page (at an anchor), as `Settings.link` gives it; None without a base URL."""


def stage_uid(ref: str, state: str) -> str:
    return f"case-{ref}-stage-{state}@reviewflow"


def action_uid(ref: str, number: str) -> str:
    return f"action-{ref}-{number}@reviewflow"


def _event(uid: str, day: date, summary: str, description: str, url: str | None, now: datetime) -> Event:
    event = Event()
    event.add("uid", uid)
    event.add("dtstamp", now)
    event.add("dtstart", day)
    event.add("dtend", day + timedelta(days=1))
    event.add("summary", summary)
    event.add("description", description + (f"\n{url}" if url else ""))
    event.add("transp", "TRANSPARENT")
    if url:
        event.add("url", url)
    return event


def render_feed(name: str, stages: Iterable[CaseView], actions: Iterable[Action], link: Link,
                now: datetime) -> bytes:
    """The iCalendar text of `name`'s due dates."""
    cal = Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", "PUBLISH")
    cal.add("x-wr-calname", f"reviewflow: due dates for {name}")
    cal.add("x-published-ttl", "PT1H")
    for view in stages:
        if view.due_at is None or view.paused_at is not None:
            continue
        cal.add_component(_event(
            stage_uid(view.ref, view.state), due_date_of(view.due_at), f"{view.ref}: {view.state_label} due",
            f"{view.workflow_title}, stage {view.state_label}: due {due_date_of(view.due_at).isoformat()}",
            link(view.ref, None), now))
    for a in actions:
        cal.add_component(_event(
            action_uid(a.ref, a.number), a.due_date, f"{a.ref}: action {a.number} due",
            f"Action {a.number} of {a.ref} ({a.owner_agency}): due {a.due_date.isoformat()}",
            link(a.ref, f"action-{a.number}"), now))
    return bytes(cal.to_ical())
