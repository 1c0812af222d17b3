"""Values typed to narrow `case list` and `action list` (a state, a learning theme, an agency) are refused when they
name nothing known, with the nearest names: a typo never passes for an empty list."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from click.testing import CliRunner, Result
from hypothesis import example, given
from hypothesis import strategies as st

from reviewflow.cli import cli
from reviewflow.engine.core.clock import SteppingClock
from reviewflow.engine.core.errors import InvalidValue
from reviewflow.engine.core.filters import require_known
from reviewflow.engine.services.facade import Reviewflow
from reviewflow.store.db import Database

from tests.conftest import ADMIN
from tests.databases import Templates

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
REF = "TR-2026-001"
NO_ENV = {"REVIEWFLOW_USER": None, "REVIEWFLOW_NOW": None, "REVIEWFLOW_TOKEN": None, "REVIEWFLOW_CONFIG": None}


def _build(url: str) -> None:
    rf = Reviewflow(Database(url), SteppingClock(T0))
    try:
        rf.init()
        rf.first_admin(ADMIN, ADMIN)
        rf.add_user("a.khan", ["business_manager"])
        rf.add_user("m.patel", ["action_owner"], None, "Children's social care")
        rf.open_case("thematic_review", REF, "a.khan", {"theme": "Neglect of adolescents",
                                                        "theme_source": "board_priority"})
        rf.recommend(REF, "a.khan", "Use the neglect toolkit with adolescents", ["Neglect"], ["Police"])
        rf.add_action(REF, "a.khan", "R1", "Neglect toolkit training", "Children's social care", "2026-03-02",
                      "m.patel")
    finally:
        rf.db.dispose()


@pytest.fixture
def url(db_url: str, templates: Templates) -> str:
    templates.copy(db_url, "test_list_filters: a thematic review with a neglect action", _build)
    return db_url


def _cli(url: str, *args: str, code: int = 0) -> Result:
    result = CliRunner().invoke(cli, ["--db", url, "--now", T0.isoformat(), *args], env=NO_ENV)
    assert "Traceback" not in result.output + result.stderr
    assert result.exit_code == code, result.output + result.stderr
    return result


def test_a_misspelt_state_is_refused_with_the_nearest(url: str) -> None:
    refused = _cli(url, "case", "list", "--state", "refferal", code=1)
    assert refused.stderr.startswith("Error: no state 'refferal': did you mean 'referral'? states are: ")
    narrowed = _cli(url, "case", "list", "--workflow", "thematic_review", "--state", "commissioning", code=1)
    assert narrowed.stderr.startswith("Error: no state 'commissioning' in thematic_review: states are: actions, ")
    found = json.loads(_cli(url, "case", "list", "--state", "referral", "--json").stdout)
    assert [c["ref"] for c in found] == [REF]
    # a state that exists but holds no case is not an error
    assert _cli(url, "case", "list", "--state", "scoping").stderr.strip() == "no cases match"


def test_a_misspelt_theme_is_refused_and_a_known_one_filters(url: str) -> None:
    refused = _cli(url, "action", "list", "--theme", "negelct", code=1)
    assert refused.stderr.strip() == ("Error: no learning theme 'negelct': did you mean 'neglect'? see them with "
                                      "'reviewflow theme list', or an administrator adds it with "
                                      "'reviewflow theme add'")
    assert _cli(url, "case", "list", "--theme", "negelct", code=1).stderr.startswith("Error: no learning theme")
    assert [a["number"] for a in json.loads(_cli(url, "action", "list", "--theme", " NEGLECT ", "--json").stdout)] \
        == ["A1"]
    assert [c["ref"] for c in json.loads(_cli(url, "case", "list", "--theme", "neglect", "--json").stdout)] == [REF]


def test_a_misspelt_agency_is_refused_and_look_alike_quotes_are_folded(url: str) -> None:
    refused = _cli(url, "action", "list", "--agency", "Polis", code=1)
    assert "'Polis' is not a registered agency: did you mean 'Police'?" in refused.stderr
    refused = _cli(url, "case", "list", "--agency", "Polis", code=1)
    assert refused.stderr.startswith("Error: 'Polis' is not a registered")
    curly = json.loads(_cli(url, "action", "list", "--agency", "children\u2019s social care", "--json").stdout)
    assert [a["number"] for a in curly] == ["A1"]
    assert [c["ref"] for c in json.loads(_cli(url, "case", "list", "--agency", "police", "--json").stdout)] == [REF]
    # a registered agency with nothing to show is not an error
    assert _cli(url, "action", "list", "--agency", "Health").stderr.strip() == "no actions match"


WORDS = st.lists(st.from_regex(r"[a-z_]{1,12}", fullmatch=True), min_size=1, max_size=8, unique=True)


@given(WORDS, st.text(max_size=15))
@example(["referral", "scoping"], "refferal")
@example(["a"], "\u0430")
def test_require_known_accepts_exactly_the_known(known: list[str], value: str) -> None:
    if value in known:
        assert require_known("state", value, known, "state") == value
        return
    with pytest.raises(InvalidValue) as caught:
        require_known("state", value, known, "state")
    assert caught.value.field == "state"
    assert list(caught.value.allowed) == sorted(known)
    assert "\n" not in caught.value.message
