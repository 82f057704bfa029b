"""The ``bacnet:`` section of ``configuration.yaml``, validated into a frozen ``BacnetConfig``.

Example::

    # configuration.yaml
    bacnet:
      local:                      # Edgewise's own BACnet/IP device
        instance: 599999
        name: Edgewise
        address: 192.168.1.10/24  # the interface address with its prefix; "host" picks one
        port: 47808
        bbmd: 10.0.0.1:47808      # optional: register as a foreign device with this BBMD
        ttl: 900                  # seconds of the foreign-device registration
      timeout: 5                  # seconds to wait for a device's answer
      devices:
        - name: AHU-1
          instance: 1001
          address: 192.168.1.20   # optional: found by a Who-Is for the instance when absent
          scan_interval: 30       # seconds, the "default" poll group
          poll_groups: {fast: 5, slow: 300}
          max_per_request: 100    # properties per ReadPropertyMultiple; 0 never uses RPM
          min_priority: 8         # the most urgent priority a write may use (1 is most urgent)
          cov_lifetime: 300       # seconds a COV subscription lasts before it is renewed
          points:
            - object: analog-value,1
              name: Supply air setpoint
              unit: °C            # replaces the unit the device reports
              min: 12             # writes outside [min, max] are refused before the wire
              max: 28
              priority: 8         # the priority writes use
              group: fast
              min_write_interval: 2   # seconds between two writes to the point
            - object: analog-input,1
              name: Supply air temperature
              cov: confirmed      # or unconfirmed; a refused subscription falls back to polling
            - object: bv,3
              name: Fan enable

A point becomes a ``sensor`` (analog input, or any read-only analog), a ``binary_sensor`` (binary
input), a ``number`` (writable analog), a ``switch`` (writable binary) or a ``select`` (writable
multi-state); ``platform`` and ``writable`` choose otherwise.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import voluptuous as vol

from core import validators

from .const import (
    BINARY_TYPES,
    CONF_ADDRESS,
    CONF_BBMD,
    CONF_COV,
    CONF_COV_LIFETIME,
    CONF_DEVICE_CLASS,
    CONF_DEVICES,
    CONF_GROUP,
    CONF_INSTANCE,
    CONF_LOCAL,
    CONF_MAX,
    CONF_MAX_PER_REQUEST,
    CONF_MIN,
    CONF_MIN_PRIORITY,
    CONF_NAME,
    CONF_OBJECT,
    CONF_PLATFORM,
    CONF_POINTS,
    CONF_POLL_GROUPS,
    CONF_PORT,
    CONF_PRIORITY,
    CONF_SCAN_INTERVAL,
    CONF_STATE_CLASS,
    CONF_STEP,
    CONF_TIMEOUT,
    CONF_TTL,
    CONF_UNIT,
    CONF_WRITABLE,
    CONF_WRITE_INTERVAL,
    DEFAULT_BBMD_TTL,
    DEFAULT_COV_LIFETIME,
    DEFAULT_GROUP,
    DEFAULT_LOCAL_INSTANCE,
    DEFAULT_LOCAL_NAME,
    DEFAULT_MAX_PER_REQUEST,
    DEFAULT_MIN_PRIORITY,
    DEFAULT_PORT,
    DEFAULT_PRIORITY,
    DEFAULT_SCAN_INTERVAL,
    DEFAULT_TIMEOUT,
    DEFAULT_WRITE_INTERVAL,
    INPUT_TYPES,
    MULTISTATE_TYPES,
    OBJECT_TYPE_ALIASES,
    POINT_TYPES,
    CovMode,
    Platform,
)

MAX_INSTANCE = 4194302
_OBJECT_RE = re.compile(r"^\s*([a-z-]+)\s*[,:]\s*(\d+)\s*$")
_HOST_PORT_RE = re.compile(r"^(?P<host>[^:/\s]+)(?::(?P<port>\d+))?$")


@dataclass(frozen=True, slots=True, order=True)
class ObjectRef:
    """A BACnet object on a device: its type (``analog-value``) and instance."""

    type: str
    instance: int

    def __str__(self) -> str:
        return f"{self.type},{self.instance}"


def object_ref(value: object) -> ObjectRef:
    """Accept ``analog-value,1``, ``av,1`` or ``analog-value:1`` for a point's object."""
    if isinstance(value, ObjectRef):
        return value
    if not isinstance(value, str):
        raise vol.Invalid(f"expected an object as 'type,instance', got {type(value).__name__}")
    match = _OBJECT_RE.match(value.lower())
    if match is None:
        raise vol.Invalid(f"expected an object as 'type,instance' (analog-value,1), got {value!r}")
    kind = OBJECT_TYPE_ALIASES.get(match.group(1), match.group(1))
    if kind not in POINT_TYPES:
        raise vol.Invalid(
            f"object type {match.group(1)!r} is not a point type; expected one of "
            + ", ".join(sorted(POINT_TYPES))
        )
    instance = int(match.group(2))
    if instance > MAX_INSTANCE:
        raise vol.Invalid(f"object instance {instance} is above {MAX_INSTANCE}")
    return ObjectRef(kind, instance)


