"""Role enforcement, route by route: no token → 401, a role below the route's → 403, else served.

One runtime serves the whole table (module-scoped loop), with the recorder and the automation
and script integrations set up, so that the routes they register are in the table; each route
is one test case that tries every role from none to admin, in that order, so an admin's write
comes last.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
import pytest_asyncio

import automations.integration
import automations.script_integration
import integrations.recorder
from core.auth import Role
from tests.core.http.conftest import HTTP_CONFIG, Api, ApiTestIntegration, start_api

pytestmark = pytest.mark.asyncio(loop_scope="module")

ROLES_IN_ORDER = (Role.VIEWER, Role.OPERATOR, Role.ADMIN)
RANK = {Role.VIEWER: 1, Role.OPERATOR: 2, Role.ADMIN: 3}

# (method, path, JSON body, least role, status when allowed)
ROUTES: list[tuple[str, str, Any, Role | None, int]] = [
    ("GET", "/live", None, None, 200),
    ("GET", "/ready", None, None, 200),
    ("GET", "/api/onboarding", None, None, 200),
    ("GET", "/api/", None, Role.VIEWER, 200),
    ("GET", "/api/config", None, Role.VIEWER, 200),
    ("GET", "/api/components", None, Role.VIEWER, 200),
    ("GET", "/api/states", None, Role.VIEWER, 200),
    ("GET", "/api/states/light.kitchen", None, Role.VIEWER, 200),
    ("POST", "/api/states/sensor.written", {"state": "1"}, Role.ADMIN, 201),
    ("DELETE", "/api/states/sensor.temperature", None, Role.ADMIN, 200),
    ("GET", "/api/services", None, Role.VIEWER, 200),
    ("POST", "/api/services/light/turn_on", {"entity_id": "light.kitchen"}, Role.OPERATOR, 200),
    ("POST", "/api/services/apitest/reload", {}, Role.ADMIN, 200),
    ("POST", "/api/services/apitest/configure", {}, Role.ADMIN, 200),
    ("POST", "/api/services/automation/reload", {}, Role.ADMIN, 200),
    ("POST", "/api/services/script/reload", {}, Role.ADMIN, 200),
    ("POST", "/api/services/recorder/purge", {"keep_days": 30}, Role.ADMIN, 200),
    ("POST", "/api/services/automation/list_traces?return_response", {}, Role.ADMIN, 200),
    ("POST", "/api/services/automation/trigger", {"entity_id": "automation.x"}, Role.OPERATOR, 200),
    ("GET", "/api/events", None, Role.VIEWER, 200),
    ("POST", "/api/events/test_event", {"a": 1}, Role.ADMIN, 200),
    ("POST", "/api/config/core/check_config", None, Role.ADMIN, 200),
    ("GET", "/api/error_log", None, Role.ADMIN, 200),
    ("GET", "/api/history/period?filter_entity_id=light.kitchen", None, Role.VIEWER, 200),
    ("GET", "/api/history/period/2026-01-01?filter_entity_id=light.x", None, Role.VIEWER, 200),
    ("GET", "/api/logbook", None, Role.VIEWER, 200),
    ("GET", "/api/logbook/0001-01-01", None, Role.VIEWER, 400),
    ("GET", "/metrics", None, Role.VIEWER, 200),
    ("POST", "/api/template", {"template": "{{ 1 + 1 }}"}, Role.ADMIN, 200),
    ("POST", "/api/webhook/unknown", {}, None, 200),
    # Automation and script configurations hold secrets (webhook ids): admins only, as in HA.
    ("GET", "/api/config/automation/config/x", None, Role.ADMIN, 404),
    ("POST", "/api/config/automation/config/x", {"triggers": []}, Role.ADMIN, 400),
    ("DELETE", "/api/config/automation/config/x", None, Role.ADMIN, 404),
    ("GET", "/api/config/script/config/x", None, Role.ADMIN, 404),
    ("POST", "/api/config/script/config/x", {"sequence": "no"}, Role.ADMIN, 400),
    ("DELETE", "/api/config/script/config/x", None, Role.ADMIN, 404),
]

SITE_CONFIG = HTTP_CONFIG + "automation: []\nscript: {}\nrecorder:\n"


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def shared_api(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Api]:
    """One runtime with the recorder, automations and scripts, for the whole table."""
    site = tmp_path_factory.mktemp("roles")
    (site / "configuration.yaml").write_text(SITE_CONFIG)
    integration = ApiTestIntegration()
    runtime, tokens = await start_api(
        site,
        integration,
        integrations.recorder,
        automations.integration,
        automations.script_integration,
    )
    session = aiohttp.ClientSession()
    yield Api(runtime, f"http://127.0.0.1:{runtime.http.port}", session, integration, tokens)
    await session.close()
    await runtime.stop()


@pytest.mark.parametrize(
    ("method", "path", "body", "least", "allowed_status"),
    ROUTES,
    ids=[f"{m} {p.split('?')[0]}" for m, p, *_ in ROUTES],
)
async def test_route_enforces_its_role(
    shared_api: Api, *, method: str, path: str, body: Any, least: Role | None, allowed_status: int
) -> None:
    kwargs = {} if body is None else {"json": body}
    status, text = await shared_api.request(method, path, role=None, **kwargs)
    if least is None:
        assert status == allowed_status, text
        return
    assert status == 401
    assert text == "401: Unauthorized"
    for role in ROLES_IN_ORDER:
        status, answer = await shared_api.request(method, path, role=role, **kwargs)
        if RANK[role] < RANK[least]:
            assert status == 403, (role, answer)
            assert role.value in answer["message"]
        else:
            assert status == allowed_status, (role, answer)
            if status == 201:
                # Created once; later roles overwrite it.
                allowed_status = 200


async def test_wrong_token_is_401_and_counts_towards_a_ban(shared_api: Api) -> None:
    status, text = await shared_api.request(
        "GET", "/api/", role=None, headers={"Authorization": "Bearer not-a-token"}
    )
    assert (status, text) == (401, "401: Unauthorized")
    status, _ = await shared_api.request(
        "GET", "/api/", role=None, headers={"Authorization": "Basic abc"}
    )
    assert status == 401


# Routes an area-limited user is served (they filter to the user's areas); every other route
# is refused to such a user, whatever their role. Service calls are served only when aimed at
# the user's areas (``light.kitchen`` is; ``automation.x`` is not).
AREA_AWARE_ROUTES = {
    ("GET", "/api/"),
    ("GET", "/api/config"),
    ("GET", "/api/states"),
    ("GET", "/api/states/light.kitchen"),
    ("GET", "/api/services"),
    ("POST", "/api/services/light/turn_on"),
}
AREA_AWARE_PREFIXES = ("/api/history/period", "/api/logbook")
OUTSIDE_THE_AREAS = {("POST", "/api/services/automation/trigger")}


#: The area-limited operator's token, per module runtime (made once, by the first case).
_AREA_TOKENS: dict[int, str] = {}


async def _area_operator(shared_api: Api) -> str:
    """An operator limited to the Kitchen area (where ``light.kitchen`` is); their token."""
    runtime = shared_api.runtime
    if (known := _AREA_TOKENS.get(id(runtime))) is not None:
        return known
    assert runtime.http is not None
    auth = runtime.http.auth
    area = runtime.area_registry.get_by_name("Kitchen") or runtime.area_registry.create("Kitchen")
    # Registered under its own id: the registry hands out a free id, so the state steps aside.
    kitchen = runtime.states.get("light.kitchen")
    assert kitchen is not None
    runtime.states.remove("light.kitchen")
    entry = runtime.entity_registry.get_or_create(
        "light", "apitest", "kitchen", suggested_object_id="kitchen"
    )
    runtime.states.set("light.kitchen", kitchen.state, dict(kitchen.attributes))
    runtime.entity_registry.update(entry.entity_id, area_id=area.id)
    assert entry.entity_id == "light.kitchen"
    user = auth.data.add_user("kitchen-operator", "!", role=Role.OPERATOR)
    user.areas = frozenset({area.id})
    _, token = await auth.create_long_lived_token(user, "tests")
    _AREA_TOKENS[id(runtime)] = token
    return token


@pytest.mark.parametrize(
    ("method", "path", "body", "least", "allowed_status"),
    [r for r in ROUTES if r[3] is not None],
    ids=[f"{m} {p.split('?')[0]}" for m, p, _, least, _ in ROUTES if least is not None],
)
async def test_area_limited_user_is_served_only_area_aware_routes(
    shared_api: Api, *, method: str, path: str, body: Any, least: Role, allowed_status: int
) -> None:
    token = await _area_operator(shared_api)
    kwargs = {} if body is None else {"json": body}
    status, answer = await shared_api.request(
        method, path, role=None, headers={"Authorization": f"Bearer {token}"}, **kwargs
    )
    if RANK[least] > RANK[Role.OPERATOR]:
        assert status == 403, answer
    elif (method, path) in AREA_AWARE_ROUTES or path.startswith(AREA_AWARE_PREFIXES):
        assert status == allowed_status, answer
    elif (method, path) in OUTSIDE_THE_AREAS:
        assert status == 403, answer
        assert "outside their areas" in answer["message"]
    else:
        assert status == 403, answer
        assert "limited to areas" in answer["message"]


async def test_area_limited_user_sees_and_acts_only_in_their_areas(shared_api: Api) -> None:
    token = await _area_operator(shared_api)
    headers = {"Authorization": f"Bearer {token}"}
    status, states = await shared_api.request("GET", "/api/states", role=None, headers=headers)
    assert status == 200
    assert [s["entity_id"] for s in states] == ["light.kitchen"]
    status, _ = await shared_api.request(
        "GET", "/api/states/sensor.temperature", role=None, headers=headers
    )
    assert status == 404
    for body in ({"entity_id": "sensor.temperature"}, {}, {"entity_id": "all"}):
        status, answer = await shared_api.request(
            "POST", "/api/services/light/turn_on", role=None, headers=headers, json=body
        )
        assert status == 403, (body, answer)
    async with shared_api.session.ws_connect(shared_api.ws_url) as ws:
        await ws.receive_json()
        await ws.send_json({"type": "auth", "access_token": token})
        assert (await ws.receive_json())["type"] == "auth_ok"
        await ws.send_json({"id": 1, "type": "get_states"})
        result = await ws.receive_json()
        assert [s["entity_id"] for s in result["result"]] == ["light.kitchen"]
        await ws.send_json({"id": 2, "type": "subscribe_events"})
        assert (await ws.receive_json())["error"]["code"] == "unauthorized"
        await ws.send_json(
            {
                "id": 3,
                "type": "call_service",
                "domain": "light",
                "service": "turn_on",
                "target": {"entity_id": "sensor.temperature"},
            }
        )
        assert (await ws.receive_json())["success"] is False
        await ws.send_json(
            {
                "id": 4,
                "type": "call_service",
                "domain": "light",
                "service": "turn_on",
                "target": {"area_id": "kitchen"},
            }
        )
        assert (await ws.receive_json())["success"] is True
