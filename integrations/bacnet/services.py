"""The ``bacnet.*`` services: discovery and browsing, priority arrays, writes, relinquish, timed
overrides, the write-command queue, and points picked at run time.

Services that return something (``discover``, ``browse_device``, ``read_priority_array``,
``write_commands``, ``add_point``) give it as response data, which the API serves as it is.
Every write goes through ``core.audit.audited_write`` (paced by the point's
``min_write_interval``, recorded in the audit log) and through the device's write-command queue.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from functools import partial
from typing import TYPE_CHECKING, Any

import voluptuous as vol

from core import (
    Context,
    DeviceError,
    Entity,
    Permission,
    Runtime,
    ServiceCall,
    ServiceResponse,
    SupportsResponse,
    add_entities,
    validators,
)
from core.audit import audited_write
from core.errors import ServiceValidationError

from .commands import Override, requester_of
from .const import (
    BINARY_TYPES,
    CONF_ADDRESS,
    CONF_NAME,
    DEFAULT_DISCOVERY_TIMEOUT,
    DOMAIN,
    MULTISTATE_TYPES,
    POINT_TYPES,
    SERVICE_ADD_POINT,
    SERVICE_BROWSE_DEVICE,
    SERVICE_CANCEL_OVERRIDE,
    SERVICE_DISCOVER,
    SERVICE_OVERRIDE,
    SERVICE_POLL,
    SERVICE_READ_PRIORITY_ARRAY,
    SERVICE_RELINQUISH,
    SERVICE_REMOVE_POINT,
    SERVICE_WRITE,
    SERVICE_WRITE_COMMANDS,
    CommandStatus,
    Requester,
)
from .entities import entity_for
from .schema import DEVICE_SCHEMA, POINT_FIELDS, POINT_SCHEMA, DeviceConfig, ObjectRef, host_port

if TYPE_CHECKING:
    from .hub import BacnetHub, DeviceLink, Point
    from .points import PointStore

_LOGGER = logging.getLogger(__name__)

ATTR_VALUE = "value"
ATTR_PRIORITY = "priority"
ATTR_DURATION = "duration"
ATTR_REQUESTED_BY = "requested_by"
ATTR_DEVICE = "device"
ATTR_LIMIT = "limit"
ATTR_STATUS = "status"
#: How long after a failed end-of-override relinquish it is tried again.
OVERRIDE_RETRY = timedelta(seconds=60)

_PRIORITY = vol.All(vol.Coerce(int), vol.Range(min=1, max=16))
_REQUESTED_BY = vol.In([r.value for r in Requester])
_DEVICE_KEY = vol.Any(vol.All(vol.Coerce(int), vol.Range(min=0)), validators.string)

DISCOVER_SCHEMA = vol.Schema(
    {
        vol.Optional("low"): vol.All(vol.Coerce(int), vol.Range(min=0, max=4194303)),
        vol.Optional("high"): vol.All(vol.Coerce(int), vol.Range(min=0, max=4194303)),
        vol.Optional(CONF_ADDRESS): host_port,
        vol.Optional("timeout", default=DEFAULT_DISCOVERY_TIMEOUT): vol.All(
            vol.Coerce(float), vol.Range(min=0.1, max=60)
        ),
    }
)
BROWSE_SCHEMA = vol.Schema(
    {vol.Required(ATTR_DEVICE): _DEVICE_KEY, vol.Optional(CONF_ADDRESS): host_port}
)
WRITE_SCHEMA = vol.Schema(
    {
        vol.Required(ATTR_VALUE): vol.Any(vol.Coerce(float), validators.string),
        vol.Optional(ATTR_PRIORITY): _PRIORITY,
        vol.Optional(ATTR_REQUESTED_BY): _REQUESTED_BY,
    }
)
RELINQUISH_SCHEMA = vol.Schema(
    {vol.Optional(ATTR_PRIORITY): _PRIORITY, vol.Optional(ATTR_REQUESTED_BY): _REQUESTED_BY}
)
OVERRIDE_SCHEMA = WRITE_SCHEMA.extend({vol.Required(ATTR_DURATION): validators.time_period})
WRITE_COMMANDS_SCHEMA = vol.Schema(
    {
        vol.Optional(ATTR_STATUS): vol.Coerce(CommandStatus),
        vol.Optional(ATTR_LIMIT, default=100): vol.All(vol.Coerce(int), vol.Range(min=1, max=1000)),
    }
)
ADD_POINT_SCHEMA = vol.Schema(
    {
        vol.Required(ATTR_DEVICE): _DEVICE_KEY,
        vol.Optional(CONF_ADDRESS): host_port,
        vol.Optional("device_name"): validators.string,
        **POINT_FIELDS,
    }
)
POLL_SCHEMA = vol.Schema({vol.Optional(ATTR_DEVICE): _DEVICE_KEY})


def _invalid(call: ServiceCall, message: str, key: str | None = None) -> ServiceValidationError:
    return ServiceValidationError(
        f"{call.domain}.{call.service}: {message}",
        domain=call.domain,
        service=call.service,
        key=key,
    )


def _points_of(hub: BacnetHub, call: ServiceCall) -> list[Point]:
    """The points a call targets by entity id; every one must be a BACnet point."""
    if not call.target.entity_ids:
        raise _invalid(call, "name the point's entity_id", "entity_id")
    points = []
    for entity_id in sorted(call.target.entity_ids):
        point = hub.find_point(entity_id)
        if point is None:
            raise _invalid(call, f"{entity_id} is not a BACnet point", "entity_id")
        points.append(point)
    return points


def wire_value(point: Point, value: Any) -> Any:
    """A service's value as the point's type takes it: a number, active/inactive, a state."""
    kind = point.ref.type
    if kind in BINARY_TYPES:
        text = str(value).strip().lower()
        if text in {"1", "1.0", "on", "true", "active"}:
            return "active"
        if text in {"0", "0.0", "off", "false", "inactive"}:
            return "inactive"
        raise ValueError(f"{value!r} is not a binary value (on/off, active/inactive)")
    if kind in MULTISTATE_TYPES:
        if isinstance(value, str) and value in point.state_text:
            return point.state_text.index(value) + 1
        return int(float(value))
    return float(value)


async def write_point(  # noqa: PLR0917 - the audited pipeline's arguments, plus the point's
    runtime: Runtime,
    point: Point,
    value: Any,
    priority: int,
    action: str,
    context: Context,
    requested_by: Requester,
) -> None:
    """Write (or relinquish, with None) through the audit pipeline and the command queue."""
    entity = point.entity
    assert entity is not None  # noqa: S101 - points are reached through their entities

    async def write() -> None:
        await point.device.write(point, value, priority, action, context, requested_by)

    await audited_write(
        runtime,
        entity,
        action,
        {ATTR_VALUE: value, ATTR_PRIORITY: priority, ATTR_REQUESTED_BY: requested_by.value},
        context,
        write,
    )


class Overrides:
    """Timed overrides: armed on the scheduler, relinquished when they end, even after a restart."""

    def __init__(self, runtime: Runtime, hub: BacnetHub) -> None:
        self.runtime = runtime
        self.hub = hub
        self._cancels: dict[str, Callable[[], None]] = {}

    def arm_all(self) -> None:
        """Arm every stored override; those already over are relinquished now."""
        for override in list(self.hub.commands.overrides.values()):
            self._arm(override)

    def _arm(self, override: Override, when: Any = None) -> None:
        scheduler = self.runtime.scheduler
        assert scheduler is not None  # noqa: S101 - started before integrations
        if (cancel := self._cancels.pop(override.entity_id, None)) is not None:
            cancel()
        due = when or self.hub.commands.until_of(override)

        async def end(_due: object) -> None:
            self._cancels.pop(override.entity_id, None)
            await self.end(override)

        self._cancels[override.entity_id] = scheduler.at(
            due, end, name=f"bacnet.override_end[{override.entity_id}]"
        )

    async def start(  # noqa: PLR0917 - the write's arguments plus the duration
        self,
        point: Point,
        value: Any,
        priority: int,
        duration: timedelta,
        context: Context,
        requested_by: Requester,
    ) -> Override:
        """Write ``value`` now and arrange its relinquish after ``duration``."""
        entity = point.entity
        assert entity is not None  # noqa: S101 - reached through the entity
        await write_point(
            self.runtime,
            point,
            value,
            priority,
            f"{DOMAIN}.{SERVICE_OVERRIDE}",
            context,
            requested_by,
        )
        until = self.runtime.clock.now() + duration
        latest = self.hub.commands.query(entity_ids=[entity.entity_id], limit=1)
        override = Override(
            entity_id=entity.entity_id,
            value=value,
            priority=priority,
            until=until.isoformat(),
            command_id=latest[0].id if latest else "",
        )
        self.hub.commands.set_override(override)
        self._arm(override)
        point.refresh()
        return override

    async def end(self, override: Override, context: Context | None = None) -> None:
        """Relinquish the override's priority; retried later when the device does not answer."""
        point = self.hub.find_point(override.entity_id)
        if point is None:
            _LOGGER.warning(
                "Override of %s ended, but it is no longer a BACnet point; forgotten",
                override.entity_id,
            )
            self.hub.commands.clear_override(override.entity_id)
            return
        try:
            await write_point(
                self.runtime,
                point,
                None,
                override.priority,
                f"{DOMAIN}.override_end",
                context or Context(),
                Requester.OVERRIDE,
            )
        except DeviceError as err:
            _LOGGER.warning(
                "Relinquishing the override of %s failed (%s); trying again in %s",
                override.entity_id,
                err,
                OVERRIDE_RETRY,
            )
            self._arm(override, self.runtime.clock.now() + OVERRIDE_RETRY)
            return
        self.hub.commands.clear_override(override.entity_id)
        point.refresh()

    def cancel_all(self) -> None:
        """Disarm every override (at shutdown; they stay stored)."""
        while self._cancels:
            self._cancels.popitem()[1]()

    def disarm(self, entity_id: str) -> None:
        """Disarm one override."""
        if (cancel := self._cancels.pop(entity_id, None)) is not None:
            cancel()


