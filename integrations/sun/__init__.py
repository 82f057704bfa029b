"""The built-in ``sun`` integration: the ``sun.sun`` entity, as in Home Assistant.

Configured with a bare ``sun:`` in ``configuration.yaml``; the place is the site's. The entity
and its astral calculations live in ``entities.py``, imported only when the integration is set
up.
"""

from __future__ import annotations

from core import Manifest, Runtime, add_entities, hookimpl, remove_entities

from .const import DOMAIN, NAME
from .schema import CONFIG_SCHEMA


@hookimpl
def edgewise_manifest() -> Manifest:
    """Who the integration is; its section takes no options."""
    return Manifest(
        domain=DOMAIN,
        name=NAME,
        config_schema=CONFIG_SCHEMA,
        version="0.1.0",
        documentation="https://www.home-assistant.io/integrations/sun/",
    )


@hookimpl
async def edgewise_setup(runtime: Runtime, config: object) -> None:
    """Add ``sun.sun`` and schedule its updates; ``config`` is an empty ``SunConfig``.

    Raises:
        IntegrationError: the runtime has no scheduler.
    """
    # Astral and the entity code are for sites that configure the sun only.
    from .entities import SunEntity  # noqa: PLC0415 - deferred import, see above

    await add_entities(runtime, DOMAIN, [SunEntity.for_runtime(runtime)])


@hookimpl
async def edgewise_stop(runtime: Runtime) -> None:
    """Remove ``sun.sun``, which cancels its scheduled jobs."""
    await remove_entities(runtime, DOMAIN)
