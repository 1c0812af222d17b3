"""`reviewflow demo`: a fresh SQLite database and several cases walked through simulated months that end today
(or on the date the command is given)."""

from __future__ import annotations

import secrets
import shlex
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

from reviewflow.engine.core.clock import SteppingClock
from reviewflow.engine.core.definition import FieldSpec, WorkflowDefinition
from reviewflow.engine.core.durations import add_working_days, local_date
from reviewflow.engine.core.errors import ReviewflowError
from reviewflow.engine.services.accounts import os_account
from reviewflow.engine.services.demo_script import REFERENCES, RR1, SCRIPT, TAIL, Attempt, Item, Learn, Opening, Step
from reviewflow.engine.services.facade import Reviewflow
from reviewflow.store.db import Database

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


class DemoRun:
    """Plays the script against a service whose clock it moves, naming each case as it opens."""

    def __init__(self, service: Reviewflow, clock: SteppingClock, echo: Callable[[str], None]) -> None:
        self.service, self.clock, self.echo = service, clock, echo
        self.refs: dict[str, str] = {}

    def _advance(self, working_days: int) -> None:
        day = add_working_days(local_date(self.clock.now), working_days)
        self.clock.now = self.clock.now + timedelta(days=(day - local_date(self.clock.now)).days)

    def _name(self, key: str) -> str:
        """The reference of the case `key` opening today: its pattern with this year, quarter and number."""
        today = local_date(self.clock.now)
        pattern = REFERENCES[key]
        taken = [k for k in self.refs if REFERENCES[k] == pattern and self.refs[k].split("-")[1] == str(today.year)]
        self.refs[key] = pattern.format(year=today.year, quarter=(today.month - 1) // 3 + 1, n=len(taken) + 1)
        return self.refs[key]

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

    def _learn(self, item: Learn, ref: str, today: str) -> None:
        args = dict(item.args)
        due = args.get("due")
        if isinstance(due, int):
            args["due"] = add_working_days(local_date(self.clock.now), due).isoformat()
        for key in ("measured_on", "held_on"):
            if args.get(key) == "today":
                args[key] = today
        result = getattr(self.service, item.method)(ref=ref, actor=item.actor, **args)
        what = item.method.replace("_", " ")
        subject = args.get("number") or args.get("evidence") or args.get("outcome") or (
            result if isinstance(result, str) else "")
        extra = ""
        if item.method == "decide_evidence":
            extra = f" {'accepted' if args['accept'] else 'rejected'}, action now {result}"
        self.echo(f"{today}  {ref:<13} {what} {subject}{extra} [by {item.actor}]".replace("  [", " ["))

    def _attempt(self, item: Attempt, ref: str, today: str) -> None:
        view = self.service.case(ref)
        t = self._definition(ref).transition(view.state, item.trigger)
        fields = _fill(t.requires, item.fields, today) if t else item.fields  # refused for the rule, not a field
        try:
            self.service.fire(ref, item.trigger, item.actor, fields)
        except ReviewflowError as exc:
            self.echo(f"{today}  {ref:<13} refused: {item.actor} tried {item.trigger}: {exc}")
            return
        raise ReviewflowError(f"demo script: {item.trigger} on {ref} should have been refused")

    def _open(self, item: Opening, today: str) -> None:
        d = self.service.definition(item.workflow)
        ref = self._name(item.ref)
        fields = _fill(d.open.requires, item.fields, today)
        view = self.service.open_case(item.workflow, ref, _actor(d.open.roles), fields)
        due = f", due {view.due_date}" if view.due_date else ""
        self.echo(f"{today}  {ref:<13} opened ({d.title}) -> {view.state_label}{due}")

    def _step(self, item: Step, ref: str, today: str) -> None:
        d = self._definition(ref)
        before = self.service.case(ref)
        t = d.transition(before.state, item.trigger)
        if t is None:
            raise ReviewflowError(f"demo script: {item.trigger} not possible for {ref} in {before.state}")
        actor = _actor(t.roles)
        given = {k: self.refs.get(v, v) for k, v in item.fields.items()}  # a case key given as a field: its ref
        extra = {k: v for k, v in given.items() if t.field(k) is None}  # e.g. the case a route links
        fired = self.service.fire(ref, item.trigger, actor, {**_fill(t.requires, given, today), **extra})
        late = " (late)" if before.overdue else ""
        due = f", due {fired.due_date}" if fired.due_date else ""
        linked = f", linked to {fired.linked}" if fired.linked else ""
        self.echo(f"{today}  {ref:<13} {before.state_label}{late} -> {fired.state_label} "
                  f"[{item.trigger} by {actor}]{due}{linked}")

    def play(self, item: Item) -> None:
        self._advance(item.days)
        if item.days:
            self._sweep()
        today = local_date(self.clock.now).isoformat()
        if isinstance(item, Opening):
            self._open(item, today)
        elif isinstance(item, Learn):
            self._learn(item, self.refs[item.ref], today)
        elif isinstance(item, Attempt):
            self._attempt(item, self.refs[item.ref], today)
        else:
            self._step(item, self.refs[item.ref], today)


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


def story_start(end: datetime) -> datetime:
    """When the story must begin (9:30 on a working day) for its last day to be `end`'s date."""
    length = sum(item.days for item in SCRIPT) + TAIL
    return datetime.combine(add_working_days(local_date(end), -length), time(9, 30), UTC)


def _build(path: Path, clock: SteppingClock, echo: Callable[[str], None]) -> Reviewflow:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    service = Reviewflow(Database(f"sqlite:///{path}"), clock, wall=clock)  # a simulation: its time is the server's
    loaded = service.init()
    service.switch_off_time_limits()  # a training database: its story is dated by the simulation's own clock
    echo(f"Demo database: {path}")
    echo(f"Loaded {len(loaded)} workflows: {', '.join(r.name for r in loaded)}")
    for name, roles in PEOPLE.items():
        service.add_user(name, list(roles), f"{name}@example.org", AGENCIES.get(name))
    account = os_account()
    service.first_admin(account, account)
    echo(f"Registered {len(PEOPLE)} people with their roles, and you ({account}) as the administrator\n")
    return service


def _summarise(service: Reviewflow, run: DemoRun, path: Path, now_option: str | None) -> None:
    echo, today = run.echo, local_date(run.clock.now).isoformat()
    echo(f"\nWhere things stand on {today}:")
    for view in service.cases():
        status = "closed" if not view.is_open else (
            f"OVERDUE by {service.working_days_overdue(view)} working days" if view.overdue else "on time")
        echo(f"  {view.ref:<13} {view.workflow_title:<60.60} {view.state_label:<34.34} {status}")
    prefix = f"reviewflow --db {shlex.quote(f'sqlite:///{path}')}"
    if now_option:
        prefix += f" --now {shlex.quote(now_option)}"
    echo(f"\nTry: {prefix} case list --overdue")
    echo(f"     {prefix} case show {run.refs[RR1]}")
    echo(f"     {prefix} action list --overdue")


def run_demo(folder: Path | None, echo: Callable[[str], None], clock: SteppingClock,
             now_option: str | None = None) -> Path:
    """Create the demo database in `folder` (or a temporary one), play the script so that it ends at the time
    `clock` says, and summarise. The clock is moved back to the story's start and left at its end. The closing
    hints give `--now now_option` when the story's end was given that way."""
    folder = Path(folder) if folder else Path(tempfile.mkdtemp(prefix="reviewflow-demo-"))
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "reviewflow-demo.db"
    end = clock.now
    clock.now = story_start(end)
    service = _build(path, clock, echo)
    run = DemoRun(service, clock, echo)
    for item in SCRIPT:
        run.play(item)
    clock.now = end
    run._sweep()
    _summarise(service, run, path, now_option)
    service.db.dispose()
    return path
