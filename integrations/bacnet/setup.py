"""Setting the integration up and down; imported from ``edgewise_setup`` only (bacpypes3)."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from core import Entity, IntegrationError, Runtime, add_entities

from . import services
from .client import BacnetClient
from .commands import WriteCommandLog
from .const import DOMAIN
from .entities import BacnetConnectivity, entity_for
from .hub import BacnetHub
from .points import PointStore
from .schema import BacnetConfig

_LOGGER = logging.getLogger(__name__)


@dataclass(slots=True)
class RunningBacnet:
    """The running integration: what ``edgewise_stop`` takes down."""

    runtime: Runtime
    hub: BacnetHub
    overrides: services.Overrides

    async def stop(self) -> None:
        """Disarm the overrides, stop reading, write the stores, close the socket."""
        self.overrides.cancel_all()
        services.unregister(self.runtime)
        await self.hub.close()
        await self.hub.commands.flush()


async def async_setup(runtime: Runtime, config: BacnetConfig) -> RunningBacnet:
    """Bind the local device, add the points' entities, and start polling and COV.

    Raises:
        IntegrationError: the local address cannot be bound.
    """
    client = BacnetClient(config.local, timeout=config.timeout)
    try:
        await client.start()
    except OSError as err:
        raise IntegrationError(
            f"bacnet: cannot bind {config.local.bind_address}: {err}", integration=DOMAIN
        ) from err
    commands = WriteCommandLog(runtime)
    store = PointStore(runtime)
    try:
        await commands.load()
        await store.load()
    except Exception:
        client.close()
        raise
    hub = BacnetHub(runtime, client, commands)
    entities: list[Entity] = []
    for device, picked in store.merged(config.devices):
        link = hub.link(device)
        for point in device.points:
            entities.append(entity_for(link.add_point(point)))
        for point in picked:
            entities.append(entity_for(link.add_point(point, picked=True)))
        entities.append(BacnetConnectivity(link))
    await add_entities(runtime, DOMAIN, entities)
    overrides = services.Overrides(runtime, hub)
    services.register(runtime, hub, overrides, store)
    hub.start_polling(hub.links.values())
    overrides.arm_all()
    _LOGGER.info(
        "BACnet: %d device(s), %d point(s)",
        len(hub.links),
        sum(len(link.points) for link in hub.links.values()),
    )
    return RunningBacnet(runtime, hub, overrides)
