"""Home Assistant MQTT discovery: devices announce their entities on ``<prefix>/.../config``.

Two forms are understood, as Home Assistant documents them:

* component form: ``<prefix>/<component>/[<node_id>/]<object_id>/config`` with one entity's
  configuration;
* device-based form: ``<prefix>/device/<device_id>/config`` with the shared keys (``device``,
  ``origin``, ``availability``, ``state_topic``, ``qos``, ``~``...) and ``components``
  (``cmps``), each with its ``platform`` (``p``).

Keys may be abbreviated (``abbreviations.py``), ``~`` is the base topic that a topic starting or
ending with ``~`` expands, and the same schema as YAML entities checks the result. An empty
(retained) payload removes what the topic created; a changed payload replaces it. A payload that
is not JSON, not an object, of an unsupported component, or fails the schema is logged with its
topic and the reason, and changes nothing else. So is a payload with a key Home Assistant's
discovery does not know for its component (``discovery_keys.py``), or without a required one:
the log names the topic, the key and the component, and no entity is created. Keys Home
Assistant knows that Edgewise has no option for (``entity_picture``, ``fan_modes``...) are
accepted and ignored.

Messages are handled in order by one task, so a removal never overtakes the creation before it.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any, Final

import voluptuous as vol

from core import add_entities
from core.limits import loads_json
from core.services import humanize

from .abbreviations import (
    ABBREVIATIONS,
    DEVICE_ABBREVIATIONS,
    ORIGIN_ABBREVIATIONS,
    expand,
)
from .const import DOMAIN
from .discovery_keys import KNOWN_KEYS, REQUIRED_KEYS
from .entities import MqttEntity, create_entity, disabled_by_default
from .platform_schema import PLATFORM_SCHEMAS
from .topics import ReceivedMessage

if TYPE_CHECKING:
    from .client import MqttHub
    from .platform_schema import EntityConfig

_LOGGER = logging.getLogger(__name__)

#: Keys a component of the device-based form inherits from the device's payload.
SHARED_KEYS: Final = frozenset(
    {
        "availability",
        "availability_mode",
        "availability_template",
        "availability_topic",
        "payload_available",
        "payload_not_available",
        "device",
        "origin",
        "qos",
        "encoding",
        "state_topic",
        "command_topic",
        "~",
    }
)

_AVAILABILITY_ABBREVIATIONS: Final = {
    "t": "topic",
    "pl_avail": "payload_available",
    "pl_not_avail": "payload_not_available",
    "val_tpl": "value_template",
}


class DiscoveryError(Exception):
    """A discovery payload that cannot become an entity; the message says why."""


def _expand_topics(config: dict[str, Any]) -> None:
    """Replace ``~`` at the start or end of every topic with the base topic, in place."""
    base = config.pop("~", None)
    if base is None:
        return
    if not isinstance(base, str):
        raise DiscoveryError(f"'~' must be a topic string, got {base!r}")

    def expand_one(value: object) -> object:
        if not isinstance(value, str):
            return value
        if value.startswith("~"):
            return base + value[1:]
        if value.endswith("~"):
            return value[:-1] + base
        return value

    for key, value in list(config.items()):
        if key.endswith("_topic"):
            config[key] = expand_one(value)
    availability = config.get("availability")
    if isinstance(availability, list):
        for item in availability:
            if isinstance(item, dict) and "topic" in item:
                item["topic"] = expand_one(item["topic"])


def normalise(raw: dict[str, Any], *, base: bool = True) -> dict[str, Any]:
    """Expand abbreviations (also in device, origin and availability) and, with ``base``, the
    ``~`` base topic."""
    config = expand(raw, ABBREVIATIONS)
    if isinstance(device := config.get("device"), dict):
        config["device"] = expand(device, DEVICE_ABBREVIATIONS)
    if isinstance(origin := config.get("origin"), dict):
        config["origin"] = expand(origin, ORIGIN_ABBREVIATIONS)
    availability = config.get("availability")
    if isinstance(availability, list):
        config["availability"] = [
            expand(item, _AVAILABILITY_ABBREVIATIONS) if isinstance(item, dict) else item
            for item in availability
        ]
    if base:
        _expand_topics(config)
    return config


def _origin_name(config: dict[str, Any]) -> str:
    origin = config.get("origin")
    if isinstance(origin, dict) and origin.get("name"):
        return f" from {origin['name']}"
    return ""


def validate_component(component: str, config: dict[str, Any], where: str) -> EntityConfig:
    """Check one component's (expanded) configuration with the entity schema of its domain.

    Every key must be one Home Assistant's discovery knows for the component
    (``discovery_keys.KNOWN_KEYS``) and the required ones must be there; the keys Edgewise has
    no option for are then left out, and the schema checks the rest.

    Raises:
        DiscoveryError: an unsupported component, an unknown or missing key, or what the schema
            refuses.
    """
    validator = PLATFORM_SCHEMAS.get(component)
    if validator is None:
        raise DiscoveryError(
            f"component {component!r} is not supported (supported: "
            f"{', '.join(sorted(PLATFORM_SCHEMAS))})"
        )
    unknown = sorted(set(config) - KNOWN_KEYS[component])
    if unknown:
        raise DiscoveryError(
            f"unknown key(s) {', '.join(repr(key) for key in unknown)} for component "
            f"{component!r} (Home Assistant's MQTT discovery has no such {component} key)"
        )
    missing = [key for key in REQUIRED_KEYS[component] if key not in config]
    if missing:
        raise DiscoveryError(
            f"missing required key(s) {', '.join(repr(key) for key in missing)} for "
            f"component {component!r}"
        )
    known = _schema_keys(component)
    cleaned = {key: value for key, value in config.items() if key in known}
    try:
        return validator(cleaned)
    except vol.Invalid as err:
        raise DiscoveryError(humanize(err)) from None


def _schema_keys(component: str) -> frozenset[str]:
    from . import platform_schema  # noqa: PLC0415 - the schema objects by domain

    schema = getattr(platform_schema, f"{component.upper()}_SCHEMA")
    return frozenset(str(key) for key in schema.schema)


class Discovery:
    """Follows ``<prefix>/#/config`` and keeps the discovered entities in step with it."""

    def __init__(self, hub: MqttHub, prefix: str) -> None:
        self.hub = hub
        self.prefix = prefix
        #: The entity of each discovery id (``component/[node/]object`` or ``device/id/cmp``).
        self.entities: dict[str, MqttEntity] = {}
        self._configs: dict[str, dict[str, Any]] = {}
        self._queue: asyncio.Queue[ReceivedMessage] = asyncio.Queue()
        self._unsubscribes: list[Any] = []
        self._task: asyncio.Task[None] | None = None
        self._device_components: dict[str, set[str]] = {}

    async def start(self) -> None:
        """Subscribe to the discovery topics and start handling what arrives."""
        self._task = self.hub.runtime.create_task(self._worker(), name="mqtt.discovery")
        for pattern in (f"{self.prefix}/+/+/config", f"{self.prefix}/+/+/+/config"):
            self._unsubscribes.append(await self.hub.subscribe(pattern, self._queue.put_nowait))

    def stop(self) -> None:
        """Stop following discovery (the entities are removed with the integration's)."""
        for unsubscribe in self._unsubscribes:
            unsubscribe()
        self._unsubscribes.clear()
        if self._task is not None:
            self._task.cancel()

    async def wait_idle(self) -> None:
        """Wait until every discovery message received so far has been handled."""
        await self._queue.join()

    async def _worker(self) -> None:
        while True:
            message = await self._queue.get()
            try:
                await self._handle(message)
            except Exception:  # an isolation boundary: one discovery message
                _LOGGER.exception("Error handling discovery message on %s", message.topic)
            finally:
                self._queue.task_done()

    async def _handle(self, message: ReceivedMessage) -> None:
        levels = message.topic[len(self.prefix) + 1 :].split("/")
        component = levels[0]
        discovery_id = "/".join(levels[:-1])
        if not message.payload:
            await self._remove_id(discovery_id, message.topic)
            return
        try:
            raw = loads_json(message.payload, f"discovery payload on {message.topic}")
        except ValueError as err:
            _LOGGER.error("Discovery %s: the payload is not valid JSON (%s)", message.topic, err)
            return
        if not isinstance(raw, dict):
            _LOGGER.error(
                "Discovery %s: the payload must be a JSON object, got %s",
                message.topic,
                type(raw).__name__,
            )
            return
        if component == "device":
            # The base topic applies to the components too: expanded once they are merged.
            await self._device(discovery_id, normalise(raw, base=False), message.topic)
            return
        await self._component(discovery_id, component, normalise(raw, base=False), message.topic)

    async def _device(self, device_id: str, config: dict[str, Any], topic: str) -> None:
        components = config.pop("components", None)
        if not isinstance(components, dict) or not components:
            _LOGGER.error(
                "Discovery %s: a device payload needs 'components' (cmps), an object of components",
                topic,
            )
            return
        shared = {key: value for key, value in config.items() if key in SHARED_KEYS}
        seen: set[str] = set()
        for component_id, raw in components.items():
            sub_id = f"{device_id}/{component_id}"
            where = f"{topic} component {component_id!r}"
            if not isinstance(raw, dict):
                _LOGGER.error("Discovery %s: must be an object", where)
                continue
            component_config = normalise(raw, base=False)
            platform = component_config.pop("platform", None)
            if not isinstance(platform, str):
                _LOGGER.error("Discovery %s: needs 'platform' (p)", where)
                continue
            seen.add(sub_id)
            if set(component_config) <= {"unique_id"}:
                # Only the platform (and id) left: Home Assistant's way to remove a component.
                await self._remove_id(sub_id, where)
                continue
            # Shared keys go to the components that know them (a button has no state_topic).
            known = KNOWN_KEYS.get(platform, frozenset())
            inherited = {key: value for key, value in shared.items() if key == "~" or key in known}
            await self._component(sub_id, platform, {**inherited, **component_config}, where)
        for gone in self._device_components.get(device_id, set()) - seen:
            await self._remove_id(gone, f"{topic} (component no longer announced)")
        self._device_components[device_id] = seen

    async def _component(
        self, discovery_id: str, component: str, config: dict[str, Any], where: str
    ) -> None:
        origin = _origin_name(config)
        try:
            _expand_topics(config)
            entity_config = validate_component(component, config, where)
        except DiscoveryError as err:
            _LOGGER.error("Discovery %s%s: entity not created: %s", where, origin, err)
            return
        previous = self._configs.get(discovery_id)
        if previous is not None:
            if previous == config:
                _LOGGER.debug("Discovery %s: unchanged", where)
                return
            await self._remove_id(discovery_id, where, quiet=True)
        entity = create_entity(self.hub, entity_config)
        if disabled_by_default(self.hub, entity):
            self._configs[discovery_id] = config
            _LOGGER.info("Discovery %s%s: disabled in the entity registry", where, origin)
            return
        await add_entities(self.hub.runtime, DOMAIN, [entity])
        if not entity.added:
            _LOGGER.error("Discovery %s%s: the entity could not be added", where, origin)
            return
        self.entities[discovery_id] = entity
        self._configs[discovery_id] = config
        _LOGGER.info(
            "Discovery %s%s: %s %s",
            where,
            origin,
            "updated" if previous is not None else "added",
            entity.entity_id,
        )

    async def _remove_id(self, discovery_id: str, where: str, *, quiet: bool = False) -> None:
        if discovery_id.startswith("device/") and discovery_id.count("/") == 1:
            for sub_id in self._device_components.pop(discovery_id, set()):
                await self._remove_id(sub_id, where)
            return
        entity = self.entities.pop(discovery_id, None)
        self._configs.pop(discovery_id, None)
        if entity is None:
            return
        entity_id = entity.entity_id
        await entity.remove()
        if not quiet:
            _LOGGER.info("Discovery %s: removed %s", where, entity_id)
