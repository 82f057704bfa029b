"""The built-in ``template`` integration: sensors and binary sensors defined by templates.

Home Assistant's modern ``template:`` section (see ``schema.py`` for the YAML). Each entity
re-renders only when an entity its templates read changes (or each minute when they read the
time), through ``core.template.track_template``. Entities live in ``entities.py``, imported
only when the integration is set up.
"""

from __future__ import annotations

from core import Manifest, Runtime, add_entities, hookimpl, remove_entities

from .const import DOMAIN, NAME
from .schema import CONFIG_SCHEMA, TemplateConfig


@hookimpl
def edgewise_manifest() -> Manifest:
    """Who the integration is and the schema of its section."""
    return Manifest(
        domain=DOMAIN,
        name=NAME,
        config_schema=CONFIG_SCHEMA,
        version="0.1.0",
        documentation="https://www.home-assistant.io/integrations/template/",
    )


@hookimpl
async def edgewise_setup(runtime: Runtime, config: TemplateConfig) -> None:
    """Add the configured template entities; each starts tracking its templates."""
    from .entities import build_entities  # noqa: PLC0415 - deferred import, see module doc

    await add_entities(runtime, DOMAIN, build_entities(runtime, config))


@hookimpl
async def edgewise_stop(runtime: Runtime) -> None:
    """Remove the template entities, which stops their tracking and pending delays."""
    await remove_entities(runtime, DOMAIN)
