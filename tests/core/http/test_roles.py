"""Role enforcement, route by route: no token → 401, a role below the route's → 403, else served.

One runtime serves the whole table (module-scoped loop), with the recorder and the automation
and script integrations set up, so that the routes they register are in the table; each route
is one test case that tries every role from none to admin, in that order, so an admin's write
comes last. How area-limited users are treated on each route: ``test_roles_areas``.
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
    ("POST", "/api/config/automation/backtest", {}, Role.OPERATOR, 400),
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
