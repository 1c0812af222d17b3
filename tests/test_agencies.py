"""The partnership's register of agencies: names normalised and matched to it wherever an agency is typed, the
administrator's `agency add/list/rename`, the API's list, tracker spellings mapped to it, and an old database's
free-text agencies registered by the upgrade."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic import command
from click.testing import CliRunner, Result
from fastapi.testclient import TestClient
from hypothesis import example, given
from hypothesis import strategies as st
from sqlalchemy import text

from reviewflow.cli import cli
from reviewflow.engine.core.access import Identity
from reviewflow.engine.core.agencies import MAX_LENGTH, SEED, Register, agency_key, check_name, normalise
from reviewflow.engine.core.clock import SteppingClock
from reviewflow.engine.core.errors import AgencyExists, InvalidValue, NotPermitted, UnknownAgency
from reviewflow.engine.services.escalation import Sweeper
from reviewflow.engine.services.facade import Reviewflow
from reviewflow.store import schema
from reviewflow.store.db import Database
from reviewflow.web.app import create_app

from tests.conftest import ADMIN
from tests.databases import Templates

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
CURLY = "Children\u2019s social care"
STRAIGHT = "Children's social care"
REF = "SCR-2026-001"
NO_ENV = {"REVIEWFLOW_USER": None, "REVIEWFLOW_NOW": None, "REVIEWFLOW_TOKEN": None, "REVIEWFLOW_CONFIG": None}
PEOPLE = {  # name: (roles, agency as typed)
    "la.duty": (["la_notifier"], None),
    "a.khan": (["business_manager"], None),
    "pc.lead": (["agency_safeguarding_lead"], "police"),
    "csc.lead": (["agency_safeguarding_lead"], "CHILDREN'S SOCIAL CARE"),
    "m.patel": (["action_owner"], "  Children's\nsocial   care "),
}


# --- the normaliser (pure) -------------------------------------------------------------------------------

NAMES = st.text(st.characters(codec="utf-8"), max_size=40)
ASCII_NAMES = st.text(st.sampled_from("abcdefghijklmnopqrstuvwxyz ABCDEFGHIJKLMNOPQRSTUVWXYZ'-&\n\t"), max_size=40)


@given(NAMES)
@example("Children\u2019s  social\ncare")
@example("\u2028\u0301")
@example("\ufb01re and rescue \u2013 north")
def test_normalising_is_idempotent(name: str) -> None:
    once = normalise(name)
    assert normalise(once) == once
    assert agency_key(once) == agency_key(name)
    assert once == once.strip()
    assert "  " not in once
    assert "\n" not in once
    assert "\t" not in once


@given(ASCII_NAMES)
@example("Children's social care")
def test_curly_quotes_dashes_spacing_and_case_do_not_tell_agencies_apart(name: str) -> None:
    variants = [name.replace("'", "\u2019"), name.replace("'", "\u2018").upper(), name.replace("-", "\u2013"),
                name.lower().replace(" ", "\n "), f"  {name.swapcase()}\t"]
    assert {agency_key(v) for v in variants} == {agency_key(name)}
    if agency_key(name):
        assert Register.of([normalise(name)]).find(variants[1]) == normalise(name)


def test_names_are_checked_and_unknown_ones_refused_with_the_nearest() -> None:
    register = Register.of(SEED)
    assert {"Police", "Health", STRAIGHT, "Education"} <= set(SEED)
    assert register.find(CURLY) == STRAIGHT  # a lookup that only reads
    assert register.resolve(" POLICE\n") == "Police"
    with pytest.raises(UnknownAgency, match="did you mean 'Children's social care'.*look-alike characters"):
        register.resolve(CURLY)  # typed in
    with pytest.raises(UnknownAgency) as refused:
        register.resolve("Childrens social care")
    assert str(refused.value).startswith(
        "'Childrens social care' is not a registered agency: did you mean 'Children's social care'")
    assert str(refused.value).endswith("(an administrator can add one with 'reviewflow agency add')")
    with pytest.raises(UnknownAgency) as far:
        register.resolve("Zebrafield")
    assert str(far.value) == ("'Zebrafield' is not a registered agency (an administrator can add one with "
                              "'reviewflow agency add')")
    assert check_name(" Fire \u2013 and\r\nrescue ") == "Fire - and rescue"
    for bad, says in [("x" * (MAX_LENGTH + 1), "the limit is 120"), ("Fire\x00rescue", "control or invisible"),
                      ("Fire\u200brescue", "control or invisible"), (" \n ", "give the agency's name")]:
        with pytest.raises(InvalidValue, match=says):
            check_name(bad)
    with pytest.raises(AgencyExists, match="is already registered as 'Children's social care'"):
        register.check_new("CHILDREN\u2018S SOCIAL CARE")


# --- a database with people, a case and an action ---------------------------------------------------------

def _build(url: str) -> None:
    rf = Reviewflow(Database(url), SteppingClock(T0))
    try:
        rf.init()
        rf.first_admin(ADMIN, ADMIN)
        for name, (roles, agency) in PEOPLE.items():
            rf.add_user(name, roles, f"{name}@example.org", agency)
        rf.open_case("serious_case_review", REF, "la.duty",
                     {"notifying_agency": "Police", "incident_date": "2026-01-02", "incident_type": "child_died"},
                     legacy=True)
        rf.recommend(REF, "a.khan", "Share concerns about neglect at once", ["neglect"], ["police", STRAIGHT])
        rf.add_action(REF, "a.khan", "R1", "Neglect toolkit training", "children's social care", "2026-02-02",
                      "m.patel")
    finally:
        rf.db.dispose()


@pytest.fixture
def url(db_url: str, templates: Templates) -> str:
    templates.copy(db_url, "test_agencies: shipped workflows, people, an SCR with a CSC action", _build)
    return db_url


@pytest.fixture
def rf(url: str) -> Iterator[Reviewflow]:
    service = Reviewflow(Database(url), SteppingClock(T0))
    yield service
    service.db.dispose()


def _cli(url: str, *args: str, code: int = 0, token: str | None = None) -> Result:
    result = CliRunner().invoke(cli, ["--db", url, "--now", T0.isoformat(), *args],
                                env={**NO_ENV, "REVIEWFLOW_TOKEN": token})
    assert "Traceback" not in result.output + result.stderr
    assert result.exit_code == code, result.output + result.stderr
    return result


def test_typed_agencies_are_stored_in_the_register_spelling(rf: Reviewflow) -> None:
    users = {u.name: u.agency for u in rf.users()}
    assert (users["pc.lead"], users["csc.lead"], users["m.patel"]) == ("Police", STRAIGHT, STRAIGHT)
    view = rf.case(REF)
    assert [a.owner_agency for r in view.recommendations for a in r.actions] == [STRAIGHT]
    assert [sorted(r.agencies) for r in view.recommendations] == [[STRAIGHT, "Police"]]
    assert sorted(view.agencies) == [STRAIGHT, "Police"]
    assert [a.number for a in rf.actions(agency="CHILDREN\u2018S social care")] == ["A1"]
    updated = rf.update_action(REF, "A1", "a.khan", agency="health")
    assert updated.owner_agency == "Health"
    with pytest.raises(UnknownAgency, match="'Childrens social care' is not a registered agency: did you mean "
                                            "'Children's social care'"):
        rf.update_action(REF, "A1", "a.khan", agency="Childrens social care")
    with pytest.raises(UnknownAgency, match="'Polise' is not a registered agency: did you mean 'Police'"):
        rf.add_user("x.new", ["action_owner"], None, "Polise")
    assert "x.new" not in {u.name for u in rf.users()}


def test_the_curly_spelling_is_refused_with_the_registered_one_offered(url: str, rf: Reviewflow) -> None:
    """`Children’s social care` typed with a curly apostrophe (as a word processor writes it) is not taken for a
    new agency, nor silently for the registered one: refused, the registered spelling offered, nothing written."""
    before = rf.case(REF)
    refused = _cli(url, "action", "add", REF, "--rec", "R1", "--description", "Audit of neglect referrals",
                   "--agency", CURLY, "--due", "2026-03-02", "--owner", "m.patel", "--as", "a.khan",
                   code=1).stderr.strip().splitlines()
    assert refused == ["Error: 'Children’s social care' is not a registered agency: did you mean "
                       "'Children's social care'? (its quote marks, dashes or look-alike characters differ: "
                       "type it as registered)"]
    assert rf.case(REF).revision == before.revision
    with pytest.raises(UnknownAgency, match="did you mean 'Children's social care'"):
        rf.update_action(REF, "A1", "a.khan", agency="Children’s social care")
    with pytest.raises(UnknownAgency, match="did you mean 'Police'"):
        rf.add_user("x.fw", ["action_owner"], None, "Polｉce")  # a full-width letter
    with pytest.raises(UnknownAgency, match="did you mean 'Children's social care'"):
        rf.recommend(REF, "a.khan", "Another", ["neglect"], ["Children‘s social care"])
    assert [a.owner_agency for r in rf.case(REF).recommendations for a in r.actions] == [STRAIGHT]


def test_the_agency_escalation_goes_to_its_own_agencys_lead_only(rf: Reviewflow) -> None:
    """The action's agency is the CSC lead's: at level 2 she alone is told, not every agency's safeguarding
    lead."""
    rf.ctx.clock = SteppingClock(datetime(2026, 3, 3, 9, 0, tzinfo=UTC))  # level 2: due + 20 working days
    Sweeper(rf.ctx).sweep()
    overdue = [o for o in rf.outbox(ref=REF) if o.event == "action_overdue"]
    assert {(o.role, o.recipient) for o in overdue} == {("owner", "m.patel"),
                                                         ("agency_safeguarding_lead", "csc.lead")}
    assert not any(o.recipient == "pc.lead" for o in rf.outbox(ref=REF))


def test_agency_commands_for_administrators(url: str, rf: Reviewflow) -> None:
    listed = _cli(url, "agency", "list").stdout.splitlines()
    assert {"Police", "Health", STRAIGHT, "Education"} <= set(listed)
    assert listed == sorted(listed, key=str.casefold)
    added = _cli(url, "agency", "add", " Fire and\nrescue service ").stdout
    assert added == "registered agency Fire and rescue service\n"
    assert {"name": "Fire and rescue service"} in json.loads(_cli(url, "agency", "list", "--json").stdout)
    duplicate = _cli(url, "agency", "add", "CHILDREN\u2019S SOCIAL CARE", code=6).stderr.strip().splitlines()
    assert duplicate == ["Error: 'CHILDREN'S SOCIAL CARE' is already registered as 'Children's social care': "
                         "see 'reviewflow agency list'"]
    too_long = _cli(url, "agency", "add", "x" * 121, code=1).stderr
    assert "the limit is 120" in too_long
    unknown = _cli(url, "agency", "rename", "Polise", "Constabulary", code=3).stderr
    assert "'Polise' is not a registered agency (nearest: Police)" in unknown
    taken = _cli(url, "agency", "rename", "Police", "health", code=1).stderr
    assert "'health' is already registered as 'Health'" in taken

    token = rf.create_token(Identity("a.khan"), "a.khan", "agency tests", "write").secret
    assert _cli(url, "agency", "list", token=token).stdout.splitlines() == rf.agencies()
    refused = _cli(url, "agency", "add", "Coastguard", code=5, token=token).stderr.strip()
    assert refused == "Error: registering agencies is for administrators; a.khan is not one: ask an administrator"
    _cli(url, "agency", "rename", "Police", "Constabulary", code=5, token=token)
    with pytest.raises(NotPermitted):
        rf.add_agency("Coastguard", by=Identity("a.khan"))
    assert "Coastguard" not in rf.agencies()
    events = [(e.action, e.target, e.actor) for e in rf.admin_events() if e.action.startswith("agency.")]
    assert events == [("agency.add", "Fire and rescue service", ADMIN)]  # refusals record nothing
    assert rf.verify_audit().ok


def test_rename_changes_every_stored_use_and_keeps_the_history(url: str, rf: Reviewflow) -> None:
    history_before = [h.fields for h in rf.case(REF).history]
    renamed = json.loads(_cli(url, "agency", "rename", "children’s social care", "Children's services",
                              "--json").stdout)
    assert renamed == {"name": "Children's services",
                       "changed": {"actions": 1, "users": 2, "cases": 1, "recommendations": 1}}
    assert STRAIGHT not in rf.agencies()
    assert "Children's services" in rf.agencies()
    users = {u.name: u.agency for u in rf.users()}
    assert (users["csc.lead"], users["m.patel"], users["pc.lead"]) == ("Children's services",) * 2 + ("Police",)
    view = rf.case(REF)
    assert [a.owner_agency for r in view.recommendations for a in r.actions] == ["Children's services"]
    assert [sorted(r.agencies) for r in view.recommendations] == [["Children's services", "Police"]]
    assert sorted(view.agencies) == ["Children's services", "Police"]
    assert [h.fields for h in view.history] == history_before  # as written then
    assert [a.number for a in rf.actions(agency="Children's services")] == ["A1"]
    events = [e for e in rf.admin_events() if e.action.startswith("agency.")]
    assert [(e.action, e.target, e.details["from"]) for e in events] == [
        ("agency.rename", "Children's services", STRAIGHT)]
    assert rf.verify_audit().ok
    with pytest.raises(UnknownAgency, match="did you mean .*'Children's services'"):
        rf.add_action(REF, "a.khan", "R1", "x", STRAIGHT, "2026-03-01")


def test_api_lists_the_register_and_refuses_an_unregistered_agency(url: str, rf: Reviewflow) -> None:
    token = rf.create_token(Identity("m.patel"), "m.patel", "agency tests", "read").secret
    client = TestClient(create_app(rf), base_url="http://127.0.0.1")
    answer = client.get("/api/v1/agencies", headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 200, answer.text
    assert [a["name"] for a in answer.json()] == rf.agencies()
    assert {"name": STRAIGHT} in answer.json()
    assert client.get("/api/v1/agencies").status_code == 401

    secret = rf.create_token(Identity("a.khan"), "a.khan", "agency tests", "write").secret
    writer = {"Authorization": f"Bearer {secret}"}
    etag = client.get(f"/api/v1/cases/{REF}", headers=writer).headers["ETag"]
    action = {"recommendation": "R1", "description": "Audit", "agency": "Childrens social care", "due": "2026-06-30"}
    refused = client.post(f"/api/v1/cases/{REF}/actions", json=action, headers={**writer, "If-Match": etag})
    assert refused.status_code == 422, refused.text
    assert refused.json()["detail"].startswith("'Childrens social care' is not a registered agency: did you mean "
                                               "'Children's social care'")
    assert refused.json()["field"] == "agency"
    curly = client.post(f"/api/v1/cases/{REF}/actions", json={**action, "agency": CURLY},
                        headers={**writer, "If-Match": etag})
    assert curly.status_code == 422, curly.text
    assert curly.json()["allowed"] == [STRAIGHT]
    added = client.post(f"/api/v1/cases/{REF}/actions", json={**action, "agency": "children's social care"},
                        headers={**writer, "If-Match": etag})
    assert added.status_code == 201, added.text
    assert [a.owner_agency for a in rf.actions(ref=REF)] == [STRAIGHT, STRAIGHT]


# --- tracker imports ------------------------------------------------------------------------------------

HEADER = ["Ref", "Review type", "Stage", "Date opened", "Notifying agency", "Incident date", "Incident",
          "Recommendation", "Action", "Lead agency", "Action due"]
MAPPING = """\
case:
  ref: Ref
  workflow: {column: Review type, values: {SCR: serious_case_review}}
  stage: Stage
  opened: Date opened
  fields:
    notifying_agency: Notifying agency
    incident_date: Incident date
    incident_type: {column: Incident, values: {Died: child_died}}
