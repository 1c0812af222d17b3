"""`reviewflow demo`: a fresh SQLite database and several cases walked through simulated months."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from engine.clock import SteppingClock
from engine.definition import FieldSpec, WorkflowDefinition
from engine.durations import add_working_days, local_date
from engine.errors import ReviewflowError
from engine.service import Reviewflow
from store.db import Database

START = datetime(2026, 1, 5, 9, 30, tzinfo=UTC)

PEOPLE: dict[str, tuple[str, ...]] = {
    "a.khan": ("business_manager",),
    "d.osei": ("subgroup_chair",),
    "p.hughes": ("board_chair",),
    "lscp.board": ("board",),
    "j.reid": ("lead_reviewer",),
    "la.duty": ("la_notifier", "referrer"),
    "m.patel": ("agency_safeguarding_lead", "agency_author", "action_owner"),
    "csp.coord": ("csp_coordinator",),
    "s.lewis": ("audit_lead",),
    "t.ng": ("school_lead",),
}


@dataclass(frozen=True)
class Step:
    """Fire `trigger` on `ref` after `days` working days; `fields` override the generated values."""

    days: int
    ref: str
    trigger: str
    fields: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Opening:
    days: int
    workflow: str
    ref: str
    fields: dict[str, str] = field(default_factory=dict)


def _value(spec: FieldSpec, today: str) -> str:
    if spec.type == "date":
        return today
    if spec.type == "yesno":
        return "yes"
    if spec.type == "choice":
        return spec.options[0]
    return f"recorded by the demo ({spec.label or spec.name})"


def _fill(specs: tuple[FieldSpec, ...], given: dict[str, str], today: str) -> dict[str, str]:
    return {s.name: given.get(s.name, _value(s, today)) for s in specs}


def _actor(roles: tuple[str, ...]) -> str:
    return next(name for name, held in PEOPLE.items() if set(held) & set(roles))


SCRIPT: list[Opening | Step] = [
    Opening(0, "serious_case_review", "SCR-2026-001", {"incident_type": "child_seriously_harmed"}),
    Step(3, "SCR-2026-001", "notify"),
    Step(8, "SCR-2026-001", "recommend", {"subgroup_recommendation": "hold_scr"}),
    Opening(2, "serious_case_review", "SCR-2026-002", {"incident_type": "child_seriously_harmed"}),
    Step(4, "SCR-2026-001", "hold_scr"),
    Step(2, "SCR-2026-002", "notify"),
    Step(9, "SCR-2026-002", "recommend", {"subgroup_recommendation": "multi_agency_review"}),
    Step(15, "SCR-2026-001", "commission"),
    Step(5, "SCR-2026-002", "decide_not_to_hold", {"criteria_met": "no"}),
    Step(6, "SCR-2026-002", "route", {"routed_to": "multi_agency_review"}),
    Opening(1, "multi_agency_review", "MAR-2026-001"),
    Step(2, "MAR-2026-001", "refer_to_subgroup"),
    Step(8, "MAR-2026-001", "commission_review"),
    Step(12, "SCR-2026-001", "agency_reports_received"),
    Step(6, "MAR-2026-001", "information_gathered"),
    Opening(3, "rapid_review_lcspr", "RR-2026-001"),
    Step(2, "RR-2026-001", "notify"),
    Step(9, "MAR-2026-001", "learning_event_held"),
    Step(4, "RR-2026-001", "submit_rapid_review", {"recommended_outcome": "lcspr"}),
    Step(8, "RR-2026-001", "commission_lcspr"),
    Step(6, "SCR-2026-001", "engagement_complete"),
    Step(10, "MAR-2026-001", "submit_report"),
    Step(5, "RR-2026-001", "commission"),
    Step(9, "SCR-2026-001", "submit_final_report"),
    Step(10, "MAR-2026-001", "sign_off_report"),
    Step(8, "SCR-2026-001", "accept_report"),
    Step(12, "SCR-2026-001", "publish"),
    Step(60, "MAR-2026-001", "actions_complete"),
    Step(40, "SCR-2026-001", "actions_complete"),
    Step(45, "MAR-2026-001", "confirm_embedded"),
    Step(50, "SCR-2026-001", "confirm_embedded"),
]


class DemoRun:
    """Plays the script against a service whose clock it moves."""

    def __init__(self, service: Reviewflow, clock: SteppingClock, echo: Callable[[str], None]) -> None:
        self.service, self.clock, self.echo = service, clock, echo

    def _advance(self, working_days: int) -> None:
        day = add_working_days(local_date(self.clock.now), working_days)
        self.clock.now = self.clock.now + timedelta(days=(day - local_date(self.clock.now)).days)

    def _definition(self, ref: str) -> WorkflowDefinition:
        view = self.service.case(ref)
        return self.service.definition(view.workflow, view.version)

    def play(self, item: Opening | Step) -> None:
        self._advance(item.days)
        today = local_date(self.clock.now).isoformat()
        if isinstance(item, Opening):
            d = self.service.definition(item.workflow)
            view = self.service.open_case(item.workflow, item.ref, _actor(d.open.roles),
                                          _fill(d.open.requires, item.fields, today))
            self.echo(f"{today}  {item.ref:<13} opened ({d.title}) -> {view.state_label}, due {view.due_date}")
            return
        d = self._definition(item.ref)
        before = self.service.case(item.ref)
        t = d.transition(before.state, item.trigger)
        if t is None:
            raise ReviewflowError(f"demo script: {item.trigger} not possible for {item.ref} in {before.state}")
        actor = _actor(t.roles)
        view = self.service.fire(item.ref, item.trigger, actor, _fill(t.requires, item.fields, today))
        late = " (late)" if before.overdue else ""
        due = f", due {view.due_date}" if view.due_date else ""
        self.echo(f"{today}  {item.ref:<13} {before.state_label}{late} -> {view.state_label} "
                  f"[{item.trigger} by {actor}]{due}")


def run_demo(folder: Path | None, echo: Callable[[str], None]) -> Path:
    """Create the demo database in `folder` (or a temporary one), play the script, summarise."""
    folder = Path(folder) if folder else Path(tempfile.mkdtemp(prefix="reviewflow-demo-"))
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "reviewflow-demo.db"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    clock = SteppingClock(START)
    service = Reviewflow(Database(f"sqlite:///{path}"), clock)
    loaded = service.init()
    echo(f"Demo database: {path}")
    echo(f"Loaded {len(loaded)} workflows: {', '.join(r.name for r in loaded)}")
    for name, roles in PEOPLE.items():
        service.add_user(name, list(roles), f"{name}@example.org")
    echo(f"Registered {len(PEOPLE)} people with their roles\n")
    run = DemoRun(service, clock, echo)
    for item in SCRIPT:
        run.play(item)
    run._advance(5)
    echo(f"\nWhere things stand on {local_date(clock.now).isoformat()}:")
    for view in service.cases():
        status = "closed" if not view.is_open else (
            f"OVERDUE by {service.working_days_overdue(view)} working days" if view.overdue else "on time")
        echo(f"  {view.ref:<13} {view.workflow_title:<60.60} {view.state_label:<34.34} {status}")
    echo(f"\nTry: reviewflow --db sqlite:///{path} --now {local_date(clock.now).isoformat()} case list --overdue")
    echo(f"     reviewflow --db sqlite:///{path} case show SCR-2026-001")
    return path
