"""The control log over REST and WebSocket, kept in the recorder's database across restarts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aiohttp

from core import Context, Runtime
from core.auth import Role
from core.auth.manager import hash_password
from integrations.appliance.api import CONTROL_LOG
from integrations.appliance.control_log import LogQuery

from .conftest import site, site_yaml

APPLIANCES = """\
  appliances:
    - {name: Heater, area: Office, power: 1000}
    - {name: Fan, area: Office, power: 50}
"""


async def _token(runtime: Runtime) -> str:
    assert runtime.http is not None
    auth = runtime.http.auth
    user = auth.data.add_user("viewer", hash_password("pw-viewer"), role=Role.VIEWER)
    _, token = await auth.create_long_lived_token(user, "tests")
    return token


def _url(runtime: Runtime, path: str) -> str:
    assert runtime.http is not None
    return f"http://127.0.0.1:{runtime.http.port}{path}"


async def _act(runtime: Runtime) -> None:
    await runtime.services.call(
        "appliance",
        "turn_on",
        target={"entity_id": "appliance.heater"},
        context=Context(user_id="u1"),
    )
    await runtime.services.call("appliance", "turn_on", target={"entity_id": "appliance.fan"})
    await runtime.services.call(
        "appliance",
        "turn_off",
        target={"entity_id": "appliance.heater"},
        context=Context(user_id="u1"),
    )


async def test_rest_filters_by_appliance_source_and_time_and_needs_a_token(
    tmp_path: Path,
) -> None:
    async with site(tmp_path, site_yaml(APPLIANCES)) as runtime:
        await _act(runtime)
        token = await _token(runtime)
        headers = {"Authorization": f"Bearer {token}"}
        now = runtime.clock.now().isoformat()
        async with aiohttp.ClientSession() as http:
            url = _url(runtime, "/api/appliance/control_log")
            async with http.get(url) as anonymous:
                anonymous_status = anonymous.status
            params = {"appliance": "appliance.heater", "source": "user"}
            async with http.get(url, params=params, headers=headers) as response:
                heater: dict[str, Any] = await response.json()
            async with http.get(url, params={"end": now}, headers=headers) as response:
                before_now: dict[str, Any] = await response.json()
            async with http.get(url, params={"source": "wizard"}, headers=headers) as response:
                bad_status, bad = response.status, await response.json()

    assert anonymous_status == 401
    assert [(e["action"], e["source"], e["user_id"]) for e in heater["entries"]] == [
        ("turn_off", "user", "u1"),
        ("turn_on", "user", "u1"),
    ]
    assert heater["entries"][0]["state_before"] == "running"
    assert before_now["entries"] == []  # every entry is at "now" on the fake clock; end excludes
    assert bad_status == 400
    assert "source" in bad["message"]


async def test_websocket_command_answers_and_the_log_survives_a_restart(tmp_path: Path) -> None:
    async with site(tmp_path, site_yaml(APPLIANCES)) as runtime:
        await _act(runtime)
    async with site(tmp_path, site_yaml(APPLIANCES)) as runtime:
        token = await _token(runtime)
        async with (
            aiohttp.ClientSession() as http,
            http.ws_connect(_url(runtime, "/api/websocket")) as ws,
        ):
            await ws.receive_json()
            await ws.send_json({"type": "auth", "access_token": token})
            await ws.receive_json()
            await ws.send_json(
                {"id": 1, "type": "appliance/control_log", "appliance": "appliance.fan"}
            )
            answer = await ws.receive_json()
            await ws.send_json({"id": 2, "type": "appliance/control_log", "limit": 0})
            refused = await ws.receive_json()

    assert answer["success"] is True
    assert [(e["action"], e["source"]) for e in answer["result"]["entries"]] == [
        ("turn_on", "system")
    ]
    assert refused["success"] is False
    assert "limit" in refused["error"]["message"]


async def test_a_query_right_after_an_action_reads_it_from_the_database(tmp_path: Path) -> None:
    async with site(tmp_path, site_yaml(APPLIANCES)) as runtime:
        log = runtime.data[CONTROL_LOG]
        seen = []
        for _ in range(4):
            await runtime.services.call(
                "appliance", "toggle", target={"entity_id": "appliance.fan"}
            )
            seen.append(len(await log.query(LogQuery())))

    assert seen == [1, 2, 3, 4]
