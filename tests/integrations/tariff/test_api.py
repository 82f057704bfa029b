"""The tariff API over REST and WebSocket: prices, schedules (operator only), previews."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp

from core import Runtime
from core.auth import Role
from core.auth.manager import hash_password
from tests.integrations._runtime import running

from .conftest import tariff_yaml

HTTP = "http:\n  server_host: 127.0.0.1\n  server_port: 0\n"
APPLIANCES = "  appliances:\n    - {name: Dishwasher, tier: shiftable, power: 2000}\n"
MIDNIGHT = datetime(2026, 1, 14, 18, 30, tzinfo=UTC)


async def _token(runtime: Runtime, name: str, role: Role) -> str:
    assert runtime.http is not None
    auth = runtime.http.auth
    user = auth.data.add_user(name, hash_password(f"pw-{name}"), role=role)
    _, token = await auth.create_long_lived_token(user, "tests")
    return token


def _url(runtime: Runtime, path: str) -> str:
    assert runtime.http is not None
    return f"http://127.0.0.1:{runtime.http.port}{path}"


async def test_rest_prices_and_schedules_check_roles_and_bad_input(tmp_path: Path) -> None:
    yaml = HTTP + tariff_yaml("Asia/Kolkata", appliances=APPLIANCES)
    async with running(tmp_path, yaml, MIDNIGHT + timedelta(hours=12)) as runtime:
        viewer = {"Authorization": f"Bearer {await _token(runtime, 'viewer', Role.VIEWER)}"}
        operator = {"Authorization": f"Bearer {await _token(runtime, 'op', Role.OPERATOR)}"}
        body = {
            "appliance": "appliance.dishwasher",
            "kind": "daily",
            "start": "01:00",
            "duration": "02:00:00",
        }
        async with aiohttp.ClientSession() as http:
            async with http.get(_url(runtime, "/api/tariff/prices")) as anonymous:
                anonymous_status = anonymous.status
            async with http.get(_url(runtime, "/api/tariff/prices"), headers=viewer) as response:
                prices: dict[str, Any] = await response.json()
            url = _url(runtime, "/api/tariff/schedules")
            async with http.post(url, json=body, headers=viewer) as response:
                viewer_status = response.status
            async with http.post(url, json=body, headers=operator) as response:
                created: dict[str, Any] = await response.json()
            async with http.post(url, json={**body, "start": "26:00"}, headers=operator) as bad:
                bad_status, bad_body = bad.status, await bad.json()
            async with http.get(url, headers=viewer) as response:
                listed: dict[str, Any] = await response.json()
            preview_url = _url(runtime, "/api/tariff/preview")
            preview_body = {"appliance": "appliance.dishwasher", "duration": "02:00:00"}
            async with http.post(preview_url, json=preview_body, headers=viewer) as response:
                preview: dict[str, Any] = await response.json()
    assert anonymous_status == 401
    assert prices["current"]["type"] == "standard"
    assert [s["type"] for s in prices["segments"][:4]] == [
        "off_peak",
        "standard",
        "peak",
        "standard",
    ]
    assert prices["windows"][0]["start"] == (MIDNIGHT + timedelta(hours=24)).isoformat()
    assert viewer_status == 403
    assert created["kind"] == "daily"
    assert bad_status == 400
    assert "start" in bad_body["message"]
    assert [s["id"] for s in listed["schedules"]] == [created["id"]]
    # Now (12:00-14:00 at 7.0): 28.0; the cheapest (00:00-02:00 at 5.0): 20.0, saving 8.0.
    assert preview["options"]["now"]["cost"] == 28.0
    assert preview["options"]["cheapest"]["cost"] == 20.0
    assert preview["options"]["cheapest"]["saving"] == 8.0


async def test_websocket_creates_and_deletes_schedules(tmp_path: Path) -> None:
    yaml = HTTP + tariff_yaml("Asia/Kolkata", appliances=APPLIANCES)
    async with running(tmp_path, yaml, MIDNIGHT + timedelta(hours=12)) as runtime:
        token = await _token(runtime, "op", Role.OPERATOR)
        async with (
            aiohttp.ClientSession() as http,
            http.ws_connect(_url(runtime, "/api/websocket")) as ws,
        ):
            await ws.receive_json()
            await ws.send_json({"type": "auth", "access_token": token})
            await ws.receive_json()
            await ws.send_json(
                {
                    "id": 1,
                    "type": "tariff/schedule_create",
                    "appliance": "appliance.dishwasher",
                    "kind": "once",
                    "start": "2026-01-16T01:00:00",
                    "end": "2026-01-16T03:00:00",
                }
            )
            created = await ws.receive_json()
            scheduled = runtime.states.get("appliance.dishwasher")
            await ws.send_json(
                {"id": 2, "type": "tariff/schedule_delete", "id_": "x", "schedule": "x"}
            )
            missing = await ws.receive_json()
            schedule_id = created["result"]["id"]
            await ws.send_json({"id": 3, "type": "tariff/schedules"})
            listed = await ws.receive_json()
            await ws.send_json(
                {"id": 4, "type": "tariff/schedule_delete", "schedule_id": schedule_id}
            )
            deleted = await ws.receive_json()
            after = runtime.states.get("appliance.dishwasher")
    assert created["success"] is True
    assert scheduled is not None
    assert scheduled.state == "scheduled"
    assert missing["success"] is False
    assert [s["id"] for s in listed["result"]["schedules"]] == [schedule_id]
    assert deleted["success"] is True
    assert after is not None
    assert after.state == "off"


async def test_the_energy_page_is_listed_and_its_module_served(tmp_path: Path) -> None:
    yaml = HTTP + tariff_yaml("Asia/Kolkata", appliances=APPLIANCES)
    async with running(tmp_path, yaml, MIDNIGHT + timedelta(hours=12)) as runtime:
        token = await _token(runtime, "viewer", Role.VIEWER)
        async with (
            aiohttp.ClientSession() as http,
            http.ws_connect(_url(runtime, "/api/websocket")) as ws,
        ):
            await ws.receive_json()
            await ws.send_json({"type": "auth", "access_token": token})
            await ws.receive_json()
            await ws.send_json({"id": 1, "type": "get_panels"})
            panels = (await ws.receive_json())["result"]
            async with http.get(_url(runtime, panels["energy"]["module_url"])) as response:
                module = await response.text()
    assert panels["energy"]["title"] == "Energy"
    assert "export default function render" in module
