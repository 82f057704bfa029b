"""Supabase logins on Edgewise's API: tokens minted with real key types and claim shapes."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa

import integrations.supabase as supabase_integration
from core.auth import Role
from core.http.ban import LoginGuard
from core.http.view import GUARD
from core.runtime import Runtime
from integrations.supabase import SUPABASE
from integrations.supabase.double import SupabaseDouble
from tests.core.http.conftest import HTTP_CONFIG, ApiTestIntegration, start_api

SUB = "8d0fd2b3-9ca5-4a2e-9c8d-3f1f9e1a2b3c"


@dataclass
class Project:
    """The running Edgewise, the Supabase double and the project's signing keys."""

    runtime: Runtime
    double: SupabaseDouble
    url: str
    session: aiohttp.ClientSession
    ec_key: ec.EllipticCurvePrivateKey
    rsa_key: rsa.RSAPrivateKey

    def claims(self, **extra: Any) -> dict[str, Any]:
        """A Supabase access token's claims for ``SUB``."""
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": self.double.issuer,
            "aud": "authenticated",
            "exp": now + 3600,
            "iat": now,
            "sub": SUB,
            "email": "ops@example.com",
            "phone": "",
            "role": "authenticated",
            "aal": "aal1",
            "session_id": "5c7e0c1e-0000-4000-8000-000000000001",
            "is_anonymous": False,
            "app_metadata": {"provider": "email", "providers": ["email"]},
            "user_metadata": {},
        }
        claims.update(extra)
        return claims

    async def get(self, path: str, token: str) -> int:
        """The status of an authenticated GET."""
        headers = {"Authorization": f"Bearer {token}"}
        async with self.session.get(self.url + path, headers=headers) as response:
            return response.status

    async def call(self, token: str) -> int:
        """The status of an operator's service call."""
        headers = {"Authorization": f"Bearer {token}"}
        async with self.session.post(
            self.url + "/api/services/light/turn_on",
            headers=headers,
            json={"entity_id": "light.kitchen"},
        ) as response:
            return response.status


