"""The partnership's list of learning themes: shipped with a new database, kept by administrators (add, relabel,
retire), and the only themes a new recommendation may carry; through the real CLI, and the API on SQLite and
PostgreSQL."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from reviewflow.cli import cli
from reviewflow.engine.core.access import Identity
from reviewflow.engine.core.clock import fixed_clock
from reviewflow.engine.core.errors import InvalidValue
from reviewflow.engine.core.themes import Theme, ThemeList, parse_shipped
from reviewflow.engine.services.facade import Reviewflow
from reviewflow.web.app import create_app
from reviewflow.workflows import shipped_themes_file

from tests.conftest import ADMIN, FIXTURES
from tests.databases import Templates
from tests.test_cli import Cli

REF = "MIN-2026-001"


def _build(url: str) -> None:
    run = Cli(url)
    run("init", "--workflows", str(FIXTURES / "minimal.yaml"), now="2026-01-05")
    run("user", "add", "bm", "--role", "business_manager", "--email", "bm@example.org")
    run("case", "open", "minimal", "--ref", REF, "--as", "bm", "--field", "notifying_agency=Police",
        now="2026-01-05T10:00")


@pytest.fixture
def run(db_url: str, templates: Templates) -> Cli:
    templates.copy(db_url, "test_themes: init with minimal.yaml, one case", _build)
    return Cli(db_url)


def _themes(run: Cli, *args: str) -> list[dict[str, object]]:
    return json.loads(run("theme", "list", "--json", *args).output)


def _recommend(run: Cli, *themes: str, ok: bool = True) -> str:
    args = [a for t in themes for a in ("--theme", t)]
    result = run("case", "recommend", REF, "--text", "Share the learning", *args, "--as", "bm", now="2026-01-06",
                 ok=ok)
    return result.output if ok else result.stderr.strip()


def test_a_new_database_holds_the_shipped_list(run: Cli) -> None:
    keys = [t["key"] for t in _themes(run)]
    shipped = parse_shipped(shipped_themes_file().read_text("utf-8"), "learning_themes.yaml")
    assert keys == [t.key for t in shipped]
    for expected in ("neglect", "information sharing", "voice of the child", "parental mental health",
                     "safer sleep", "non-accidental injury", "think family", "transitions to adult services"):
        assert expected in keys
    listed = run("theme", "list").output
    assert "parental mental health              Mental health (parental)" in listed
    assert all(t["retired_at"] is None for t in _themes(run))


def test_an_administrator_adds_relabels_and_retires_a_theme(run: Cli) -> None:
    assert run("theme", "add", "County Lines", "--label", "County lines",
               "--description", "Drug supply networks exploiting children").output.strip() \
        == "added learning theme 'county lines': County lines"
    assert run("theme", "rename", "county lines", "--label", "County lines exploitation").output.strip() \
        == "learning theme 'county lines' is now labelled: County lines exploitation"
    added = [t for t in _themes(run) if t["key"] == "county lines"]
    assert added == [{"key": "county lines", "label": "County lines exploitation",
                      "description": "Drug supply networks exploiting children", "retired_at": None}]
    _recommend(run, "County Lines Exploitation")  # a label names its theme too
    assert run.show(REF)["recommendations"][0]["themes"] == ["county lines"]  # type: ignore[index]
    assert run("theme", "retire", "county lines").output.strip() \
        == "retired learning theme 'county lines': kept on old recommendations, refused for new ones"
    assert "county lines" not in [t["key"] for t in _themes(run, "--active")]
    assert "county lines" in [t["key"] for t in _themes(run)]


def test_someone_not_an_administrator_is_refused(run: Cli) -> None:
    rf = Reviewflow.connect(run.url)
    try:
        token = rf.create_token(Identity("bm"), "bm", "theme tests", "write").secret
    finally:
        rf.db.dispose()
    env = {"REVIEWFLOW_USER": None, "REVIEWFLOW_NOW": None, "REVIEWFLOW_TOKEN": token}
    refused = CliRunner().invoke(cli, ["--db", run.url, "theme", "add", "county lines", "--label", "x"], env=env)
    assert refused.exit_code == 5
    assert refused.stderr.strip() == ("Error: adding learning themes is for administrators; bm is not one: ask an "
                                      "administrator")
    retire = CliRunner().invoke(cli, ["--db", run.url, "theme", "retire", "neglect"], env=env)
    assert retire.stderr.startswith("Error: retiring learning themes is for administrators")
    assert "county lines" not in [t["key"] for t in _themes(run)]
    assert "neglect" in CliRunner().invoke(cli, ["--db", run.url, "theme", "list"], env=env).output


def test_a_theme_already_on_the_list_is_refused(run: Cli) -> None:
    assert run.refused("theme", "add", "Neglect", "--label", "Neglect again") == (
        "Error: learning theme 'neglect' (Neglect) is already on the list: change its label with "
        "'reviewflow theme rename \"neglect\" --label LABEL'")
    assert run.refused("theme", "rename", "negelct", "--label", "x", status=3).startswith(
        "Error: no theme 'negelct': did you mean 'neglect'?")


def test_a_recommendation_takes_themes_from_the_list_by_key_or_label(run: Cli) -> None:
    _recommend(run, "Voice of the Child", "Mental health (parental)")
    recs = run.show(REF)["recommendations"]
    assert recs[0]["themes"] == ["voice of the child", "parental mental health"]  # type: ignore[index]


def test_an_unknown_theme_is_refused_with_the_nearest_names(run: Cli) -> None:
    assert _recommend(run, "neglet", ok=False) == (
        "Error: no learning theme 'neglet': did you mean 'neglect'? see them with 'reviewflow theme list', or an "
        "administrator adds it with 'reviewflow theme add'")
    assert run.show(REF)["recommendations"] == []


def test_a_retired_theme_stays_on_old_records_and_filters_but_is_refused_for_new_ones(run: Cli) -> None:
    _recommend(run, "neglect")
    run("action", "add", REF, "--rec", "R1", "--description", "Brief the teams", "--agency", "Police",
        "--due", "2026-03-02", "--as", "bm", now="2026-01-06")
    run("theme", "retire", "neglect")
    assert _recommend(run, "Neglect", ok=False) == (
        "Error: learning theme 'neglect' is retired: see the active themes with 'reviewflow theme list'")
    assert run.show(REF)["recommendations"][0]["themes"] == ["neglect"]  # type: ignore[index]
    by_theme = json.loads(run("action", "list", "--theme", "neglect", "--json").output)
    assert [a["number"] for a in by_theme] == ["A1"]
    assert [c["ref"] for c in json.loads(run("case", "list", "--theme", "Neglect", "--json").output)] == [REF]
    board = run("report", "board", "--format", "md", now="2026-02-02").output
    assert "neglect" in board.lower()


def test_list_filters_take_any_theme_on_the_list_and_refuse_others(run: Cli) -> None:
    # no recommendation carries "online safety" yet: an empty list, not an error
    assert run("action", "list", "--theme", "Online safety").stderr.strip() in ("", "no actions match")
    assert json.loads(run("case", "list", "--theme", "online safety", "--json").output) == []
    refused = run.refused("case", "list", "--theme", "onlin safety")
    assert refused.startswith("Error: no learning theme 'onlin safety': did you mean 'online safety'?")


def test_a_workflow_list_still_narrows_the_partnership_list() -> None:
    from reviewflow.engine.core.learning import LearningRules, themes_problem

    rules = LearningRules(manage=("bm",), contribute=(), verify=(), themes=("neglect",))
    assert themes_problem(["online safety"], rules) is not None
    assert themes_problem(["neglect"], rules) is None


def test_the_pure_list_matches_keys_and_labels_and_names_the_nearest() -> None:
    listed = ThemeList((Theme("neglect", "Neglect"), Theme("safer sleep", "Safer sleep / SUDI"),
                        Theme("old", "Old theme", retired_at=datetime(2026, 1, 1, tzinfo=UTC))))
    assert listed.for_new("  SAFER   sleep / sudi ") == "safer sleep"
    assert listed.for_filter("old", ()) == "old"
    assert listed.for_filter("typed once", ["typed once"]) == "typed once"
    with pytest.raises(InvalidValue, match=r"^learning theme 'old' is retired: "):
        listed.for_new("Old theme")
    with pytest.raises(InvalidValue, match=r"^no learning theme 'neglet': did you mean 'neglect'\?"):
        listed.for_new("neglet")


def test_the_api_lists_themes_for_anyone_and_changes_them_for_administrators(run: Cli, db_url: str) -> None:
    rf = Reviewflow.connect(db_url, fixed_clock(datetime(2026, 1, 6, 10, tzinfo=UTC)))
    try:
        client = TestClient(create_app(rf), base_url="http://127.0.0.1")
        admin = {"Authorization": "Bearer " + rf.create_token(Identity(ADMIN), ADMIN, "a", "write", 30).secret}
        other = {"Authorization": "Bearer " + rf.create_token(Identity("bm"), "bm", "b", "write", 30).secret}
        listed = client.get("/api/v1/themes", headers=other).json()
        assert listed[0] == {"key": "neglect", "label": "Neglect", "active": True, "retired_at": None,
                             "description": "Persistent failure to meet a child's basic physical or psychological "
                                            "needs."}
        assert client.post("/api/v1/themes", headers=other, json={"key": "x", "label": "X"}).status_code == 403
        made = client.post("/api/v1/themes", headers=admin, json={"key": "County lines", "label": "County lines"})
        assert made.status_code == 201, made.text
        assert made.json()["key"] == "county lines"
        relabelled = client.post("/api/v1/themes/county lines/label", headers=admin, json={"label": "CCE: county"})
        assert relabelled.json()["label"] == "CCE: county"
        retired = client.post("/api/v1/themes/county lines/retire", headers=admin)
        assert retired.json()["active"] is False
        assert "county lines" not in [t["key"] for t in client.get("/api/v1/themes?active=true", headers=other).json()]
        missing = client.post("/api/v1/themes/nope/retire", headers=admin)
        assert missing.status_code == 404
        tag = client.get(f"/api/v1/cases/{REF}", headers=other).headers["ETag"]
        refused = client.post(f"/api/v1/cases/{REF}/recommendations", headers={**other, "If-Match": tag},
                              json={"text": "t", "themes": ["county lines"]})
        assert refused.status_code == 422, refused.text
        assert "is retired" in refused.json()["detail"]
    finally:
        rf.db.dispose()
