"""The WebSocket API: auth phase, commands, subscriptions, roles, and misbehaving clients."""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import struct
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
import pytest

from core.auth import Role
from core.const import HA_COMPAT_VERSION
from tests._helpers import wait_for
from tests.core.http.conftest import Api


class Client:
    """A WebSocket API client that checks each message it reads."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.next_id = 0
        self.pending: list[dict[str, Any]] = []

    async def send(self, msg_type: str, **fields: Any) -> int:
        self.next_id += 1
        await self.ws.send_json({"id": self.next_id, "type": msg_type, **fields})
        return self.next_id

    async def receive(self) -> dict[str, Any]:
        if self.pending:
            return self.pending.pop(0)
        async with asyncio.timeout(20):
            data = await self.ws.receive_json()
        if isinstance(data, list):
            self.pending.extend(data[1:])
            return data[0]
        result: dict[str, Any] = data
        return result

    async def command(self, msg_type: str, **fields: Any) -> dict[str, Any]:
        msg_id = await self.send(msg_type, **fields)
        while True:
            msg = await self.receive()
            if msg["id"] == msg_id and msg["type"] == "result":
                return msg


@asynccontextmanager
async def connect(api: Api, role: Role = Role.ADMIN) -> AsyncIterator[Client]:
    async with api.session.ws_connect(api.ws_url) as ws:
        hello = await ws.receive_json()
        assert hello == {"type": "auth_required", "ha_version": HA_COMPAT_VERSION}
        await ws.send_json({"type": "auth", "access_token": api.tokens[role]})
        assert await ws.receive_json() == {"type": "auth_ok", "ha_version": HA_COMPAT_VERSION}
        yield Client(ws)


async def test_a_wrong_token_gets_auth_invalid(api: Api) -> None:
    async with api.session.ws_connect(api.ws_url) as ws:
        await ws.receive_json()
        await ws.send_json({"type": "auth", "access_token": "nope"})
        answer = await ws.receive_json()
        assert answer["type"] == "auth_invalid"
        assert answer["message"] == "Invalid access token or password"
        assert answer["ha_version"] == HA_COMPAT_VERSION
        assert (await ws.receive()).type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)


async def test_basic_commands(api: Api) -> None:
    async with connect(api, Role.VIEWER) as client:
        msg_id = await client.send("ping")
        assert await client.receive() == {"id": msg_id, "type": "pong"}
        states = await client.command("get_states")
        assert states["success"] is True
        assert "light.kitchen" in {s["entity_id"] for s in states["result"]}
        config = await client.command("get_config")
        assert config["result"]["location_name"]
        services = await client.command("get_services")
        assert "turn_on" in services["result"]["light"]
        panels = await client.command("get_panels")
        assert panels["success"] is True
        user = await client.command("auth/current_user")
        assert user["result"]["name"] == "viewer-user"
        assert user["result"]["is_admin"] is False


async def test_bad_messages_get_home_assistant_errors(api: Api) -> None:
    async with connect(api) as client:
        unknown = await client.command("no_such_command")
        assert unknown["error"] == {"code": "unknown_command", "message": "Unknown command."}
        await client.ws.send_json({"id": client.next_id, "type": "ping"})
        reused = await client.receive()
        assert reused["error"]["code"] == "id_reuse"
        await client.ws.send_json({"type": "ping"})
        assert (await client.receive())["error"]["code"] == "invalid_format"
        await client.ws.send_json([1, 2])
        assert (await client.receive())["error"]["code"] == "invalid_format"
        missing = await client.command("call_service", service="turn_on")
        assert missing["error"]["code"] == "invalid_format"
        assert "domain" in missing["error"]["message"]
        not_found = await client.command("call_service", domain="light", service="explode")
        assert not_found["error"] == {
            "code": "not_found",
            "message": "Service light.explode not found.",
        }
        invalid = await client.command(
            "call_service", domain="light", service="turn_on", service_data={"brightness": "x"}
        )
        assert invalid["error"]["code"] == "service_validation_error"
        # Still serving.
        msg_id = await client.send("ping")
        assert await client.receive() == {"id": msg_id, "type": "pong"}


async def test_garbage_closes_the_connection_with_a_reason(api: Api, caplog: Any) -> None:
    async with connect(api) as client:
        await client.ws.send_str("{this is not json")
        closing = await client.ws.receive()
        assert closing.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
    assert "sent invalid JSON" in caplog.text
    async with connect(api) as client:
        await client.ws.send_bytes(b"\x00\x01")
        closing = await client.ws.receive()
        assert closing.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
    assert "non-text message" in caplog.text


async def test_subscribe_events_with_and_without_a_type(api: Api) -> None:
    async with connect(api, Role.ADMIN) as client:
        typed = await client.command("subscribe_events", event_type="state_changed")
        every = await client.command("subscribe_events")
        api.runtime.states.set("sensor.outside", "3")
        got: dict[int, dict[str, Any]] = {}
        while len(got) < 2:
            msg = await client.receive()
            if msg["type"] == "event" and msg["event"]["event_type"] == "state_changed":
                got[msg["id"]] = msg["event"]
        assert set(got) == {typed["id"], every["id"]}
        event = got[typed["id"]]
        assert event["data"]["new_state"]["state"] == "3"
        assert event["data"]["old_state"] is None
        assert event["origin"] == "LOCAL"
        done = await client.command("unsubscribe_events", subscription=typed["id"])
        assert done["success"] is True
        again = await client.command("unsubscribe_events", subscription=typed["id"])
        assert again["error"] == {"code": "not_found", "message": "Subscription not found."}


async def test_subscribe_entities_compressed_format(api: Api) -> None:
    async with connect(api, Role.VIEWER) as client:
        sub = await client.command("subscribe_entities", entity_ids=["light.kitchen"])
        initial = await client.receive()
        assert initial["id"] == sub["id"]
        kitchen = initial["event"]["a"]["light.kitchen"]
        assert kitchen["s"] == "off"
        assert kitchen["a"] == {"friendly_name": "Kitchen"}
        assert isinstance(kitchen["lc"], float)
        api.runtime.states.set("light.kitchen", "on", {"friendly_name": "Kitchen", "level": 3})
        change = (await client.receive())["event"]["c"]["light.kitchen"]
        assert change["+"]["s"] == "on"
        assert change["+"]["a"] == {"level": 3}
        api.runtime.states.set("light.kitchen", "on", {"level": 3})
        change = (await client.receive())["event"]["c"]["light.kitchen"]
        assert change["-"] == {"a": ["friendly_name"]}
        assert "s" not in change["+"]
        api.runtime.states.set("sensor.other", "1")  # not subscribed
        api.runtime.states.remove("light.kitchen")
        assert (await client.receive())["event"] == {"r": ["light.kitchen"]}
        every = await client.command("subscribe_entities")
        initial = await client.receive()
        assert initial["id"] == every["id"]
        assert "sensor.other" in initial["event"]["a"]


async def test_call_service_and_fire_event(api: Api) -> None:
    async with connect(api, Role.OPERATOR) as client:
        result = await client.command(
            "call_service", domain="light", service="turn_on", target={"entity_id": "light.kitchen"}
        )
        assert result["success"] is True
        assert set(result["result"]["context"]) == {"id", "parent_id", "user_id"}
        state = api.runtime.states.get("light.kitchen")
        assert state is not None
        assert state.state == "on"
        answered = await client.command(
            "call_service",
            domain="apitest",
            service="answer",
            service_data={"q": 1},
            return_response=True,
        )
        assert answered["result"]["response"] == {"echo": {"q": 1}}
        denied = await client.command("call_service", domain="apitest", service="reload")
        assert denied["error"]["code"] == "unauthorized"
        denied = await client.command("fire_event", event_type="x")
        assert denied["error"] == {"code": "unauthorized", "message": "Unauthorized"}
    async with connect(api) as client:
        fired = await client.command("fire_event", event_type="x", event_data={"a": 1})
        assert fired["success"] is True


async def test_persistent_notifications_stream_in_home_assistants_format(api: Api) -> None:
    notifications = api.runtime.notifications
    notifications.create("Filter due", title="AHU", notification_id="ahu")
    async with connect(api, Role.VIEWER) as client:
        sub = await client.command("persistent_notification/subscribe")
        assert sub["success"] is True
        current = await client.receive()
        assert current["id"] == sub["id"]
        assert current["event"]["type"] == "current"
        created_at = notifications.all()["ahu"]["created_at"]
        assert current["event"]["notifications"]["ahu"] == {
            "notification_id": "ahu",
            "title": "AHU",
            "message": "Filter due",
            "created_at": created_at,
            # Edgewise's alarm fields, which Home Assistant's clients ignore:
            "severity": "info",
            "count": 1,
            "updated_at": created_at,
            "acknowledged_at": None,
            "acknowledged_by": None,
        }
        notifications.create("Zone 1 too warm", notification_id="zone_1")
        notifications.create("Zone 1 much too warm", notification_id="zone_1")
        notifications.dismiss("ahu")
        seen = [(await client.receive())["event"] for _ in range(3)]
        assert [(e["type"], list(e["notifications"])) for e in seen] == [
            ("added", ["zone_1"]),
            ("updated", ["zone_1"]),
            ("removed", ["ahu"]),
        ]
        assert seen[1]["notifications"]["zone_1"]["message"] == "Zone 1 much too warm"
        done = await client.command("unsubscribe_events", subscription=sub["id"])
        assert done["success"] is True
        notifications.create("After", notification_id="later")
        pong = await client.send("ping")
        assert await client.receive() == {"id": pong, "type": "pong"}


# (command, fields, least role)
WS_COMMANDS: list[tuple[str, dict[str, Any], Role]] = [
    ("ping", {}, Role.VIEWER),
    ("get_states", {}, Role.VIEWER),
    ("get_config", {}, Role.VIEWER),
    ("get_services", {}, Role.VIEWER),
    ("get_panels", {}, Role.VIEWER),
    ("subscribe_events", {"event_type": "state_changed"}, Role.VIEWER),
    ("subscribe_events", {"event_type": "service_registered"}, Role.VIEWER),
    ("subscribe_events", {"event_type": "persistent_notifications_updated"}, Role.VIEWER),
    # Not on Home Assistant's allowlist: what others do, with its data, is for admins only.
    ("subscribe_events", {"event_type": "call_service"}, Role.ADMIN),
    ("subscribe_events", {"event_type": "automation_triggered"}, Role.ADMIN),
    ("subscribe_events", {}, Role.ADMIN),
    ("subscribe_entities", {}, Role.VIEWER),
    ("auth/current_user", {}, Role.VIEWER),
    ("auth/refresh_tokens", {}, Role.VIEWER),
    ("call_service", {"domain": "light", "service": "turn_on"}, Role.OPERATOR),
    ("call_service", {"domain": "apitest", "service": "reload"}, Role.ADMIN),
    ("fire_event", {"event_type": "something"}, Role.ADMIN),
    ("render_template", {"template": "{{ 1 }}"}, Role.ADMIN),
    ("config/entity_registry/list", {}, Role.VIEWER),
    ("config/device_registry/list", {}, Role.VIEWER),
    ("config/area_registry/list", {}, Role.VIEWER),
    ("persistent_notification/subscribe", {}, Role.VIEWER),
]


@pytest.mark.asyncio(loop_scope="module")
@pytest.mark.parametrize(
    ("command", "fields", "least"),
    WS_COMMANDS,
    ids=[f"{c}-{f.get('service', f.get('event_type', ''))}" for c, f, _ in WS_COMMANDS],
)
async def test_command_enforces_its_role(
    shared_api: Api, command: str, fields: dict[str, Any], least: Role
) -> None:
    api = shared_api
    rank = {Role.VIEWER: 1, Role.OPERATOR: 2, Role.ADMIN: 3}
    for role in Role:
        async with connect(api, role) as client:
            msg_id = await client.send(command, **fields)
            while True:
                msg = await client.receive()
                if msg["id"] == msg_id and msg["type"] in ("result", "pong"):
                    break
            if rank[role] < rank[least]:
                assert msg["error"]["code"] == "unauthorized", (role, msg)
            else:
                assert msg.get("success", True) is True, (role, msg)


async def test_long_lived_token_from_the_websocket_and_revocation_closes(api: Api) -> None:
    async with connect(api, Role.VIEWER) as client:
        created = await client.command(
            "auth/long_lived_access_token", client_name="dashboard", lifespan=30
        )
        token = created["result"]
    api.tokens[Role.VIEWER] = token
    async with connect(api, Role.VIEWER) as client:
        grants = (await client.command("auth/refresh_tokens"))["result"]
        current = next(g for g in grants if g["is_current"])
        assert current["client_name"] == "dashboard"
        await client.command("auth/delete_refresh_token", refresh_token_id=current["id"])
        closing = await client.ws.receive()
        assert closing.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
    async with api.session.ws_connect(api.ws_url) as ws:
        await ws.receive_json()
        await ws.send_json({"type": "auth", "access_token": token})
        assert (await ws.receive_json())["type"] == "auth_invalid"


async def test_coalesced_messages_arrive_as_arrays(api: Api) -> None:
    async with connect(api) as client:
        assert (await client.command("supported_features", features={"coalesce_messages": 1}))[
            "success"
        ]
        for _ in range(50):
            await client.send("ping")
        frames = 0
        pongs = 0
        while pongs < 50:
            async with asyncio.timeout(20):
                data = await client.ws.receive_json()
            frames += 1
            pongs += len(data) if isinstance(data, list) else 1
        assert pongs == 50
        assert frames <= 50


async def test_a_burst_of_ten_thousand_messages_is_answered_in_order(api: Api) -> None:
    async with connect(api) as client:
        payload = "".join(
            json.dumps({"id": i, "type": "ping"}) + "\n" for i in range(1, 10_001)
        ).splitlines()
        for line in payload:
            await client.ws.send_str(line)
        expected = 1
        while expected <= 10_000:
            msg = await client.receive()
            assert msg == {"id": expected, "type": "pong"}
            expected += 1


def _handshake(port: int, token: str) -> socket.socket:
    """A raw WebSocket client that authenticates, subscribes, and then never reads again."""
    sock = socket.create_connection(("127.0.0.1", port))
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.sendall(
        b"GET /api/websocket HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
        b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        b"Sec-WebSocket-Version: 13\r\n\r\n"
    )
    sock.settimeout(20)
    buffer = b""
    while b"auth_required" not in buffer:
        buffer += sock.recv(4096)

    def frame(text: str) -> bytes:
        data = text.encode()
        mask = b"\x01\x02\x03\x04"
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(data))
        header = b"\x81" + (
            bytes([0x80 | len(data)]) if len(data) < 126 else b"\xfe" + struct.pack("!H", len(data))
        )
        return header + mask + masked

    sock.sendall(frame(json.dumps({"type": "auth", "access_token": token})))
    while b"auth_ok" not in buffer:
        buffer += sock.recv(4096)
    sock.sendall(frame(json.dumps({"id": 1, "type": "subscribe_events"})))
    return sock


async def test_a_client_that_never_reads_is_disconnected_and_the_runtime_goes_on(
    api: Api, caplog: Any
) -> None:
    caplog.set_level(logging.WARNING)
    assert api.runtime.http is not None
    sock = await asyncio.to_thread(_handshake, api.runtime.http.port or 0, api.tokens[Role.ADMIN])
    try:
        hub = api.runtime.http.websocket
        await wait_for(lambda: any(c.subscriptions for c in hub.connections))
        blob = "x" * 2000
        async with connect(api) as healthy:
            for i in range(20_000):
                api.runtime.states.set("sensor.flood", str(i), {"blob": blob})
                if i % 500 == 0:
                    await asyncio.sleep(0)
                if "fell behind" in caplog.text:
                    break
            await wait_for(lambda: "fell behind" in caplog.text)
            await wait_for(lambda: len(hub.connections) == 1)
            # The healthy client is still served.
            msg_id = await healthy.send("ping")
            while (msg := await healthy.receive())["id"] != msg_id:
                pass
            assert msg == {"id": msg_id, "type": "pong"}
    finally:
        sock.close()


async def test_helper_collection_commands(api_factory: Any) -> None:
    from integrations import input_number

    api: Api = await api_factory(
        "input_number:\n  from_yaml:\n    name: From YAML\n    min: 0\n    max: 5\n", input_number
    )
    async with connect(api, Role.VIEWER) as viewer:
        listed = await viewer.command("input_number/list")
        assert [item["id"] for item in listed["result"]] == ["from_yaml"]
        denied = await viewer.command("input_number/create", name="Level", min=0, max=10)
        assert denied["error"]["code"] == "unauthorized"
    async with connect(api) as admin:
        created = await admin.command("input_number/create", name="Level", min=0, max=10)
        assert created["success"] is True, created
        item_id = created["result"]["id"]
        updated = await admin.command("input_number/update", input_number_id=item_id, max=20)
        assert updated["result"]["max"] == 20
        read_only = await admin.command("input_number/update", input_number_id="from_yaml", max=9)
        assert read_only["error"]["code"] == "invalid_format"
        deleted = await admin.command("input_number/delete", input_number_id=item_id)
        assert deleted["success"] is True
        missing = await admin.command("input_number/delete", input_number_id=item_id)
        assert missing["error"]["code"] == "not_found"
        unknown = await admin.command("no_helper/list")
        assert unknown["error"]["code"] == "unknown_command"


async def test_registry_commands(api: Api) -> None:
    runtime = api.runtime
    area = runtime.area_registry.create("Kitchen")
    device = runtime.device_registry.get_or_create(
        "apitest", identifiers=[("apitest", "plug-1")], name="Plug", manufacturer="Acme"
    )
    runtime.entity_registry.get_or_create(
        "switch", "apitest", "plug-1-relay", device_id=device.id, original_name="Relay"
    )
    async with connect(api, Role.VIEWER) as client:
        entities = (await client.command("config/entity_registry/list"))["result"]
        relay = next(e for e in entities if e["unique_id"] == "plug-1-relay")
        assert relay["platform"] == "apitest"
        assert relay["device_id"] == device.id
        got = await client.command("config/entity_registry/get", entity_id=relay["entity_id"])
        assert got["result"]["original_name"] == "Relay"
        missing = await client.command("config/entity_registry/get", entity_id="switch.none")
        assert missing["error"]["code"] == "not_found"
        devices = (await client.command("config/device_registry/list"))["result"]
        plug = next(d for d in devices if d["id"] == device.id)
        assert plug["identifiers"] == [["apitest", "plug-1"]]
        assert plug["manufacturer"] == "Acme"
        areas = (await client.command("config/area_registry/list"))["result"]
        assert {"area_id": area.id, "name": "Kitchen"}.items() <= next(
            a for a in areas if a["area_id"] == area.id
        ).items()
