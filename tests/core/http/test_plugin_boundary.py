"""A third-party plugin plugs into every kernel registry, and stopping it removes all of it.

The plugin is the author's guide's example (``tests/fixtures/my_meter.py``, quoted in
``integrations/README.md``): a REST route, a WebSocket command, services with their roles, a
logbook description and a trigger platform. Each is used for real over HTTP, WebSocket and an
automation, then the plugin alone is stopped while the runtime keeps running, and each is gone.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import automations.integration
from core import Manifest, Runtime, hookimpl, register_route
from core.auth import Role
from core.integration import IntegrationStatus
from core.trigger import plugin_trigger_platforms
from tests.core.http.conftest import Api, wait_for
from tests.core.http.test_ws_panel import connect
from tests.fixtures import my_meter

CONFIG = """\
my_meter:
  meters: [north, south]
automation:
  - id: high_north
    alias: High north
    triggers: [{trigger: my_meter, meter: north, above: 100}]
    actions: [{action: light.turn_on, target: {entity_id: light.kitchen}}]
"""


async def test_route_command_services_and_trigger_work_then_vanish_at_stop(
    api_factory: Callable[..., Any],
) -> None:
    api: Api = await api_factory(CONFIG, my_meter, automations.integration)
    runtime = api.runtime
    assert runtime.loader.integrations["my_meter"].status is IntegrationStatus.RUNNING

    # REST route, with its placeholder and its role (any user).
    status, body = await api.request("GET", "/api/my_meter/readings/north", role=Role.VIEWER)
    assert (status, body) == (200, {"meter": "north", "value": 0.0})
    # Services: recording needs an operator (the default), calibrating an admin.
    status, _ = await api.request(
        "POST", "/api/services/my_meter/record", role=Role.VIEWER, json={"meter": "north"}
    )
    assert status == 403
    status, _ = await api.request(
        "POST",
        "/api/services/my_meter/record",
        role=Role.OPERATOR,
        json={"meter": "north", "value": 140},
    )
    assert status == 200
    status, body = await api.request("POST", "/api/services/my_meter/calibrate", role=Role.OPERATOR)
    assert status == 403
    assert "admin" in body["message"]
    # The trigger platform fired the automation on the reading above 100.
    await wait_for(lambda: getattr(runtime.states.get("light.kitchen"), "state", None) == "on")
    # WebSocket command.
    client = await connect(api, Role.VIEWER)
    answer = await client.command(type="my_meter/readings", meters=["north"])
    assert answer["result"] == {"north": 140.0}
    assert "my_meter_reading" in runtime.logbook.event_types

    stopped = await runtime.stop_integration("my_meter")

    assert stopped == ["my_meter"]
    assert runtime.loader.integrations["my_meter"].status is IntegrationStatus.STOPPED
    assert runtime.registrations.owned("my_meter") == 0
    status, _ = await api.request("GET", "/api/my_meter/readings/north", role=Role.ADMIN)
    assert status == 404
    answer = await client.command(type="my_meter/readings")
    assert answer["error"]["code"] == "unknown_command"
    assert not runtime.services.has("my_meter", "record")
    assert not runtime.services.has("my_meter", "calibrate")
    assert "my_meter" not in plugin_trigger_platforms(runtime)
    assert "my_meter_reading" not in runtime.logbook.event_types
    # The rest keeps running: the kernel's commands and the automation integration's own.
    assert (await client.command(type="get_states"))["success"] is True
    assert runtime.loader.integrations["automation"].status is IntegrationStatus.RUNNING
    assert runtime.services.has("automation", "reload")


async def test_stopping_the_runtime_removes_every_integrations_registrations(
    api_factory: Callable[..., Any],
) -> None:
    api: Api = await api_factory(CONFIG, my_meter, automations.integration)
    runtime = api.runtime
    # A route, a command, two services, a logbook description.
    assert runtime.registrations.owned("my_meter") == 5
    assert runtime.registrations.owned("automation") > 0

    await runtime.stop()

    assert runtime.registrations.owned("my_meter") == 0
    assert runtime.registrations.owned("automation") == 0
    assert runtime.api.resolve("GET", "/api/my_meter/readings/north") is None
    assert runtime.api.resolve("GET", "/api/config/automation/config/x") is None
    assert "my_meter/readings" not in runtime.api.commands
    assert "trace/list" not in runtime.api.commands
    assert not runtime.services.has("automation", "reload")
    assert "get_states" in runtime.api.commands  # the kernel's stay with the runtime


async def test_a_setup_that_fails_leaves_nothing_registered(
    api_factory: Callable[..., Any],
) -> None:
    api: Api = await api_factory(
        "my_meter:\n  meters: [north]\n", my_meter, _FailsAfterRegistering()
    )
    runtime = api.runtime

    assert runtime.loader.integrations["half_done"].status is IntegrationStatus.SETUP_ERROR
    assert runtime.registrations.owned("half_done") == 0
    assert runtime.api.resolve("GET", "/api/half_done/x") is None
    assert not runtime.services.has("half_done", "x")
    assert runtime.services.has("my_meter", "record")  # the others are untouched


class _FailsAfterRegistering:
    """Registers a route and a service, then fails its setup."""

    @hookimpl
    def edgewise_manifest(self) -> Manifest:
        return Manifest(domain="half_done", name="Half done", default=True)

    @hookimpl
    async def edgewise_setup(self, runtime: Runtime, config: object) -> None:
        async def handler(request: Any) -> Any:
            raise AssertionError("never served")

        register_route(runtime, "GET", "/api/half_done/x", handler)
        runtime.services.register("half_done", "x", lambda call: None)
        raise RuntimeError("the device did not answer")
