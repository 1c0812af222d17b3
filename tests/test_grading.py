"""Audit grading: the `grading:` key of a definition (good and bad), grades recorded through the real CLI (SQLite and
PostgreSQL) and the API, re-grading kept in the history, the refusals that write nothing, the case page's form and
`audit verify` rebuilding the grades from the sealed history."""

from __future__ import annotations

import json
import re
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text

from reviewflow.engine.core.access import Identity
from reviewflow.engine.core.clock import fixed_clock
from reviewflow.engine.core.errors import InvalidDefinition
from reviewflow.engine.core.parse import parse_definition
from reviewflow.engine.services.facade import Reviewflow
from reviewflow.web.app import create_app

from tests.databases import Templates
from tests.test_cli import Cli

FIXTURES = Path(__file__).parent / "fixtures"
LONDON = ZoneInfo("Europe/London")
MINIMAL = (FIXTURES / "minimal.yaml").read_text("utf-8")
MACA = "MACA-2026-Q1"
S11 = "S11-2026"
S175 = "S175-2026"


# --- the definition ------------------------------------------------------------------------------------

def _parse(grading: str) -> None:
    parse_definition(MINIMAL + grading, "minimal.yaml")


def test_a_graded_definition_loads_with_its_scale_subjects_and_roles() -> None:
    d = parse_definition(MINIMAL + """grading:
  scale:
    - outstanding: Outstanding
    - good
    - requires_improvement: Requires improvement
    - inadequate
  per: [standard, agency]
  standards:
    - training: Training for all staff
    - information_sharing
  good_or_better: good
  roles: [subgroup_chair]
""", "minimal.yaml")
    g = d.grading
    assert g is not None
    assert g.grades == ("outstanding", "good", "requires_improvement", "inadequate")
    assert (g.label("good"), g.label("inadequate"), g.label("requires_improvement")) == (
        "Good", "Inadequate", "Requires improvement")
    assert g.good_grades == {"outstanding", "good"}
    assert g.standard_label("training") == "Training for all staff"
    assert (g.per, g.roles) == (("standard", "agency"), ("subgroup_chair",))


BAD = {
    "empty scale": ("""grading:
  scale: []
  per: [agency]
  good_or_better: good
""", ["minimal.yaml:61: grading.scale: must not be empty (the grades, best first: each a name, or a name and its "
      "label, e.g. - requires_improvement: Requires improvement)"]),
    "unknown good-or-better grade and a duplicate": ("""grading:
  scale:
    - outstanding
    - good
    - good: Good again
  per: [agency]
  good_or_better: great
""", ["minimal.yaml:64: grading.scale[2]: grade 'good' is listed twice: list each grade once",
      "minimal.yaml:66: grading.good_or_better: unknown grade 'great'; the scale's grades are: outstanding, good"]),
    "unknown role": ("""grading:
  scale: [good, inadequate]
  per: [agency]
  good_or_better: good
  roles: [auditor]
""", ["minimal.yaml:64: grading.roles[0]: role 'auditor' is not declared under `roles`: declare it there or use "
      "one of: board, business_manager, subgroup_chair"]),
    "standards missing": ("""grading:
  scale: [good, inadequate]
  per: [standard, agency]
  good_or_better: good
""", ["minimal.yaml:60: grading.standards: `per` names standard but no standards are listed: list them under "
      "`standards` (e.g. - training: Training)"]),
    "unknown subject": ("""grading:
  scale: [good, inadequate]
  per: [agency, town]
  good_or_better: good
""", ["minimal.yaml:62: grading.per[1]: 'town' is not allowed; use one of: agency, standard, school"]),
    "one grade, a school with an agency": ("""grading:
  scale: [good]
  per: [school, agency]
  good_or_better: good
""", ["minimal.yaml:61: grading.scale: a scale needs at least two grades, best first (e.g. good, inadequate)",
      "minimal.yaml:62: grading.per: a school is graded on its own: write `per: [school]`"]),
    "theme field not asked for": ("""grading:
  scale: [good, inadequate]
  per: [agency]
  good_or_better: good
  theme_field: audit_theme
""", ["minimal.yaml:64: grading.theme_field: field 'audit_theme' is not asked for by `open` or any transition: "
      "name a declared field (e.g. audit_theme)"]),
}


