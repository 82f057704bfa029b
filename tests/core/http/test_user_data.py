"""Per-user panel data (``frontend/get_user_data``, ``set_user_data``, ``subscribe_user_data``)."""

from __future__ import annotations

import json

from core.auth import Role
from core.http.user_data import MAX_USER_BYTES
from core.storage import storage_path
from tests.core.http.conftest import Api
from tests.core.http.test_ws_panel import connect


async def test_each_user_reads_and_writes_only_their_own_data_and_it_is_saved(api: Api) -> None:
    viewer = await connect(api, Role.VIEWER)
    admin = await connect(api, Role.ADMIN)
    layout = {"order": ["plant_room", "kitchen"], "hidden": ["garage"]}

    assert (await viewer.command(type="frontend/get_user_data", key="overview"))["result"] == {
        "value": None
    }
    saved = await viewer.command(type="frontend/set_user_data", key="overview", value=layout)
    assert saved["success"], saved
    mine = await viewer.command(type="frontend/get_user_data", key="overview")
    assert mine["result"] == {"value": layout}
    everything = await viewer.command(type="frontend/get_user_data")
    assert everything["result"] == {"value": {"overview": layout}}
    # Another user (an admin, even) sees their own data, not the viewer's.
    other = await admin.command(type="frontend/get_user_data", key="overview")
    assert other["result"] == {"value": None}

    # Saved to .storage as Home Assistant names it, written at the latest at shutdown.
    users = api.runtime.http.auth.data.users.values()
    viewer_id = next(u.id for u in users if u.role is Role.VIEWER)
    await api.runtime.http.user_data.flush()
    path = storage_path(api.runtime.config_dir, f"frontend.user_data_{viewer_id}")
    assert json.loads(path.read_text())["data"] == {"overview": layout}

    removed = await viewer.command(type="frontend/set_user_data", key="overview", value=None)
    assert removed["success"]
    assert (await viewer.command(type="frontend/get_user_data"))["result"] == {"value": {}}


async def test_bad_keys_and_oversized_values_are_refused_naming_the_bound(api: Api) -> None:
    client = await connect(api, Role.VIEWER)
    big = await client.command(
        type="frontend/set_user_data", key="layout", value="x" * (MAX_USER_BYTES + 1)
    )
    assert big["error"]["code"] == "invalid_format"
    assert "at most 65536 bytes" in big["error"]["message"]
    bad_key = await client.command(type="frontend/set_user_data", key="../auth", value=1)
    assert "data['key']" in bad_key["error"]["message"]
    no_value = await client.command(type="frontend/set_user_data", key="layout")
    assert "data['value']" in no_value["error"]["message"]
    for n in range(64):
        ok = await client.command(type="frontend/set_user_data", key=f"k{n}", value=n)
        assert ok["success"]
    too_many = await client.command(type="frontend/set_user_data", key="k64", value=1)
    assert "at most 64 keys" in too_many["error"]["message"]
    # Nothing of the refused writes was kept.
    data = (await client.command(type="frontend/get_user_data"))["result"]["value"]
    assert "layout" not in data
    assert len(data) == 64


async def test_a_subscription_gets_the_value_then_changes_from_another_tab(api: Api) -> None:
    tab1 = await connect(api, Role.VIEWER)
    tab2 = await connect(api, Role.VIEWER)
    await tab1.ws.send_json({"id": 1, "type": "frontend/subscribe_user_data", "key": "overview"})
    tab1.next_id = 2
    assert (await tab1.ws.receive_json(timeout=20))["success"]
    first = await tab1.ws.receive_json(timeout=20)
    assert first == {"id": 1, "type": "event", "event": {"value": None}}
    await tab2.command(type="frontend/set_user_data", key="other", value=1)
    await tab2.command(type="frontend/set_user_data", key="overview", value={"order": ["a"]})
    changed = await tab1.ws.receive_json(timeout=20)
    assert changed["event"] == {"value": {"order": ["a"]}}
