"""Area-limited users on the Energy page's API and the control log: their appliances only."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import aiohttp

from core import Context, Runtime
from core.auth import Role
from core.auth.manager import hash_password
from tests.integrations._runtime import running

from .conftest import tariff_yaml
from .test_api import MIDNIGHT, _url

APPLIANCES = (
    "  appliances:\n"
    "    - {name: Dishwasher, area: Kitchen, tier: shiftable, power: 2000}\n"
    "    - {name: Dryer, area: Garage, tier: shiftable, power: 2500}\n"
)


async def _headers(runtime: Runtime, name: str, role: Role, areas: set[str] | None) -> Any:
    assert runtime.http is not None
    auth = runtime.http.auth
    user = auth.data.add_user(name, hash_password(f"pw-{name}"), role=role)
    user.areas = None if areas is None else frozenset(areas)
    _, token = await auth.create_long_lived_token(user, "tests")
    return {"Authorization": f"Bearer {token}"}


def _daily(appliance: str) -> dict[str, Any]:
    return {"appliance": appliance, "kind": "daily", "start": "01:00", "duration": "01:00:00"}


async def test_an_area_limited_operator_sees_and_schedules_only_their_appliances(
    tmp_path: Path,
) -> None:
    yaml = tariff_yaml("Asia/Kolkata", appliances=APPLIANCES)
    async with running(tmp_path, yaml, MIDNIGHT + timedelta(hours=12)) as runtime:
        # An appliance's ``area:`` is an attribute; its registry area is where an admin puts it.
        kitchen = runtime.area_registry.create("Kitchen")
        garage = runtime.area_registry.create("Garage")
        for entity_id, area in (("appliance.dishwasher", kitchen), ("appliance.dryer", garage)):
            assert runtime.entity_registry.get(entity_id) is not None, entity_id
            runtime.entity_registry.update(entity_id, area_id=area.id)
        admin = await _headers(runtime, "admin", Role.ADMIN, None)
        mine = await _headers(runtime, "cook", Role.OPERATOR, {kitchen.id})
        for appliance, service in (("dishwasher", "turn_on"), ("dryer", "turn_on")):
            await runtime.services.call(
                "appliance",
                service,
                target={"entity_id": f"appliance.{appliance}"},
                context=Context(user_id="someone"),
            )
        schedules = _url(runtime, "/api/tariff/schedules")
        async with aiohttp.ClientSession() as http:
            async with http.post(schedules, json=_daily("appliance.dryer"), headers=admin) as r:
                dryer = await r.json()
            async with http.post(schedules, json=_daily("appliance.dishwasher"), headers=mine) as r:
                dishwasher = await r.json()
            async with http.post(schedules, json=_daily("appliance.dryer"), headers=mine) as r:
                refused = (r.status, await r.json())
            async with http.get(schedules, headers=mine) as r:
                listed = await r.json()
            delete = _url(runtime, "/api/tariff/schedules/delete")
            async with http.post(delete, json={"schedule_id": dryer["id"]}, headers=mine) as r:
                not_deleted = r.status
            preview = _url(runtime, "/api/tariff/preview")
            body = {"appliance": "appliance.dryer", "duration": "01:00:00"}
            async with http.post(preview, json=body, headers=mine) as r:
                no_preview = (r.status, await r.json())
            async with http.get(_url(runtime, "/api/tariff/prices"), headers=mine) as r:
                prices_status = r.status
            log_url = _url(runtime, "/api/appliance/control_log")
            async with http.get(log_url, headers=mine) as r:
                log = await r.json()
            async with http.get(log_url + "?appliance=appliance.dryer", headers=mine) as r:
                dryer_log = await r.json()
            async with http.get(log_url, headers=admin) as r:
                everything = await r.json()
            async with http.ws_connect(_url(runtime, "/api/websocket")) as ws:
                await ws.receive_json()
                await ws.send_json({"type": "auth", "access_token": mine["Authorization"][7:]})
                assert (await ws.receive_json())["type"] == "auth_ok"
                await ws.send_json({"id": 1, "type": "tariff/schedules"})
                ws_listed = (await ws.receive_json())["result"]
                await ws.send_json({"id": 2, "type": "appliance/control_log"})
                ws_log = (await ws.receive_json())["result"]
    assert dishwasher["appliance"] == "appliance.dishwasher"
    assert refused[0] == 400
    assert "appliance.dryer does not exist" in refused[1]["message"]
    assert [s["appliance"] for s in listed["schedules"]] == ["appliance.dishwasher"]
    assert [s["appliance"] for s in ws_listed["schedules"]] == ["appliance.dishwasher"]
    assert not_deleted == 400
    assert no_preview[0] == 400
    assert "does not exist" in no_preview[1]["message"]
    assert prices_status == 200
    assert {e["appliance"] for e in log["entries"]} == {"appliance.dishwasher"}
    assert {e["appliance"] for e in ws_log["entries"]} == {"appliance.dishwasher"}
    assert dryer_log["entries"] == []
    assert {e["appliance"] for e in everything["entries"]} == {
        "appliance.dishwasher",
        "appliance.dryer",
    }
