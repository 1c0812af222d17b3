"""Every typed-in text has a limit (engine/core/limits.py, docs/limits.md): a longer value is refused with one
line naming the field, the limit and the length, through the command line and the HTTP API alike, and nothing
is written."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from reviewflow.cli import cli
from reviewflow.engine.core import limits
from reviewflow.engine.core.access import Identity
from reviewflow.engine.core.clock import SteppingClock
from reviewflow.engine.core.fields import MAX_TEXT
from reviewflow.engine.services.facade import Reviewflow
from reviewflow.store.db import Database

from tests.conftest import ADMIN, FIXTURES
from tests.databases import Templates
from tests.served import Browser, serving

T0 = datetime.now(UTC) - timedelta(days=3)
DUE = (datetime.now(UTC) + timedelta(days=30)).date().isoformat()


def _build(url: str) -> None:
    """agency_review loaded; a business manager, a chair and a Police action owner; case L-1 with R1, A1, E1."""
    rf = Reviewflow(Database(url), SteppingClock(T0))
    try:
        rf.init([FIXTURES / "agency_review.yaml"])
        rf.first_admin(ADMIN, ADMIN)
        rf.add_user("bm", ["business_manager"], "bm@example.org")
        rf.add_user("chair", ["subgroup_chair"])
        rf.add_user("pc.jones", ["action_owner"], None, "Police")
        rf.open_case("agency_review", "L-1", "bm", {"notifying_agency": "Police", "family_context": "x"})
        rf.recommend("L-1", "bm", "Share concerns at once", ["information sharing"], ["Police"])
        rf.add_action("L-1", "bm", "R1", "Same-day referrals", "Police", DUE, "pc.jones")
        rf.submit_evidence("L-1", "A1", "pc.jones", "policy_change", "New policy", "intranet/policy-7")
        rf.create_token(Identity("bm"), "bm", "limits", "write")
    finally:
        rf.db.dispose()


@pytest.fixture
def url(tmp_path: Path, templates: Templates) -> str:
    found = f"sqlite:///{tmp_path / 'limits.db'}"
    templates.copy(found, "test_limits: agency_review, people, L-1 with R1, A1, E1", _build)
    return found


def _written(url: str) -> tuple[int, int, int]:
    """What a refused change must leave alone: the case's revision, its history and the number of people."""
    rf = Reviewflow(Database(url), SteppingClock(datetime.now(UTC)))
    try:
        view = rf.case("L-1")
        return view.revision, len(view.history), len(rf.users())
    finally:
        rf.db.dispose()


def _long(n: int) -> str:
    return "x" * n


# (label, argv with {} for the value, field, limit); each value typed one character over its limit
CLI_CASES = [
    ("case open note", ["case", "open", "agency_review", "--ref", "L-2", "--as", "bm", "--field",
                        "notifying_agency=Police", "--field", "family_context=x", "--note", "{}"], "note", limits.NOTE),
    ("case reference", ["case", "open", "agency_review", "--ref", "{}", "--as", "bm", "--field",
                        "notifying_agency=Police", "--field", "family_context=x"], "ref", limits.REFERENCE),
    ("field value", ["case", "open", "agency_review", "--ref", "L-2", "--as", "bm", "--field",
                     "notifying_agency={}", "--field", "family_context=x"], "notifying_agency", limits.FIELD_VALUE),
    ("pause reason", ["case", "pause", "L-1", "--reason", "{}", "--as", "bm"], "reason", limits.PAUSE_REASON),
    ("recommendation", ["case", "recommend", "L-1", "--text", "{}", "--as", "bm"], "text", limits.RECOMMENDATION),
    ("theme", ["case", "recommend", "L-1", "--text", "t", "--theme", "{}", "--as", "bm"], "theme", limits.THEME),
    ("recommendation agency", ["case", "recommend", "L-1", "--text", "t", "--agency", "{}", "--as", "bm"], "agency",
     limits.AGENCY),
    ("action description", ["action", "add", "L-1", "--rec", "R1", "--description", "{}", "--agency", "Police",
                            "--due", DUE, "--as", "bm"], "description", limits.DESCRIPTION),
    ("action agency", ["action", "add", "L-1", "--rec", "R1", "--description", "d", "--agency", "{}",
                       "--due", DUE, "--as", "bm"], "agency", limits.AGENCY),
    ("success measure", ["action", "add", "L-1", "--rec", "R1", "--description", "d", "--agency", "Police",
                         "--due", DUE, "--measure", "{}", "--as", "bm"], "measure", limits.SUCCESS_MEASURE),
    ("evidence description", ["action", "evidence", "L-1", "A1", "--kind", "policy_change", "--description", "{}",
                              "--link", "l", "--as", "pc.jones"], "description", limits.EVIDENCE_DESCRIPTION),
    ("evidence link", ["action", "evidence", "L-1", "A1", "--kind", "policy_change", "--description", "d",
                       "--link", "{}", "--as", "pc.jones"], "link", limits.EVIDENCE_LINK),
    ("rejection reason", ["action", "reject", "L-1", "E1", "--reason", "{}", "--as", "chair"], "reason", limits.NOTE),
    ("audience", ["case", "disseminate", "L-1", "--kind", "briefing", "--audience", "{}", "--date",
                  (T0.date()).isoformat(), "--as", "bm"], "audience", limits.AUDIENCE),
    ("user agency", ["user", "add", "new.person", "--role", "business_manager", "--agency", "{}"], "agency",
     limits.AGENCY),
    ("e-mail address", ["user", "add", "new.person", "--role", "business_manager", "--email",
                        "a@" + "b" * 250 + ".org"], "email", limits.EMAIL),
]


