"""Registry writes over WebSocket: admins only, HA's error codes, null clears, absent keeps."""

from __future__ import annotations

from core.auth import Role

from .conftest import Api
from .test_websocket import connect


async def test_registry_writes_need_an_admin(api: Api) -> None:
    entry = api.runtime.entity_registry.get_or_create("switch", "test", "a")
    async with connect(api, Role.OPERATOR) as client:
        for msg_type, fields in (
            ("config/entity_registry/update", {"entity_id": entry.entity_id, "name": "x"}),
            ("config/entity_registry/remove", {"entity_id": entry.entity_id}),
            ("config/area_registry/create", {"name": "Hall"}),
            ("config/device_registry/update", {"device_id": "x", "area_id": None}),
            ("config/floor_registry/create", {"name": "Roof"}),
            ("config/label_registry/delete", {"label_id": "x"}),
        ):
            answer = await client.command(msg_type, **fields)
            assert answer["error"]["code"] == "unauthorized", msg_type
        listed = await client.command("config/entity_registry/list_for_display")
        assert listed["success"] is True
    assert api.runtime.entity_registry.get(entry.entity_id).name is None
    assert all(a.name != "Hall" for a in api.runtime.area_registry.values())


async def test_update_answers_not_found_invalid_info_and_null_clears(api: Api) -> None:
    registry = api.runtime.entity_registry
    entry = registry.get_or_create("switch", "test", "b")
    other = registry.get_or_create("switch", "test", "c")
    async with connect(api) as client:
        missing = await client.command("config/entity_registry/update", entity_id="switch.nope")
        assert missing["error"]["code"] == "not_found"
        taken = await client.command(
            "config/entity_registry/update",
            entity_id=entry.entity_id,
            new_entity_id=other.entity_id,
        )
        assert taken["error"]["code"] == "invalid_info"
        no_area = await client.command(
            "config/entity_registry/update", entity_id=entry.entity_id, area_id="nowhere"
        )
        assert no_area["error"]["code"] == "invalid_info"
        made = await client.command("config/area_registry/create", name="Boiler room")
        area_id = made["result"]["area_id"]
        await client.command(
            "config/entity_registry/update",
            entity_id=entry.entity_id,
            area_id=area_id,
            icon="mdi:fire",
        )
        kept = await client.command(
            "config/entity_registry/update", entity_id=entry.entity_id, name="Boiler"
        )
        assert kept["result"]["entity_entry"]["icon"] == "mdi:fire"  # left out: kept
        cleared = await client.command(
            "config/entity_registry/update", entity_id=entry.entity_id, area_id=None
        )
        assert cleared["result"]["entity_entry"]["area_id"] is None  # null: cleared
        bad = await client.command(
            "config/entity_registry/update", entity_id=entry.entity_id, name=3
        )
        assert bad["error"]["code"] == "invalid_format"
        twice = await client.command("config/area_registry/create", name="boiler ROOM")
        assert twice["error"]["code"] == "invalid_info"
