"""Issue 25's attacks on authentication and sessions, replayed: each must fail now.

Also issue 28's restart rules: sessions survive a restart and a client retrying a token the
server issued is never banned.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import weakref
from collections.abc import Callable
from typing import Any

import aiohttp
import pytest

from core.auth import Role
from core.auth.const import MAX_LONG_LIVED_PER_USER
from core.auth.manager import read_auth_file, write_auth_file
from core.const import HA_COMPAT_VERSION, CoreState
from core.http.auth_views import MAX_FLOWS, MAX_FLOWS_PER_ADDRESS
from core.http.view import GUARD
from core.plugins import IntegrationLoader
from core.runtime import Runtime
from tests.core.http.conftest import Api, ApiTestIntegration, password_hash, wait_for
from tests.core.http.test_auth import CLIENT_ID, cli, exchange, login
from tests.core.http.test_auth import fresh_site as fresh_site  # noqa: PLC0414 - a fixture
from tests.core.http.test_websocket import Client, _handshake

PROXY = "  use_x_forwarded_for: true\n  trusted_proxies: [127.0.0.1]\n"


async def ws_connect(api: Api, token: str) -> Client:
    """An authenticated WebSocket client (closed with the API's session)."""
    ws = await api.session.ws_connect(api.ws_url)
    assert (await ws.receive_json())["type"] == "auth_required"
    await ws.send_json({"type": "auth", "access_token": token})
    assert await ws.receive_json() == {"type": "auth_ok", "ha_version": HA_COMPAT_VERSION}
    return Client(ws)


async def closed(client: Client, within: float = 10.0) -> bool:
    """Whether the server closes the client's connection within ``within`` seconds."""
    async with asyncio.timeout(within):
        while True:
            msg = await client.ws.receive()
            if msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED):
                return True


async def second_admin(api: Api, name: str = "mallory") -> tuple[str, str]:
    """Add an admin with a long-lived token; its id and the token."""
    assert api.runtime.http is not None
    auth = api.runtime.http.auth
    user = auth.data.add_user(name, password_hash(Role.ADMIN), role=Role.ADMIN)
    _, token = await auth.create_long_lived_token(user, "tests")
    return user.id, token


# --- item 3: open sessions keep old rights --------------------------------------------------------


async def test_demoting_a_user_closes_its_open_socket_and_it_cannot_create_an_admin(
    api: Api,
) -> None:
    user_id, token = await second_admin(api)
    mallory = await ws_connect(api, token)
    async with api.session.ws_connect(api.ws_url) as ws:
        await ws.receive_json()
        await ws.send_json({"type": "auth", "access_token": api.tokens[Role.ADMIN]})
        await ws.receive_json()
        admin = Client(ws)
        demoted = await admin.command("config/auth/update", user_id=user_id, role="viewer")
        assert demoted["success"] is True
        assert await closed(mallory)
        # Back with its token: a viewer now, whatever it held when it authenticated.
        mallory = await ws_connect(api, token)
        denied = await mallory.command(
            "config/auth/create", username="backdoor", password="x-long-enough", role="admin"
        )
        assert denied["error"]["code"] == "unauthorized"
        deactivated = await admin.command("config/auth/update", user_id=user_id, is_active=False)
        assert deactivated["success"] is True
        assert await closed(mallory)
    assert api.runtime.http is not None
    assert api.runtime.http.auth.data.user_by_username("backdoor") is None


async def test_deleting_a_user_through_the_api_closes_its_sockets(api: Api) -> None:
    user_id, token = await second_admin(api)
    mallory = await ws_connect(api, token)
    async with api.session.ws_connect(api.ws_url) as ws:
        await ws.receive_json()
        await ws.send_json({"type": "auth", "access_token": api.tokens[Role.ADMIN]})
        await ws.receive_json()
        deleted = await Client(ws).command("config/auth/delete", user_id=user_id)
        assert deleted["success"] is True
    assert await closed(mallory)
    async with api.session.ws_connect(api.ws_url) as ws:
        await ws.receive_json()
        await ws.send_json({"type": "auth", "access_token": token})
        assert (await ws.receive_json())["type"] == "auth_invalid"


