"""`reviewflow demo`: a fresh SQLite database and several cases walked through simulated months."""

from __future__ import annotations

import secrets
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from reviewflow.engine.core.clock import SteppingClock
from reviewflow.engine.core.definition import FieldSpec, WorkflowDefinition
from reviewflow.engine.core.durations import add_working_days, local_date
from reviewflow.engine.core.errors import ReviewflowError
from reviewflow.engine.services.accounts import os_account
from reviewflow.engine.services.facade import Reviewflow
from reviewflow.store.db import Database

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
    "p.officer": ("action_owner",),
    "h.nurse": ("action_owner",),
}
AGENCIES = {"m.patel": "Children's social care", "p.officer": "Police", "h.nurse": "Health", "t.ng": "Education"}


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
    if "agenc" in spec.name.lower():
        return "Children's social care"
    return f"recorded by the demo ({spec.label or spec.name})"


def _dated(value: str, today: str) -> str:
    """A given value, with 'N working days ago' turned into that date."""
    ago = value.removesuffix(" working days ago")
    if ago != value and ago.isdigit():
        return add_working_days(date.fromisoformat(today), -int(ago)).isoformat()
    return value


def _fill(specs: tuple[FieldSpec, ...], given: dict[str, str], today: str) -> dict[str, str]:
    return {s.name: _dated(given[s.name], today) if s.name in given else _value(s, today) for s in specs}


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


@dataclass(frozen=True)
class Learn:
    """A learning-loop step: the service method `method` on `ref` as `actor`; a `due` of N sets a due date
    N working days on."""

    days: int
    ref: str
    method: str
    actor: str
    args: dict[str, object] = field(default_factory=dict)


def _recommend(days: int, ref: str, text: str, themes: list[str], agencies: list[str]) -> Learn:
    return Learn(days, ref, "recommend", "a.khan", {"text": text, "themes": themes, "agencies": agencies})


def _action(days: int, ref: str, rec: str, agency: str, owner: str, due: int, description: str) -> Learn:
    return Learn(days, ref, "add_action", "a.khan", {"recommendation": rec, "description": description,
                                                      "agency": agency, "owner": owner, "due": due,
                                                      "measure": "A re-audit shows the change in practice"})


def _evidence(days: int, ref: str, number: str, owner: str, kind: str, description: str, link: str) -> Learn:
    return Learn(days, ref, "submit_evidence", owner, {"number": number, "kind": kind, "description": description,
                                                        "reference": link})


def _decide(days: int, ref: str, evidence: str, reason: str | None = None) -> Learn:
    return Learn(days, ref, "decide_evidence", "d.osei", {"evidence": evidence, "accept": reason is None,
                                                           "reason": reason})


def _verify(days: int, ref: str, number: str) -> Learn:
    return Learn(days, ref, "verify_action", "d.osei", {"number": number})


def _evaluate(days: int, ref: str, number: str, method: str) -> Learn:
    return Learn(days, ref, "evaluate_action", "d.osei", {"number": number, "method": method, "measured_on": "today",
                                                          "finding": "Practice changed in most audited cases"})


def _embed(days: int, ref: str, number: str) -> Learn:
    return Learn(days, ref, "update_action", "d.osei", {"number": number, "status": "embedded"})


