"""The built-in ``tuya`` integration: Tuya smart plugs and strips on the LAN, no cloud.

Each configured device gets one persistent session (``session.py``: tinytuya's codec driven
from asyncio, protocols 3.1-3.5, heartbeats, UPDATEDPS power refreshes, reconnect with
jittered backoff), a profile of its data points (``profile.py``: detected from its first status,
overridable in YAML) and its entities (``entities.py``: a switch per gang; power, current,
voltage and energy sensors). Switch commands go through the audited ``switch.*`` services and
return once the device reports the new value. ``tuya.discover`` lists the devices that broadcast
on the LAN (``discovery.py``); devices also come from the API (``api.py``, kept by
``store.py``), which the panel's Appliances page uses to add a discovered plug. A local key
the device does not accept raises one persistent notification naming the device and what to
do. tinytuya is imported only when ``tuya:`` is configured. ``device_double.py`` is a Tuya
device on loopback, for tests and the simulator.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from core import Manifest, Runtime, RuntimeKey, hookimpl, remove_entities, validators

from .const import DOMAIN, NAME

if TYPE_CHECKING:
    from .setup import TuyaRuntime

#: The running devices and sessions, for ``edgewise_stop``, the services and tests.
TUYA: RuntimeKey[TuyaRuntime] = RuntimeKey("tuya.runtime")


@hookimpl
def edgewise_manifest() -> Manifest:
    """Who the integration is; its section lists devices and where discovery listens."""
    return Manifest(
        domain=DOMAIN,
        name=NAME,
        config_schema=validators.deferred("integrations.tuya.schema"),
        # The simulator's plugs listen first, so the first connection finds them.
        after_dependencies=("simulator",),
        version="0.1.0",
        entity_domains=("sensor", "switch"),
    )


@hookimpl
async def edgewise_setup(runtime: Runtime, config: object) -> None:
    """Start a session per device and register ``tuya.discover``."""
    # tinytuya (and the crypto library under it) only for sites that configure Tuya.
    from .deferred import prepare_tinytuya  # noqa: PLC0415 - deferred import, see above
    from .schema import TuyaConfig  # noqa: PLC0415 - deferred import, see above

    prepare_tinytuya()  # requests (cloud only) deferred, AES from PyCryptodomex
    from .setup import TuyaRuntime  # noqa: PLC0415 - deferred import

    assert isinstance(config, TuyaConfig)  # noqa: S101 - CONFIG_SCHEMA returns one
    tuya = TuyaRuntime(runtime, config)
    runtime.data[TUYA] = tuya
    await tuya.start()


@hookimpl
async def edgewise_stop(runtime: Runtime) -> None:
    """Close every session and remove the entities."""
    tuya = runtime.data.get(TUYA)
    if tuya is not None:
        await tuya.stop()
        del runtime.data[TUYA]
    await remove_entities(runtime, DOMAIN)