async def test_changes_made_by_the_cli_close_idle_sockets_and_stop_the_next_command(
    api: Api,
) -> None:
    site = api.runtime.config_dir
    user_id, token = await second_admin(api)
    # Demoted by another process writing the file: the next command runs as a viewer.
    mallory = await ws_connect(api, token)
    data = read_auth_file(site / ".storage" / "auth")
    data.users[user_id].role = Role.VIEWER
    await asyncio.to_thread(write_auth_file, site / ".storage" / "auth", data)
    assert api.runtime.http is not None
    api.runtime.http.auth.reload_if_changed(force=True)
    assert await closed(mallory)
    mallory = await ws_connect(api, token)
    denied = await mallory.command(
        "config/auth/create", username="backdoor", password="x-long-enough"
    )
    assert denied["error"]["code"] == "unauthorized"
    # Its token revoked by `edgewise token revoke` while the socket is idle: closed all the same.
    grant = next(t for t in data.tokens.values() if t.user_id == user_id)
    code, _, err = await asyncio.to_thread(cli, "token", "revoke", grant.id, "-c", str(site))
    assert code == 0, err
    assert await closed(mallory)


# --- item 4: a corrupt auth store reopens onboarding ----------------------------------------------


async def test_a_corrupt_or_missing_auth_store_never_reopens_onboarding(
    fresh_site: Any, caplog: pytest.LogCaptureFixture
) -> None:
    runtime, url, session = await fresh_site()
    owner = {"client_id": CLIENT_ID, "name": "Ada", "username": "ada", "password": "s3cret-pass"}
    async with session.post(f"{url}/api/onboarding/users", json=owner) as response:
        assert response.status == 200
    site = runtime.config_dir
    await runtime.stop()
    (site / ".storage" / "auth").write_text("{ corrupt")
    for start in ("corrupt file", "file moved aside"):
        caplog.clear()
        loader = IntegrationLoader()
        loader.register(ApiTestIntegration(), source="test")
        again = Runtime(site, loader=loader)
        await again.start()
        try:
            assert again.http is not None, start
            url = f"http://127.0.0.1:{again.http.port}"
            async with session.get(f"{url}/api/onboarding") as response:
                assert (await response.json())[0] == {"step": "user", "done": True}, start
            async with session.post(f"{url}/api/onboarding/users", json=owner) as response:
                assert response.status == 403, start
            assert "edgewise user add NAME --role admin" in caplog.text, start
        finally:
            await again.stop()
    # The recovery command gives the site an admin again.
    code, _, err = await asyncio.to_thread(
        cli, "user", "add", "rescue", "--password-stdin", "-c", str(site), stdin="pw-long-enough\n"
    )
    assert code == 0, err
    assert read_auth_file(site / ".storage" / "auth").find_user("rescue").is_owner


# --- items 6 and 7, lows: the ban -----------------------------------------------------------------


async def start_flow(api: Api, address: str) -> aiohttp.ClientResponse:
    async with api.session.post(
        f"{api.url}/auth/login_flow",
        json={"client_id": CLIENT_ID},
        headers={"X-Forwarded-For": address},
    ) as response:
        await response.read()
        return response


async def test_one_address_cannot_fill_the_login_flow_table(
    api_factory: Callable[..., Any],
) -> None:
    api: Api = await api_factory(PROXY)
    statuses = [(await start_flow(api, "10.0.0.66")).status for _ in range(MAX_FLOWS)]
    assert statuses[:MAX_FLOWS_PER_ADDRESS] == [200] * MAX_FLOWS_PER_ADDRESS
    assert set(statuses[MAX_FLOWS_PER_ADDRESS:]) == {429}
    assert api.runtime.http is not None
    guard = api.runtime.http.app[GUARD]
    assert guard.banned_for("10.0.0.66") > 0
    # Everybody else still logs in.
    assert (await start_flow(api, "10.0.0.7")).status == 200
    assert guard.banned_for("127.0.0.1") == 0