def host_port(value: object) -> str:
    """Accept ``host`` or ``host:port`` (an IPv4 address or name) for a device's address."""
    text = validators.string(value).strip()
    match = _HOST_PORT_RE.match(text)
    if match is None:
        raise vol.Invalid(f"expected an address as 'host' or 'host:port', got {text!r}")
    port = match.group("port")
    if port is not None and not 0 < int(port) < 65536:
        raise vol.Invalid(f"port {port} is out of range 1-65535")
    return text


def _cov_mode(value: object) -> CovMode:
    if isinstance(value, bool):
        return CovMode.CONFIRMED if value else CovMode.NONE
    try:
        return CovMode(str(value).lower())
    except ValueError:
        raise vol.Invalid(
            f"expected true, false, confirmed, unconfirmed or none, got {value!r}"
        ) from None


def _seconds(value: object) -> float:
    seconds = validators.time_period(value).total_seconds()
    if seconds <= 0:
        raise vol.Invalid(f"expected a positive duration, got {value!r}")
    return seconds


_PRIORITY = vol.All(vol.Coerce(int), vol.Range(min=1, max=16))


@dataclass(frozen=True, slots=True)
class PointConfig:
    """One point of a device: an object, how it is read, and how it may be written."""

    object: ObjectRef
    name: str | None = None
    unit: str | None = None
    group: str = DEFAULT_GROUP
    cov: CovMode = CovMode.NONE
    priority: int = DEFAULT_PRIORITY
    minimum: float | None = None
    maximum: float | None = None
    step: float | None = None
    writable: bool = False
    platform: Platform = Platform.SENSOR
    min_write_interval: float = DEFAULT_WRITE_INTERVAL
    device_class: str | None = None
    state_class: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """The YAML-like form, as the points store keeps a point picked through a service."""
        result: dict[str, Any] = {
            CONF_OBJECT: str(self.object),
            CONF_GROUP: self.group,
            CONF_COV: self.cov.value,
            CONF_PRIORITY: self.priority,
            CONF_WRITABLE: self.writable,
            CONF_PLATFORM: self.platform.value,
            CONF_WRITE_INTERVAL: self.min_write_interval,
        }
        for key, value in (
            (CONF_NAME, self.name),
            (CONF_UNIT, self.unit),
            (CONF_MIN, self.minimum),
            (CONF_MAX, self.maximum),
            (CONF_STEP, self.step),
            (CONF_DEVICE_CLASS, self.device_class),
            (CONF_STATE_CLASS, self.state_class),
        ):
            if value is not None:
                result[key] = value
        return result


def _default_platform(kind: str, writable: bool) -> Platform:
    if kind in BINARY_TYPES:
        return Platform.SWITCH if writable else Platform.BINARY_SENSOR
    if kind in MULTISTATE_TYPES:
        return Platform.SELECT if writable else Platform.SENSOR
    return Platform.NUMBER if writable else Platform.SENSOR