@dataclass(frozen=True, slots=True)
class Site:
    """What every ``bacnet.*`` handler works with: runtime, hub, overrides, picked points."""

    runtime: Runtime
    hub: BacnetHub
    overrides: Overrides
    store: PointStore


# --- discovery and browsing ----------------------------------------------------------------------


async def discover(site: Site, call: ServiceCall) -> ServiceResponse:
    """``bacnet.discover``: a Who-Is (optionally a range, at an address); the I-Ams heard."""
    low, high = call.data.get("low"), call.data.get("high")
    if (low is None) != (high is None):
        raise _invalid(call, "give both low and high, or neither", "low")
    if low is not None and high is not None and low > high:
        raise _invalid(call, f"low {low} is above high {high}", "low")
    found = await site.hub.client.who_is(
        low, high, address=call.data.get(CONF_ADDRESS), wait=call.data["timeout"]
    )
    return {
        "devices": [
            {**iam.as_dict(), "configured": iam.instance in site.hub.links} for iam in found
        ]
    }


async def browse_device(site: Site, call: ServiceCall) -> ServiceResponse:
    """``bacnet.browse_device``: a device's identity and its point objects, read in bulk."""
    link = await _link_for(site, call)
    try:
        return await _browse(site, link)
    except DeviceError as err:
        raise _invalid(call, str(err), ATTR_DEVICE) from err