@pytest.mark.parametrize(("grading", "expected"), BAD.values(), ids=BAD.keys())
def test_a_bad_grading_key_is_refused_with_file_line_and_fix(grading: str, expected: list[str]) -> None:
    with pytest.raises(InvalidDefinition) as caught:
        _parse(grading)
    assert [str(p) for p in caught.value.problems] == expected


# --- recording through the CLI -----------------------------------------------------------------------------

def _init(url: str) -> None:
    c = Cli(url)
    c("init", now="2026-01-05")
    c("settings", "set", "backdate-window", "off")
    c("user", "add", "s.lewis", "--role", "audit_lead", "--email", "s.lewis@example.org")
    c("user", "add", "d.osei", "--role", "subgroup_chair", "--email", "d.osei@example.org")
    c("agency", "add", "St Mary's CE Primary School")


@pytest.fixture
def run(db_url: str, templates: Templates) -> Cli:
    """`init` on 5 January 2026, an audit lead and a sub-group chair."""
    templates.copy(db_url, "test_grading: init, an audit lead and a sub-group chair", _init)
    return Cli(db_url)


def _open(run: Cli) -> None:
    run("case", "open", "multi_agency_case_audit", "--ref", MACA, "--as", "s.lewis", "--field",
        "audit_period=2026-27 Q1", "--field", "audit_theme=Neglect", now="2026-01-05T10:00")
    run("case", "open", "section_11_audit", "--ref", S11, "--as", "s.lewis", "--field", "audit_scope=full",
        "--field", "issue_date=2026-01-05", "--field", "agencies_included=all partners", now="2026-01-05T10:00")
    run("case", "open", "section_175_audit", "--ref", S175, "--as", "s.lewis", "--field", "academic_year=2025-26",
        "--field", "issue_date=2026-01-05", now="2026-01-05T10:00")


def _grades(run: Cli, ref: str, *more: str) -> list[dict[str, object]]:
    return json.loads(run("case", "grades", ref, "--json", *more, "--as", "s.lewis").output)


def _history(run: Cli, ref: str) -> list[str]:
    return [str(h["trigger"]) for h in run.show(ref)["history"]]  # type: ignore[union-attr]


def test_grades_are_recorded_replaced_and_listed_through_the_cli(run: Cli) -> None:
    _open(run)
    out = run("case", "grade", MACA, "--agency", "police", "--grade", "good", "--as", "s.lewis",
              now="2026-01-20T10:00").output
    assert out.strip() == f"{MACA}: Police: Good (2026-01-20)"
    run("case", "grade", MACA, "--agency", "Health", "--grade", "Requires improvement", "--note", "tool ref 4",
        "--as", "s.lewis", now="2026-01-20T10:05")
    run("case", "grade", MACA, "--agency", "Police", "--grade", "outstanding", "--as", "s.lewis",
        now="2026-01-21T10:00")
    run("case", "grade", S11, "--standard", "training", "--agency", "Police", "--grade", "inadequate", "--as",
        "s.lewis", now="2026-01-21T10:00")
    run("case", "grade", S175, "--school", "St Mary's CE Primary School", "--grade", "good", "--as", "s.lewis",
        now="2026-01-21T10:00")

    current = _grades(run, MACA)
    assert [(g["agency"], g["grade"], g["good_or_better"]) for g in current] == [
        ("Health", "requires_improvement", False), ("Police", "outstanding", True)]
    every = _grades(run, MACA, "--all")
    assert [(g["agency"], g["grade"], g["current"]) for g in every] == [
        ("Police", "good", False), ("Health", "requires_improvement", True), ("Police", "outstanding", True)]
    assert _history(run, MACA) == ["open", "grade", "grade", "grade"]
    assert [(g["standard"], g["agency"], g["label"]) for g in _grades(run, S11)] == [
        ("training", "Police", "Inadequate")]
    assert [(g["school"], g["grade"]) for g in _grades(run, S175)] == [("St Mary's CE Primary School", "good")]

    listed = run("case", "grades", MACA, "--as", "s.lewis")
    assert "Police: Outstanding (2026-01-21)" in listed.output
    assert "Health: Requires improvement (2026-01-20) — tool ref 4" in listed.output
    assert f"{MACA}: 2 grade(s), 1 good or better" in listed.stderr
    shown = run("case", "show", MACA, "--as", "s.lewis").output
    assert "  grades:\n    Health: Requires improvement" in shown
    assert json.loads(run("case", "show", MACA, "--json", "--as", "s.lewis").output)["grades"][1]["grade"] == (
        "outstanding")
    timeline = run("case", "timeline", MACA, now="2026-01-22T09:00").output
    assert "Graded Health: requires improvement" in timeline
    assert "note: tool ref 4" in timeline
    assert run("audit", "verify").exit_code == 0