async def test_parallel_guesses_on_one_flow_are_counted_before_hashing(
    api_factory: Callable[..., Any],
) -> None:
    api: Api = await api_factory("  login_attempts_threshold: 5\n")
    async with api.session.post(f"{api.url}/auth/login_flow", json={"client_id": CLIENT_ID}) as r:
        flow_id = (await r.json())["flow_id"]

    async def guess(i: int) -> int:
        async with api.session.post(
            f"{api.url}/auth/login_flow/{flow_id}",
            json={"client_id": CLIENT_ID, "username": "admin-user", "password": f"guess{i}"},
        ) as response:
            await response.read()
            return response.status

    statuses = await asyncio.gather(*(guess(i) for i in range(40)))
    # At most the threshold of guesses was checked; the rest were refused unchecked.
    assert statuses.count(200) <= 5
    assert statuses.count(429) >= 35
    assert api.runtime.http is not None
    assert api.runtime.http.app[GUARD].banned_for("127.0.0.1") > 0
    # Even the right password is not checked now.
    status, _ = await api.request("GET", "/api/")
    assert status == 200  # but a valid token still works


async def test_behind_a_trusted_proxy_the_client_is_banned_not_the_proxy(
    api_factory: Callable[..., Any],
) -> None:
    api: Api = await api_factory(PROXY + "  login_attempts_threshold: 3\n")

    async def bad_token(forwarded: str) -> int:
        status, _ = await api.request(
            "GET",
            "/api/",
            role=None,
            headers={"Authorization": "Bearer guessed", "X-Forwarded-For": forwarded},
        )
        return status

    assert [await bad_token("10.0.0.66") for _ in range(4)] == [401, 401, 401, 429]
    # Another client behind the same proxy, and the proxy itself, are not banned.
    assert await bad_token("10.0.0.7") == 401
    status, _ = await api.request("GET", "/api/", headers={"X-Forwarded-For": "10.0.0.8"})
    assert status == 200
    # A forged hop in front of the real client does not help it.
    assert await bad_token("10.0.0.7, 10.0.0.66") == 429
    status, _ = await api.request(
        "GET", "/api/", role=None, headers={"X-Forwarded-For": "not an address"}
    )
    assert status == 400


async def test_without_a_trusted_proxy_forwarded_headers_are_ignored(api: Api) -> None:
    status, _ = await api.request(
        "GET",
        "/api/",
        role=None,
        headers={"Authorization": "Bearer x", "X-Forwarded-For": "1.2.3.4"},
    )
    assert status == 401
    assert api.runtime.http is not None
    guard = api.runtime.http.app[GUARD]
    assert guard.failures("127.0.0.1") == 1
    assert guard.failures("1.2.3.4") == 0


#: What a banned address may still do: (method, path, credentials, status). The ban is against
#: guessing secrets; health checks, the panel's files and valid tokens are served.
BANNED_ADDRESS_RULES: list[tuple[str, str, str, int]] = [
    ("GET", "/live", "none", 200),
    ("GET", "/ready", "none", 200),
    ("GET", "/", "none", 200),
    ("GET", "/api/", "valid token", 200),
    ("GET", "/api/states", "valid token", 200),
    ("GET", "/api/", "guessed token", 429),
    ("GET", "/api/", "none", 429),
    ("POST", "/auth/login_flow", "none", 429),
]


async def test_what_a_banned_address_may_still_do(api_factory: Callable[..., Any]) -> None:
    api: Api = await api_factory("  login_attempts_threshold: 1\n")
    assert api.runtime.http is not None
    api.runtime.http.app[GUARD].failed("127.0.0.1", "login")
    headers = {
        "none": {},
        "valid token": {"Authorization": f"Bearer {api.tokens[Role.VIEWER]}"},
        "guessed token": {"Authorization": "Bearer guessed"},
    }
    for method, path, credentials, expected in BANNED_ADDRESS_RULES:
        body = {"client_id": CLIENT_ID} if method == "POST" else None
        status, _ = await api.request(
            method, path, role=None, headers=headers[credentials], json=body
        )
        assert status == expected, (method, path, credentials)


# --- item 9: the send queue in bytes --------------------------------------------------------------


