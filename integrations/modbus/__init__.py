"""The built-in ``modbus`` integration: meters, inverters, heat pumps and drives over Modbus.

Configured with Home Assistant's ``modbus:`` YAML (``schema.py`` validates it, ``build.py``
checks it across entities into the frozen ``model.py``): a list of hubs (TCP, UDP, RTU over TCP,
serial), each with sensors, binary sensors, switches, numbers and climates. Reads
are coalesced into as few requests as each device allows (``planner.py``), links reconnect by
themselves (``connection.py``), and ``modbus.write_register``/``modbus.write_coil`` write raw
values, bounded and audited (``services.py``). pymodbus is imported only when a hub is set up.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from core import (
    Manifest,
    Runtime,
    RuntimeKey,
    add_entities,
    hookimpl,
    remove_entities,
    validators,
)

from .const import DOMAIN, NAME

if TYPE_CHECKING:
    from .model import ModbusConfig
    from .services import HubEntities

#: The running hubs by name, for ``edgewise_stop``, the services and tests.
HUBS: RuntimeKey[dict[str, HubEntities]] = RuntimeKey("modbus.hubs")


@hookimpl
def edgewise_manifest() -> Manifest[ModbusConfig]:
    """Who the integration is; its section is a list of hubs."""
    return Manifest(
        domain=DOMAIN,
        name=NAME,
        config_schema=validators.deferred("integrations.modbus.schema"),
        # Imported (and checked) when a site configures Modbus, not by every start.
        config_type="integrations.modbus.model:ModbusConfig",
        version="0.1.0",
        documentation="https://www.home-assistant.io/integrations/modbus/",
    )


@hookimpl
async def edgewise_setup(runtime: Runtime, config: ModbusConfig) -> None:
    """Create each hub and its entities, start polling, and register the write services."""
    # pymodbus and the entity classes are for sites that configure Modbus only.
    from .entities import (  # noqa: PLC0415 - deferred import, see above
        HubConnectivity,
        ModbusEntity,
        create_entities,
    )
    from .hub import ModbusHub  # noqa: PLC0415 - deferred import
    from .services import HubEntities, register_services  # noqa: PLC0415 - deferred import

    hubs: dict[str, HubEntities] = {}
    runtime.data[HUBS] = hubs
    for hub_config in config.hubs:
        hub = ModbusHub(runtime, hub_config)
        entities = create_entities(hub)
        connectivity = next(e for e in entities if isinstance(e, HubConnectivity))
        modbus_entities = [e for e in entities if isinstance(e, ModbusEntity)]
        hubs[hub.name] = HubEntities(hub, connectivity, modbus_entities)
        await add_entities(runtime, DOMAIN, entities)
        hub.start()
    register_services(runtime, hubs)


@hookimpl
async def edgewise_stop(runtime: Runtime) -> None:
    """Stop polling, close every link, and remove the entities."""
    hubs = runtime.data.get(HUBS)
    if hubs is not None:
        for entry in hubs.values():
            await entry.hub.stop()
        del runtime.data[HUBS]
    await remove_entities(runtime, DOMAIN)