async def _link_for(site: Site, call: ServiceCall) -> DeviceLink:
    """The configured device the call names, or a passing link to an unconfigured one."""
    hub = site.hub
    key = call.data[ATTR_DEVICE]
    link = hub.device(key)
    if link is not None:
        return link
    if not (isinstance(key, int) or str(key).isdigit()):
        raise _invalid(call, f"no configured device is named {key!r}", ATTR_DEVICE)
    from .hub import DeviceLink  # noqa: PLC0415 - a device not configured: a passing link

    config = DEVICE_SCHEMA(
        {"instance": int(key), CONF_ADDRESS: call.data.get(CONF_ADDRESS)}
        if call.data.get(CONF_ADDRESS)
        else {"instance": int(key)}
    )
    link = DeviceLink(hub, config)
    try:
        await link.resolve()
    except DeviceError as err:
        raise _invalid(call, str(err), ATTR_DEVICE) from err
    if link.max_apdu is None:
        raise _invalid(
            call,
            f"No device with instance {config.instance} answered a Who-Is at {link.address}",
            ATTR_DEVICE,
        )
    return link


async def _browse(site: Site, link: DeviceLink) -> ServiceResponse:
    """Read a device's object list, then the main properties of its point objects."""
    address = link.address or await link.resolve()
    if link.max_apdu is None:
        await link.resolve()
    raw = await site.hub.client.read(address, f"device,{link.config.instance}", "object-list")
    refs = [ObjectRef(str(o[0]), int(o[1])) for o in raw]
    points = [r for r in refs if r.type in POINT_TYPES]
    specs = [
        (ref, ("object-name", "description", "present-value", "units", "priority-array"))
        for ref in points
    ]
    results = await link.read_specs(specs) if specs else {}
    from .client import plain  # noqa: PLC0415 - bacpypes3 is loaded with the hub

    objects = []
    for ref in points:

        def value_of(prop: str, ref: ObjectRef = ref) -> Any:
            result = results.get((ref, prop))
            return None if result is None or result.error else plain(result.value)

        configured = link.points.get(ref)
        priority_array = results.get((ref, "priority-array"))
        objects.append(
            {
                "object": str(ref),
                "name": value_of("object-name"),
                "description": value_of("description"),
                "present_value": value_of("present-value"),
                "units": value_of("units"),
                "commandable": priority_array is not None and priority_array.error is None,
                "entity_id": configured.entity.entity_id
                if configured is not None
                and configured.entity is not None
                and configured.entity.added
                else None,
            }
        )
    return {
        "device": {
            "instance": link.config.instance,
            "name": link.config.name,
            "address": link.address,
            "max_apdu": link.max_apdu,
            "segmentation": link.segmentation,
            "vendor_id": link.vendor_id,
            "object_count": len(refs),
        },
        "objects": objects,
    }