async def test_a_client_that_never_reads_is_cut_off_by_bytes_and_its_memory_returns(
    api_factory: Callable[..., Any], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    limit = 1024 * 1024
    api: Api = await api_factory(f"  websocket_send_queue_bytes: {limit}\n")
    assert api.runtime.http is not None
    hub = api.runtime.http.websocket
    sock = await asyncio.to_thread(_handshake, api.runtime.http.port or 0, api.tokens[Role.ADMIN])
    try:
        await wait_for(lambda: any(c.subscriptions for c in hub.connections))
        conn = weakref.ref(next(iter(hub.connections)))
        blob = "x" * 64 * 1024
        most = 0

        def queued() -> int:
            live = conn()
            return 0 if live is None else live.queued_bytes

        # 200 big events: far fewer messages than the message cap, far more bytes than allowed.
        for i in range(200):
            api.runtime.states.set("sensor.flood", str(i), {"blob": blob})
            most = max(most, queued())
            await asyncio.sleep(0)
        await wait_for(lambda: not hub.connections)
        assert "bytes waiting to be sent" in caplog.text
        # Never more than the limit and one message queued; and all of it freed.
        assert most <= limit + 3 * len(blob)
        await wait_for(lambda: (gc.collect(), conn() is None)[1])
    finally:
        sock.close()


# --- lows: long-lived tokens per user -------------------------------------------------------------


async def test_a_viewer_cannot_mint_unlimited_long_lived_tokens(api: Api) -> None:
    async with api.session.ws_connect(api.ws_url) as ws:
        await ws.receive_json()
        await ws.send_json({"type": "auth", "access_token": api.tokens[Role.VIEWER]})
        await ws.receive_json()
        viewer = Client(ws)
        answers = [
            await viewer.command("auth/long_lived_access_token", client_name=f"t{i}", lifespan=1)
            for i in range(MAX_LONG_LIVED_PER_USER + 2)
        ]
        # The fixture gave the viewer one already.
        assert [a["success"] for a in answers].count(True) == MAX_LONG_LIVED_PER_USER - 1
        assert "revoke one first" in answers[-1]["error"]["message"]
        huge = await viewer.command("auth/long_lived_access_token", client_name="x", lifespan=10**9)
        assert huge["success"] is False


# --- issue 28: restarts ---------------------------------------------------------------------------


async def test_sessions_survive_a_restart_and_stale_tokens_never_ban(fresh_site: Any) -> None:
    runtime, url, session = await fresh_site()
    assert runtime.http is not None
    await runtime.http.auth.create_user("ada", "s3cret-pass")
    result = await login(session, url, "ada", "s3cret-pass")
    status, tokens = await exchange(
        session, url, grant_type="authorization_code", code=result["result"]
    )
    assert status == 200
    site = runtime.config_dir
    port = runtime.http.port
    await runtime.stop()
    loader = IntegrationLoader()
    loader.register(ApiTestIntegration(), source="test")
    again = Runtime(site, loader=loader, http_port=port)
    await again.start()
    try:
        bearer = {"Authorization": f"Bearer {tokens['access_token']}"}
        # The access token of before the restart still works; the refresh token too.
        async with session.get(f"{url}/api/", headers=bearer) as response:
            assert response.status == 200
        status, refreshed = await exchange(
            session, url, grant_type="refresh_token", refresh_token=tokens["refresh_token"]
        )
        assert status == 200, refreshed
        # Logged out: the tab retrying its tokens gets 401s, many times, and is never banned.
        async with session.post(
            f"{url}/auth/token", data={"action": "revoke", "token": tokens["refresh_token"]}
        ) as response:
            assert response.status == 200
        for _ in range(10):
            async with session.get(f"{url}/api/", headers=bearer) as response:
                assert response.status == 401
            status, _ = await exchange(
                session, url, grant_type="refresh_token", refresh_token=tokens["refresh_token"]
            )
            assert status == 400
            async with session.ws_connect(url + "/api/websocket") as ws:
                await ws.receive_json()
                await ws.send_json({"type": "auth", "access_token": refreshed["access_token"]})
                assert (await ws.receive_json())["type"] == "auth_invalid"
        assert again.http is not None
        guard = again.http.app[GUARD]
        assert guard.failures("127.0.0.1") == 0
        # A forged token (right shape, wrong signature) is a guess and counts.
        forged = refreshed["access_token"][:-4] + "AAAA"
        async with session.get(f"{url}/api/", headers={"Authorization": f"Bearer {forged}"}) as r:
            assert r.status == 401
        assert guard.failures("127.0.0.1") == 1
    finally:
        if again.state is not CoreState.NOT_RUNNING:
            await again.stop()
