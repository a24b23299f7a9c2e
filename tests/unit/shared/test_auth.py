"""R-15.5: short-lived signed tokens name the user and role; services trust nothing else."""

from __future__ import annotations

import time

import httpx
import jwt
import pytest
from fastapi import APIRouter, Request

from shared.auth import (
    PORTAL_ISSUER,
    SERVICE_ROLE,
    AuthError,
    TokenIssuer,
    acting_user,
    ensure_keys,
    roles,
    verify_token,
)
from shared.config import Settings
from shared.service import ServiceDefinition, create_app
from shared.staff import Role


@pytest.fixture
def keys(tmp_path):
    ensure_keys(tmp_path, [PORTAL_ISSUER, "intake", "archive"])
    return tmp_path


def test_a_portal_token_names_the_user_and_role(keys):
    token = TokenIssuer(keys, PORTAL_ISSUER).mint("chutich", "chairman", "Lê Văn Thành")
    principal = verify_token(token, keys)
    assert (principal.user, principal.role, principal.name, principal.issuer) == ("chutich", "chairman", "Lê Văn Thành", "portal")


def test_a_service_token_names_only_that_service(keys):
    principal = verify_token(TokenIssuer(keys, "intake").service_token(), keys)
    assert principal.is_service and principal.user == "intake"
    with pytest.raises(AuthError):
        TokenIssuer(keys, "intake").mint("chutich", "chairman")  # a service cannot name a user
    forged = jwt.encode({"iss": "intake", "sub": "archive", "role": SERVICE_ROLE, "aud": "vanthu",
                         "iat": int(time.time()), "exp": int(time.time()) + 60},
                        _key(keys, "intake"), algorithm="EdDSA")
    with pytest.raises(AuthError, match="issued by that service"):
        verify_token(forged, keys)
    as_user = jwt.encode({"iss": "intake", "sub": "chutich", "role": "chairman", "aud": "vanthu",
                          "iat": int(time.time()), "exp": int(time.time()) + 60},
                         _key(keys, "intake"), algorithm="EdDSA")
    with pytest.raises(AuthError, match="may not issue user tokens"):
        verify_token(as_user, keys)


def test_expired_tampered_unknown_and_unsigned_tokens_are_refused(keys, tmp_path_factory):
    expired = TokenIssuer(keys, PORTAL_ISSUER, ttl_seconds=-60).mint("vanthu", "clerk")
    with pytest.raises(AuthError, match="expired"):
        verify_token(expired, keys)
    good = TokenIssuer(keys, PORTAL_ISSUER).mint("vanthu", "clerk")
    head, body, sig = good.split(".")
    with pytest.raises(AuthError):
        verify_token(f"{head}.{body}.{sig[:-4]}AAAA", keys)
    other = tmp_path_factory.mktemp("other")
    ensure_keys(other, [PORTAL_ISSUER])
    with pytest.raises(AuthError):  # signed by another portal key
        verify_token(TokenIssuer(other, PORTAL_ISSUER).mint("vanthu", "clerk"), keys)
    unsigned = jwt.encode({"iss": "portal", "sub": "vanthu", "role": "clerk", "aud": "vanthu",
                           "iat": int(time.time()), "exp": int(time.time()) + 60}, "x", algorithm="HS256")
    with pytest.raises(AuthError, match="algorithm"):
        verify_token(unsigned, keys)
    with pytest.raises(AuthError, match="unknown role"):
        verify_token(TokenIssuer(keys, PORTAL_ISSUER).mint("x", "superuser"), keys)


def _key(keys, issuer):
    from cryptography.hazmat.primitives import serialization

    return serialization.load_pem_private_key((keys / f"{issuer}.key").read_bytes(), password=None)


def _app(keys, access, routes):
    router = APIRouter()
    for method, path, fn in routes:
        router.add_api_route(path, fn, methods=[method])
    return create_app(ServiceDefinition(name="intake", routers=[router], access=access),
                      Settings(auth_keys_dir=keys))


def test_a_service_with_a_route_without_an_access_rule_refuses_to_start(keys):
    async def hidden():
        return {}

    with pytest.raises(RuntimeError, match="GET /hidden"):
        _app(keys, {}, [("GET", "/hidden", hidden)])


async def test_routes_answer_401_without_a_token_403_for_a_wrong_role_and_only_as_oneself(keys):


    async def assign(request: Request, by: str | None = None):
        return {"by": acting_user(request, by)}

    app = _app(keys, {("POST", "/assign"): roles(Role.CHAIRMAN)}, [("POST", "/assign", assign)])
    issuer = TokenIssuer(keys, PORTAL_ISSUER)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        assert (await client.post("/assign")).status_code == 401
        assert (await client.post("/assign", headers={"Authorization": "Bearer nonsense"})).status_code == 401
        clerk = await client.post("/assign", headers=issuer.headers("vanthu", "clerk"))
        assert clerk.status_code == 403 and "clerk" in clerk.json()["detail"]
        chairman = issuer.headers("chutich", "chairman")
        assert (await client.post("/assign", headers=chairman)).json() == {"by": "chutich"}
        assert (await client.post("/assign?by=chutich", headers=chairman)).status_code == 200
        other = await client.post("/assign?by=phochutich", headers=chairman)
        assert other.status_code == 403 and "thay người khác" in other.json()["detail"]
        service = {"Authorization": f"Bearer {TokenIssuer(keys, 'archive').service_token()}"}
        assert (await client.post("/assign", headers=service)).status_code == 403
        assert (await client.get("/healthz")).status_code == 200  # health stays open for probes
        blob = await client.get("/blobs/" + "0" * 64, headers=issuer.headers("chutich", "chairman"))
        assert blob.status_code == 403  # blobs by hash are for services only