def _build_point(value: Mapping[str, Any]) -> PointConfig:
    ref: ObjectRef = value[CONF_OBJECT]
    writable = value.get(CONF_WRITABLE)
    if writable is None:
        writable = ref.type not in INPUT_TYPES
    platform = value.get(CONF_PLATFORM) or _default_platform(ref.type, writable)
    if platform in (Platform.NUMBER, Platform.SWITCH, Platform.SELECT) and not writable:
        raise vol.Invalid(
            f"platform {platform.value} writes to the point, but writable is false",
            path=[CONF_PLATFORM],
        )
    expected = {
        Platform.NUMBER: "analog",
        Platform.SWITCH: "binary",
        Platform.BINARY_SENSOR: "binary",
        Platform.SELECT: "multi-state",
    }.get(platform)
    if expected is not None and not ref.type.startswith(expected):
        raise vol.Invalid(
            f"platform {platform.value} needs a {expected} object, got {ref.type}",
            path=[CONF_PLATFORM],
        )
    minimum, maximum = value.get(CONF_MIN), value.get(CONF_MAX)
    if minimum is not None and maximum is not None and minimum > maximum:
        raise vol.Invalid(f"min {minimum:g} is above max {maximum:g}", path=[CONF_MIN])
    return PointConfig(
        object=ref,
        name=value.get(CONF_NAME),
        unit=value.get(CONF_UNIT),
        group=value[CONF_GROUP],
        cov=value[CONF_COV],
        priority=value[CONF_PRIORITY],
        minimum=minimum,
        maximum=maximum,
        step=value.get(CONF_STEP),
        writable=writable,
        platform=Platform(platform),
        min_write_interval=value[CONF_WRITE_INTERVAL],
        device_class=value.get(CONF_DEVICE_CLASS),
        state_class=value.get(CONF_STATE_CLASS),
    )


POINT_FIELDS = {
    vol.Required(CONF_OBJECT): object_ref,
    vol.Optional(CONF_NAME): validators.string,
    vol.Optional(CONF_UNIT): validators.string,
    vol.Optional(CONF_GROUP, default=DEFAULT_GROUP): validators.slug,
    vol.Optional(CONF_COV, default=CovMode.NONE): _cov_mode,
    vol.Optional(CONF_PRIORITY, default=DEFAULT_PRIORITY): _PRIORITY,
    vol.Optional(CONF_MIN): vol.Coerce(float),
    vol.Optional(CONF_MAX): vol.Coerce(float),
    vol.Optional(CONF_STEP): vol.All(vol.Coerce(float), vol.Range(min=0, min_included=False)),
    vol.Optional(CONF_WRITABLE): validators.boolean,
    vol.Optional(CONF_PLATFORM): vol.Coerce(Platform),
    vol.Optional(CONF_WRITE_INTERVAL, default=DEFAULT_WRITE_INTERVAL): vol.All(
        vol.Coerce(float), vol.Range(min=0)
    ),
    vol.Optional(CONF_DEVICE_CLASS): validators.string,
    vol.Optional(CONF_STATE_CLASS): validators.string,
}
POINT_SCHEMA = vol.All(vol.Schema(POINT_FIELDS), _build_point)
"""Validates one point into a :class:`PointConfig`."""


@dataclass(frozen=True, slots=True)
class DeviceConfig:
    """One remote device and its points."""

    name: str
    instance: int
    address: str | None = None
    scan_interval: float = DEFAULT_SCAN_INTERVAL
    poll_groups: Mapping[str, float] = field(default_factory=dict)
    max_per_request: int = DEFAULT_MAX_PER_REQUEST
    min_priority: int = DEFAULT_MIN_PRIORITY
    cov_lifetime: int = DEFAULT_COV_LIFETIME
    points: tuple[PointConfig, ...] = ()

    def interval_of(self, group: str) -> float:
        """The poll interval in seconds of ``group``."""
        return self.poll_groups.get(group, self.scan_interval)


def _build_device(value: Mapping[str, Any]) -> DeviceConfig:
    groups = dict(value[CONF_POLL_GROUPS])
    points: list[PointConfig] = value[CONF_POINTS]
    seen: set[ObjectRef] = set()
    for index, point in enumerate(points):
        if point.group != DEFAULT_GROUP and point.group not in groups:
            raise vol.Invalid(
                f"poll group {point.group!r} is not in poll_groups ("
                + (", ".join(sorted(groups)) or "none defined")
                + ")",
                path=[CONF_POINTS, index, CONF_GROUP],
            )
        if point.object in seen:
            raise vol.Invalid(
                f"object {point.object} is listed twice", path=[CONF_POINTS, index, CONF_OBJECT]
            )
        seen.add(point.object)
        if point.writable and point.priority < value[CONF_MIN_PRIORITY]:
            raise vol.Invalid(
                f"priority {point.priority} is more urgent than the device's min_priority "
                f"{value[CONF_MIN_PRIORITY]}",
                path=[CONF_POINTS, index, CONF_PRIORITY],
            )
    return DeviceConfig(
        name=value.get(CONF_NAME) or f"BACnet device {value[CONF_INSTANCE]}",
        instance=value[CONF_INSTANCE],
        address=value.get(CONF_ADDRESS),
        scan_interval=value[CONF_SCAN_INTERVAL],
        poll_groups=groups,
        max_per_request=value[CONF_MAX_PER_REQUEST],
        min_priority=value[CONF_MIN_PRIORITY],
        cov_lifetime=value[CONF_COV_LIFETIME],
        points=tuple(points),
    )