recommendation:
  text: Recommendation
action:
  description: Action
  agency: Lead agency
  due: Action due
"""


def _tracker(tmp_path: Path, agencies: list[str], mapping: str = MAPPING) -> tuple[Path, Path]:
    sheet = tmp_path / "tracker.csv"
    with sheet.open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(HEADER)
        for i, agency in enumerate(agencies, 1):
            writer.writerow([f"TR-{i}", "SCR", "Notification", "02/01/2026", "Police", "01/01/2026", "Died",
                             "Share concerns", f"Action {i}", agency, "30/06/2026"])
    (tmp_path / "mapping.yaml").write_text(mapping, "utf-8")
    return sheet, tmp_path / "mapping.yaml"


def test_tracker_spellings_map_to_the_register_or_nothing_is_imported(url: str, rf: Reviewflow,
                                                                      tmp_path: Path) -> None:
    sheet, mapping = _tracker(tmp_path, ["CSC", "Children\u2019s\nsocial care", "Polise"])
    refused = _cli(url, "import", "tracker", str(sheet), "--mapping", str(mapping), "--as", "a.khan", code=1).output
    assert "row 2: TR-1: agency 'CSC' (column 'Lead agency') is not a registered agency: map the tracker's " \
           "spelling under `agencies:` in the mapping" in refused
    assert "row 4: TR-3: agency 'Polise' (column 'Lead agency') is not a registered agency (did you mean " \
           "'Police'?)" in refused
    assert "row 3" not in refused
    assert not any(c.ref.startswith("TR-") for c in rf.cases())

    bad_map = MAPPING + "agencies:\n  CSC: Childrens services\n"
    (tmp_path / "mapping.yaml").write_text(bad_map, "utf-8")
    wrong = _cli(url, "import", "tracker", str(sheet), "--mapping", str(mapping), "--as", "a.khan", code=1).output
    assert "agencies.CSC: 'Childrens services' is not a registered agency" in wrong

    sheet, mapping = _tracker(tmp_path, ["CSC", "Children\u2019s\nsocial care", "police"],
                              MAPPING + "agencies:\n  csc: \"Children\u2019s social care\"\n")
    _cli(url, "import", "tracker", str(sheet), "--mapping", str(mapping), "--as", "a.khan")
    owners = {a.ref: a.owner_agency for a in rf.actions() if a.ref.startswith("TR-")}
    assert owners == {"TR-1": STRAIGHT, "TR-2": STRAIGHT, "TR-3": "Police"}


# --- upgrading a database of free-text agencies ------------------------------------------------------------

def test_upgrade_registers_the_agencies_already_stored(db_url: str) -> None:
    db = Database(db_url)
    try:
        with db.engine.begin() as conn:
            command.upgrade(schema._config(conn), "0005")
        rows = [
            "insert into users (name, email, agency, created_at, is_admin, notify) values "
            "('s.lead', null, :curly, :t, :false, 'immediate')",
            "insert into users (name, email, agency, created_at, is_admin, notify) values "
            "('p.lead', null, 'POLICE', :t, :false, 'immediate')",
            "insert into workflow_definitions (name, version, title, content_hash, source, source_name, loaded_at) "
            "values ('minimal', 1, 'Minimal', 'x', 'x', 'minimal.yaml', :t)",
            "insert into cases (ref, workflow, version, state, is_open, fields, fields_schema, opened_by, opened_at, "
            "entered_at, revision, entry_seq) values ('M-1', 'minimal', 1, 'referral', :true, '{}', 1, 's.lead', "
            ":t, :t, 1, 1)",
            "insert into recommendations (case_id, number, text, themes, agencies, created_by, created_at) values "
            "(1, 'R1', 'r', '[]', :listed, 's.lead', :t)",
            "insert into actions (case_id, recommendation_id, number, description, owner_agency, due_date, "
            "success_measure, status, created_by, created_at, updated_at) values (1, 1, 'A1', 'd', :straight, "
            ":due, '', 'agreed', 's.lead', :t, :t)",
            "insert into actions (case_id, recommendation_id, number, description, owner_agency, due_date, "
            "success_measure, status, created_by, created_at, updated_at) values (1, 1, 'A2', 'd', "
            "'Youth  offending\nteam', :due, '', 'agreed', 's.lead', :t, :t)",
            "insert into case_agencies (case_id, agency_key, name) values (1, :curly_key, :curly)",
            "insert into case_agencies (case_id, agency_key, name) values (1, 'police', 'POLICE')",
        ]
        values = {"t": T0.replace(tzinfo=None), "due": datetime(2026, 3, 1).date(), "true": True, "false": False,
                  "curly": CURLY, "straight": STRAIGHT, "curly_key": "children\u2019s social care",
                  "listed": json.dumps([CURLY, "Youth offending team", "police"])}
        with db.engine.begin() as conn:
            for statement in rows:
                conn.execute(text(statement), values)
        assert schema.upgrade(db.engine) == ("0005", schema.head())
        with db.engine.connect() as conn:
            registered = [n for (n,) in conn.execute(text("select name from agencies"))]
            users = dict(conn.execute(text("select name, agency from users")).all())
            actions = dict(conn.execute(text("select number, owner_agency from actions")).all())
            taking_part = sorted(conn.execute(text("select agency_key, name from case_agencies")).all())
            listed = conn.execute(text("select agencies from recommendations")).scalar()
        assert set(SEED) <= set(registered)
        assert len(registered) == len(SEED) + 1
        assert "Youth offending team" in registered
        assert users == {"s.lead": STRAIGHT, "p.lead": "Police"}
        assert actions == {"A1": STRAIGHT, "A2": "Youth offending team"}
        assert taking_part == [("children's social care", STRAIGHT), ("police", "Police")]
        assert (json.loads(listed) if isinstance(listed, str) else listed) == [
            STRAIGHT, "Youth offending team", "Police"]
    finally:
        db.dispose()
