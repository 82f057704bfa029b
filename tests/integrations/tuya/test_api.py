"""Tuya devices added and removed over the API, kept across restarts, keys never shown."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp

from core import Runtime
from core.auth import Role
from core.auth.manager import hash_password
from tests.integrations._runtime import running

from .conftest import DEVICE_ID, KEY, state_becomes

START = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)
SITE = "http: {server_host: 127.0.0.1, server_port: 0}\ntuya:\n"


async def _tokens(runtime: Runtime, suffix: str = "") -> dict[Role, str]:
    assert runtime.http is not None
    auth = runtime.http.auth
    tokens = {}
    for role in (Role.ADMIN, Role.VIEWER):
        user = auth.data.add_user(f"{role.value}-u{suffix}", hash_password("pw"), role=role)
        _, tokens[role] = await auth.create_long_lived_token(user, "tests")
    return tokens


def _url(runtime: Runtime, path: str) -> str:
    assert runtime.http is not None
    return f"http://127.0.0.1:{runtime.http.port}{path}"


async def test_an_admin_adds_a_device_that_connects_and_survives_a_restart(
    tmp_path: Path, make_double: Any
) -> None:
    double = await make_double(3.4)
    device = {
        "device_id": DEVICE_ID,
        "local_key": KEY,
        "host": "127.0.0.1",
        "port": double.port,
        "name": "Lamp plug",
    }
    async with running(tmp_path, SITE, START) as runtime:
        tokens = await _tokens(runtime)
        url = _url(runtime, "/api/tuya/devices")
        async with aiohttp.ClientSession() as http:
            viewer = {"Authorization": f"Bearer {tokens[Role.VIEWER]}"}
            admin = {"Authorization": f"Bearer {tokens[Role.ADMIN]}"}
            async with http.post(url, json=device, headers=viewer) as response:
                viewer_status = response.status
            bad = dict(device, local_key="short")
            async with http.post(url, json=bad, headers=admin) as response:
                bad_status, bad_body = response.status, await response.json()
            async with http.post(url, json=device, headers=admin) as response:
                added_status = response.status
            await state_becomes(runtime, "switch.lamp_plug", "off")
            async with http.get(url, headers=viewer) as response:
                listed = await response.json()

    assert viewer_status == 403
    assert bad_status == 400
    assert bad_body["message"].startswith("local_key: a Tuya local key is 16")
    assert added_status == 201
    assert listed["devices"][0]["version"] == 3.4  # detected
    assert listed["devices"][0]["source"] == "api"
    assert "local_key" not in listed["devices"][0]

    async with running(tmp_path, SITE, START) as runtime:
        await state_becomes(runtime, "switch.lamp_plug", "off")
        await runtime.services.call("switch", "turn_on", target={"entity_id": "switch.lamp_plug"})
        tokens = await _tokens(runtime, "2")
        async with (
            aiohttp.ClientSession() as http,
            http.ws_connect(_url(runtime, "/api/websocket")) as ws,
        ):
            await ws.receive_json()
            await ws.send_json({"type": "auth", "access_token": tokens[Role.ADMIN]})
            await ws.receive_json()
            await ws.send_json({"id": 1, "type": "tuya/devices/remove", "device_id": DEVICE_ID})
            removed = await ws.receive_json()
        gone = runtime.states.get("switch.lamp_plug")
    stored = (tmp_path / ".storage" / "tuya.devices").read_text()

    assert double.dps["1"] is True
    assert removed["success"] is True
    assert gone is None
    assert DEVICE_ID not in stored


async def test_an_area_limited_user_lists_only_the_devices_of_their_areas(
    tmp_path: Path, make_double: Any
) -> None:
    double = await make_double(3.4)
    device = {
        "device_id": DEVICE_ID,
        "local_key": KEY,
        "host": "127.0.0.1",
        "port": double.port,
        "name": "Lamp plug",
        "area": "Kitchen",
    }
    async with running(tmp_path, SITE, START) as runtime:
        tokens = await _tokens(runtime)
        assert runtime.http is not None
        auth = runtime.http.auth
        limited = {}
        for area in ("kitchen", "garage"):
            user = auth.data.add_user(f"{area}-u", hash_password("pw"), role=Role.VIEWER)
            user.areas = frozenset({area})
            _, limited[area] = await auth.create_long_lived_token(user, "tests")
        url = _url(runtime, "/api/tuya/devices")
        listed: dict[str, list[str]] = {}
        async with aiohttp.ClientSession() as http:
            admin = {"Authorization": f"Bearer {tokens[Role.ADMIN]}"}
            async with http.post(url, json=device, headers=admin) as response:
                assert response.status == 201
            await state_becomes(runtime, "switch.lamp_plug", "off")
            for area, token in limited.items():
                async with http.get(url, headers={"Authorization": f"Bearer {token}"}) as response:
                    listed[area] = [d["device_id"] for d in (await response.json())["devices"]]
            async with http.ws_connect(_url(runtime, "/api/websocket")) as ws:
                await ws.receive_json()
                await ws.send_json({"type": "auth", "access_token": limited["garage"]})
                await ws.receive_json()
                await ws.send_json({"id": 1, "type": "tuya/devices"})
                over_ws = (await ws.receive_json())["result"]["devices"]
    assert listed == {"kitchen": [DEVICE_ID], "garage": []}
    assert over_ws == []