@pytest.mark.parametrize(("argv", "field", "limit"), [pytest.param(a, f, n, id=label) for label, a, f, n in CLI_CASES])
def test_the_command_line_refuses_a_value_over_its_limit(url: str, argv: list[str], field: str, limit: int) -> None:
    before = _written(url)
    value = _long(limit + 1)
    typed = [a.replace("{}", value) for a in argv]
    result = CliRunner().invoke(cli, ["--db", url, *typed])
    assert result.exit_code == 1, result.output
    message = result.output.strip()
    assert "\n" not in message
    length = len(value) if "{}" in "".join(argv) else len(typed[-1])
    assert f"{length} characters long; the limit is {limit}" in message, message
    assert _written(url) == before


def test_a_value_at_its_limit_is_accepted(url: str) -> None:
    runner = CliRunner()
    added = runner.invoke(cli, ["--db", url, "theme", "add", _long(limits.THEME), "--label", "A theme at its limit"])
    assert added.exit_code == 0, added.output
    theme = runner.invoke(cli, ["--db", url, "case", "recommend", "L-1", "--text", _long(limits.RECOMMENDATION),
                                "--theme", _long(limits.THEME), "--as", "bm"])
    assert theme.exit_code == 0, theme.output
    paused = runner.invoke(cli, ["--db", url, "case", "pause", "L-1", "--reason", "other", "--note",
                                 _long(limits.PAUSE_REASON), "--as", "bm"])
    assert paused.exit_code == 0, paused.output


def test_the_field_limit_is_the_field_values_limit() -> None:
    assert MAX_TEXT == limits.FIELD_VALUE


def test_every_limit_is_documented() -> None:
    text = (Path(__file__).parent.parent / "docs" / "limits.md").read_text("utf-8")
    for name in dir(limits):
        if name.isupper() and isinstance(getattr(limits, name), int):
            assert f"`{name}`" in text, name
            assert f"| {getattr(limits, name)} |" in text, name


# --- the HTTP API --------------------------------------------------------------------------------------------

@dataclass
class Served:
    url: str
    base: str
    token: str


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    found = f"sqlite:///{tmp_path_factory.mktemp('limits') / 'api.db'}"
    _build(found)
    rf = Reviewflow(Database(found), SteppingClock(T0))
    try:
        token = rf.create_token(Identity("bm"), "bm", "limits api", "write").secret
    finally:
        rf.db.dispose()
    with serving(found) as base:
        yield Served(found, base, token)


API_CASES = [
    ("pause reason", "/api/v1/cases/L-1/pause", {"reason": "{}"}, "reason", limits.PAUSE_REASON),
    ("note", "/api/v1/cases/L-1/resume", {"note": "{}"}, "note", limits.NOTE),
    ("theme", "/api/v1/cases/L-1/recommendations", {"text": "t", "themes": ["{}"]}, "theme", limits.THEME),
    ("agency", "/api/v1/cases/L-1/recommendations", {"text": "t", "agencies": ["{}"]}, "agency", limits.AGENCY),
    ("recommendation", "/api/v1/cases/L-1/recommendations", {"text": "{}"}, "text", limits.RECOMMENDATION),
    ("action agency", "/api/v1/cases/L-1/actions", {"recommendation": "R1", "description": "d", "agency": "{}",
                                                    "due": DUE}, "agency", limits.AGENCY),
]


@pytest.mark.parametrize(("path", "body", "field", "limit"),
                         [pytest.param(p, b, f, n, id=label) for label, p, b, f, n in API_CASES])
def test_the_api_refuses_a_value_over_its_limit(served: Served, path: str, body: dict, field: str,
                                                limit: int) -> None:
    before = _written(served.url)
    value = _long(limit + 1)
    sent = {k: ([value] if v == ["{}"] else value if v == "{}" else v) for k, v in body.items()}
    answer = Browser(served.base, served.token).write("POST", "L-1", path, sent)
    assert answer.status_code in (400, 422), answer.text
    problem = answer.json()
    assert problem["field"] == field
    assert "\n" not in problem["detail"]
    assert str(limit) in problem["detail"]
    if answer.status_code == 422:  # refused by the service: the length is named too
        assert problem["limit"] == limit
        assert problem["length"] == limit + 1
    assert _written(served.url) == before


# --- the web forms -------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("name", "kind"), [("reason", "textarea"), ("note", "textarea"), ("agency", "text"),
                                            ("email", "email"), ("link", "text"), ("theme", "text"),
                                            ("audience", "text"), ("decision_rationale", "textarea")])
def test_a_form_field_carries_the_limit_as_its_maxlength(name: str, kind: str) -> None:
    from reviewflow.web.pages.common import ENV

    html = ENV.from_string('{% from "macros/forms.html" import field %}{{ field(name, "Label", kind=kind) }}').render(
        name=name, kind=kind)
    assert f'maxlength="{limits.FORM_FIELDS.get(name, limits.FIELD_VALUE)}"' in html


def test_a_workflow_field_on_the_move_form_has_the_field_value_limit_whatever_its_name() -> None:
    from reviewflow.web.pages.common import ENV

    html = ENV.from_string('{% from "macros/forms.html" import field %}'
                           '{{ field("agency", "Agency", max=textarea_maxlength) }}').render()
    assert f'maxlength="{limits.FIELD_VALUE}"' in html
