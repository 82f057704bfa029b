"""The recorder's services: ``recorder.purge`` and ``recorder.purge_entities``."""

from __future__ import annotations

from core.auth import Permission
from core.runtime import Runtime
from core.services import ServiceCall

from .const import (
    ATTR_DOMAINS,
    ATTR_ENTITY_GLOBS,
    ATTR_KEEP_DAYS,
    ATTR_REPACK,
    DOMAIN,
    SERVICE_PURGE,
    SERVICE_PURGE_ENTITIES,
)
from .core import Recorder
from .schema import PURGE_ENTITIES_SCHEMA, PURGE_SCHEMA


def register_services(runtime: Runtime, recorder: Recorder) -> None:
    """Register the recorder's services; the calls return once the purge is done."""

    async def handle_purge(call: ServiceCall) -> None:
        """Delete history older than ``keep_days``; VACUUM afterwards when ``repack``."""
        await recorder.purge(call.data.get(ATTR_KEEP_DAYS), repack=call.data[ATTR_REPACK])

    async def handle_purge_entities(call: ServiceCall) -> None:
        """Delete the history of the targeted entities, domains and globs."""
        from .purge import purge_entities  # noqa: PLC0415 - loaded on first use

        await purge_entities(
            recorder,
            entity_ids=call.target.entity_ids,
            domains=call.data[ATTR_DOMAINS],
            entity_globs=call.data[ATTR_ENTITY_GLOBS],
            keep_days=call.data[ATTR_KEEP_DAYS],
        )

    runtime.services.register(
        DOMAIN,
        SERVICE_PURGE,
        handle_purge,
        PURGE_SCHEMA,
        description="Delete recorded history older than keep_days.",
        permission=Permission.ADMIN,
    )
    runtime.services.register(
        DOMAIN,
        SERVICE_PURGE_ENTITIES,
        handle_purge_entities,
        PURGE_ENTITIES_SCHEMA,
        description="Delete the recorded history of some entities.",
        target={"entity": [{}]},
        permission=Permission.ADMIN,
    )


def remove_services(runtime: Runtime) -> None:
    """Remove the services registered by :func:`register_services`."""
    for service in (SERVICE_PURGE, SERVICE_PURGE_ENTITIES):
        if runtime.services.has(DOMAIN, service):
            runtime.services.remove(DOMAIN, service)
