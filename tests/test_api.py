"""The HTTP API through a real `reviewflow serve` process on 127.0.0.1, on SQLite and PostgreSQL: sign-in,
tokens, who may see and do what, stale writes, throttling, and single sign-on against a real provider."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from reviewflow.engine.core.access import Identity
from reviewflow.engine.core.clock import SteppingClock
from reviewflow.engine.services.facade import Reviewflow
from reviewflow.store.db import Database

from tests.conftest import FIXTURES, pg_url_or_skip
from tests.oidc_provider import OidcProvider
from tests.served import Browser, serving

PASSWORD = "correct horse battery staple"
SECRET = "grandmother's address is 12 Acacia Avenue"
"""A sensitive field's value: it must never reach anyone without the role to see it."""


@dataclass
class World:
    url: str
    base: str
    tokens: dict[str, str]


def _build(url: str) -> dict[str, str]:
    """Users (with passwords and tokens) and cases: a Health case and a Police case with a Police action."""
    rf = Reviewflow(Database(url), SteppingClock(datetime.now(UTC) - timedelta(days=3)))
    try:
        rf.init([FIXTURES / "agency_review.yaml"])
        rf.first_admin("ada", None, "ada@example.org")
        for name, roles, agency in [("bm", ["business_manager"], None), ("chair", ["subgroup_chair"], None),
                                    ("pc.jones", ["action_owner"], "Police"), ("hv.smith", ["action_owner"], "Health")]:
            rf.add_user(name, roles, f"{name}@example.org", agency)
        for name in ("ada", "bm", "chair", "pc.jones", "hv.smith"):
            rf.set_password(None, name, PASSWORD)
        rf.open_case("agency_review", "HEALTH-1", "bm", {"notifying_agency": "Health", "family_context": SECRET})
        rf.open_case("agency_review", "POLICE-1", "bm", {"notifying_agency": "Police", "family_context": SECRET})
        rf.recommend("POLICE-1", "bm", "Share concerns at once", ["information sharing"], ["Police"])
        due = (datetime.now(UTC) + timedelta(days=30)).date().isoformat()
        rf.add_action("POLICE-1", "bm", "R1", "Same-day referrals", "Police", due, "pc.jones")
        tokens = {name: rf.create_token(Identity(name), name, "api tests", "write").secret
                  for name in ("ada", "bm", "chair", "pc.jones", "hv.smith")}
        tokens["bm-read"] = rf.create_token(Identity("bm"), "bm", "reports", "read").secret
        return tokens
    finally:
        rf.db.dispose()


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def world(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    url = f"sqlite:///{tmp_path_factory.mktemp('api') / 'api.db'}" if request.param == "sqlite" else pg_url_or_skip()
    tokens = _build(url)
    with serving(url) as base:
        yield World(url, base, tokens)


def _as(world: World, name: str) -> Browser:
    return Browser(world.base, world.tokens[name])


def _problem(answer: httpx.Response, status: int) -> dict:
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    body = answer.json()
    assert body["status"] == status
    assert body["detail"]
    assert "\n" not in body["detail"]
    assert "Traceback" not in answer.text
    return body


def test_without_credentials_every_endpoint_says_sign_in(world: World) -> None:
    anonymous = Browser(world.base)
    for path in ("/api/v1/me", "/api/v1/cases", "/api/v1/cases/POLICE-1", "/api/v1/me/work", "/api/v1/actions"):
        body = _problem(anonymous.get(path), 401)
        assert body["title"] == "Not signed in"
    assert anonymous.get("/api/v1/me").headers["WWW-Authenticate"].startswith("Bearer")
    _problem(Browser(world.base, "rf_not-a-real-token").get("/api/v1/me"), 401)


def test_a_case_outside_the_view_is_not_found_not_forbidden(world: World) -> None:
    police = _as(world, "pc.jones")
    refs = [c["ref"] for c in police.get("/api/v1/cases").json()["items"]]
    assert refs == ["POLICE-1"]
    missing = _problem(police.get("/api/v1/cases/HEALTH-1"), 404)
    never = _problem(police.get("/api/v1/cases/NO-SUCH-CASE"), 404)
    assert missing["title"] == never["title"] == "Not found"
    assert missing["detail"] == "no case with reference 'HEALTH-1': check it with 'reviewflow case list'"
    _problem(police.post("/api/v1/cases/HEALTH-1/pause", json={"reason": "x"}, headers={"If-Match": '"r1"'}), 404)
    assert {c["ref"] for c in _as(world, "bm").get("/api/v1/cases").json()["items"]} == {"HEALTH-1", "POLICE-1"}


def test_the_wrong_role_is_forbidden_with_the_roles_it_needs(world: World) -> None:
    police = _as(world, "pc.jones")
    answer = police.write("POST", "POLICE-1", "/api/v1/cases/POLICE-1/fire", {"trigger": "accept",
                                                                               "fields": {"decision": "yes"}})
    body = _problem(answer, 403)
    assert body["allowed"] == ["subgroup_chair"]
    assert body["trigger"] == "accept"
    read_only = _as(world, "bm-read")
    assert read_only.get("/api/v1/cases/POLICE-1").status_code == 200
    _problem(read_only.write("POST", "POLICE-1", "/api/v1/cases/POLICE-1/pause", {"reason": "inquest"}), 403)


def test_a_stale_revision_is_refused_and_nothing_is_written(world: World) -> None:
    chair = _as(world, "chair")
    read = chair.get("/api/v1/cases/POLICE-1")
    tag = read.headers["ETag"]
    revision = read.json()["revision"]
    bm = _as(world, "bm")
    assert bm.write("POST", "POLICE-1", "/api/v1/cases/POLICE-1/recommendations",
                    {"text": "Review the threshold guidance"}).status_code == 201
    stale = chair.post("/api/v1/cases/POLICE-1/fire", json={"trigger": "accept", "fields": {"decision": "yes"}},
                       headers={"If-Match": tag})
    body = _problem(stale, 412)
    assert f"you had {revision}" in body["detail"]
    assert chair.get("/api/v1/cases/POLICE-1").json()["state"] == "referral"
    _problem(chair.post("/api/v1/cases/POLICE-1/fire", json={"trigger": "accept", "fields": {"decision": "yes"}}),
             400)


def test_a_minimal_answer_gives_the_new_etag_for_the_next_change(world: World) -> None:
    """`Prefer: return=minimal` answers a move with 204 and the new ETag, which the next change can carry."""
    fields = {"notifying_agency": "Health", "family_context": "f"}
    opened = _as(world, "bm").post("/api/v1/cases", json={"workflow": "agency_review", "ref": "MINIMAL-1",
                                                          "fields": fields})
    assert opened.status_code == 201, opened.text
    chair = _as(world, "chair")
    read = chair.get("/api/v1/cases/MINIMAL-1")
    moved = chair.post("/api/v1/cases/MINIMAL-1/fire", json={"trigger": "accept", "fields": {"decision": "yes"}},
                       headers={"If-Match": read.headers["ETag"], "Prefer": "return=minimal"})
    assert moved.status_code == 204, moved.text
    assert moved.content == b""
    assert moved.headers["Preference-Applied"] == "return=minimal"
    after = chair.get("/api/v1/cases/MINIMAL-1")
    assert moved.headers["ETag"] == after.headers["ETag"] != read.headers["ETag"]
    assert after.json()["history"][-1]["trigger"] == "accept"


def test_sensitive_values_reach_only_the_roles_allowed(world: World) -> None:
    police = _as(world, "pc.jones")
    seen = [police.get(p) for p in ("/api/v1/cases/POLICE-1", "/api/v1/cases", "/api/v1/me/work",
                                    "/api/v1/actions", "/api/v1/reports/board")]
    assert all(a.status_code == 200 for a in seen)
    for answer in seen:
        assert SECRET not in answer.text
        assert "Acacia" not in answer.text
    assert police.get("/api/v1/cases/POLICE-1").json()["fields"]["family_context"] == "[withheld]"
    assert _as(world, "bm").get("/api/v1/cases/POLICE-1").json()["fields"]["family_context"] == SECRET


def test_my_work_lists_what_waits_on_the_person(world: World) -> None:
    work = _as(world, "pc.jones").get("/api/v1/me/work").json()
    assert [(a["ref"], a["number"]) for a in work["actions"]] == [("POLICE-1", "A1")]
    assert work["stages"] == []
    bm = _as(world, "bm").get("/api/v1/me/work").json()
    assert {s["ref"] for s in bm["stages"]} >= {"HEALTH-1"}
    assert bm["actions"] == []


def test_a_session_needs_its_csrf_token_and_ends_at_sign_out(world: World) -> None:
    browser = Browser(world.base)
    assert browser.sign_in("chair", PASSWORD).status_code == 200
    signed = browser.client.post("/api/v1/session", json={"name": "chair", "password": PASSWORD})
    cookie = signed.headers["set-cookie"]
    assert "HttpOnly" in cookie
    assert "Secure" in cookie
    assert "samesite=lax" in cookie.lower()
    assert browser.get("/api/v1/me").json()["name"] == "chair"
    tag = browser.get("/api/v1/cases/HEALTH-1").headers["ETag"]
    forged = browser.request("POST", "/api/v1/cases/HEALTH-1/pause", csrf=False, json={"reason": "inquest"},
                             headers={"If-Match": tag})
    assert "security token" in _problem(forged, 403)["detail"]
    assert browser.get("/api/v1/cases/HEALTH-1").json()["paused"] is False
    assert browser.request("DELETE", "/api/v1/session").status_code == 204
    _problem(browser.get("/api/v1/me"), 401)


def test_repeated_bad_passwords_lock_the_account_for_a_while(world: World) -> None:
    browser = Browser(world.base)
    for _ in range(5):
        _problem(browser.sign_in("hv.smith", "not the password at all"), 401)
    locked = _problem(browser.sign_in("hv.smith", PASSWORD), 429)
    assert "try again in" in locked["detail"]
    assert int(browser.sign_in("hv.smith", PASSWORD).headers["Retry-After"]) > 0
    assert browser.sign_in("chair", PASSWORD).status_code == 200


def test_a_disabled_user_stops_at_once_session_and_token(world: World) -> None:
    session = Browser(world.base)
    assert session.sign_in("bm", PASSWORD).status_code == 200
    token = _as(world, "bm")
    assert session.get("/api/v1/me").status_code == token.get("/api/v1/me").status_code == 200
    admin = _as(world, "ada")
    changed = admin.request("PATCH", "/api/v1/users/bm", json={"disabled": True})
    assert changed.status_code == 200
    assert changed.json()["disabled_at"]
    _problem(session.get("/api/v1/me"), 401)
    _problem(token.get("/api/v1/me"), 401)
    _problem(Browser(world.base).sign_in("bm", PASSWORD), 401)
    assert admin.request("PATCH", "/api/v1/users/bm", json={"disabled": False}).status_code == 200
    _problem(token.get("/api/v1/me"), 401)  # its tokens were revoked, not suspended
    _problem(_as(world, "chair").request("PATCH", "/api/v1/users/hv.smith", json={"disabled": True}), 403)


def test_problem_details_are_the_command_lines_words(world: World) -> None:
    chair = _as(world, "chair")
    body = _problem(chair.write("POST", "HEALTH-1", "/api/v1/cases/HEALTH-1/fire", {"trigger": "publish"}), 422)
    assert body["detail"] == "agency_review has no trigger `publish`; possible from `referral`: accept"
    assert (body["ref"], body["state"], body["trigger"], body["allowed"]) == ("HEALTH-1", "referral", "publish",
                                                                              ["accept"])


# --- single sign-on -------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def provider() -> Iterator[OidcProvider]:
    found = OidcProvider()
    yield found
    found.stop()


def test_single_sign_on_maps_a_verified_email_to_a_registered_user(provider: OidcProvider, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'sso.db'}"
    _build(url)
    config = tmp_path / "reviewflow.toml"
    config.write_text(f'[oidc]\nissuer = "{provider.issuer}"\nclient_id = "{provider.client_id}"\n'
                      'client_secret_env = "SSO_SECRET"\n', "utf-8")
    with serving(url, config=config, env={"SSO_SECRET": provider.client_secret}) as base:
        provider.user = {"sub": "council-0042", "email": "CHAIR@example.org", "email_verified": True}
        browser = httpx.Client(base_url=base, follow_redirects=False, timeout=30)
        start = browser.get("/auth/sso")
        assert start.status_code == 303
        assert start.headers["location"].startswith(provider.issuer)
        back = httpx.get(start.headers["location"], follow_redirects=False)
        flow = start.headers["set-cookie"].split(";", 1)[0]
        done = browser.get(back.headers["location"].removeprefix(base), headers={"Cookie": flow})
        assert done.status_code == 303, done.text
        session = next(c.split(";", 1)[0] for c in done.headers.get_list("set-cookie") if c.startswith("rf_session="))
        me = browser.get("/api/v1/me", headers={"Cookie": session})
        assert me.json()["name"] == "chair"

        provider.user = {"sub": "council-0099", "email": "stranger@example.org", "email_verified": True}
        start = browser.get("/auth/sso")
        back = httpx.get(start.headers["location"], follow_redirects=False)
        refused = browser.get(back.headers["location"].removeprefix(base),
                              headers={"Cookie": start.headers["set-cookie"].split(";", 1)[0]})
        assert refused.status_code == 401
        assert "no active reviewflow account matches" in refused.json()["detail"]

        provider.user = {"sub": "council-0100", "email": "bm@example.org", "email_verified": False}
        start = browser.get("/auth/sso")
        back = httpx.get(start.headers["location"], follow_redirects=False)
        unverified = browser.get(back.headers["location"].removeprefix(base),
                                 headers={"Cookie": start.headers["set-cookie"].split(";", 1)[0]})
        assert unverified.status_code == 401
        assert "verified" in unverified.json()["detail"]

        forged = browser.get("/auth/sso/callback?code=abc&state=evil", headers={"Cookie": flow})
        assert forged.status_code == 401


def test_the_served_openapi_document_is_the_one_in_docs(world: World) -> None:
    served = httpx.get(f"{world.base}/api/v1/openapi.json").json()
    kept = json.loads((Path(__file__).resolve().parent.parent / "docs" / "openapi.json").read_text("utf-8"))
    assert served == kept, "run: python -m reviewflow.web.openapi > docs/openapi.json"