SCR1, SCR2, MAR1, RR1, RR2 = "SCR-2026-001", "SCR-2026-002", "MAR-2026-001", "RR-2026-001", "RR-2026-002"
MACA1, MACA2, S11, DHR1 = "MACA-2026-Q1", "MACA-2026-Q2", "S11-2026", "DHR-2026-001"
SCRIPT: list[Opening | Step | Attempt | Learn] = [
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
    Opening(6, "multi_agency_review", MAR1),
    Step(0, SCR2, "route", {"routed_to": "multi_agency_review", "routed_case": MAR1}),
    Step(2, MAR1, "refer_to_subgroup"),
    Step(6, MACA1, "present_report"),
    Step(2, MAR1, "commission_review"),
    Opening(2, "section_11_audit", S11),
    Learn(0, S11, "request_returns", "s.lewis",
          {"agencies": ["Children's social care", "Police", "Health"], "due": 45}),
    _recommend(1, MACA1, "Early help plans name the lead professional and review date", ["neglect"],
               ["Children's social care", "Education"]),
    _action(1, MACA1, "R1", "Children's social care", "m.patel", 40, "Refresh the early help plan template"),
    _action(0, MACA1, "R1", "Education", "t.ng", 45, "Brief designated safeguarding leads on the template"),
    Step(4, MACA1, "agree_actions"),
    Step(20, SCR1, "agency_reports_received"),
    Learn(0, S11, "mark_return_in", "m.patel", {"agency": "Children's social care"}),
    Step(3, MAR1, "information_gathered"),
    Opening(3, "rapid_review_lcspr", RR1),
    Step(2, RR1, "notify"),
    Step(4, MAR1, "learning_event_held"),
    Opening(2, "domestic_homicide_review", DHR1),
    Step(5, RR1, "submit_rapid_review", {"recommended_outcome": "lcspr"}),
    Learn(2, S11, "mark_return_in", "s.lewis", {"agency": "Police"}),
    Learn(0, S11, "excuse_return", "s.lewis",
          {"agency": "Health", "reason": "Health's return is folded into the ICB's assurance report"}),
    Step(0, S11, "returns_received"),
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
    _recommend(1, MAR1, "Information is shared with school nurses when a child is missing education",
               ["information sharing", "voice of the child"], ["Health", "Education"]),
    _action(0, MAR1, "R1", "Health", "h.nurse", 50, "School nurse alert added to the missing education protocol"),
    Step(2, MAR1, "sign_off_report"),
    Step(4, RR2, "close_no_further_action",
         {"decision_rationale": "Agencies worked together well; learning shared through the newsletter"}),
    _recommend(1, S11, "Agencies evidence safer recruitment checks in their returns", ["safer recruitment"], []),
    _action(0, S11, "R1", "Health", "h.nurse", 60, "Add safer recruitment sampling to the audit cycle"),
    Step(3, S11, "agree_actions"),
    Step(5, SCR1, "accept_report"),
    Opening(10, "multi_agency_case_audit", MACA2),
    Step(3, MACA2, "select_cases", {"selection_criteria": "Six cases of adolescents missing from home"}),
    _recommend(2, SCR1, "Agencies share concerns about neglect at the first sign", ["neglect", "information sharing"],
               ["Police", "Children's social care"]),
    _recommend(0, SCR1, "Practitioners record the child's own words at every visit", ["voice of the child"],
               ["Health"]),
    _action(1, SCR1, "R1", "Police", "p.officer", 30,
            "Police referral policy requires a same-day referral for neglect"),
    _action(0, SCR1, "R1", "Children's social care", "m.patel", 60, "Neglect toolkit training for all social workers"),
    _action(0, SCR1, "R2", "Health", "h.nurse", 70, "Health visiting template asks for the child's own words"),
    Step(5, SCR1, "publish", {"regulators_copied_date": "10 working days ago"}),
    Attempt(5, SCR1, "confirm_embedded", "d.osei"),
    _evidence(10, MACA1, "A1", "m.patel", "policy_change", "New template in use since go-live", "POL-EH-2026-04"),
    _decide(2, MACA1, "E1"),
    _verify(0, MACA1, "A1"),
    _evidence(1, MACA1, "A2", "t.ng", "training_record", "DSL briefing attendance", "TRN-2026-031"),
    _decide(2, MACA1, "E2", reason="Attendance alone does not show practice changed: add a sample of plans"),
    _evidence(5, MACA1, "A2", "t.ng", "audit_result", "Sample of 10 plans: 9 name the lead professional",
              "AUD-2026-044"),
    _decide(1, MACA1, "E3"),
    _verify(0, MACA1, "A2"),
    _evidence(1, MAR1, "A1", "h.nurse", "policy_change", "Protocol v2 published", "POL-ME-2026-02"),
    _decide(1, MAR1, "E1"),
    _verify(0, MAR1, "A1"),
    Step(40, MACA1, "actions_complete"),
    Step(30, MAR1, "actions_complete"),
    _evidence(0, SCR1, "A1", "p.officer", "policy_change", "Referral policy v3 in force", "POL-77"),
    _decide(1, SCR1, "E1"),
    _verify(0, SCR1, "A1"),
    _evidence(0, SCR1, "A2", "m.patel", "training_record", "Toolkit training: 94% of social workers", "TRN-2026-090"),
    _decide(1, SCR1, "E2"),
    _verify(0, SCR1, "A2"),
    _evidence(0, SCR1, "A3", "h.nurse", "audit_result", "Child's words recorded in 18 of 20 files", "AUD-2026-101"),
    _decide(1, SCR1, "E3"),
    _verify(0, SCR1, "A3"),
    Step(25, SCR1, "actions_complete"),
    _evaluate(0, MACA1, "A1", "re_audit"),
    _embed(0, MACA1, "A1"),
    _evaluate(0, MACA1, "A2", "survey"),
    _embed(0, MACA1, "A2"),
    Learn(1, MACA1, "record_dissemination", "a.khan",
          {"kind": "newsletter", "audience": "All partner agencies",
          "held_on": "today"}),
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

    def _sweep(self) -> None:
        """Run the escalation sweep as the worker would, and show what climbed a ladder."""

        today = local_date(self.clock.now).isoformat()
        for f in self.service.sweep().fired:
            if f.level is not None:
                told = ", ".join(f.recipients) or "nobody registered"
                self.echo(f"{today}  {f.ref:<13} ESCALATED level {f.level}: {f.reason}; told {told}")

    def _learn(self, item: Learn, today: str) -> None:
        args = dict(item.args)
        due = args.get("due")
        if isinstance(due, int):
            args["due"] = add_working_days(local_date(self.clock.now), due).isoformat()
        for key in ("measured_on", "held_on"):
            if args.get(key) == "today":
                args[key] = today
        result = getattr(self.service, item.method)(ref=item.ref, actor=item.actor, **args)
        what = item.method.replace("_", " ")
        subject = args.get("number") or args.get("evidence") or (result if isinstance(result, str) else "")
        extra = ""
        if item.method == "decide_evidence":
            extra = f" {'accepted' if args['accept'] else 'rejected'}, action now {result}"
        self.echo(f"{today}  {item.ref:<13} {what} {subject}{extra} [by {item.actor}]".replace("  [", " ["))

    def play(self, item: Opening | Step | Attempt | Learn) -> None:
        self._advance(item.days)
        if item.days:
            self._sweep()
        today = local_date(self.clock.now).isoformat()
        if isinstance(item, Learn):
            self._learn(item, today)
            return
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
        extra = {k: v for k, v in item.fields.items() if t.field(k) is None}  # e.g. the case a route links
        fired = self.service.fire(item.ref, item.trigger, actor, {**_fill(t.requires, item.fields, today), **extra})
        late = " (late)" if before.overdue else ""
        due = f", due {fired.due_date}" if fired.due_date else ""
        linked = f", linked to {fired.linked}" if fired.linked else ""
        self.echo(f"{today}  {item.ref:<13} {before.state_label}{late} -> {fired.state_label} "
                  f"[{item.trigger} by {actor}]{due}{linked}")


SIGN_INS = (("business manager", "a.khan"), ("sub-group chair", "d.osei"), ("Police action owner", "p.officer"),
            ("Health action owner", "h.nurse"), ("Board member", "lscp.board"))
"""The demo people who get a password for the web pages (with the administrator), and what each of them is."""


@dataclass(frozen=True)
class DemoSignIn:
    """A demo account's sign-in for the web pages."""

    what: str
    name: str
    password: str


def give_passwords(service: Reviewflow) -> list[DemoSignIn]:
    """Give the demo's administrator and the people in SIGN_INS a new random password each (the demo is a fresh
    database on this computer; the passwords are printed once)."""
    admin = os_account()
    made = []
    for what, name in (("administrator", admin), *SIGN_INS):
        password = secrets.token_urlsafe(12)
        service.set_password(None, name, password)
        made.append(DemoSignIn(what, name, password))
    return made


def run_demo(folder: Path | None, echo: Callable[[str], None], clock: SteppingClock | None = None) -> Path:
    """Create the demo database in `folder` (or a temporary one), play the script, summarise. `clock` (starting
    at START) is left at the demo's last simulated moment."""
    folder = Path(folder) if folder else Path(tempfile.mkdtemp(prefix="reviewflow-demo-"))
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "reviewflow-demo.db"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    clock = clock or SteppingClock(START)
    service = Reviewflow(Database(f"sqlite:///{path}"), clock, wall=clock)  # a simulation: its time is the server's
    loaded = service.init()
    service.switch_off_time_limits()  # a training database: its story is dated months before today
    echo(f"Demo database: {path}")
    echo(f"Loaded {len(loaded)} workflows: {', '.join(r.name for r in loaded)}")
    for name, roles in PEOPLE.items():
        service.add_user(name, list(roles), f"{name}@example.org", AGENCIES.get(name))
    account = os_account()
    service.first_admin(account, account)
    echo(f"Registered {len(PEOPLE)} people with their roles, and you ({account}) as the administrator\n")
    run = DemoRun(service, clock, echo)
    for item in SCRIPT:
        run.play(item)
    run._advance(5)
    run._sweep()
    echo(f"\nWhere things stand on {local_date(clock.now).isoformat()}:")
    for view in service.cases():
        status = "closed" if not view.is_open else (
            f"OVERDUE by {service.working_days_overdue(view)} working days" if view.overdue else "on time")
        echo(f"  {view.ref:<13} {view.workflow_title:<60.60} {view.state_label:<34.34} {status}")
    echo(f"\nTry: reviewflow --db sqlite:///{path} --now {local_date(clock.now).isoformat()} case list --overdue")
    echo(f"     reviewflow --db sqlite:///{path} case show SCR-2026-001")
    echo(f"     reviewflow --db sqlite:///{path} --now {local_date(clock.now).isoformat()} action list --overdue")
    return path
