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
    """The demo person holding the first listed role that anyone holds."""
    for role in roles:
        for name, held in PEOPLE.items():
            if role in held:
                return name
    raise ReviewflowError(f"demo: nobody holds any of {', '.join(roles)}")


@dataclass(frozen=True)
class Attempt:
    """A move that should be refused: shows the engine saying why."""

    days: int
    ref: str
    trigger: str
    actor: str
    fields: dict[str, str] = field(default_factory=dict)


SCR1, SCR2, MAR1, RR1, RR2 = "SCR-2026-001", "SCR-2026-002", "MAR-2026-001", "RR-2026-001", "RR-2026-002"
MACA1, MACA2, S11, DHR1 = "MACA-2026-Q1", "MACA-2026-Q2", "S11-2026", "DHR-2026-001"
SCRIPT: list[Opening | Step | Attempt] = [
    Opening(0, "serious_case_review", SCR1, {"incident_type": "child_seriously_harmed"}),
    Opening(0, "multi_agency_case_audit", MACA1),
    Step(2, SCR1, "notify"),
    Step(1, MACA1, "select_cases", {"selection_criteria": "Six neglect cases open to early help"}),
    Step(7, SCR1, "recommend", {"subgroup_recommendation": "hold_scr"}),
    Attempt(1, SCR1, "hold_scr", "d.osei"),
    Opening(2, "serious_case_review", SCR2, {"incident_type": "child_seriously_harmed"}),
    Step(2, SCR1, "hold_scr"),
    Step(2, SCR2, "notify"),
    Step(4, MACA1, "audits_returned"),
    Step(5, SCR2, "recommend", {"subgroup_recommendation": "multi_agency_review"}),
    Step(3, MACA1, "hold_meeting"),
    Step(8, SCR2, "decide_not_to_hold", {"criteria_met": "no"}),
    Step(4, SCR1, "commission"),
    Step(5, SCR2, "route", {"routed_to": "multi_agency_review"}),
    Opening(1, "multi_agency_review", MAR1),
    Step(2, MAR1, "refer_to_subgroup"),
    Step(6, MACA1, "present_report"),
    Step(2, MAR1, "commission_review"),
    Opening(2, "section_11_audit", S11),
    Step(4, MACA1, "agree_actions"),
    Step(20, SCR1, "agency_reports_received"),
    Step(3, MAR1, "information_gathered"),
    Opening(3, "rapid_review_lcspr", RR1),
    Step(2, RR1, "notify"),
    Step(4, MAR1, "learning_event_held"),
    Opening(2, "domestic_homicide_review", DHR1),
    Step(5, RR1, "submit_rapid_review", {"recommended_outcome": "lcspr"}),
    Step(2, S11, "returns_received"),
    Step(3, DHR1, "withdraw", {"withdrawal_reason": "Learning folded into the CSP's thematic DHR action plan"}),
    Step(5, RR1, "commission_lcspr"),
    Step(3, SCR1, "engagement_complete"),
    Opening(2, "rapid_review_lcspr", RR2),
    Step(3, MAR1, "submit_report"),
    Step(2, RR2, "notify"),
    Step(4, RR1, "commission"),
    Step(4, S11, "hold_challenge_panel"),
    Step(5, RR2, "submit_rapid_review", {"recommended_outcome": "no_further_action"}),
    Step(6, SCR1, "submit_final_report"),
    Step(2, MAR1, "sign_off_report"),
    Step(4, RR2, "close_no_further_action",
         {"decision_rationale": "Agencies worked together well; learning shared through the newsletter"}),
    Step(3, S11, "agree_actions"),
    Step(5, SCR1, "accept_report"),
    Opening(10, "multi_agency_case_audit", MACA2),
    Step(3, MACA2, "select_cases", {"selection_criteria": "Six cases of adolescents missing from home"}),
    Step(5, SCR1, "publish"),
    Attempt(5, SCR1, "confirm_embedded", "d.osei"),
    Step(40, MACA1, "actions_complete"),
    Step(30, MAR1, "actions_complete"),
    Step(25, SCR1, "actions_complete"),
    Step(10, MACA1, "confirm_embedded"),
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

    def play(self, item: Opening | Step | Attempt) -> None:
        self._advance(item.days)
        today = local_date(self.clock.now).isoformat()
        if isinstance(item, Attempt):
            try:
                self.service.fire(item.ref, item.trigger, item.actor, item.fields)
            except ReviewflowError as exc:
                self.echo(f"{today}  {item.ref:<13} refused: {item.actor} tried {item.trigger}: {exc}")
                return
            raise ReviewflowError(f"demo script: {item.trigger} on {item.ref} should have been refused")
        if isinstance(item, Opening):
            d = self.service.definition(item.workflow)
            view = self.service.open_case(item.workflow, item.ref, _actor(d.open.roles),
                                          _fill(d.open.requires, item.fields, today))
            due = f", due {view.due_date}" if view.due_date else ""
            self.echo(f"{today}  {item.ref:<13} opened ({d.title}) -> {view.state_label}{due}")
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
