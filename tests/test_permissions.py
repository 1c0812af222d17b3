"""The permission matrix: in every shipped workflow, every trigger x every role is allowed exactly when the
definition lists the role; `--as` must name a registered user.

Every attempt is a real service call on a real SQLite file by a user who holds that one role. Cases reach
each state by being opened and moved along a path, each step fired by a user holding one of the step's
roles (taken in turn, so every listed role really fires somewhere). A state that no path reaches with
plain field values (a condition wants data that fields cannot give, e.g. recommendations) is set on a
freshly opened case directly in the table, so its triggers' role checks are still tried.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import update

from reviewflow.cli import cli
from reviewflow.engine.core.access import Identity
from reviewflow.engine.core.clock import fixed_clock
from reviewflow.engine.core.decide import Actor, options
from reviewflow.engine.core.definition import FieldSpec, TransitionDef, WorkflowDefinition
from reviewflow.engine.core.errors import FieldError, NotPermitted, TransitionNotAllowed
from reviewflow.engine.core.parse import parse_definition
from reviewflow.engine.services.facade import Reviewflow
from reviewflow.store.db import Database
from reviewflow.store.models import CaseRow
from reviewflow.workflows import shipped_files

from tests.conftest import ADMIN

FIXTURES = Path(__file__).parent / "fixtures"
FILES = [*shipped_files(), FIXTURES / "minimal.yaml"]
NOW = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
EVERYONE = "all.roles"
PROBE = "permission_probe"
"""A field no move takes: a move whose role check passes is then refused for this field and changes
nothing, so one case per state serves every role."""


def _only(role: str) -> str:
    return f"only.{role}"


def _value(spec: FieldSpec) -> str:
    """A valid value of any field: the first choice, a date, yes, or some text."""
    return {"choice": spec.options[0] if spec.options else "", "date": NOW.date().isoformat(),
            "yesno": "yes"}.get(spec.type, "text for the permission matrix")


def _values(specs: tuple[FieldSpec, ...]) -> dict[str, str]:
    return {spec.name: _value(spec) for spec in specs}


def _definition(path: Path) -> WorkflowDefinition:
    return parse_definition(path.read_text("utf-8"), str(path))


@pytest.fixture(scope="module")
def url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """One SQLite file: every shipped workflow plus the minimal one, a user holding every role, and one user
    per role holding only that role."""
    url = f"sqlite:///{tmp_path_factory.mktemp('permissions') / 'reviewflow.db'}"
    service = Reviewflow(Database(url), fixed_clock(NOW))
    service.init([FIXTURES / "minimal.yaml"])
    roles = sorted({role for path in FILES for role in _definition(path).roles})
    service.add_user(EVERYONE, roles)
    for role in roles:
        service.add_user(_only(role), [role])
    service.db.dispose()
    return url


@pytest.fixture
def service(url: str) -> Iterator[Reviewflow]:
    svc = Reviewflow(Database(url), fixed_clock(NOW))
    yield svc
    svc.db.dispose()


class Matrix:
    """One case of a workflow waiting in each open state, and the attempts made on it by one-role users."""

    def __init__(self, service: Reviewflow, d: WorkflowDefinition, prefix: str) -> None:
        self.service, self.d, self.prefix = service, d, prefix
        self.cases: dict[str, str] = {}
        self.placed: list[str] = []
        self.count = 0

    def open(self, actor: str, extra: Mapping[str, str] | None = None) -> str:
        self.count += 1
        ref = f"{self.prefix}-{self.count}"
        self.service.open_case(self.d.name, ref, actor, {**_values(self.d.open.requires), **(extra or {})},
                               legacy=True)
        return ref

    def _walk(self, path: list[TransitionDef]) -> str | None:
        """A new case moved along `path`, each step by the next holder of one of its roles; None when a
        condition refuses a step. A listed role refused raises NotPermitted."""
        ref = self.open(_only(self.d.open.roles[self.count % len(self.d.open.roles)]))
        if self.d.returns is not None:  # a workflow waiting on agencies' returns: one asked, and in
            self.service.request_returns(ref, EVERYONE, ["Police"], NOW.date().isoformat())
            self.service.mark_return_in(ref, EVERYONE, "Police", NOW.date().isoformat())
        for t in path:
            try:
                self.service.fire(ref, t.trigger, _only(t.roles[self.count % len(t.roles)]), _values(t.requires))
            except NotPermitted:
                raise
            except TransitionNotAllowed:
                return None
        return ref

    def explore(self) -> None:
        """Put a case in every open state: by firing where a path works, else directly in the table."""
        paths: dict[str, list[TransitionDef]] = {self.d.initial: []}
        self.cases = {self.d.initial: self.open(EVERYONE)}
        queue = [self.d.initial]
        for state in queue:
            for t in self.d.transitions_from(state):
                if t.dest in paths or self.d.states[t.dest].terminal:
                    continue
                ref = self._walk([*paths[state], t])
                if ref is not None:
                    paths[t.dest] = [*paths[state], t]
                    self.cases[t.dest] = ref
                    queue.append(t.dest)
        self.placed = [s for s, spec in self.d.states.items() if not spec.terminal and s not in self.cases]
        for state in self.placed:
            self.cases[state] = self.open(EVERYONE)
            with self.service.db.transaction() as s:
                table = CaseRow.__table__  # type: ignore[attr-defined]
                s.connection().execute(update(table).where(table.c.ref == self.cases[state]).values(state=state))

    def role_passes(self, attempt: Callable[[str], Any], what: str, roles: tuple[str, ...], role: str) -> bool:
        """Run `attempt` as the user holding only `role`: False when refused for the role (with a message that
        names the roles needed), True when refused for anything else."""
        try:
            attempt(_only(role))
        except NotPermitted as exc:
            needs = f"{what} needs one of the roles {', '.join(roles)}; {_only(role)} has {role}"
            if not str(exc).startswith(needs):
                raise AssertionError(f"{exc} does not start with {needs!r}") from None
            return False
        except (FieldError, TransitionNotAllowed):
            return True
        raise AssertionError(f"{what} as {role} was not refused for the probe field")

    def probe_open(self, role: str) -> bool:
        return self.role_passes(lambda actor: self.open(actor, {PROBE: "x"}), f"opening a {self.d.name} case",
                                self.d.open.roles, role)

    def probe_fire(self, t: TransitionDef, source: str, role: str) -> bool:
        ref, fields = self.cases[source], {**_values(t.requires), PROBE: "x"}
        return self.role_passes(lambda actor: self.service.fire(ref, t.trigger, actor, fields), f"`{t.trigger}`",
                                t.roles, role)

    def probe_clock(self, state: str, role: str, pause: bool) -> bool:
        """Pausing a paused case, or resuming a running one, is refused after the role check."""
        ref = self.cases[state]
        if pause:
            self.service.pause(ref, EVERYONE, "inquest")
        try:
            attempt = ((lambda actor: self.service.pause(ref, actor, "inquest")) if pause
                       else (lambda actor: self.service.resume(ref, actor)))
            return self.role_passes(attempt, f"pausing or resuming {ref}", self.d.may_pause(state), role)
        finally:
            if pause:
                self.service.resume(ref, EVERYONE)


def _mark(allowed: bool) -> str:
    return "allowed" if allowed else "refused"


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_every_trigger_and_role(service: Reviewflow, path: Path) -> None:
    """Each trigger is tried once per role, from each of its source states in turn; opening, pausing and
    resuming are tried per role too."""
    d = _definition(path)
    matrix = Matrix(service, d, f"PM{FILES.index(path)}")
    matrix.explore()
    wrong = [f"open as {role}: {_mark(not ok)}" for role in d.roles
             if (ok := matrix.probe_open(role)) != (role in d.open.roles)]
    for t in d.transitions:
        for i, role in enumerate(d.roles):
            source = t.sources[i % len(t.sources)]
            if matrix.probe_fire(t, source, role) != (role in t.roles):
                wrong.append(f"{t.trigger} from {source} as {role}: {_mark(role not in t.roles)}")
    running = [s for s, spec in d.states.items() if not spec.terminal]
    for i, role in enumerate(d.roles):
        for pause, state in ((True, running[i % len(running)]), (False, running[(i + 1) % len(running)])):
            if matrix.probe_clock(state, role, pause) != (role in d.may_pause(state)):
                wrong.append(f"{'pause' if pause else 'resume'} in {state} as {role}: "
                             f"{_mark(role not in d.may_pause(state))}")
    assert wrong == [], f"{d.name}: the roles checked differ from the definition"
    reached = [s for s in running if s not in matrix.placed]
    assert len(reached) >= 2, f"{d.name}: firing reached only {reached}"


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_next_steps_are_marked_for_each_role(path: Path) -> None:
    """What `case show --as` marks '(not your role)', for every state and role."""
    d = _definition(path)
    for state in d.states:
        for role in d.roles:
            marks = {o.trigger: o.allowed for o in options(d, state, Actor(_only(role), frozenset({role})))}
            assert marks == {t.trigger: role in t.roles for t in d.transitions_from(state)}, (state, role)


# --- --as names a registered user, and only an administrator may give it ------------------------------------

@pytest.fixture(scope="module")
def cli_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """One database for the refusals below, which change nothing (each test checks that). The
    operating-system account running the tests is its administrator, as `reviewflow init` makes it."""
    url = f"sqlite:///{tmp_path_factory.mktemp('as') / 'reviewflow.db'}"
    service = Reviewflow(Database(url), fixed_clock(NOW))
    service.init([FIXTURES / "minimal.yaml"])
    service.first_admin(ADMIN, ADMIN)
    service.add_user("bm", ["business_manager", "subgroup_chair"])
    for ref in ("AS-1", "AS-9"):
        service.open_case("minimal", ref, "bm", {"notifying_agency": "Police"})
    service.db.dispose()
    return url


def _invoke(url: str, args: list[str], env: Mapping[str, str | None] | None = None) -> Any:
    result = CliRunner().invoke(cli, ["--db", url, "--now", "2026-01-06", *args],
                                env={"REVIEWFLOW_USER": None, "REVIEWFLOW_NOW": None, "REVIEWFLOW_TOKEN": None,
                                     **(env or {})})
    assert "Traceback" not in result.output + result.stderr
    return result


ACTING = {
    "open": ["case", "open", "minimal", "--ref", "AS-2", "--field", "notifying_agency=Police"],
    "fire": ["case", "fire", "AS-1", "accept", "--field", "decision=yes"],
    "pause": ["case", "pause", "AS-1", "--reason", "inquest"],
    "resume": ["case", "resume", "AS-1"],
    "show": ["case", "show", "AS-1"],
}


@pytest.mark.parametrize("name", ["nobody", "BM", "bm ", " bm", "b\u200bm", "bm\x1b[0m", "'; DROP TABLE users; --"])
@pytest.mark.parametrize("command", list(ACTING))
def test_as_must_name_a_registered_user(cli_url: str, command: str, name: str) -> None:
    """Names are matched exactly: another case, a space or an invisible character is someone else."""
    before = _invoke(cli_url, ["case", "show", "AS-1", "--json"]).stdout
    for result in (_invoke(cli_url, [*ACTING[command], "--as", name]),
                   _invoke(cli_url, ACTING[command], env={"REVIEWFLOW_USER": name})):
        assert result.exit_code == 3, result.output
        assert result.stderr.startswith(f"Error: no user named {name!r}: register them with 'reviewflow user add ")
        assert result.stderr.endswith("' or pass --as with a registered user\n")
    assert _invoke(cli_url, ["case", "show", "AS-1", "--json"]).stdout == before
    assert _invoke(cli_url, ["case", "show", "AS-2"]).exit_code == 3


@pytest.mark.parametrize("command", list(ACTING))
def test_a_token_holder_who_is_not_an_administrator_may_not_use_as(cli_url: str, command: str) -> None:
    service = Reviewflow(Database(cli_url), fixed_clock(NOW))
    try:
        token = service.create_token(Identity("bm"), "bm", f"as-{command}", "write").secret
    finally:
        service.db.dispose()
    result = _invoke(cli_url, [*ACTING[command], "--as", ADMIN], env={"REVIEWFLOW_TOKEN": token})
    assert result.exit_code == 5
    assert result.stderr == ("Error: --as is for administrators; bm is not one: act as yourself (leave out --as), "
                             "or ask an administrator\n")


def test_an_administrator_acts_for_someone_and_the_history_says_so(cli_url: str) -> None:
    assert _invoke(cli_url, ["case", "show", "AS-9"]).exit_code == 0
    result = _invoke(cli_url, ["case", "fire", "AS-9", "accept", "--field", "decision=yes", "--as", "bm"])
    assert result.exit_code == 0, result.stderr
    shown = _invoke(cli_url, ["case", "show", "AS-9", "--json"], env={"REVIEWFLOW_USER": "bm"})
    assert json.loads(shown.stdout)["history"][-1]["actor"] == f"{ADMIN} for bm"
