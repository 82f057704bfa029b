"""The built-in ``simulator`` integration: a living building and home with no hardware.

A commercial building (zones with a thermal model, an AHU, chillers, a main meter) and a home
(appliances behind smart plugs, a house meter), exposed as ordinary entities, stepped by one
scheduler job (``simulator.step``) on the runtime's clock, faster than real time when ``speed``
says so. The models and entities are imported only when the integration is set up. See
``schema.py`` for the configuration.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from core import Manifest, Runtime, RuntimeKey, add_entities, hookimpl, remove_entities

from .const import DOMAIN, NAME
from .schema import CONFIG_SCHEMA, SimConfig

if TYPE_CHECKING:
    from .sim import SimulationDriver

#: The running simulation's driver, for ``edgewise_stop`` (and tests).
DRIVER: RuntimeKey[SimulationDriver] = RuntimeKey("simulator.driver")


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
    from .sim import Simulation, SimulationDriver  # noqa: PLC0415 - deferred import

    assert isinstance(config, SimConfig)  # noqa: S101 - CONFIG_SCHEMA returns one
    core = runtime.core
    simulation = Simulation(
        config,
        Observer(core.latitude, core.longitude, core.elevation),
        core.tzinfo,
        runtime.clock.now(),
    )
    hub = SimulatorHub(simulation)
    driver = SimulationDriver(runtime, simulation, hub.publish)
    await add_entities(runtime, DOMAIN, create_entities(hub))
    hub.publish()
    driver.start()
    runtime.data[DRIVER] = driver


@hookimpl
async def edgewise_stop(runtime: Runtime) -> None:
    """Stop stepping the simulation and remove its entities."""
    driver = runtime.data.get(DRIVER)
    if driver is not None:
        driver.stop()
        del runtime.data[DRIVER]
    await remove_entities(runtime, DOMAIN)
