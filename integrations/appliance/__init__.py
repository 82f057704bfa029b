"""The built-in ``appliance`` integration: appliances with or without a plug, one control pipeline.

An appliance has a name, an area, a tier, a nameplate power, and optionally a backing switch
(any integration's) and a power sensor; without a switch it is virtual and Edgewise tracks its
state. Every appliance gets the same services (``services.py``), the same control log
(``control_log.py``, kept in the recorder's database by ``store.py``, served by ``api.py``),
and the same accounting (``accounting.py``: energy, cost, carbon and runtime sensors that the
recorder keeps as long-term statistics). The panel's Appliances page is in ``panel/``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from core import Manifest, Runtime, RuntimeKey, add_entities, hookimpl, remove_entities, validators

from .const import DOMAIN, NAME

if TYPE_CHECKING:
    from core.http.panels import Panel

    from .control_log import ControlLog


#: What ``edgewise_stop`` undoes: the log to flush and the functions that remove the rest.
_RUNNING: RuntimeKey[tuple[ControlLog, list[Callable[[], None]], list[str]]] = RuntimeKey(
    "appliance.running"
)


@hookimpl
def edgewise_manifest() -> Manifest:
    """Who the integration is; set up after the recorder, whose database keeps its log."""
    return Manifest(
        domain=DOMAIN,
        name=NAME,
        config_schema=validators.deferred("integrations.appliance.schema"),
        after_dependencies=("recorder", "tuya", "mqtt", "modbus", "template", "simulator"),
        version="0.1.0",
    )


@hookimpl
async def edgewise_setup(runtime: Runtime, config: object) -> None:
    """Create the appliances and their sensors, the control log, the services and the API."""
    from .api import register_api  # noqa: PLC0415 - deferred import
    from .control_log import ControlLog, listen_for_sources  # noqa: PLC0415 - deferred import
    from .entity import ApplianceEntity, ApplianceTotalSensor  # noqa: PLC0415 - deferred
    from .schema import AppliancesConfig  # noqa: PLC0415 - deferred import
    from .services import register_services  # noqa: PLC0415 - deferred import

    assert isinstance(config, AppliancesConfig)  # noqa: S101 - CONFIG_SCHEMA returns one
    log = ControlLog(runtime)
    removers: list[Callable[[], None]] = [listen_for_sources(runtime)]
    entities = []
    for appliance_config in config.appliances:
        appliance = ApplianceEntity(appliance_config, config, log)
        appliance.sensors = [
            ApplianceTotalSensor(appliance, kind)
            for kind in ("energy", "cost", "carbon", "runtime")
        ]
        entities.extend([appliance, *appliance.sensors])
    await add_entities(runtime, DOMAIN, entities)
    services = register_services(runtime)
    removers.append(register_api(runtime, log))
    log.start()
    runtime.data[_RUNNING] = (log, removers, services)


@hookimpl
async def edgewise_stop(runtime: Runtime) -> None:
    """Write the pending log entries, remove the services, the API and the entities."""
    running = runtime.data.get(_RUNNING)
    if running is not None:
        del runtime.data[_RUNNING]
        log, removers, services = running
        for remove in removers:
            remove()
        for service in services:
            if runtime.services.has(DOMAIN, service):
                runtime.services.remove(DOMAIN, service)
        await log.stop()
    await remove_entities(runtime, DOMAIN)


@hookimpl
def edgewise_panels(runtime: Runtime) -> list[Panel]:
    """The Appliances page: tiles by area and the control log."""
    from core.http.panels import Panel  # noqa: PLC0415 - the panel module loads with HTTP

    if _RUNNING not in runtime.data:
        return []
    return [
        Panel(
            url_path="appliances",
            title="Appliances",
            icon="mdi:power-plug",
            module="appliances.js",
            static_dir=Path(__file__).parent / "panel",
        )
    ]