DEVICE_SCHEMA = vol.All(
    vol.Schema(
        {
            vol.Required(CONF_INSTANCE): vol.All(
                vol.Coerce(int), vol.Range(min=0, max=MAX_INSTANCE)
            ),
            vol.Optional(CONF_NAME): validators.string,
            vol.Optional(CONF_ADDRESS): host_port,
            vol.Optional(CONF_SCAN_INTERVAL, default=DEFAULT_SCAN_INTERVAL): _seconds,
            vol.Optional(CONF_POLL_GROUPS, default=dict): {validators.slug: _seconds},
            vol.Optional(CONF_MAX_PER_REQUEST, default=DEFAULT_MAX_PER_REQUEST): vol.All(
                vol.Coerce(int), vol.Range(min=0, max=1000)
            ),
            vol.Optional(CONF_MIN_PRIORITY, default=DEFAULT_MIN_PRIORITY): _PRIORITY,
            vol.Optional(CONF_COV_LIFETIME, default=DEFAULT_COV_LIFETIME): vol.All(
                vol.Coerce(int), vol.Range(min=10, max=86400)
            ),
            vol.Optional(CONF_POINTS, default=list): [POINT_SCHEMA],
        }
    ),
    _build_device,
)


@dataclass(frozen=True, slots=True)
class LocalDeviceConfig:
    """Edgewise's own BACnet/IP device: its identity and where it listens."""

    instance: int = DEFAULT_LOCAL_INSTANCE
    name: str = DEFAULT_LOCAL_NAME
    address: str = "host"
    port: int = DEFAULT_PORT
    bbmd: str | None = None
    ttl: int = DEFAULT_BBMD_TTL

    @property
    def bind_address(self) -> str:
        """The address as bacpypes3 takes it: ``host/prefix:port``."""
        return f"{self.address}:{self.port}"


LOCAL_SCHEMA = vol.Schema(
    {
        vol.Optional(CONF_INSTANCE, default=DEFAULT_LOCAL_INSTANCE): vol.All(
            vol.Coerce(int), vol.Range(min=0, max=MAX_INSTANCE)
        ),
        vol.Optional(CONF_NAME, default=DEFAULT_LOCAL_NAME): validators.string,
        vol.Optional(CONF_ADDRESS, default="host"): vol.All(
            validators.string, vol.Match(r"^[^:\s]+$", msg="expected 'host' or 'a.b.c.d/prefix'")
        ),
        vol.Optional(CONF_PORT, default=DEFAULT_PORT): vol.All(
            vol.Coerce(int), vol.Range(min=1, max=65535)
        ),
        vol.Optional(CONF_BBMD): host_port,
        vol.Optional(CONF_TTL, default=DEFAULT_BBMD_TTL): vol.All(
            vol.Coerce(int), vol.Range(min=30, max=65535)
        ),
    }
)


@dataclass(frozen=True, slots=True)
class BacnetConfig:
    """The validated ``bacnet:`` section."""

    local: LocalDeviceConfig = field(default_factory=LocalDeviceConfig)
    timeout: float = DEFAULT_TIMEOUT
    devices: tuple[DeviceConfig, ...] = ()


def _build(value: Mapping[str, Any]) -> BacnetConfig:
    devices: list[DeviceConfig] = value[CONF_DEVICES]
    instances: set[int] = set()
    for index, device in enumerate(devices):
        if device.instance in instances:
            raise vol.Invalid(
                f"device instance {device.instance} is listed twice",
                path=[CONF_DEVICES, index, CONF_INSTANCE],
            )
        instances.add(device.instance)
    return BacnetConfig(
        local=LocalDeviceConfig(**value[CONF_LOCAL]),
        timeout=value[CONF_TIMEOUT],
        devices=tuple(devices),
    )


CONFIG_SCHEMA = vol.All(
    lambda value: {} if value is None else value,
    vol.Schema(
        {
            vol.Optional(CONF_LOCAL, default=dict): LOCAL_SCHEMA,
            vol.Optional(CONF_TIMEOUT, default=DEFAULT_TIMEOUT): _seconds,
            vol.Optional(CONF_DEVICES, default=list): [DEVICE_SCHEMA],
        }
    ),
    _build,
)
"""Validates the value under ``bacnet:`` into a :class:`BacnetConfig`."""