# --- priority arrays, writes, relinquish, overrides ----------------------------------------------


async def read_priority_array(site: Site, call: ServiceCall) -> ServiceResponse:
    """``bacnet.read_priority_array``: each targeted point's 16 slots and what is in force."""
    response: ServiceResponse = {}
    for point in _points_of(site.hub, call):
        try:
            slots = await point.device.read_priority_array(point)
        except DeviceError as err:
            raise _invalid(call, str(err), "entity_id") from err
        point.refresh()
        entity_id = point.entity.entity_id if point.entity else str(point.ref)
        response[entity_id] = {
            "object": str(point.ref),
            "active_priority": min(slots, default=None),
            "present_value": point.value,
            "relinquish_default": point.relinquish_default,
            "priority_array": {str(k): v for k, v in sorted(slots.items())},
        }
    return response


def _priority(call: ServiceCall, point: Point) -> int:
    return int(call.data.get(ATTR_PRIORITY, point.config.priority))


def _value(call: ServiceCall, point: Point) -> Any:
    try:
        return wire_value(point, call.data[ATTR_VALUE])
    except (TypeError, ValueError) as err:
        raise _invalid(call, f"{point.ref}: {err}", ATTR_VALUE) from err


def _latest(hub: BacnetHub, point: Point) -> dict[str, Any] | None:
    """The newest write command of ``point``, as the services return it."""
    entity_id = point.entity.entity_id if point.entity else ""
    latest = hub.commands.query(entity_ids=[entity_id], limit=1)
    return latest[0].as_dict() if latest else None


