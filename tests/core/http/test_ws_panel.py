"""The WebSocket commands the panel uses: registries, users, integrations, panels of plugins."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from core.auth import Role
from core.hookspecs import hookimpl
from core.http.panels import Panel
from core.integration import Manifest
from core.runtime import Runtime
from tests.core.http.conftest import Api


class WsClient:
    """An authenticated WebSocket client that runs one command at a time."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.next_id = 1

    async def command(self, **message: Any) -> dict[str, Any]:
        msg_id = self.next_id
        self.next_id += 1
        await self.ws.send_json({"id": msg_id, **message})
        while True:
            answer: dict[str, Any] = await self.ws.receive_json(timeout=20)
            if answer.get("id") == msg_id and answer["type"] == "result":
                return answer


async def connect(api: Api, role: Role) -> WsClient:
    ws = await api.session.ws_connect(api.ws_url)
    assert (await ws.receive_json())["type"] == "auth_required"
    await ws.send_json({"type": "auth", "access_token": api.tokens[role]})
    assert (await ws.receive_json())["type"] == "auth_ok"
    return WsClient(ws)


async def test_registries_and_integrations_are_listed_to_any_user(api: Api) -> None:
    runtime = api.runtime
    area = runtime.area_registry.create("Boiler room")
    entry = runtime.entity_registry.get_or_create(
        "sensor", "apitest", "flow", suggested_object_id="flow"
    )
    runtime.entity_registry.update(entry.entity_id, area_id=area.id)
    client = await connect(api, Role.VIEWER)

    areas = await client.command(type="config/area_registry/list")
    entities = await client.command(type="config/entity_registry/list")
    devices = await client.command(type="config/device_registry/list")
    integrations = await client.command(type="edgewise/integrations")
    names = await client.command(type="edgewise/user_names")

    assert {"area_id": "boiler_room", "name": "Boiler room"}.items() <= areas["result"][0].items()
    assert [e["area_id"] for e in entities["result"] if e["entity_id"] == "sensor.flow"] == [
        "boiler_room"
    ]
    assert devices["result"] == []
    apitest = next(i for i in integrations["result"] if i["domain"] == "apitest")
    assert apitest["status"] == "running"
    assert "viewer-user" in names["result"].values()


async def test_users_are_managed_by_admins_only(api: Api) -> None:
    viewer = await connect(api, Role.VIEWER)
    denied = await viewer.command(type="config/auth/list")
    assert denied["error"]["code"] == "unauthorized"

    admin = await connect(api, Role.ADMIN)
    created = await admin.command(
        type="config/auth/create",
        username="olga",
        password="pw-long-enough",
        name="Olga",
        role="operator",
    )
    user = created["result"]["user"]
    assert user["role"] == "operator"
    assert "password_hash" not in user
    bad_role = await admin.command(type="config/auth/update", user_id=user["id"], role="king")
    assert bad_role["error"]["code"] == "invalid_format"
    assert "role" in bad_role["error"]["message"]
    updated = await admin.command(type="config/auth/update", user_id=user["id"], role="viewer")
    assert updated["result"]["user"]["role"] == "viewer"
    listed = await admin.command(type="config/auth/list")
    assert "olga" in [u["username"] for u in listed["result"]]
    await admin.command(type="config/auth/delete", user_id=user["id"])
    assert api.runtime.http is not None
    assert api.runtime.http.auth.data.user_by_username("olga") is None
    me = next(u for u in listed["result"] if u["username"] == "admin-user")
    refused = await admin.command(type="config/auth/delete", user_id=me["id"])
    assert refused["error"]["code"] == "invalid_format"


class PanelPlugin:
    """Adds one good panel, one admin-only panel and one bad descriptor."""

    def __init__(self, static_dir: Path) -> None:
        self.static_dir = static_dir

    @hookimpl
    def edgewise_manifest(self) -> Manifest:
        return Manifest(domain="panelplugin", name="Panel plugin", default=True)

    @hookimpl
    def edgewise_panels(self, runtime: Runtime) -> list[object]:
        return [
            Panel(
                url_path="points", title="Points", module="points.js", static_dir=self.static_dir
            ),
            Panel(url_path="tariffs", title="Tariffs", require_admin=True),
            "not a panel",
        ]


async def test_edgewise_panels_hook_lists_and_serves_integration_pages(
    api_factory: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "points.js").write_text("export default function render(el) {}\n")
    api: Api = await api_factory("", PanelPlugin(tmp_path))
    viewer = await connect(api, Role.VIEWER)
    with caplog.at_level(logging.ERROR):
        panels = (await viewer.command(type="get_panels"))["result"]
    assert "returned 'not a panel', not a Panel" in caplog.text
    assert set(panels) == {"edgewise", "points"}
    module_url = panels["points"]["module_url"]
    assert panels["points"]["component_name"] == "panelplugin"
    async with api.session.get(api.url + module_url) as response:
        assert response.status == 200
        assert "render" in await response.text()

    admin = await connect(api, Role.ADMIN)
    assert "tariffs" in (await admin.command(type="get_panels"))["result"]


def test_a_panel_with_a_reserved_or_bad_url_path_is_refused() -> None:
    with pytest.raises(ValueError, match="reserved"):
        Panel(url_path="settings", title="Mine")
    with pytest.raises(ValueError, match="module and static_dir"):
        Panel(url_path="mine", title="Mine", module="x.js")
