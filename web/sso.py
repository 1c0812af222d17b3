"""Single sign-on with OpenID Connect: the authorization-code flow with PKCE, a nonce, and the ID token's
signature and claims checked against the provider's published keys (authlib).

The provider's verified answer is mapped to a registered user by the services; it never creates users
or grants roles. The flow's state, nonce and PKCE verifier wait in a short-lived HttpOnly cookie, so any
`serve` worker can finish a sign-in another started.
"""

from __future__ import annotations

import json
import secrets
from typing import Any

import httpx
from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from reviewflow.engine.core.errors import NotSignedIn
from reviewflow.engine.services.facade import Reviewflow
from reviewflow.engine.services.settings import OidcSettings
from reviewflow.web.security import client_address, set_session_cookie

router = APIRouter(prefix="/auth", include_in_schema=False)
FLOW_COOKIE = "rf_sso"
_DISCOVERY: dict[str, dict[str, Any]] = {}


def _settings(request: Request) -> tuple[Reviewflow, OidcSettings]:
    rf: Reviewflow = request.app.state.reviewflow
    if rf.settings.oidc is None:
        raise NotSignedIn("single sign-on is not configured: sign in with your name and password")
    return rf, rf.settings.oidc


def _metadata(oidc: OidcSettings) -> dict[str, Any]:
    """The provider's published configuration (read once per process)."""
    if oidc.issuer not in _DISCOVERY:
        url = oidc.issuer.rstrip("/") + "/.well-known/openid-configuration"
        try:
            answer = httpx.get(url, timeout=10.0, follow_redirects=False)
            answer.raise_for_status()
            _DISCOVERY[oidc.issuer] = answer.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise NotSignedIn(f"your organisation's sign-in service cannot be reached ({exc.__class__.__name__}): "
                              "try again later, or sign in with your name and password") from None
    return _DISCOVERY[oidc.issuer]


def _client(oidc: OidcSettings, redirect_uri: str) -> Any:
    from authlib.integrations.httpx_client import OAuth2Client

    return OAuth2Client(oidc.client_id, oidc.client_secret, scope=oidc.scopes, redirect_uri=redirect_uri,
                        code_challenge_method="S256", timeout=10.0)


def _redirect_uri(request: Request, rf: Reviewflow) -> str:
    base = rf.settings.web.base_url or str(request.base_url).rstrip("/")
    return base.rstrip("/") + "/auth/sso/callback"


@router.get("/sso")
def start(request: Request) -> Response:
    """Send the browser to the identity provider."""
    rf, oidc = _settings(request)
    meta = _metadata(oidc)
    verifier, nonce = secrets.token_urlsafe(48), secrets.token_urlsafe(24)
    client = _client(oidc, _redirect_uri(request, rf))
    url, state = client.create_authorization_url(meta["authorization_endpoint"], nonce=nonce, code_verifier=verifier)
    response = RedirectResponse(url, status_code=303)
    response.set_cookie(FLOW_COOKIE, json.dumps({"state": state, "nonce": nonce, "verifier": verifier}),
                        max_age=600, httponly=True, secure=request.app.state.secure_cookies, samesite="lax",
                        path="/auth")
    return response


@router.get("/sso/callback")
def callback(request: Request, state: str = "", code: str = "", error: str = "") -> Response:
    """The provider's answer: check it, map it to a registered user, start their session."""
    rf, oidc = _settings(request)
    try:
        flow = json.loads(request.cookies.get(FLOW_COOKIE) or "{}")
    except ValueError:
        flow = {}
    if error or not code or not flow or not secrets.compare_digest(str(flow.get("state", "")), state):
        raise NotSignedIn("the sign-in with your organisation did not complete: start again")
    claims = _claims(request, rf, oidc, code, flow)
    signed = rf.sign_in_sso(claims, client_address(request))
    response = RedirectResponse("/", status_code=303)
    response.delete_cookie(FLOW_COOKIE, path="/auth")
    set_session_cookie(response, signed.token, int((signed.expires_at - rf.clock()).total_seconds()),
                       request.app.state.secure_cookies)
    return response


def _claims(request: Request, rf: Reviewflow, oidc: OidcSettings, code: str, flow: dict[str, Any]) -> dict[str, Any]:
    """The ID token's claims, after checking its signature, issuer, audience, expiry and nonce (joserfc)."""
    from joserfc import jwt
    from joserfc.errors import JoseError
    from joserfc.jwk import KeySet

    meta = _metadata(oidc)
    client = _client(oidc, _redirect_uri(request, rf))
    try:
        token = client.fetch_token(meta["token_endpoint"], code=code, code_verifier=flow["verifier"])
        keys = KeySet.import_key_set(httpx.get(meta["jwks_uri"], timeout=10.0).json())
        decoded = jwt.decode(token["id_token"], keys, algorithms=["RS256", "ES256", "PS256"])
        rules = jwt.JWTClaimsRegistry(
            now=int(rf.clock().timestamp()), leeway=60,
            iss={"essential": True, "value": meta.get("issuer", oidc.issuer)},
            aud={"essential": True, "value": oidc.client_id}, sub={"essential": True},
            exp={"essential": True}, nonce={"essential": True, "value": flow["nonce"]})
        rules.validate(decoded.claims)
    except (JoseError, KeyError, ValueError, httpx.HTTPError) as exc:
        raise NotSignedIn(f"your organisation's sign-in answer could not be checked ({exc.__class__.__name__}): "
                          "start again, or ask an administrator") from None
    return dict(decoded.claims)