def _jwk(public: Any, kid: str, alg: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(jwt.algorithms.get_default_algorithms()[alg].to_jwk(public))
    data.update({"kid": kid, "alg": alg, "use": "sig"})
    return data


@pytest.fixture
async def project(tmp_path: Path, double: SupabaseDouble) -> AsyncIterator[Project]:
    """Edgewise accepting the double's project tokens (HS256 secret and its JWKS)."""
    ec_key = ec.generate_private_key(ec.SECP256R1())
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    double.jwks = {"keys": [_jwk(ec_key.public_key(), "ec-1", "ES256")]}
    (tmp_path / "configuration.yaml").write_text(
        HTTP_CONFIG
        + f"""
supabase:
  url: {double.url}
  anon_key: {double.anon_key}
  auth:
    issuer: {double.issuer}
    jwt_secret: {double.jwt_secret}
    role_claim: app_metadata.role
    create_users: true
"""
    )
    runtime, _ = await start_api(tmp_path, ApiTestIntegration(), supabase_integration)
    assert runtime.http is not None
    session = aiohttp.ClientSession()
    yield Project(
        runtime, double, f"http://127.0.0.1:{runtime.http.port}", session, ec_key, rsa_key
    )
    await session.close()
    await runtime.stop()


async def test_hs256_token_logs_in_as_viewer_and_creates_the_user(project: Project) -> None:
    token = jwt.encode(project.claims(), project.double.jwt_secret)
    assert await project.get("/api/states", token) == 200
    assert await project.call(token) == 403
    assert project.runtime.http is not None
    user = project.runtime.http.auth.data.user_by_username(f"supabase:{SUB}")
    assert user is not None
    assert user.name == "ops@example.com"


async def test_role_comes_from_the_configured_claim(project: Project) -> None:
    operator = project.claims(app_metadata={"role": "operator"})
    assert await project.call(jwt.encode(operator, project.double.jwt_secret)) == 200
    bogus = project.claims(app_metadata={"role": "superuser"})
    assert await project.call(jwt.encode(bogus, project.double.jwt_secret)) == 403


async def test_es256_and_rs256_keys_come_from_the_jwks_and_an_unknown_kid_refetches(
    project: Project,
) -> None:
    es = jwt.encode(project.claims(), project.ec_key, "ES256", headers={"kid": "ec-1"})
    assert await project.get("/api/states", es) == 200
    assert await project.get("/api/states", es) == 200
    assert project.double.jwks_requests == 1, "the key set is cached"
    # The project rotates to an RSA key: the new kid makes Edgewise read the JWKS again
    # (once the refetch interval has passed, here at once).
    verifier = project.runtime.data[SUPABASE].verifier
    assert verifier is not None
    verifier.min_refetch = 0
    project.double.jwks["keys"].append(_jwk(project.rsa_key.public_key(), "rsa-2", "RS256"))
    rs = jwt.encode(project.claims(), project.rsa_key, "RS256", headers={"kid": "rsa-2"})
    assert await project.get("/api/states", rs) == 200
    assert project.double.jwks_requests == 2
    # A kid nobody published: refused, and not fetched again within the refetch interval.
    verifier.min_refetch = 30
    other = ec.generate_private_key(ec.SECP256R1())
    forged = jwt.encode(project.claims(), other, "ES256", headers={"kid": "ec-9"})
    assert await project.get("/api/states", forged) == 401
    assert await project.get("/api/states", forged) == 401
    assert project.double.jwks_requests == 2
    # A known kid with the wrong key: refused.
    wrong = jwt.encode(project.claims(), other, "ES256", headers={"kid": "ec-1"})
    assert await project.get("/api/states", wrong) == 401


@pytest.mark.parametrize(
    "change",
    [
        # Times are made when the test runs, not when it is collected: a suite that runs for
        # longer than ten minutes would otherwise reach the "not yet valid" token's nbf.
        lambda now: {"exp": now - 10},
        lambda now: {"aud": "anon"},
        lambda now: {"iss": "https://someone-else.supabase.co/auth/v1"},
        lambda now: {"nbf": now + 600},
        lambda now: {"sub": None},
    ],
    ids=["expired", "wrong-audience", "wrong-issuer", "not-yet-valid", "no-sub"],
)
async def test_invalid_tokens_are_refused(
    project: Project, change: Callable[[int], dict[str, Any]]
) -> None:
    claims = {k: v for k, v in project.claims(**change(int(time.time()))).items() if v is not None}
    assert await project.get("/api/states", jwt.encode(claims, project.double.jwt_secret)) == 401


async def test_the_anon_and_service_keys_and_foreign_secrets_do_not_log_in(
    project: Project,
) -> None:
    assert await project.get("/api/states", project.double.anon_key) == 401
    assert await project.get("/api/states", project.double.service_key) == 401
    forged = jwt.encode(project.claims(), "another-project-secret-0123456789")
    assert await project.get("/api/states", forged) == 401
    none_alg = jwt.encode(project.claims(), None, algorithm="none")  # type: ignore[arg-type]
    assert await project.get("/api/states", none_alg) == 401


async def test_a_supabase_token_opens_the_websocket_api(project: Project) -> None:
    token = jwt.encode(project.claims(), project.double.jwt_secret)
    url = project.url.replace("http://", "ws://") + "/api/websocket"
    async with project.session.ws_connect(url) as ws:
        assert (await ws.receive_json())["type"] == "auth_required"
        await ws.send_json({"type": "auth", "access_token": token})
        assert (await ws.receive_json())["type"] == "auth_ok"


async def test_the_verifier_is_removed_when_the_integration_stops(project: Project) -> None:
    token = jwt.encode(project.claims(), project.double.jwt_secret)
    assert await project.get("/api/states", token) == 200
    await project.runtime.data[SUPABASE].stop()
    assert await project.get("/api/states", token) == 401


async def test_without_create_users_an_unknown_sub_is_refused(
    tmp_path: Path, double: SupabaseDouble
) -> None:
    (tmp_path / "configuration.yaml").write_text(
        HTTP_CONFIG
        + f"""
supabase:
  url: {double.url}
  anon_key: {double.anon_key}
  auth:
    issuer: {double.issuer}
    jwt_secret: {double.jwt_secret}
    users:
      {SUB}: viewer-user
"""
    )
    runtime, _ = await start_api(tmp_path, ApiTestIntegration(), supabase_integration)
    assert runtime.http is not None
    url = f"http://127.0.0.1:{runtime.http.port}/api/states"
    now = int(time.time())
    base = {"iss": double.issuer, "aud": "authenticated", "exp": now + 60, "iat": now}
    try:
        async with aiohttp.ClientSession() as session:
            for sub, expected in ((SUB, 200), ("someone-else", 401)):
                token = jwt.encode({**base, "sub": sub}, double.jwt_secret)
                headers = {"Authorization": f"Bearer {token}"}
                async with session.get(url, headers=headers) as response:
                    assert response.status == expected, sub
        assert runtime.http.auth.data.user_by_username("supabase:someone-else") is None
        assert Role.VIEWER.value == "viewer"
    finally:
        await runtime.stop()


async def test_a_remembered_token_stops_working_when_it_expires(project: Project) -> None:
    verifier = project.runtime.data[SUPABASE].verifier
    assert verifier is not None
    expires = int(time.time()) + 3
    token = jwt.encode(project.claims(exp=expires), project.double.jwt_secret)
    assert await project.get("/api/states", token) == 200
    assert await verifier.verify(token) is not None
    # The real clock must pass the token's exp: nothing to await but time itself.
    await asyncio.sleep(max(0.0, expires - time.time()) + 0.05)
    assert await verifier.verify(token) is None
    assert await project.get("/api/states", token) == 401


async def test_areas_come_from_the_configured_claim(tmp_path: Path, double: SupabaseDouble) -> None:
    (tmp_path / "configuration.yaml").write_text(
        HTTP_CONFIG
        + f"""
supabase:
  url: {double.url}
  anon_key: {double.anon_key}
  auth:
    issuer: {double.issuer}
    jwt_secret: {double.jwt_secret}
    role_claim: app_metadata.role
    areas_claim: app_metadata.buildings
    create_users: true
"""
    )
    runtime, _ = await start_api(tmp_path, ApiTestIntegration(), supabase_integration)
    assert runtime.http is not None
    area = runtime.area_registry.create("Building A")
    runtime.states.remove("light.kitchen")
    entry = runtime.entity_registry.get_or_create(
        "light", "apitest", "kitchen", suggested_object_id="kitchen"
    )
    runtime.entity_registry.update(entry.entity_id, area_id=area.id)
    runtime.states.set("light.kitchen", "off")
    url = f"http://127.0.0.1:{runtime.http.port}"
    now = int(time.time())
    base = {"iss": double.issuer, "aud": "authenticated", "exp": now + 60, "sub": SUB}

    async def visible(session: aiohttp.ClientSession, metadata: dict[str, Any]) -> list[str]:
        token = jwt.encode({**base, "app_metadata": metadata}, double.jwt_secret)
        headers = {"Authorization": f"Bearer {token}"}
        async with session.get(url + "/api/states", headers=headers) as response:
            assert response.status == 200
            return [s["entity_id"] for s in await response.json()]

    try:
        async with aiohttp.ClientSession() as session:
            assert await visible(session, {"role": "operator", "buildings": [area.id]}) == [
                "light.kitchen"
            ]
            assert await visible(session, {"role": "operator", "buildings": ["elsewhere"]}) == []
            assert await visible(session, {"role": "operator"}) == []
            token = jwt.encode(
                {**base, "app_metadata": {"role": "operator", "buildings": [area.id]}},
                double.jwt_secret,
            )
            headers = {"Authorization": f"Bearer {token}"}
            async with session.get(url + "/metrics", headers=headers) as response:
                assert response.status == 403
    finally:
        await runtime.stop()


def _guard(project: Project) -> LoginGuard:
    assert project.runtime.http is not None
    return project.runtime.http.app[GUARD]


async def test_a_client_retrying_an_expired_project_token_is_never_banned(
    project: Project,
) -> None:
    """Like an open tab retrying Edgewise's own expired token: 401, and no ban however often."""
    expired = project.claims(exp=int(time.time()) - 60)
    hs256 = jwt.encode(expired, project.double.jwt_secret)
    es256 = jwt.encode(expired, project.ec_key, algorithm="ES256", headers={"kid": "ec-1"})
    wrong_audience = jwt.encode(project.claims(aud="anon"), project.double.jwt_secret)
    threshold = project.runtime.http_config.login_attempts_threshold
    for _ in range(threshold + 2):
        for token in (hs256, es256, wrong_audience):
            assert await project.get("/api/states", token) == 401
    url = project.url.replace("http://", "ws://") + "/api/websocket"
    for _ in range(threshold + 2):
        async with project.session.ws_connect(url) as ws:
            await ws.receive_json()
            await ws.send_json({"type": "auth", "access_token": hs256})
            assert (await ws.receive_json())["type"] == "auth_invalid"
    assert _guard(project).banned_for("127.0.0.1") == 0
    valid = jwt.encode(project.claims(), project.double.jwt_secret)
    assert await project.get("/api/states", valid) == 200


@pytest.mark.parametrize("forgery", ["other-secret", "unknown-kid", "not-a-jwt"])
async def test_forged_tokens_still_count_towards_the_ban(project: Project, forgery: str) -> None:
    claims = project.claims(exp=int(time.time()) - 60)
    if forgery == "other-secret":
        token = jwt.encode(claims, "another-project-secret-0123456789")
    elif forgery == "unknown-kid":
        stranger = ec.generate_private_key(ec.SECP256R1())
        token = jwt.encode(claims, stranger, algorithm="ES256", headers={"kid": "ec-1"})
    else:
        token = "header.payload.signature"
    threshold = project.runtime.http_config.login_attempts_threshold
    statuses = [await project.get("/api/states", token) for _ in range(threshold + 1)]
    assert statuses[:threshold] == [401] * threshold
    assert statuses[threshold] == 429
    assert _guard(project).banned_for("127.0.0.1") > 0
