"""Onboarding, the login flow, tokens, revocation, the failed-login ban, and the CLI."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from core.auth import Role
from core.auth.manager import read_auth_file
from core.auth.models import hash_token
from core.cli import main
from core.const import CoreState
from core.plugins import IntegrationLoader
from core.runtime import Runtime
from tests._helpers import wait_for
from tests.conftest import ConfigDirFactory
from tests.core.http.conftest import HTTP_CONFIG, Api, ApiTestIntegration

CLIENT_ID = "http://127.0.0.1:8123/"


async def login(
    session: aiohttp.ClientSession, url: str, username: str, password: str
) -> dict[str, Any]:
    """Run the login flow as Home Assistant's frontend does; the flow's last answer."""
    async with session.post(
        f"{url}/auth/login_flow",
        json={
            "client_id": CLIENT_ID,
            "handler": ["homeassistant", None],
            "redirect_uri": CLIENT_ID,
        },
    ) as response:
        assert response.status == 200
        form = await response.json()
    assert form["type"] == "form"
    assert [f["name"] for f in form["data_schema"]] == ["username", "password"]
    async with session.post(
        f"{url}/auth/login_flow/{form['flow_id']}",
        json={"client_id": CLIENT_ID, "username": username, "password": password},
    ) as response:
        assert response.status == 200
        result: dict[str, Any] = await response.json()
        return result


async def exchange(session: aiohttp.ClientSession, url: str, **form: str) -> tuple[int, Any]:
    async with session.post(f"{url}/auth/token", data={"client_id": CLIENT_ID, **form}) as response:
        return response.status, await response.json(content_type=None)


@pytest.fixture
async def fresh_site(config_dir: ConfigDirFactory) -> Any:
    """A runtime with no user at all, and a session to it."""
    runtimes: list[Runtime] = []
    sessions: list[aiohttp.ClientSession] = []

    async def make() -> tuple[Runtime, str, aiohttp.ClientSession]:
        loader = IntegrationLoader()
        loader.register(ApiTestIntegration(), source="test")
        runtime = Runtime(config_dir(HTTP_CONFIG), loader=loader)
        await runtime.start()
        runtimes.append(runtime)
        session = aiohttp.ClientSession()
        sessions.append(session)
        assert runtime.http is not None
        return runtime, f"http://127.0.0.1:{runtime.http.port}", session

    yield make
    for session in sessions:
        await session.close()
    for runtime in runtimes:
        if runtime.state is not CoreState.NOT_RUNNING:
            await runtime.stop()


async def test_onboarding_creates_the_owner_once_then_logs_in(fresh_site: Any) -> None:
    runtime, url, session = await fresh_site()
    async with session.get(f"{url}/api/onboarding") as response:
        assert (await response.json())[0]["done"] is False
    async with session.get(f"{url}/auth/providers") as response:
        assert response.status == 400
        assert (await response.json())["code"] == "onboarding_required"
    owner = {"client_id": CLIENT_ID, "name": "Ada", "username": "ada", "password": "s3cret-pass"}
    async with session.post(f"{url}/api/onboarding/users", json=owner) as response:
        assert response.status == 200
        code = (await response.json())["auth_code"]
    async with session.post(f"{url}/api/onboarding/users", json=owner) as response:
        assert response.status == 403
        assert await response.json() == {"message": "User step already done"}
    status, tokens = await exchange(session, url, grant_type="authorization_code", code=code)
    assert status == 200
    assert tokens["token_type"] == "Bearer"
    assert tokens["expires_in"] == 1800
    headers = {"Authorization": f"Bearer {tokens['access_token']}"}
    async with session.get(f"{url}/api/", headers=headers) as response:
        assert await response.json() == {"message": "API running."}
    assert runtime.http is not None
    user = runtime.http.auth.data.user_by_username("ada")
    assert user is not None
    assert user.is_owner
    assert user.role is Role.ADMIN
    # A code is spent once.
    status, error = await exchange(session, url, grant_type="authorization_code", code=code)
    assert (status, error["error"]) == (400, "invalid_request")


async def test_login_flow_refresh_and_revoke(api: Api) -> None:
    wrong = await login(api.session, api.url, "viewer-user", "nope")
    assert wrong["type"] == "form"
    assert wrong["errors"] == {"base": "invalid_auth"}
    done = await login(api.session, api.url, "viewer-user", "pw-viewer")
    assert done["type"] == "create_entry"
    status, tokens = await exchange(
        api.session, api.url, grant_type="authorization_code", code=done["result"]
    )
    assert status == 200
    refresh = tokens["refresh_token"]
    status, renewed = await exchange(
        api.session, api.url, grant_type="refresh_token", refresh_token=refresh
    )
    assert status == 200
    assert set(renewed) == {"access_token", "token_type", "expires_in"}
    headers = {"Authorization": f"Bearer {renewed['access_token']}"}
    async with api.session.get(f"{api.url}/api/config", headers=headers) as response:
        assert response.status == 200
    # A refresh token is not a bearer token.
    async with api.session.get(
        f"{api.url}/api/config", headers={"Authorization": f"Bearer {refresh}"}
    ) as response:
        assert response.status == 401
    async with api.session.post(
        f"{api.url}/auth/token", data={"action": "revoke", "token": refresh}
    ) as response:
        assert response.status == 200
    async with api.session.get(f"{api.url}/api/config", headers=headers) as response:
        assert response.status == 401
    status, error = await exchange(
        api.session, api.url, grant_type="refresh_token", refresh_token=refresh
    )
    assert (status, error) == (400, {"error": "invalid_grant"})
    status, error = await exchange(api.session, api.url, grant_type="password")
    assert (status, error) == (400, {"error": "unsupported_grant_type"})


async def test_tokens_are_stored_hashed(api: Api) -> None:
    assert api.runtime.http is not None
    stored = (api.runtime.config_dir / ".storage" / "auth").read_text()
    for token in api.tokens.values():
        assert token not in stored
        assert hash_token(token) in stored
    assert "pw-admin" not in stored
    assert "$argon2id$" in stored


async def test_failed_logins_ban_the_address_for_a_while(
    api_factory: Callable[..., Any],
) -> None:
    api: Api = await api_factory("  login_attempts_threshold: 3\n  login_ban_seconds: 60\n")
    for _ in range(3):
        result = await login(api.session, api.url, "admin-user", "wrong")
        assert result["errors"] == {"base": "invalid_auth"}
    # Banned now: no login flow, no password, no guessing tokens...
    async with api.session.post(f"{api.url}/auth/login_flow", json={"client_id": CLIENT_ID}) as r:
        assert r.status == 429
        assert int(r.headers["Retry-After"]) > 0
    status, _ = await api.request(
        "GET", "/api/", role=None, headers={"Authorization": "Bearer guessed"}
    )
    assert status == 429
    # ...but health checks and valid tokens are served (the ban is against guessing).
    status, _ = await api.request("GET", "/api/")
    assert status == 200
    status, _ = await api.request("GET", "/live", role=None)
    assert status == 200


def cli(*args: str | Path, stdin: str = "") -> tuple[int, str, str]:
    """Run ``edgewise <args>`` in this process (the subprocess call covers the entry point)."""
    out, err = io.StringIO(), io.StringIO()
    saved = sys.stdin
    sys.stdin = io.StringIO(stdin)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main([str(a) for a in args])
    finally:
        sys.stdin = saved
    return code, out.getvalue(), err.getvalue()


async def test_cli_manages_users_and_tokens_while_the_server_runs(api: Api) -> None:
    site = api.runtime.config_dir
    added = await asyncio.to_thread(
        subprocess.run,
        [
            sys.executable,
            "-m",
            "core.cli",
            "user",
            "add",
            "cli-op",
            "--role",
            "operator",
            "--password-stdin",
            "-c",
            str(site),
        ],
        input="pa55-word\n",
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert added.returncode == 0, added.stderr
    code, listed, _ = cli("user", "list", "-c", site)
    assert "cli-op\toperator" in listed
    code, token, err = cli("token", "create", "cli-op", "--name", "script", "-c", site)
    assert code == 0, err
    token = token.strip()
    # The running server picks the new user and token up without a restart (within a second;
    # asked directly, so that the test's own retries do not count as failed logins).
    assert api.runtime.http is not None
    auth = api.runtime.http.auth
    await wait_for(lambda: auth.validate_access_token(token) is not None)
    status, body = await api.request(
        "GET", "/api/", role=None, headers={"Authorization": f"Bearer {token}"}
    )
    assert status == 200, body
    assert await auth.check_password("cli-op", "pa55-word") is not None
    code, _, err = cli(
        "user", "passwd", "cli-op", "--password-stdin", "-c", site, stdin="new-password\n"
    )
    assert code == 0, err
    data = read_auth_file(site / ".storage" / "auth")
    grant = next(t for t in data.tokens.values() if t.client_name == "script")
    code, _, err = cli("token", "revoke", grant.id, "-c", site)
    assert code == 0, err
    await wait_for(lambda: auth.validate_access_token(token) is None)
    status, _ = await api.request(
        "GET", "/api/", role=None, headers={"Authorization": f"Bearer {token}"}
    )
    assert status == 401
    assert await auth.check_password("cli-op", "new-password") is not None
    code, _, _ = cli("user", "remove", "cli-op", "-c", site)
    assert code == 0
    code, _, err = cli("user", "remove", "cli-op", "-c", site)
    assert code == 1
    assert "No user 'cli-op'" in err
    stored = json.loads((site / ".storage" / "auth").read_text())
    assert all(u["username"] != "cli-op" for u in stored["data"]["users"])
