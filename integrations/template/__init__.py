"""The built-in ``template`` integration: sensors and binary sensors defined by templates.

Home Assistant's modern ``template:`` section (see ``schema.py`` for the YAML), plus template
entities created through the API, as Home Assistant's template helper makes them: they are kept
in ``.storage/template`` and come back after a restart. Each entity re-renders only when an
entity its templates read changes (or each minute when they read the time), through
``core.template.TemplateTracker``; the entities of a ``trigger:`` block render when one of its
triggers fires instead (the automation engine's ``subscribe_trigger``), and take their last
state and attributes back after a restart or a reload (``core.restore_state``), as in Home
Assistant. ``template.reload`` reads the YAML section again.

For the HTTP API (``template/list``, ``/create``, ``/update``, ``/delete``)::

    collection = get_collection(runtime, "template")
    await collection.create({"template_type": "sensor", "name": "Total power",
                             "state": "{{ states('sensor.a') | float(0) * 2 }}",
                             "unit_of_measurement": "W"})

Entities live in ``entities.py``, imported only when the integration is set up.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import voluptuous as vol

from core import (
    Manifest,
    Permission,
    Runtime,
    RuntimeKey,
    add_entities,
    hookimpl,
    validators,
)
from core.const import SERVICE_RELOAD
from core.entity import Entity
from core.services import ServiceCall

from .const import DOMAIN, NAME

if TYPE_CHECKING:
    from .schema import TemplateConfig

_LOGGER = logging.getLogger(__name__)

#: The entities of the YAML section, replaced on reload.
_YAML_ENTITIES: RuntimeKey[list[Entity]] = RuntimeKey("template.yaml_entities")


@hookimpl
def edgewise_manifest() -> Manifest:
    """Who the integration is and the schema of its section."""
    return Manifest(
        domain=DOMAIN,
        name=NAME,
        # The schema module is imported when a site has a template: section, not by every start.
        config_schema=validators.deferred("integrations.template.schema"),
        version="0.1.0",
        documentation="https://www.home-assistant.io/integrations/template/",
    )


async def _add_yaml_entities(runtime: Runtime, config: TemplateConfig) -> None:
    from .entities import build_entities  # noqa: PLC0415 - deferred import, see module doc

    entities = build_entities(runtime, config)
    await add_entities(runtime, DOMAIN, entities)
    runtime.data[_YAML_ENTITIES] = [entity for entity in entities if entity.added]


@hookimpl
async def edgewise_setup(runtime: Runtime, config: TemplateConfig | None) -> None:
    """Add the template entities of the YAML section and those created through the API."""
    from core.collection import (  # noqa: PLC0415 - deferred, with the entities
        CollectionError,
        HelperDomain,
        read_yaml_section,
        setup_helper,
    )

    from .entities import stored_entity_factory  # noqa: PLC0415 - deferred import
    from .schema import TemplateConfig, item_schema  # noqa: PLC0415 - deferred import

    await _add_yaml_entities(runtime, config or TemplateConfig())
    # The YAML section is not a collection of items: the collection holds API items only.
    await setup_helper(
        runtime, HelperDomain(DOMAIN, item_schema, stored_entity_factory(runtime)), None
    )

    async def reload(call: ServiceCall) -> None:
        try:
            section = await read_yaml_section(runtime, DOMAIN)
        except CollectionError as err:
            _LOGGER.error("%s; the template entities stay as they are", err)
            return
        for entity in runtime.data.get(_YAML_ENTITIES) or []:
            await entity.remove()
        new = section if isinstance(section, TemplateConfig) else TemplateConfig()
        await _add_yaml_entities(runtime, new)
        _LOGGER.info("template: reloaded %d YAML entities", len(runtime.data[_YAML_ENTITIES]))

    # Replaces the collection's own reload, which knows nothing of the YAML entities.
    runtime.services.register(
        DOMAIN,
        SERVICE_RELOAD,
        reload,
        vol.Schema({}),
        description="Reload the template entities of configuration.yaml.",
        permission=Permission.ADMIN,
    )


@hookimpl
async def edgewise_stop(runtime: Runtime) -> None:
    """Remove every template entity, which stops their tracking and pending delays."""
    from core.collection import stop_helper  # noqa: PLC0415 - deferred, see module doc

    await stop_helper(runtime, DOMAIN)