REFUSALS = {
    "unknown grade": (("--agency", "Police", "--grade", "great", "--as", "s.lewis"), 1,
                      "Error: unknown grade 'great'; use one of: outstanding, good, requires_improvement, inadequate"),
    "agency not in the register": (("--agency", "Polis", "--grade", "good", "--as", "s.lewis"), 1,
                                   "Error: 'Polis' is not a registered agency: did you mean 'Police'? (an "
                                   "administrator can add one with 'reviewflow agency add')"),
    "no agency": (("--grade", "good", "--as", "s.lewis"), 1,
                  "Error: this workflow grades per agency: give --agency"),
    "without the role": (("--agency", "Police", "--grade", "good", "--as", "d.osei"), 5,
                         f"Error: grading on {MACA} needs one of the roles audit_lead, business_manager; d.osei has "
                         "subgroup_chair: ask someone who does"),
}


@pytest.mark.parametrize(("args", "status", "message"), REFUSALS.values(), ids=REFUSALS.keys())
def test_a_refused_grade_writes_nothing(run: Cli, args: tuple[str, ...], status: int, message: str) -> None:
    _open(run)
    assert run.refused("case", "grade", MACA, *args, now="2026-01-20T10:00", status=status) == message
    assert _grades(run, MACA, "--all") == []
    assert _history(run, MACA) == ["open"]


def test_a_standard_must_be_one_of_the_definitions(run: Cli) -> None:
    _open(run)
    refused = run.refused("case", "grade", S11, "--standard", "budgets", "--agency", "Police", "--grade", "good",
                          "--as", "s.lewis", now="2026-01-20T10:00")
    assert refused == ("Error: unknown standard 'budgets'; the standards of this workflow are: "
                       "senior_management_commitment, statement_of_responsibilities, line_of_accountability, "
                       "voice_of_the_child, training, safer_recruitment, inter_agency_working, information_sharing")
    refused = run.refused("case", "grade", S11, "--agency", "Police", "--grade", "good", "--as", "s.lewis",
                          now="2026-01-20T10:00")
    assert refused == "Error: this workflow grades per standard, agency: give --standard"
    assert _grades(run, S11, "--all") == []
    assert _history(run, S11) == ["open"]


def test_a_workflow_without_grading_refuses_a_grade(run: Cli) -> None:
    run("case", "open", "thematic_review", "--ref", "TR-1", "--as", "d.osei", "--field", "theme=Neglect",
        "--field", "theme_source=audits", now="2026-01-05T10:00")
    refused = run.refused("case", "grade", "TR-1", "--agency", "Police", "--grade", "good", "--as", "d.osei",
                          now="2026-01-05T10:05")
    assert refused == "Error: thematic_review cases are not graded (its definition has no `grading:`)"
    assert _history(run, "TR-1") == ["open"]


def test_audit_verify_catches_a_grade_changed_outside_reviewflow(run: Cli, db_url: str) -> None:
    _open(run)
    run("case", "grade", MACA, "--agency", "Police", "--grade", "inadequate", "--as", "s.lewis",
        now="2026-01-20T10:00")
    assert run("audit", "verify").exit_code == 0
    engine = create_engine(db_url)
    try:
        with engine.begin() as conn:
            conn.execute(text("UPDATE grades SET grade = 'outstanding'"))
    finally:
        engine.dispose()
    result = run("audit", "verify", ok=False)
    assert result.exit_code != 0
    assert ("ALTERED MACA-2026-Q1 grades grade of Police: is outstanding but its history says inadequate"
            in result.output)


