"""Area-limited users, route by route and command by command (``core.auth.areas``).

Every REST route of ``test_roles.ROUTES`` and every WebSocket command of the runtime has a row
here saying how an area-limited user is treated: served (filtered to their areas), refused
(403 / ``unauthorized``: the route is not area-aware, or a call has no target in their areas),
or refused for a target outside their areas. Each row is tried with an operator and an admin
limited to the Kitchen; a route or command without a row fails the completeness tests, and one
an integration registers without declaring areas is refused to them (fail closed).

The site: ``light.kitchen`` in the Kitchen (its own area) and ``light.hall`` through its
device, ``light.garage`` in the Garage, ``sensor.temperature`` in no area.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest
import pytest_asyncio
from aiohttp import web

import automations.integration
import automations.script_integration
import integrations.recorder
from core.auth import Permission, Role
from core.auth.areas import area_aware
from core.http import register_command, register_route
from core.http.view import json_response, permission_of
from core.http.ws_messages import result_message
from tests.core.http.conftest import ApiTestIntegration, start_api
from tests.core.http.test_roles import RANK, ROUTES, SITE_CONFIG

pytestmark = pytest.mark.asyncio(loop_scope="module")

SERVED, REFUSED, OUTSIDE = "served", "refused", "outside"

# (method, path) of ROUTES -> how an area-limited user whose role allows the route is treated.
AREA_ROUTES: dict[tuple[str, str], str] = {
    ("GET", "/api/"): SERVED,
    ("GET", "/api/config"): SERVED,
    ("GET", "/api/components"): SERVED,
    ("GET", "/api/states"): SERVED,
    ("GET", "/api/states/light.kitchen"): SERVED,
    # Direct state writes are not area-aware: only an admin of the whole site writes states.
    ("POST", "/api/states/sensor.written"): REFUSED,
    ("DELETE", "/api/states/sensor.temperature"): REFUSED,
    ("GET", "/api/services"): SERVED,
    ("POST", "/api/services/light/turn_on"): SERVED,
    # No target: a call of an area-limited user must be aimed at their areas.
    ("POST", "/api/services/apitest/reload"): REFUSED,
    ("POST", "/api/services/apitest/configure"): REFUSED,
    ("POST", "/api/services/automation/reload"): REFUSED,
    ("POST", "/api/services/script/reload"): REFUSED,
    ("POST", "/api/services/recorder/purge"): REFUSED,
    ("POST", "/api/services/automation/list_traces?return_response"): REFUSED,
    ("POST", "/api/services/automation/trigger"): OUTSIDE,
    ("GET", "/api/events"): SERVED,
    ("POST", "/api/events/test_event"): REFUSED,
    ("POST", "/api/config/core/check_config"): REFUSED,
    ("GET", "/api/error_log"): REFUSED,
    ("GET", "/api/history/period?filter_entity_id=light.kitchen"): SERVED,
    ("GET", "/api/history/period/2026-01-01?filter_entity_id=light.x"): SERVED,
    ("GET", "/api/logbook"): SERVED,
    ("GET", "/api/logbook/0001-01-01"): SERVED,
    ("GET", "/metrics"): REFUSED,
    ("POST", "/api/template"): SERVED,
    ("GET", "/api/config/automation/config/x"): REFUSED,
    ("POST", "/api/config/automation/config/x"): REFUSED,
    ("DELETE", "/api/config/automation/config/x"): REFUSED,
    ("GET", "/api/config/script/config/x"): REFUSED,
    ("POST", "/api/config/script/config/x"): REFUSED,
    ("DELETE", "/api/config/script/config/x"): REFUSED,
    # A backtest replays the whole site's history: not area-aware.
    ("POST", "/api/config/automation/backtest"): REFUSED,
}

# (command, fields, least role, served to an area-limited user whose role allows it)
_KITCHEN = {"entity_id": "light.kitchen"}
WS_AREA_COMMANDS: list[tuple[str, dict[str, Any], Role, bool]] = [
    ("ping", {}, Role.VIEWER, True),
    ("supported_features", {"features": {}}, Role.VIEWER, True),
    ("get_states", {}, Role.VIEWER, True),
    ("get_config", {}, Role.VIEWER, True),
    ("get_services", {}, Role.VIEWER, True),
    ("get_panels", {}, Role.VIEWER, True),
    ("subscribe_events", {"event_type": "state_changed"}, Role.VIEWER, True),
    ("subscribe_events", {}, Role.ADMIN, True),
    ("unsubscribe_events", {"subscription": 1}, Role.VIEWER, True),
    ("persistent_notification/subscribe", {}, Role.VIEWER, True),
    ("persistent_notification/history", {}, Role.VIEWER, True),
    ("frontend/get_user_data", {"key": "layout"}, Role.VIEWER, True),
    ("frontend/set_user_data", {"key": "layout", "value": {"cards": []}}, Role.VIEWER, True),
    ("frontend/subscribe_user_data", {"key": "layout"}, Role.VIEWER, True),
    ("fire_event", {"event_type": "something"}, Role.ADMIN, False),
    ("subscribe_entities", {}, Role.VIEWER, True),
    (
        "call_service",
        {"domain": "light", "service": "turn_on", "target": _KITCHEN},
        Role.OPERATOR,
        True,
    ),
    ("call_service", {"domain": "light", "service": "turn_on"}, Role.OPERATOR, False),
    ("auth/current_user", {}, Role.VIEWER, True),
    ("auth/refresh_tokens", {}, Role.VIEWER, True),
    ("auth/refresh_tokens", {"all_users": True}, Role.ADMIN, False),
    ("auth/long_lived_access_token", {"client_name": "wall", "lifespan": 1}, Role.VIEWER, True),
    ("auth/delete_refresh_token", {"refresh_token_id": "none"}, Role.VIEWER, True),
    (
        "auth/change_password",
        {"current_password": "x" * 8, "new_password": "y" * 9},
        Role.VIEWER,
        True,
    ),
    (
        "config/auth_provider/homeassistant/admin_change_password",
        {"user_id": "x", "password": "p" * 9},
        Role.ADMIN,
        False,
    ),
    ("config/auth/list", {}, Role.ADMIN, False),
    ("config/auth/create", {"username": "new", "password": "p" * 9}, Role.ADMIN, False),
    ("config/auth/update", {"user_id": "x"}, Role.ADMIN, False),
    ("config/auth/delete", {"user_id": "x"}, Role.ADMIN, False),
    ("render_template", {"template": "{{ states | count }}"}, Role.ADMIN, True),
    ("config/entity_registry/list", {}, Role.VIEWER, True),
    ("config/entity_registry/get", _KITCHEN, Role.VIEWER, True),
    ("config/entity_registry/list_for_display", {}, Role.VIEWER, True),
    ("config/entity_registry/update", {**_KITCHEN, "name": "K"}, Role.ADMIN, False),
    ("config/entity_registry/remove", {"entity_id": "light.nothing"}, Role.ADMIN, False),
    ("config/device_registry/list", {}, Role.VIEWER, True),
    ("config/device_registry/update", {"device_id": "x"}, Role.ADMIN, False),
    ("config/area_registry/list", {}, Role.VIEWER, True),
    ("config/area_registry/create", {"name": "Attic"}, Role.ADMIN, False),
    ("config/area_registry/update", {"area_id": "kitchen", "name": "K"}, Role.ADMIN, False),
    ("config/area_registry/delete", {"area_id": "kitchen"}, Role.ADMIN, False),
    ("config/floor_registry/list", {}, Role.VIEWER, True),
    ("config/floor_registry/create", {"name": "Ground"}, Role.ADMIN, False),
    ("config/floor_registry/update", {"floor_id": "x"}, Role.ADMIN, False),
    ("config/floor_registry/delete", {"floor_id": "x"}, Role.ADMIN, False),
    ("config/label_registry/list", {}, Role.VIEWER, True),
    ("config/label_registry/create", {"name": "Red"}, Role.ADMIN, False),
    ("config/label_registry/update", {"label_id": "x"}, Role.ADMIN, False),
    ("config/label_registry/delete", {"label_id": "x"}, Role.ADMIN, False),
    ("config_entries/get", {}, Role.ADMIN, False),
    ("config_entries/flow/progress", {}, Role.ADMIN, False),
    ("config_entries/subentries/list", {"entry_id": "x"}, Role.ADMIN, False),
    ("manifest/list", {}, Role.VIEWER, True),
    ("entity/source", {}, Role.VIEWER, True),
    # Relations through the registries name devices and areas of anywhere: not area-aware.
    ("search/related", {"item_type": "area", "item_id": "garage"}, Role.VIEWER, False),
    # The runtime's health (entities, integrations, load): for users of the whole site.
    ("system_health/info", {}, Role.VIEWER, False),
    ("edgewise/integrations", {}, Role.VIEWER, True),
    ("edgewise/user_names", {}, Role.VIEWER, True),
    ("history/downsampled", {"entity_ids": ["light.kitchen"]}, Role.VIEWER, True),
    ("history/history_during_period", {"entity_ids": ["light.kitchen"]}, Role.VIEWER, True),
    ("history/stream", {"entity_ids": ["light.kitchen"]}, Role.VIEWER, True),
    ("logbook/event_stream", {}, Role.VIEWER, True),
    ("recorder/info", {}, Role.VIEWER, True),
    (
        "recorder/statistics_during_period",
        {"start_time": "2026-01-01T00:00:00+00:00"},
        Role.VIEWER,
        True,
    ),
    # The automation editor and traces hold every automation of the site (and its secrets).
    ("edgewise/automation/list", {}, Role.ADMIN, False),
    ("edgewise/automation/get", {"automation_id": "x"}, Role.ADMIN, False),
    ("edgewise/automation/actions", {"yaml": "action: []"}, Role.ADMIN, False),
    ("edgewise/automation/save", {"yaml": "x"}, Role.ADMIN, False),
    ("edgewise/automation/delete", {"automation_id": "x"}, Role.ADMIN, False),
    ("trace/list", {"domain": "automation"}, Role.ADMIN, False),
    ("trace/get", {"domain": "automation", "item_id": "x", "run_id": "x"}, Role.ADMIN, False),
    ("execute_script", {"sequence": []}, Role.ADMIN, False),
    ("subscribe_trigger", {"trigger": []}, Role.ADMIN, False),
    # Validating names entities of anywhere in its answer: not area-aware.
    ("validate_config", {"triggers": []}, Role.VIEWER, False),
    ("automation/backtest", {"config": {}}, Role.OPERATOR, False),
    ("automation/backtest/cancel", {"backtest_id": "x"}, Role.OPERATOR, False),
]


@dataclass
class Site:
    """The runtime, a client session and the tokens of the area-limited users."""

    runtime: Any
    url: str
    session: aiohttp.ClientSession
    limited: dict[Role, str]
    everyone: dict[Role, str]

    async def request(self, method: str, path: str, token: str, **kwargs: Any) -> tuple[int, Any]:
        headers = {"Authorization": f"Bearer {token}"}
        async with self.session.request(
            method, self.url + path, headers=headers, **kwargs
        ) as response:
            if response.content_type == "application/json":
                return response.status, await response.json()
            return response.status, await response.text()

    def ws(self, token: str) -> _Socket:
        return _Socket(self, token)


class _Socket:
    """A signed-in WebSocket connection: ``command`` answers the result for its id."""

    def __init__(self, site: Site, token: str) -> None:
        self._site = site
        self._token = token
        self._next = 0
        self.events: list[dict[str, Any]] = []

    async def __aenter__(self) -> _Socket:
        self._cm = self._site.session.ws_connect(self._site.url + "/api/websocket")
        self.ws = await self._cm.__aenter__()
        await self.ws.receive_json()
        await self.ws.send_json({"type": "auth", "access_token": self._token})
        assert (await self.ws.receive_json())["type"] == "auth_ok"
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._cm.__aexit__(None, None, None)

    async def send(self, command: str, **fields: Any) -> int:
        self._next += 1
        await self.ws.send_json({"id": self._next, "type": command, **fields})
        return self._next

    async def command(self, command: str, **fields: Any) -> dict[str, Any]:
        msg_id = await self.send(command, **fields)
        while True:
            msg = await self.ws.receive_json(timeout=20)
            if msg.get("id") == msg_id and msg["type"] in ("result", "pong"):
                return msg
            if msg["type"] == "event":
                self.events.append(msg)

    async def event(self) -> dict[str, Any]:
        if self.events:
            return self.events.pop(0)
        while True:
            msg = await self.ws.receive_json(timeout=20)
            if msg["type"] == "event":
                return msg


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def site(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Site]:
    """One runtime with the Kitchen and the Garage, and a Kitchen operator and admin."""
    directory = tmp_path_factory.mktemp("areas")
    (directory / "configuration.yaml").write_text(SITE_CONFIG)
    runtime, tokens = await start_api(
        directory,
        ApiTestIntegration(),
        integrations.recorder,
        automations.integration,
        automations.script_integration,
    )
    kitchen = runtime.area_registry.create("Kitchen")
    garage = runtime.area_registry.create("Garage")
    entities = runtime.entity_registry
    kitchen_light = runtime.states.get("light.kitchen")
    assert kitchen_light is not None
    runtime.states.remove("light.kitchen")
    entry = entities.get_or_create("light", "apitest", "kitchen", suggested_object_id="kitchen")
    entities.update(entry.entity_id, area_id=kitchen.id)
    runtime.states.set("light.kitchen", kitchen_light.state, dict(kitchen_light.attributes))
    hall_device = runtime.device_registry.get_or_create(
        "apitest", identifiers=[("apitest", "hall")], name="Hall panel"
    )
    runtime.device_registry.update(hall_device.id, area_id=kitchen.id)
    entities.get_or_create(
        "light", "apitest", "hall", suggested_object_id="hall", device_id=hall_device.id
    )
    garage_device = runtime.device_registry.get_or_create(
        "apitest", identifiers=[("apitest", "garage")], name="Garage panel"
    )
    runtime.device_registry.update(garage_device.id, area_id=garage.id)
    entities.get_or_create(
        "light", "apitest", "garage", suggested_object_id="garage", device_id=garage_device.id
    )
    runtime.states.set("light.hall", "off")
    runtime.states.set("light.garage", "off")
    auth = runtime.http.auth
    limited: dict[Role, str] = {}
    for role in (Role.OPERATOR, Role.ADMIN):
        user = auth.data.add_user(f"kitchen-{role.value}", "!", role=role)
        user.areas = frozenset({kitchen.id})
        _, limited[role] = await auth.create_long_lived_token(user, "tests")
    session = aiohttp.ClientSession()
    yield Site(runtime, f"http://127.0.0.1:{runtime.http.port}", session, limited, tokens)
    await session.close()
    await runtime.stop()


def _route_id(method: str, path: str) -> str:
    return f"{method} {path.split('?', maxsplit=1)[0]}"


async def test_every_route_of_the_table_has_an_area_row() -> None:
    table = {(method, path) for method, path, _, least, _ in ROUTES if least is not None}
    assert table == set(AREA_ROUTES)


@pytest.mark.parametrize(
    ("method", "path", "body", "least", "allowed_status"),
    [r for r in ROUTES if r[3] is not None],
    ids=[_route_id(m, p) for m, p, _, least, _ in ROUTES if least is not None],
)
@pytest.mark.parametrize("role", [Role.OPERATOR, Role.ADMIN])
async def test_an_area_limited_user_is_served_refused_or_kept_to_their_areas_on_each_route(
    site: Site,
    *,
    role: Role,
    method: str,
    path: str,
    body: Any,
    least: Role,
    allowed_status: int,
) -> None:
    kwargs = {} if body is None else {"json": body}
    status, answer = await site.request(method, path, site.limited[role], **kwargs)
    expected = AREA_ROUTES[(method, path)]
    if RANK[least] > RANK[role]:
        assert status == 403, answer
        assert role.value in answer["message"]
    elif expected == SERVED:
        assert status in (allowed_status, 200), answer
    elif expected == OUTSIDE:
        assert status == 403, answer
        assert "outside their areas" in answer["message"]
    else:
        assert status == 403, answer
        assert "limited to areas" in answer["message"]


def _pattern(path: str) -> re.Pattern[str]:
    parts = [re.escape(p) if "{" not in p else "[^/]+" for p in path.split("/")]
    return re.compile("/".join(parts).replace("\\{tail\\}", ".+") + "$")


async def test_every_route_and_command_of_the_runtime_has_an_area_row(site: Site) -> None:
    """A new route or command is refused to area-limited users until a row here says how it
    treats them (and the test for that row proves it)."""
    runtime = site.runtime
    paths = [p.split("?")[0] for _, p in AREA_ROUTES]
    served_routes = set()
    for route in runtime.http.app.router.routes():
        if route.method == "HEAD" or permission_of(route.handler) is Permission.PUBLIC:
            continue
        canonical = route.resource.canonical
        if canonical == "/api/{tail}":
            continue  # the catch-all that serves the registered routes below
        served_routes.add((route.method, canonical))
    served_routes |= {(m, p) for m, p, _ in runtime.api.routes()}
    for method, path in served_routes:
        pattern = _pattern(path)
        assert any(
            m == method and pattern.match(p) for (m, _), p in zip(AREA_ROUTES, paths, strict=True)
        ), f"{method} {path} has no area row"
    commands = {command for command, *_ in WS_AREA_COMMANDS}
    assert set(runtime.api.commands) == commands


@pytest.mark.parametrize(
    ("command", "fields", "least", "served"),
    WS_AREA_COMMANDS,
    ids=[f"{c}-{i}" for i, (c, *_) in enumerate(WS_AREA_COMMANDS)],
)
@pytest.mark.parametrize("role", [Role.OPERATOR, Role.ADMIN])
async def test_an_area_limited_user_is_served_or_refused_each_command(
    site: Site, *, role: Role, command: str, fields: dict[str, Any], least: Role, served: bool
) -> None:
    async with site.ws(site.limited[role]) as ws:
        answer = await ws.command(command, **fields)
    refused = answer.get("error", {}).get("code") == "unauthorized"
    if RANK[least] > RANK[role] or not served:
        assert refused, answer
    else:
        assert not refused, answer


async def test_a_route_or_command_that_does_not_declare_areas_is_refused_to_them(
    site: Site,
) -> None:
    runtime = site.runtime

    async def plain(request: web.Request) -> web.StreamResponse:
        return json_response({"everything": True})

    @area_aware
    async def declared(request: web.Request) -> web.StreamResponse:
        return json_response({"mine": True})

    def plain_command(conn: Any, msg: dict[str, Any]) -> None:
        conn.send(result_message(msg["id"], "everything"))

    removers = [
        register_route(runtime, "GET", "/api/areatest/plain", plain),
        register_route(runtime, "GET", "/api/areatest/declared", declared),
        register_command(runtime, "areatest/plain", plain_command),
    ]
    try:
        token = site.limited[Role.OPERATOR]
        status, answer = await site.request("GET", "/api/areatest/plain", token)
        assert status == 403
        assert "not area-aware" in answer["message"]
        assert await site.request("GET", "/api/areatest/declared", token) == (200, {"mine": True})
        everyone = site.everyone[Role.VIEWER]
        assert await site.request("GET", "/api/areatest/plain", everyone) == (
            200,
            {"everything": True},
        )
        async with site.ws(token) as ws:
            assert (await ws.command("areatest/plain"))["error"]["code"] == "unauthorized"
        async with site.ws(everyone) as ws:
            assert (await ws.command("areatest/plain"))["result"] == "everything"
    finally:
        for remove in removers:
            remove()


async def test_subscribe_events_sends_only_what_lies_in_their_areas(site: Site) -> None:
    runtime = site.runtime
    async with site.ws(site.limited[Role.ADMIN]) as ws:
        assert (await ws.command("subscribe_events"))["success"] is True
        runtime.states.set("light.garage", "on")
        runtime.bus.fire("custom", {"entity_id": "light.garage"})
        runtime.bus.fire("custom", {"target": {"entity_id": ["light.kitchen", "light.garage"]}})
        runtime.bus.fire(
            "custom", {"device_id": runtime.entity_registry.get("light.garage").device_id}
        )
        runtime.bus.fire("custom", {"area_id": "garage"})
        runtime.states.set("light.hall", "on")
        runtime.bus.fire("custom", {"entity_id": "light.kitchen", "n": 1})
        runtime.bus.fire("custom", {"n": 2})
        runtime.states.set("light.garage", "off")
        runtime.states.set("light.kitchen", "on")
        seen = []
        while len(seen) < 4:
            event = (await ws.event())["event"]
            seen.append(
                (event["event_type"], event["data"].get("entity_id"), event["data"].get("n"))
            )
    assert seen == [
        ("state_changed", "light.hall", None),
        ("custom", "light.kitchen", 1),
        ("custom", None, 2),
        ("state_changed", "light.kitchen", None),
    ]


async def test_registry_lists_hold_only_their_areas(site: Site) -> None:
    async with site.ws(site.limited[Role.OPERATOR]) as ws:
        entities = (await ws.command("config/entity_registry/list"))["result"]
        devices = (await ws.command("config/device_registry/list"))["result"]
        areas = (await ws.command("config/area_registry/list"))["result"]
        display = (await ws.command("config/entity_registry/list_for_display"))["result"]
        garage = await ws.command("config/entity_registry/get", entity_id="light.garage")
        sources = (await ws.command("entity/source"))["result"]
        states = (await ws.command("get_states"))["result"]
    assert sorted(e["entity_id"] for e in entities) == ["light.hall", "light.kitchen"]
    assert [d["name"] for d in devices] == ["Hall panel"]
    assert [a["area_id"] for a in areas] == ["kitchen"]
    assert sorted(e["ei"] for e in display["entities"]) == ["light.hall", "light.kitchen"]
    assert garage["error"]["code"] == "not_found"
    assert sorted(sources) == ["light.hall", "light.kitchen"]
    assert sorted(s["entity_id"] for s in states) == ["light.hall", "light.kitchen"]
    async with site.ws(site.everyone[Role.OPERATOR]) as ws:
        everything = (await ws.command("config/entity_registry/list"))["result"]
    assert "light.garage" in {e["entity_id"] for e in everything}


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("{{ states | map(attribute='entity_id') | list }}", "['light.hall', 'light.kitchen']"),
        ("{{ states.light | count }}", "2"),
        ("{{ states('light.garage') }}", "unknown"),
        ("{{ states.light.garage is none }}", "True"),
        (
            "{{ expand('light.garage', 'light.kitchen') | map(attribute='entity_id') | list }}",
            "['light.kitchen']",
        ),
        ("{{ area_entities('Garage') }}", "[]"),
        ("{{ area_entities('Kitchen') }}", "['light.hall', 'light.kitchen']"),
        ("{{ area_name('light.garage') }}", "None"),
        ("{{ device_id('light.garage') }}", "None"),
    ],
)
async def test_a_template_of_an_area_limited_admin_sees_only_their_areas(
    site: Site, template: str, expected: str
) -> None:
    token = site.limited[Role.ADMIN]
    status, text = await site.request("POST", "/api/template", token, json={"template": template})
    assert (status, text) == (200, expected)
    async with site.ws(token) as ws:
        assert (await ws.command("render_template", template=template))["success"] is True
        event = (await ws.event())["event"]
    assert str(event["result"]) == expected


async def test_a_followed_template_changes_only_with_their_entities(site: Site) -> None:
    runtime = site.runtime
    async with site.ws(site.limited[Role.ADMIN]) as ws:
        template = "{{ states.light | selectattr('state', 'eq', 'on') | list | count }}"
        assert (await ws.command("render_template", template=template))["success"] is True
        first = (await ws.event())["event"]["result"]
        runtime.states.set(
            "light.garage", "on" if runtime.states.is_state("light.garage", "off") else "off"
        )
        runtime.states.set(
            "light.kitchen", "on" if runtime.states.is_state("light.kitchen", "off") else "off"
        )
        second = (await ws.event())["event"]["result"]
    assert first != second
    assert abs(int(second) - int(first)) == 1


async def test_notifications_are_withheld_from_area_limited_users(site: Site) -> None:
    site.runtime.notifications.create("Garage door open", notification_id="garage_door")
    async with site.ws(site.limited[Role.OPERATOR]) as ws:
        sub = await ws.command("persistent_notification/subscribe")
        assert sub["success"] is True
        current = (await ws.event())["event"]
        site.runtime.notifications.create("Garage flooded", notification_id="flood")
        site.runtime.notifications.create("Garage light left on", notification_id="garage_light")
        site.runtime.notifications.dismiss("garage_light")
        history = await ws.command("persistent_notification/history")
        assert (history["success"], history["result"]) == (True, [])
        assert (await ws.command("unsubscribe_events", subscription=sub["id"]))["success"]
    assert current == {"type": "current", "notifications": {}}
    assert ws.events == []
    async with site.ws(site.everyone[Role.VIEWER]) as ws:
        assert (await ws.command("persistent_notification/subscribe"))["success"] is True
        everything = (await ws.event())["event"]
    assert {"garage_door", "flood"} <= set(everything["notifications"])


async def test_history_and_statistics_commands_hold_only_their_areas(site: Site) -> None:
    both = ["light.kitchen", "light.garage"]
    async with site.ws(site.limited[Role.OPERATOR]) as ws:
        during = (await ws.command("history/history_during_period", entity_ids=both))["result"]
        downsampled = (await ws.command("history/downsampled", entity_ids=both))["result"]
        only_garage = await ws.command("history/downsampled", entity_ids=["light.garage"])
        stream = await ws.command("logbook/event_stream", start_time="2000-01-01T00:00:00+00:00")
        lines = (await ws.event())["event"]["events"]
    assert set(during) == {"light.kitchen"}
    assert set(downsampled) <= {"light.kitchen"}
    assert only_garage["result"] == {}
    assert stream["success"] is True
    assert lines
    assert {line["entity_id"] for line in lines} <= {"light.kitchen", "light.hall"}


async def test_an_area_limited_admin_acts_only_for_themselves(site: Site) -> None:
    other = site.runtime.http.auth.data.user_by_username("viewer-user")
    async with site.ws(site.limited[Role.ADMIN]) as ws:
        minted = await ws.command("auth/long_lived_access_token", client_name="x", user_id=other.id)
        everyone = await ws.command("auth/refresh_tokens", all_users=True)
        theirs = await ws.command("auth/refresh_tokens", user_id=other.id)
    assert minted["error"]["code"] == "unauthorized"
    assert everyone["error"]["code"] == "unauthorized"
    assert theirs["error"]["code"] == "unauthorized"