async def _write_points(
    site: Site,
    call: ServiceCall,
    service: str,
    value_of: Callable[[ServiceCall, Point], Any],
) -> ServiceResponse:
    """Write ``value_of`` (None relinquishes) to each targeted point; returns the commands."""
    requested_by = requester_of(call.context, call.data.get(ATTR_REQUESTED_BY))
    commands = []
    for point in _points_of(site.hub, call):
        await write_point(
            site.runtime,
            point,
            value_of(call, point),
            _priority(call, point),
            f"{DOMAIN}.{service}",
            call.context,
            requested_by,
        )
        commands.append(_latest(site.hub, point))
    return {"commands": commands}


async def write(site: Site, call: ServiceCall) -> ServiceResponse:
    """``bacnet.write``: write a value at a priority to each targeted point."""
    return await _write_points(site, call, SERVICE_WRITE, _value)


async def relinquish(site: Site, call: ServiceCall) -> ServiceResponse:
    """``bacnet.relinquish``: release a priority of each targeted point."""
    return await _write_points(site, call, SERVICE_RELINQUISH, lambda _call, _point: None)


async def override(site: Site, call: ServiceCall) -> ServiceResponse:
    """``bacnet.override``: write now, relinquish after ``duration`` (kept across restarts)."""
    duration: timedelta = call.data[ATTR_DURATION]
    if duration <= timedelta(0):
        raise _invalid(call, "duration must be positive", ATTR_DURATION)
    requested_by = requester_of(call.context, call.data.get(ATTR_REQUESTED_BY))
    result = {}
    for point in _points_of(site.hub, call):
        done = await site.overrides.start(
            point,
            _value(call, point),
            _priority(call, point),
            duration,
            call.context,
            requested_by,
        )
        result[done.entity_id] = {"until": done.until, "priority": done.priority}
    return {"overrides": result}


async def cancel_override(site: Site, call: ServiceCall) -> None:
    """``bacnet.cancel_override``: end each targeted point's override now."""
    for point in _points_of(site.hub, call):
        entity_id = point.entity.entity_id if point.entity else ""
        stored = site.hub.commands.overrides.get(entity_id)
        if stored is None:
            raise _invalid(call, f"{entity_id} has no override", "entity_id")
        site.overrides.disarm(entity_id)
        await site.overrides.end(stored, call.context)


async def write_commands(site: Site, call: ServiceCall) -> ServiceResponse:
    """``bacnet.write_commands``: the write-command queue, newest first."""
    found = site.hub.commands.query(
        entity_ids=call.target.entity_ids,
        status=call.data.get(ATTR_STATUS),
        limit=call.data[ATTR_LIMIT],
    )
    return {"commands": [command.as_dict() for command in found]}


# --- points picked at run time, polling ----------------------------------------------------------


async def add_point(site: Site, call: ServiceCall) -> ServiceResponse:
    """``bacnet.add_point``: make an entity of a device's object, kept across restarts."""
    hub = site.hub
    data = dict(call.data)
    key = data.pop(ATTR_DEVICE)
    address = data.pop(CONF_ADDRESS, None)
    device_name = data.pop("device_name", None)
    try:
        point_config = POINT_SCHEMA(data)
    except vol.Invalid as err:
        raise _invalid(call, str(err), ".".join(map(str, err.path)) or None) from err
    link = hub.device(key)
    if link is None:
        if not (isinstance(key, int) or str(key).isdigit()):
            raise _invalid(call, f"no configured device is named {key!r}", ATTR_DEVICE)
        raw: dict[str, Any] = {"instance": int(key)}
        if address:
            raw[CONF_ADDRESS] = address
        if device_name:
            raw[CONF_NAME] = device_name
        device_config: DeviceConfig = DEVICE_SCHEMA(raw)
        link = hub.link(device_config)
        new_link = True
    else:
        new_link = False
    if point_config.object in link.points:
        raise _invalid(call, f"{point_config.object} of {link.label} is already a point", "object")
    if point_config.group not in link.config.poll_groups and point_config.group != "default":
        raise _invalid(call, f"poll group {point_config.group!r} is not defined", "group")
    if point_config.writable and point_config.priority < link.config.min_priority:
        raise _invalid(
            call,
            f"priority {point_config.priority} is more urgent than "
            f"min_priority {link.config.min_priority}",
            "priority",
        )
    point = link.add_point(point_config, picked=True)
    entity = entity_for(point)
    await site.store.add(link, point_config)
    from .entities import BacnetConnectivity  # noqa: PLC0415 - same module as entity_for

    new_entities: list[Entity] = [entity]
    if new_link:
        new_entities.append(BacnetConnectivity(link))
    await add_entities(site.runtime, DOMAIN, new_entities)
    hub.start_polling([link])
    return {"entity_id": entity.entity_id if entity.added else None}


