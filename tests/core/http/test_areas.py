"""Area limits of Edgewise's own users: set with the CLI, picked up live, sessions closed."""

from __future__ import annotations

from typing import Any

import aiohttp

import integrations.recorder as recorder_integration
from core.auth import AuthManager, Role
from core.cli import main
from tests.core.http.conftest import Api, wait_for


def _areas(auth: AuthManager) -> frozenset[str] | None:
    auth.reload_if_changed()
    user = auth.data.user_by_username("operator-user")
    assert user is not None
    return user.areas


async def test_cli_limits_a_user_to_areas_and_their_open_session_is_closed(api: Api) -> None:
    runtime = api.runtime
    assert runtime.http is not None
    auth = runtime.http.auth
    site = str(runtime.config_dir)
    token = api.tokens[Role.OPERATOR]
    async with api.session.ws_connect(api.ws_url) as ws:
        await ws.receive_json()
        await ws.send_json({"type": "auth", "access_token": token})
        assert (await ws.receive_json())["type"] == "auth_ok"
        await auth.save()  # the test's users are on disk for the CLI
        assert main(["user", "areas", "operator-user", "nowhere", "-c", site]) == 0
        closed = await ws.receive()
        assert closed.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
    await wait_for(lambda: _areas(auth) == frozenset({"nowhere"}))
    status, states = await api.request("GET", "/api/states", role=Role.OPERATOR)
    assert (status, states) == (200, [])
    status, _ = await api.request("GET", "/metrics", role=Role.OPERATOR)
    assert status == 403
    assert main(["user", "areas", "operator-user", "--all", "-c", site]) == 0
    # Asked directly: the manager notices the file within a second of a request.
    await wait_for(lambda: _areas(auth) is None)
    status, states = await api.request("GET", "/api/states", role=Role.OPERATOR)
    assert status == 200
    assert states


async def test_cli_user_areas_needs_areas_or_all(api: Api) -> None:
    site = str(api.runtime.config_dir)
    assert api.runtime.http is not None
    await api.runtime.http.auth.save()
    assert main(["user", "areas", "operator-user", "-c", site]) != 0


async def test_history_and_logbook_of_an_area_limited_user_hold_only_their_areas(
    api_factory: Any,
) -> None:
    api: Api = await api_factory("recorder:\n  commit_interval: 0\n", recorder_integration)
    runtime = api.runtime
    assert runtime.http is not None
    area = runtime.area_registry.create("Kitchen")
    runtime.states.remove("light.kitchen")
    entry = runtime.entity_registry.get_or_create(
        "light", "apitest", "kitchen", suggested_object_id="kitchen"
    )
    runtime.entity_registry.update(entry.entity_id, area_id=area.id)
    for value in ("on", "off"):
        runtime.states.set("light.kitchen", value)
        runtime.states.set("switch.garage", value)
    user = runtime.http.auth.data.add_user("kitchen-viewer", "!", role=Role.VIEWER)
    user.areas = frozenset({area.id})
    _, token = await runtime.http.auth.create_long_lived_token(user, "tests")
    headers = {"Authorization": f"Bearer {token}"}
    status, history = await api.request(
        "GET",
        "/api/history/period?filter_entity_id=light.kitchen,switch.garage",
        role=None,
        headers=headers,
    )
    assert status == 200, history
    assert [rows[0]["entity_id"] for rows in history] == ["light.kitchen"]
    status, everything = await api.request(
        "GET", "/api/history/period?filter_entity_id=light.kitchen,switch.garage"
    )
    assert len(everything) == 2
    status, lines = await api.request("GET", "/api/logbook", role=None, headers=headers)
    assert status == 200, lines
    assert lines
    assert {line["entity_id"] for line in lines} == {"light.kitchen"}
    status, all_lines = await api.request("GET", "/api/logbook")
    assert "switch.garage" in {line.get("entity_id") for line in all_lines}
