"""Turn a service call's target (entities, devices, areas, labels) into entity ids.

Explicit entity ids are taken as given. Devices, areas and labels expand to their entities
without the disabled, hidden and configuration/diagnostic ones, as in Home Assistant: a
"turn off the kitchen" call should not reach the kitchen plug's "restart" button.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from .entity_registry import RegistryEntry
from .services import ServiceTarget
from .state import valid_entity_id

if TYPE_CHECKING:
    from .runtime import Runtime

_LOGGER = logging.getLogger(__name__)


def _expandable(entry: RegistryEntry, domain: str | None) -> bool:
    """Whether an entity found through a device, area or label is meant to be targeted."""
    if domain is not None and entry.domain != domain:
        return False
    return not entry.disabled and not entry.hidden and entry.entity_category is None


def resolve_target(runtime: Runtime, target: ServiceTarget, domain: str | None = None) -> set[str]:
    """The entity ids ``target`` names, of ``domain`` when given.

    Args:
        runtime: whose state machine and registries to read.
        target: the call's target.
        domain: keep only entities of this domain (an entity service's domain), or all.

    Returns:
        Explicit entity ids (of ``domain``, or with a state or a registry entry when no domain
        is given), the entities of the devices, areas and labels named, and with ``match_all``
        every entity of ``domain`` that has a state. Unknown devices and areas are logged.
    """
    states = runtime.states
    entities = runtime.entity_registry
    devices = runtime.device_registry
    areas = runtime.area_registry
    result: set[str] = set()

    if target.match_all:
        result.update(states.entity_ids(domain))

    for entity_id in target.entity_ids:
        if domain is not None:
            if entity_id.partition(".")[0] != domain:
                _LOGGER.debug("Target %s is not of domain %s; left out", entity_id, domain)
                continue
            # An entity of the right domain without a state yet is still meant: keep it, the
            # caller decides what a missing entity means.
            result.add(entity_id)
        elif valid_entity_id(entity_id) and (entity_id in states or entity_id in entities):
            result.add(entity_id)
        else:
            _LOGGER.warning("Target entity %s does not exist", entity_id)

    expanded: list[RegistryEntry] = []
    unknown_devices = sorted(d for d in target.device_ids if d not in devices)
    for device_id in target.device_ids:
        expanded.extend(entities.entities_for_device(device_id))
    unknown_areas = sorted(a for a in target.area_ids if a not in areas)
    for area_id in target.area_ids:
        expanded.extend(entities.entities_for_area(area_id))
    for label_id in target.label_ids:
        expanded.extend(entities.entities_for_label(label_id))
    result.update(entry.entity_id for entry in expanded if _expandable(entry, domain))

    if unknown_devices:
        _LOGGER.warning("Target device(s) not found: %s", ", ".join(unknown_devices))
    if unknown_areas:
        _LOGGER.warning("Target area(s) not found: %s", ", ".join(unknown_areas))
    return result