async def remove_point(site: Site, call: ServiceCall) -> None:
    """``bacnet.remove_point``: forget points added with ``add_point`` (not YAML ones)."""
    for point in _points_of(site.hub, call):
        if not point.picked:
            raise _invalid(call, f"{point.ref} is configured in YAML; remove it there", "entity_id")
        link = point.device
        link.points.pop(point.ref, None)
        await site.store.remove(link, point.ref)
        if point.entity is not None:
            await point.entity.remove()


async def poll(site: Site, call: ServiceCall) -> None:
    """``bacnet.poll``: poll one device (or every one) now."""
    key = call.data.get(ATTR_DEVICE)
    links = list(site.hub.links.values()) if key is None else [site.hub.device(key)]
    if None in links:
        raise _invalid(call, f"no configured device {key!r}", ATTR_DEVICE)
    for link in links:
        if link is not None:
            await link.poll(requested=True)


Handler = Callable[[Site, ServiceCall], Awaitable[Any]]

#: Every ``bacnet.*`` service: its name, handler, schema and whether it returns data.
SERVICES: tuple[tuple[str, Handler, vol.Schema, SupportsResponse], ...] = (
    (SERVICE_DISCOVER, discover, DISCOVER_SCHEMA, SupportsResponse.ONLY),
    (SERVICE_BROWSE_DEVICE, browse_device, BROWSE_SCHEMA, SupportsResponse.ONLY),
    (SERVICE_READ_PRIORITY_ARRAY, read_priority_array, vol.Schema({}), SupportsResponse.ONLY),
    (SERVICE_WRITE, write, WRITE_SCHEMA, SupportsResponse.OPTIONAL),
    (SERVICE_RELINQUISH, relinquish, RELINQUISH_SCHEMA, SupportsResponse.OPTIONAL),
    (SERVICE_OVERRIDE, override, OVERRIDE_SCHEMA, SupportsResponse.OPTIONAL),
    (SERVICE_CANCEL_OVERRIDE, cancel_override, vol.Schema({}), SupportsResponse.NONE),
    (SERVICE_WRITE_COMMANDS, write_commands, WRITE_COMMANDS_SCHEMA, SupportsResponse.ONLY),
    (SERVICE_ADD_POINT, add_point, ADD_POINT_SCHEMA, SupportsResponse.OPTIONAL),
    (SERVICE_REMOVE_POINT, remove_point, vol.Schema({}), SupportsResponse.NONE),
    (SERVICE_POLL, poll, POLL_SCHEMA, SupportsResponse.NONE),
)


#: Adding and removing points changes the configuration: admins only.
ADMIN_SERVICES = frozenset({SERVICE_ADD_POINT, SERVICE_REMOVE_POINT})


def register(runtime: Runtime, hub: BacnetHub, overrides: Overrides, store: PointStore) -> None:
    """Register every ``bacnet.*`` service, each handler bound to this site."""
    site = Site(runtime, hub, overrides, store)
    for name, handler, schema, supports in SERVICES:
        permission = Permission.ADMIN if name in ADMIN_SERVICES else Permission.CONTROL
        runtime.services.register(
            DOMAIN,
            name,
            partial(handler, site),
            schema,
            supports_response=supports,
            permission=permission,
        )


def unregister(runtime: Runtime) -> None:
    """Remove every ``bacnet.*`` service."""
    for name in list(runtime.services.services().get(DOMAIN, {})):
        runtime.services.remove(DOMAIN, name)
