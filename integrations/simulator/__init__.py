"""The built-in ``simulator`` integration: a living building and home with no hardware.

A commercial building (zones with a thermal model, an AHU, chillers, a main meter) and a home
(appliances behind smart plugs, a house meter), exposed as ordinary entities, stepped by one
scheduler job (``simulator.step``) on the runtime's clock, faster than real time when ``speed``
says so. The models and entities are imported only when the integration is set up. See
``schema.py`` for the configuration.

Optionally the equipment is also served on real protocols, so the ``modbus`` and ``bacnet``
integrations can be exercised end to end on one machine (pymodbus and bacpypes3 are imported
only when configured). A server that cannot start (port in use…) is logged as an error naming
its address and port; the simulation and its entities run on without it.

Modbus TCP (``simulator: {modbus: {host: 127.0.0.1, port: 5020}}``): device id 1 is the building's
main meter, device id 2 the house meter (each present only when that part of the site is).
Input registers (function code 4), 0-based addresses, words and bytes big-endian (``swap: none``),
refreshed after every simulation step:

    ======== ===== ======= ===== ==================================================
    address  count type    unit  value
    ======== ===== ======= ===== ==================================================
    0        2     float32 W     active power
    2        2     float32 kWh   energy imported since the simulation started
    4        2     uint32  Wh    the same energy, as an integer (``scale: 0.001`` for kWh)
    ======== ===== ======= ===== ==================================================

The models have no voltage or current, so the meters do not serve any. Other addresses answer
with exception code 2 (illegal data address).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from core import Manifest, Runtime, RuntimeKey, add_entities, hookimpl, remove_entities

from .const import DOMAIN, NAME
from .schema import CONFIG_SCHEMA, SimConfig

if TYPE_CHECKING:
    from .modbus_server import SimModbusServer
    from .sim import SimulationDriver

_LOGGER = logging.getLogger(__name__)

#: The running simulation's driver, for ``edgewise_stop`` (and tests).
DRIVER: RuntimeKey[SimulationDriver] = RuntimeKey("simulator.driver")
#: The simulator's Modbus server, when configured and listening.
MODBUS_SERVER: RuntimeKey[SimModbusServer] = RuntimeKey("simulator.modbus_server")


@hookimpl
def edgewise_manifest() -> Manifest:
    """Who the integration is; a bare ``simulator:`` gives the whole default site."""
    return Manifest(domain=DOMAIN, name=NAME, config_schema=CONFIG_SCHEMA, version="0.1.0")


@hookimpl
async def edgewise_setup(runtime: Runtime, config: object) -> None:
    """Build the site of ``config`` (a ``SimConfig``) at the clock's time, add its entities, and
    start stepping it.

    Raises:
        IntegrationError: the runtime has no scheduler.
    """
    # The physics, astral and the entity classes are for sites that run the simulator only.
    from astral import Observer  # noqa: PLC0415 - deferred import, see above

    from .entities import SimulatorHub, create_entities  # noqa: PLC0415 - deferred import
    from .sim import ExposureError, Simulation, SimulationDriver  # noqa: PLC0415 - deferred

    assert isinstance(config, SimConfig)  # noqa: S101 - CONFIG_SCHEMA returns one
    core = runtime.core
    simulation = Simulation(
        config,
        Observer(core.latitude, core.longitude, core.elevation),
        core.tzinfo,
        runtime.clock.now(),
    )
    hub = SimulatorHub(simulation)
    refreshers: list[Callable[[], None]] = []

    def publish() -> None:
        hub.publish()
        for refresh in refreshers:
            refresh()

    driver = SimulationDriver(runtime, simulation, publish)
    await add_entities(runtime, DOMAIN, create_entities(hub))
    if config.modbus is not None:
        from .modbus_server import SimModbusServer  # noqa: PLC0415 - pymodbus only when asked

        server = SimModbusServer(simulation, config.modbus)
        try:
            await server.start()
        except ExposureError as err:
            _LOGGER.error("%s; the simulation runs without it", err)
        else:
            runtime.data[MODBUS_SERVER] = server
            refreshers.append(server.refresh)
    publish()
    driver.start()
    runtime.data[DRIVER] = driver


@hookimpl
async def edgewise_stop(runtime: Runtime) -> None:
    """Stop stepping the simulation and remove its entities."""
    driver = runtime.data.get(DRIVER)
    if driver is not None:
        driver.stop()
        del runtime.data[DRIVER]
    server = runtime.data.get(MODBUS_SERVER)
    if server is not None:
        del runtime.data[MODBUS_SERVER]
        await server.stop()
    await remove_entities(runtime, DOMAIN)
