"""The ``bacnet`` integration: BACnet/IP controllers as entities, with safe, audited writes.

Discovery (Who-Is, browsing a device's objects), points from YAML or picked at run time, reading
with ReadPropertyMultiple (falling back to ReadProperty) and COV subscriptions, writes at a
priority through a persisted write-command queue, relinquish, and timed overrides. The schema is
in ``schema.py``; bacpypes3 and everything that uses it is imported in ``edgewise_setup`` only.
"""

from __future__ import annotations

from typing import Any

from core import (
    IntegrationError,
    Manifest,
    Runtime,
    RuntimeKey,
    hookimpl,
    remove_entities,
    validators,
)

from .const import DOMAIN, NAME

#: What the running integration keeps: its hub and the timed overrides.
BACNET_DATA: RuntimeKey[Any] = RuntimeKey("bacnet")


@hookimpl
def edgewise_manifest() -> Manifest:
    """Who the integration is and which YAML it accepts."""
    return Manifest(
        domain=DOMAIN,
        name=NAME,
        config_schema=validators.deferred("integrations.bacnet.schema"),
        entity_domains=("binary_sensor", "number", "select", "sensor", "switch"),
        version="0.1.0",
        setup_timeout=30.0,
        stop_timeout=10.0,
    )


@hookimpl
async def edgewise_setup(runtime: Runtime, config: object) -> None:
    """Bind the local device, load the stores, add the entities and start reading.

    Raises:
        IntegrationError: the local device's address cannot be bound.
    """
    # bacpypes3 is for sites that configure BACnet only.
    from .schema import BacnetConfig  # noqa: PLC0415 - deferred import, see above
    from .setup import async_setup  # noqa: PLC0415 - deferred import, see above

    if not isinstance(config, BacnetConfig):
        raise IntegrationError("bacnet: configuration was not validated", integration=DOMAIN)
    runtime.data[BACNET_DATA] = await async_setup(runtime, config)


@hookimpl
async def edgewise_stop(runtime: Runtime) -> None:
    """Stop reading, cancel COV subscriptions, write the stores and close the socket."""
    running = runtime.data.get(BACNET_DATA)
    if running is None:
        return
    del runtime.data[BACNET_DATA]
    await running.stop()
    await remove_entities(runtime, DOMAIN)