# --- the API and the case page ----------------------------------------------------------------------------

@pytest.mark.postgres
def test_the_api_records_and_lists_grades_on_postgres(templates: Templates) -> None:
    from tests.databases import pg_url_or_skip

    url = pg_url_or_skip()
    templates.copy(url, "test_grading: init, an audit lead and a sub-group chair", _init)
    run = Cli(url)
    _open(run)
    rf = Reviewflow.connect(url, fixed_clock(datetime(2026, 1, 20, 9, tzinfo=LONDON)))
    try:
        tokens = {n: rf.create_token(Identity(n), n, "grades", "write", 30).secret for n in ("s.lewis", "d.osei")}
        client = TestClient(create_app(rf), base_url="http://127.0.0.1")

        def headers(who: str) -> dict[str, str]:
            found = {"Authorization": f"Bearer {tokens[who]}"}
            found["If-Match"] = client.get(f"/api/v1/cases/{S11}", headers=found).headers["ETag"]
            return found

        body = {"agency": "Police", "standard": "training", "grade": "good", "note": "panel 3"}
        made = client.post(f"/api/v1/cases/{S11}/grades", headers=headers("s.lewis"), json=body)
        assert made.status_code == 201, made.text
        assert [(g["agency"], g["standard"], g["label"], g["good_or_better"]) for g in made.json()] == [
            ("Police", "training", "Good", True)]
        assert re.fullmatch(r'"r\d+"', made.headers["ETag"])
        forbidden = client.post(f"/api/v1/cases/{S11}/grades", headers=headers("d.osei"), json=body)
        assert forbidden.status_code == 403
        assert forbidden.headers["content-type"].startswith("application/problem+json")
        unknown = client.post(f"/api/v1/cases/{S11}/grades", headers=headers("s.lewis"),
                              json={**body, "grade": "great"})
        assert unknown.status_code == 422
        problem = unknown.json()
        assert problem["allowed"] == ["outstanding", "good", "requires_improvement", "inadequate"]
        assert problem["field"] == "grade"
        listed = client.get(f"/api/v1/cases/{S11}/grades",
                            headers={"Authorization": f"Bearer {tokens['s.lewis']}"})
        assert [g["grade"] for g in listed.json()] == ["good"]
    finally:
        rf.db.dispose()
    assert run("audit", "verify").exit_code == 0


def test_the_case_page_shows_the_grades_and_records_one_without_javascript(run: Cli, db_url: str) -> None:
    _open(run)
    rf = Reviewflow.connect(db_url, fixed_clock(datetime(2026, 1, 20, 9, tzinfo=LONDON)))
    try:
        rf.set_password(None, "s.lewis", "correct horse battery staple")
        browser = TestClient(create_app(rf, secure_cookies=False), base_url="http://127.0.0.1")
        signed_in = browser.post("/sign-in", data={"name": "s.lewis", "password": "correct horse battery staple"},
                                 follow_redirects=False)
        assert signed_in.status_code == 303, signed_in.text
        case_page = browser.get(f"/cases/{MACA}")
        assert "No grade has been given yet." in case_page.text
        assert f'href="/cases/{MACA}/grade"' in case_page.text
        form = browser.get(f"/cases/{MACA}/grade")
        assert form.status_code == 200
        token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
        revision = re.search(r'name="revision" value="(\d+)"', form.text)
        assert token
        assert revision
        fields = {"csrf_token": token.group(1), "revision": revision.group(1), "agency": "Police"}
        missing = browser.post(f"/cases/{MACA}/grade", data=fields)
        assert missing.status_code == 422
        assert "unknown grade" in missing.text
        assert 'href="#f-grade"' in missing.text
        done = browser.post(f"/cases/{MACA}/grade", data={**fields, "grade": "good"}, follow_redirects=False)
        assert done.status_code == 303, done.text
        shown = browser.get(done.headers["location"])
        assert "Grade recorded" in shown.text
        assert re.search(r"<td[^>]*>Police</td>\s*<td[^>]*><strong[^>]*>Good</strong>", shown.text)
    finally:
        rf.db.dispose()
