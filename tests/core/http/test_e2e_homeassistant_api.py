"""End to end: ``edgewise run`` in a subprocess, driven by ``homeassistant_api`` from PyPI
(unmodified): its sync REST client, its async REST client and its WebSocket client, each over
what issue 27 found missing (``homeassistant.*`` services, registry writes, service
descriptions, the commands clients call on connecting, kernel events, ``call_service`` data).
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from hass_client import HomeAssistantClient
from homeassistant_api import AsyncClient, Client, WebsocketClient
from homeassistant_api.errors import RequestError

from tests.conftest import ConfigDirFactory, EdgewiseFactory

from .test_e2e_hass_client import make_token

AUTOMATIONS = """\
- id: porch_follows_door
  triggers: [{trigger: state, entity_id: input_boolean.door, to: "on"}]
  actions:
    - action: homeassistant.turn_on
      target: {entity_id: input_boolean.porch}
"""


def _start(config_dir: ConfigDirFactory, edgewise: EdgewiseFactory, port: int) -> tuple[Any, str]:
    site = config_dir(
        f"http:\n  server_host: 127.0.0.1\n  server_port: {port}\n"
        "input_boolean:\n  porch:\n    name: Porch light\n  door:\n    name: Door\n"
        "automation: !include automations.yaml\n",
        **{"automations.yaml": AUTOMATIONS},
    )
    token = make_token(Path(site))
    process = edgewise("run", "-c", site, port=port)
    process.wait_ready(30.0)
    return process, token


def _state(client: Client, entity_id: str) -> str:
    return client.get_state(entity_id=entity_id).state


def _command(ws: WebsocketClient, msg_type: str, **data: Any) -> Any:
    return ws.recv_result(ws.send(msg_type, **data)).result


def test_homeassistant_api_clients_drive_a_running_edgewise(
    config_dir: ConfigDirFactory, edgewise: EdgewiseFactory, unused_port: int
) -> None:
    process, token = _start(config_dir, edgewise, unused_port)
    rest_url = f"http://127.0.0.1:{unused_port}/api"
    ws_url = f"ws://127.0.0.1:{unused_port}/api/websocket"

    with Client(rest_url, token) as client:
        # 1. homeassistant.* dispatches to the entity's own domain.
        client.trigger_service("homeassistant", "turn_on", entity_id="input_boolean.porch")
        assert _state(client, "input_boolean.porch") == "on"
        client.trigger_service("homeassistant", "toggle", entity_id="input_boolean.porch")
        assert _state(client, "input_boolean.porch") == "off"
        # ... and an automation whose action is homeassistant.turn_on loaded and runs.
        client.trigger_service("input_boolean", "turn_on", entity_id="input_boolean.door")
        for _ in range(100):
            if _state(client, "input_boolean.porch") == "on":
                break
            client.get_state(entity_id="input_boolean.door")  # a round trip, not a sleep
        assert _state(client, "input_boolean.porch") == "on"
        # 4. Service descriptions parse into the client's models, with fields and targets.
        domains = client.get_domains()
        turn_on = domains["homeassistant"].services["turn_on"]
        assert turn_on.target is not None
        create = domains["persistent_notification"].services["create"]
        assert create.fields is not None
        assert create.fields["message"].required is True
        assert create.fields["message"].selector is not None
        assert create.fields["message"].selector.text is not None
        set_location = domains["homeassistant"].services["set_location"]
        assert set_location.fields is not None
        assert set_location.fields["latitude"].example == 32.87336
        assert set_location.fields["latitude"].selector.number is not None
        assert domains["input_boolean"].services["turn_on"].target is not None
        # 6. /api/events lists the kernel's events.
        events = {event.event for event in client.get_events()}
        assert {"state_changed", "call_service", "service_registered"} <= events

    async def async_part() -> None:
        async with AsyncClient(rest_url, token) as aclient:
            await aclient.trigger_service(
                "homeassistant", "turn_off", entity_id="input_boolean.porch"
            )
            porch = await aclient.get_state(entity_id="input_boolean.porch")
            assert porch.state == "off"
            adomains = await aclient.get_domains()
            assert "update_entity" in adomains["homeassistant"].services
            with pytest.raises(RequestError):
                await aclient.trigger_service("homeassistant", "turn_on")  # no target

    asyncio.run(async_part())

    with WebsocketClient(ws_url, token) as ws:
        ws.trigger_service("homeassistant", "turn_on", entity_id="input_boolean.porch")
        assert ws.get_state(entity_id="input_boolean.porch").state == "on"
        ws.trigger_service("homeassistant", "check_config")
        # 6. call_service carries the data as called.
        with ws.listen_events("call_service") as stream:
            ws.trigger_service("input_boolean", "turn_off", entity_id="input_boolean.porch")
            fired = next(iter(stream))
        assert fired.data["service_data"] == {"entity_id": "input_boolean.porch"}

        # 3. Registry writes.
        area = _command(ws, "config/area_registry/create", name="Front porch")
        assert area["area_id"] == "front_porch"
        renamed = _command(ws, "config/area_registry/update", area_id="front_porch", icon="mdi:x")
        assert renamed["icon"] == "mdi:x"
        updated = ws.update_entity_registry_entry(
            {
                "entity_id": "input_boolean.porch",
                "name": "Porch lamp",
                "icon": "mdi:lamp",
                "area_id": "front_porch",
                "hidden_by": "user",
            }
        )
        assert updated.entity_entry.name == "Porch lamp"
        assert updated.entity_entry.area_id == "front_porch"
        assert updated.entity_entry.hidden_by == "user"
        moved = ws.update_entity_registry_entry(
            {"entity_id": "input_boolean.porch", "new_entity_id": "input_boolean.lamp"}
        )
        assert moved.entity_entry.entity_id == "input_boolean.lamp"
        listed = {e.entity_id: e for e in ws.list_entity_registry()}
        assert "input_boolean.lamp" in listed
        assert "input_boolean.porch" not in listed
        display = _command(ws, "config/entity_registry/list_for_display")
        lamp = next(e for e in display["entities"] if e["ei"] == "input_boolean.lamp")
        assert (lamp["en"], lamp["ai"], lamp["hb"]) == ("Porch lamp", "front_porch", True)
        related = _command(ws, "search/related", item_type="area", item_id="front_porch")
        assert related == {"entity": ["input_boolean.lamp"]}
        floor = _command(ws, "config/floor_registry/create", name="Ground", level=0)
        assert (floor["floor_id"], floor["level"]) == ("ground", 0)
        _command(ws, "config/area_registry/update", area_id="front_porch", floor_id="ground")
        label = _command(ws, "config/label_registry/create", name="Outdoor", color="green")
        ws.update_entity_registry_entry(
            {"entity_id": "input_boolean.lamp", "labels": [label["label_id"]]}
        )
        assert _command(ws, "config/label_registry/list")[0]["name"] == "Outdoor"
        assert _command(ws, "config/floor_registry/delete", floor_id="ground") == "success"
        assert _command(ws, "config/area_registry/list")[0]["floor_id"] is None
        _command(ws, "config/label_registry/update", label_id="outdoor", name="Garden")
        assert _command(ws, "config/area_registry/delete", area_id="front_porch") == "success"
        ws.remove_entity_registry_entry("input_boolean.door")
        assert "input_boolean.door" not in {e.entity_id for e in ws.list_entity_registry()}

        # 5. What clients call on connecting.
        entries = {entry.domain: entry for entry in ws.get_config_entries()}
        assert entries["input_boolean"].state == "loaded"
        assert ws.get_nonuser_flows_in_progress() == ()
        manifests = {m["domain"] for m in _command(ws, "manifest/list")}
        assert {"recorder", "input_boolean", "automation"} <= manifests
        sources = _command(ws, "entity/source")
        assert sources["input_boolean.lamp"]["domain"] == "input_boolean"
        info = _command(ws, "recorder/info")
        assert info["recording"] is True
        history = _command(
            ws,
            "history/history_during_period",
            entity_ids=["input_boolean.lamp"],
            start_time="2020-01-01T00:00:00+00:00",
        )
        assert [item["s"] for item in history["input_boolean.lamp"]][-1] == "off"

    # Subscriptions (homeassistant_api's WebSocket models parse only event and template
    # events), through hass-client's generic subscribe.
    asyncio.run(_streams(ws_url, token))
    assert process.stop() == 0


async def _streams(ws_url: str, token: str) -> None:
    """``system_health/info``, ``history/stream`` and ``logbook/event_stream`` by hass-client."""
    queues: dict[str, asyncio.Queue[Any]] = {
        name: asyncio.Queue() for name in ("health", "history", "logbook")
    }

    def into(name: str) -> Any:
        return queues[name].put_nowait

    async def next_of(name: str) -> Any:
        async with asyncio.timeout(20):
            return (await queues[name].get())["event"]

    since = "2020-01-01T00:00:00+00:00"
    async with (
        aiohttp.ClientSession() as session,
        HomeAssistantClient(ws_url, token, session) as client,
    ):
        await client.subscribe(into("health"), "system_health/info")
        initial = await next_of("health")
        assert initial["type"] == "initial"
        assert initial["data"]["homeassistant"]["info"]["version"]
        assert await next_of("health") == {"type": "finish"}

        await client.subscribe(
            into("history"), "history/stream", entity_ids=["input_boolean.lamp"], start_time=since
        )
        first = await next_of("history")
        assert first["states"]["input_boolean.lamp"][-1]["s"] == "off"
        await client.subscribe(
            into("logbook"),
            "logbook/event_stream",
            entity_ids=["input_boolean.lamp"],
            start_time=since,
        )
        assert (await next_of("logbook"))["events"][-1]["state"] == "off"
        await client.call_service(
            "homeassistant", "turn_on", target={"entity_id": "input_boolean.lamp"}
        )
        live = await next_of("history")
        assert live["states"]["input_boolean.lamp"][0]["s"] == "on"
        assert (await next_of("logbook"))["events"][0]["state"] == "on"
