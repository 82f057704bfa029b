"""The built-in ``simulator`` integration: a living building and home with no hardware.

A commercial building (zones with a thermal model, an AHU, chillers, a main meter) and a home
(appliances behind smart plugs, a house meter; by default ``household.py``'s realistic house
played back, see ``playback.py``), exposed as ordinary entities, stepped by one
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

BACnet/IP (``simulator: {bacnet: {address: 127.0.0.2, port: 47808, instance: 599}}``; on one machine
give it another 127.x address and another port than the BACnet client, see PEERS.md): one device
with the building's AHU and chillers (N is the chiller's number, 1…):

    ====================== ========================================= ==========================
    object                 name                                      value
    ====================== ========================================= ==========================
    analog-input,1         AHU supply air temperature                °C
    analog-input,2         AHU mixed air temperature                 °C
    analog-input,3         Outdoor air temperature                   °C
    analog-input,4         AHU fan power                             kW
    analog-input,5         AHU cooling load                          kW (thermal)
    analog-input,10+N      Chiller N power                           kW
    analog-input,20+N      Chiller N cooling load                    kW (thermal)
    analog-value,1         AHU supply air setpoint (commandable)     °C, clamped to 10…20
    binary-value,N         Chiller N enable (commandable)            active / inactive
    ====================== ========================================= ==========================

Tuya (``simulator: {tuya: {port: 6670, version: 3.3, versions: {ev_charger: 3.5}}}``): each
appliance's plug is a Tuya device on its own TCP port (the first appliance on ``port``, the next
on ``port + 1``, ...), device id ``ewsim`` + the appliance's name without underscores, padded
with zeros to 20 characters (``ewsimdishwasher00000``), the configured ``local_key``. Its data
points are those of a metering plug: 1 switch, 17 energy (0.001 kWh), 18 current (mA), 19 power
(W x 10), 20 voltage (V x 10); switching DP 1 switches the simulated plug.

A write to a commandable object at any priority (16 when none is given), or a relinquish,
changes its present value through the priority array, and the present value drives the model at
once. With no command in the array the relinquish default follows the model, so changes made in
Edgewise show on BACnet after the next step.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from core import Manifest, Runtime, RuntimeKey, add_entities, hookimpl, remove_entities

from .const import DOMAIN, NAME
from .schema import CONFIG_SCHEMA, SimConfig

if TYPE_CHECKING:
    from .bacnet_server import SimBacnetDevice
    from .modbus_server import SimModbusServer
    from .sim import SimulationDriver
    from .tuya_server import SimTuyaServer

    Server = SimModbusServer | SimBacnetDevice | SimTuyaServer

_LOGGER = logging.getLogger(__name__)

#: The running simulation's driver, for ``edgewise_stop`` (and tests).
DRIVER: RuntimeKey[SimulationDriver] = RuntimeKey("simulator.driver")
#: The simulator's protocol servers that are listening (Modbus, BACnet), for ``edgewise_stop``.
SERVERS: RuntimeKey[list[Server]] = RuntimeKey("simulator.servers")


@hookimpl
def edgewise_manifest() -> Manifest[SimConfig]:
    """Who the integration is; a bare ``simulator:`` gives the whole default site."""
    return Manifest(
        domain=DOMAIN,
        name=NAME,
        config_schema=CONFIG_SCHEMA,
        config_type=SimConfig,
        entity_domains=("binary_sensor", "climate", "number", "sensor", "switch"),
        version="0.1.0",
    )


@hookimpl
async def edgewise_setup(runtime: Runtime, config: SimConfig) -> None:
    """Build the site of ``config`` (a ``SimConfig``) at the clock's time, add its entities,
    start the protocol servers it asks for (one that cannot start is logged and left out), and
    start stepping it.

    Raises:
        IntegrationError: the runtime has no scheduler.
    """
    # The physics, astral and the entity classes are for sites that run the simulator only.
    from astral import Observer  # noqa: PLC0415 - deferred import, see above

    from .const import HomePhysics  # noqa: PLC0415 - deferred import
    from .entities import SimulatorHub, create_entities  # noqa: PLC0415 - deferred import
    from .playback import HouseTrace, TraceError, ensure_trace  # noqa: PLC0415 - deferred
    from .sim import ExposureError, Simulation, SimulationDriver  # noqa: PLC0415 - deferred

    core = runtime.core
    trace: HouseTrace | None = None
    if config.home is not None and config.home.physics is HomePhysics.HOUSEHOLD:
        try:
            trace = await ensure_trace(config.seed)
        except TraceError as err:
            _LOGGER.error("The simulated home runs on its simple models: %s", err)
    simulation = Simulation(
        config,
        Observer(core.latitude, core.longitude, core.elevation),
        core.tzinfo,
        runtime.clock.now(),
        trace,
    )
    hub = SimulatorHub(simulation)
    servers: list[Server] = []

    def publish() -> None:
        # The servers first: a BACnet command held in a priority array drives the model.
        for server in servers:
            server.refresh()
        hub.publish()

    driver = SimulationDriver(runtime, simulation, publish)
    await add_entities(runtime, DOMAIN, create_entities(hub))
    wanted: list[Server] = []
    if config.modbus is not None:
        from .modbus_server import SimModbusServer  # noqa: PLC0415 - pymodbus only when asked

        wanted.append(SimModbusServer(simulation, config.modbus))
    if config.bacnet is not None:
        from .bacnet_server import SimBacnetDevice  # noqa: PLC0415 - bacpypes3 only when asked

        wanted.append(SimBacnetDevice(simulation, config.bacnet, hub.after_write))
    if config.tuya is not None:
        from integrations.tuya.deferred import prepare_tinytuya  # noqa: PLC0415 - see below

        prepare_tinytuya()  # requests (cloud only) deferred, AES from PyCryptodomex
        from .tuya_server import SimTuyaServer  # noqa: PLC0415 - tinytuya only when asked

        wanted.append(SimTuyaServer(simulation, config.tuya, hub.after_write))
    for server in wanted:
        try:
            await server.start()
        except ExposureError as err:
            _LOGGER.error("%s; the simulation runs without it", err)
        else:
            servers.append(server)
    runtime.data[SERVERS] = servers
    publish()
    driver.start()
    runtime.data[DRIVER] = driver


@hookimpl
async def edgewise_stop(runtime: Runtime) -> None:
    """Stop stepping the simulation, stop its protocol servers and remove its entities."""
    driver = runtime.data.get(DRIVER)
    if driver is not None:
        driver.stop()
        del runtime.data[DRIVER]
    servers = runtime.data.get(SERVERS)
    if servers is not None:
        del runtime.data[SERVERS]
        for server in servers:
            await server.stop()
    await remove_entities(runtime, DOMAIN)
