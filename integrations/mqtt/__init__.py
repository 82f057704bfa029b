"""The built-in ``mqtt`` integration: a broker connection, entities, discovery, stream, bridge.

The heavy parts (aiomqtt, the hub, the entities) live in submodules imported only by
``edgewise_setup``, so a site without ``mqtt:`` never loads them. See ``schema.py`` for the
configuration and ``setup.py`` for what starts in which order.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from core import Manifest, Runtime, hookimpl, validators

from .const import DOMAIN, NAME

if TYPE_CHECKING:
    from core.trigger import TriggerPlatform


@hookimpl
def edgewise_manifest() -> Manifest:
    """Who the integration is and which YAML it takes."""
    return Manifest(
        domain=DOMAIN,
        name=NAME,
        config_schema=validators.deferred("integrations.mqtt.schema"),
        entity_domains=(
            "binary_sensor",
            "button",
            "climate",
            "number",
            "select",
            "sensor",
            "switch",
        ),
        version="0.1.0",
        documentation="https://www.home-assistant.io/integrations/mqtt/",
    )


@hookimpl
async def edgewise_setup(runtime: Runtime, config: object) -> None:
    """Connect to the broker (in the background) and set up entities, discovery, stream, bridge.

    Raises:
        IntegrationError: the TLS files cannot be read.
    """
    from .setup import async_setup  # noqa: PLC0415 - aiomqtt only for sites that use MQTT

    await async_setup(runtime, config)


@hookimpl
def edgewise_trigger_platforms(runtime: Runtime) -> Mapping[str, TriggerPlatform]:
    """The ``mqtt`` trigger (``trigger: mqtt`` in automations), see ``trigger.py``."""
    from .trigger import TRIGGER_PLATFORMS  # noqa: PLC0415 - only when automations ask

    return TRIGGER_PLATFORMS


@hookimpl
async def edgewise_stop(runtime: Runtime) -> None:
    """Say goodbye to the broker, keep the outbox, remove the entities."""
    from .setup import async_stop  # noqa: PLC0415 - see edgewise_setup

    await async_stop(runtime)
