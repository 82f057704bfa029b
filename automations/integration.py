"""The ``automation:`` integration: Home Assistant automation YAML, loaded and run.

Example ``configuration.yaml``::

    automation: !include automations.yaml
    automation kitchen:          # more, under a label (packages work the same way)
      - alias: Kitchen light off at night
        triggers: [{trigger: time, at: "23:00:00"}]
        actions: [{action: switch.turn_off, target: {entity_id: switch.kitchen}}]

Services: ``automation.turn_on``, ``turn_off`` (``stop_actions``), ``toggle``, ``trigger``
(``skip_condition``, ``variables``), ``reload``, and ``list_traces``/``get_trace`` (response data
in Home Assistant's ``trace/list``/``trace/get`` shapes).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import voluptuous as vol

from core import validators as cv
from core.auth import Permission
from core.bus import callback
from core.errors import ServiceValidationError
from core.hookspecs import hookimpl
from core.integration import Manifest
from core.runtime import Runtime
from core.services import ServiceCall, ServiceResponse, SupportsResponse

from .automation import Automation
from .const import DOMAIN_AUTOMATION, EVENT_AUTOMATION_TRIGGERED
from .manager import AutomationManager, configured_platforms
from .schema import AUTOMATION_SECTION

MANAGER = AutomationManager.KEY


@hookimpl
def edgewise_manifest() -> Manifest:
    """The automation integration."""
    return Manifest(
        domain=DOMAIN_AUTOMATION,
        name="Automations",
        config_schema=AUTOMATION_SECTION,
        after_dependencies=("script",),
        version="0.1.0",
    )


def _targets(manager: AutomationManager, call: ServiceCall) -> list[Automation]:
    target = call.target
    if target.match_all:
        return list(manager.automations.values())
    return [
        automation
        for automation in manager.automations.values()
        if automation.entity_id in target.entity_ids
    ]


@hookimpl
async def edgewise_setup(runtime: Runtime, config: list[Any] | None) -> None:
    """Create the manager, read stored state and traces, register the services."""
    from .http_api import register_config_routes, register_engine_commands  # noqa: PLC0415
    from .ws_editor import register_editor_commands  # noqa: PLC0415 - imports the HTTP layer

    manager = AutomationManager(runtime)
    manager.pending_config = list(config or [])
    runtime.data[MANAGER] = manager
    await manager.setup()
    register_config_routes(runtime, DOMAIN_AUTOMATION)
    register_editor_commands(runtime)
    register_engine_commands(runtime)
    runtime.logbook.register(EVENT_AUTOMATION_TRIGGERED, _describe_triggered)

    async def turn_on(call: ServiceCall) -> None:
        for automation in _targets(manager, call):
            await automation.enable()

    async def turn_off(call: ServiceCall) -> None:
        for automation in _targets(manager, call):
            await automation.disable(stop_actions=call.data.get("stop_actions", True))

    async def toggle(call: ServiceCall) -> None:
        for automation in _targets(manager, call):
            if automation.enabled:
                await automation.disable()
            else:
                await automation.enable()

    async def trigger(call: ServiceCall) -> None:
        for automation in _targets(manager, call):
            task = automation.trigger(
                {"platform": None, "description": "manual"},
                call.context,
                skip_condition=call.data.get("skip_condition", True),
                extra_variables=call.data.get("variables"),
            )
            if task is not None:
                await task

    async def reload(call: ServiceCall) -> None:
        await manager.reload()

    @callback
    def list_traces(call: ServiceCall) -> ServiceResponse:
        store = manager.traces.store
        return {"traces": store.list(call.data.get("domain"), call.data.get("item_id"))}

    @callback
    def get_trace(call: ServiceCall) -> ServiceResponse:
        found = manager.traces.store.get(
            call.data["domain"], call.data["item_id"], call.data["run_id"]
        )
        if found is None:
            raise ServiceValidationError(
                f"No trace {call.data['run_id']} of {call.data['domain']} {call.data['item_id']}",
                domain=DOMAIN_AUTOMATION,
                service="get_trace",
            )
        return found

    services = runtime.services
    services.register(
        DOMAIN_AUTOMATION,
        "turn_on",
        turn_on,
        vol.Schema({}),
        description="Enable automations: attach their triggers.",
    )
    services.register(
        DOMAIN_AUTOMATION,
        "turn_off",
        turn_off,
        vol.Schema({vol.Optional("stop_actions", default=True): cv.boolean}),
        description="Disable automations; by default also stop their running actions.",
    )
    services.register(DOMAIN_AUTOMATION, "toggle", toggle, vol.Schema({}))
    services.register(
        DOMAIN_AUTOMATION,
        "trigger",
        trigger,
        vol.Schema(
            {
                vol.Optional("skip_condition", default=True): cv.boolean,
                vol.Optional("variables"): dict,
            }
        ),
        description="Run automations' actions now (conditions skipped unless asked).",
    )
    services.register(
        DOMAIN_AUTOMATION,
        "list_traces",
        list_traces,
        vol.Schema({vol.Optional("domain"): cv.string, vol.Optional("item_id"): cv.string}),
        supports_response=SupportsResponse.ONLY,
        description="The stored traces (Home Assistant's trace/list shape).",
        permission=Permission.ADMIN,
    )
    services.register(
        DOMAIN_AUTOMATION,
        "get_trace",
        get_trace,
        vol.Schema(
            {
                vol.Required("domain"): cv.string,
                vol.Required("item_id"): cv.string,
                vol.Required("run_id"): cv.string,
            }
        ),
        supports_response=SupportsResponse.ONLY,
        description="One trace in full (Home Assistant's trace/get shape).",
        permission=Permission.ADMIN,
    )
    services.register(
        DOMAIN_AUTOMATION,
        "reload",
        reload,
        vol.Schema({}),
        description="Re-read the automations from the configuration.",
        permission=Permission.ADMIN,
    )


def _describe_triggered(data: Mapping[str, Any]) -> Mapping[str, Any]:
    """The logbook line of an ``automation_triggered`` event."""
    source = data.get("source")
    return {
        "name": data.get("name"),
        "message": f"triggered by {source}" if source else "triggered",
        "domain": DOMAIN_AUTOMATION,
        "entity_id": data.get("entity_id"),
        "source": source,
    }


@hookimpl
async def edgewise_check_config(runtime: Runtime, config: list[Any] | None) -> list[str]:
    """``edgewise check-config``: the errors loading the automations would report."""
    return await AutomationManager(runtime).check(list(config or []), configured_platforms(runtime))


@hookimpl
def edgewise_started(runtime: Runtime) -> None:
    """Load the automations now that every integration (and trigger platform) is set up."""
    manager = runtime.data[MANAGER]
    runtime.create_task(manager.start(manager.pending_config), name="automation.load")


@hookimpl
async def edgewise_stop(runtime: Runtime) -> None:
    """Stop every automation and save their state and traces."""
    manager = runtime.data.get(MANAGER)
    if manager is not None:
        await manager.stop()
