"""The ``simulator:`` section of ``configuration.yaml``, validated into a frozen ``SimConfig``.

Example::

    # configuration.yaml
    simulator:
      seed: 42              # same seed, same weather, occupancy noise and appliance cycles
      speed: 1.0            # simulated seconds per clock second (60: an hour a minute)
      update_interval: 6    # clock seconds between steps; each step covers speed times that
                            # (the house meter reads the mean power since the last step)
      building:
        zones: [North, South, Core]   # or a count: 3
        zone_area: 400      # m² per zone
        chillers: 3
        chiller_capacity: 12       # tons of refrigeration each
        chiller_kw_per_ton: 0.6    # at design load
      home:
        appliances: [dishwasher, washing_machine, ev_charger, heat_pump, fridge]
        physics: household  # household.py's house, played back (simple: home.py's models)
        base_load: 150      # W, always on (simple physics only)
        schedules: true     # start cycles on their daily schedules, not only from the plugs
      modbus:               # optional: the meters on Modbus TCP (register map in __init__.py)
        host: 127.0.0.1
        port: 5020
      tuya:                 # optional: the home's plugs as Tuya devices (see __init__.py)
        host: 127.0.0.1
        port: 6670          # the first plug's port; the others follow
        local_key: edgewise-sim-key
        version: 3.3        # 3.1, 3.3, 3.4 or 3.5
        versions: {ev_charger: 3.5}   # per appliance
      bacnet:               # optional: the AHU and chillers as a BACnet/IP device
        address: 127.0.0.2  # not the address/port of a BACnet client on the same machine
        port: 47808
        instance: 599

A bare ``simulator:`` gives all of the above: a building with three zones, an AHU, three
chillers and a main meter, and a home with the five appliances, their plugs and a house meter.
``building: false`` or ``home: false`` leaves that part out. ``modbus:``, ``tuya:`` and
``bacnet:`` are off unless given; an empty one uses the defaults above.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import voluptuous as vol

from .const import (
    CONF_ADDRESS,
    CONF_APPLIANCES,
    CONF_BACNET,
    CONF_BASE_LOAD,
    CONF_BUILDING,
    CONF_CHILLER_CAPACITY,
    CONF_CHILLER_KW_PER_TON,
    CONF_CHILLERS,
    CONF_HOME,
    CONF_HOST,
    CONF_INSTANCE,
    CONF_LOCAL_KEY,
    CONF_MODBUS,
    CONF_NAME,
    CONF_PHYSICS,
    CONF_PORT,
    CONF_SCHEDULES,
    CONF_SEED,
    CONF_SPEED,
    CONF_TUYA,
    CONF_UPDATE_INTERVAL,
    CONF_VERSION,
    CONF_VERSIONS,
    CONF_ZONE_AREA,
    CONF_ZONES,
    DEFAULT_BACNET_ADDRESS,
    DEFAULT_BACNET_INSTANCE,
    DEFAULT_BACNET_NAME,
    DEFAULT_BACNET_PORT,
    DEFAULT_BASE_LOAD,
    DEFAULT_CHILLER_CAPACITY,
    DEFAULT_CHILLER_COUNT,
    DEFAULT_CHILLER_KW_PER_TON,
    DEFAULT_MODBUS_HOST,
    DEFAULT_MODBUS_PORT,
    DEFAULT_SEED,
    DEFAULT_SPEED,
    DEFAULT_TUYA_HOST,
    DEFAULT_TUYA_KEY,
    DEFAULT_TUYA_PORT,
    DEFAULT_TUYA_VERSION,
    DEFAULT_UPDATE_INTERVAL,
    DEFAULT_ZONE_AREA,
    DEFAULT_ZONE_COUNT,
    MAX_CHILLERS,
    MAX_SPEED,
    MAX_UPDATE_INTERVAL,
    MAX_ZONES,
    MIN_SPEED,
    MIN_UPDATE_INTERVAL,
    ApplianceKind,
    HomePhysics,
)


@dataclass(frozen=True, slots=True)
class BuildingConfig:
    """The simulated commercial building."""

    zones: tuple[str, ...]
    zone_area: float = DEFAULT_ZONE_AREA
    chillers: int = DEFAULT_CHILLER_COUNT
    chiller_capacity: float = DEFAULT_CHILLER_CAPACITY
    chiller_kw_per_ton: float = DEFAULT_CHILLER_KW_PER_TON


@dataclass(frozen=True, slots=True)
class HomeConfig:
    """The simulated home."""

    appliances: tuple[ApplianceKind, ...] = tuple(ApplianceKind)
    base_load: float = DEFAULT_BASE_LOAD
    schedules: bool = True
    physics: HomePhysics = HomePhysics.HOUSEHOLD


@dataclass(frozen=True, slots=True)
class ModbusExposure:
    """Serve the meters on Modbus TCP at ``host``:``port``."""

    host: str = DEFAULT_MODBUS_HOST
    port: int = DEFAULT_MODBUS_PORT


@dataclass(frozen=True, slots=True)
class TuyaExposure:
    """Serve the home's plugs as Tuya devices from ``host``:``port`` on (one port per plug)."""

    host: str = DEFAULT_TUYA_HOST
    port: int = DEFAULT_TUYA_PORT
    local_key: str = DEFAULT_TUYA_KEY
    version: float = DEFAULT_TUYA_VERSION
    versions: Mapping[ApplianceKind, float] = field(default_factory=dict)

    def version_of(self, kind: ApplianceKind) -> float:
        """The protocol version the plug of ``kind`` speaks."""
        return self.versions.get(kind, self.version)


@dataclass(frozen=True, slots=True)
class BacnetExposure:
    """Serve the AHU and chillers as BACnet/IP device ``instance`` at ``address``:``port``."""

    address: str = DEFAULT_BACNET_ADDRESS
    port: int = DEFAULT_BACNET_PORT
    instance: int = DEFAULT_BACNET_INSTANCE
    name: str = DEFAULT_BACNET_NAME


@dataclass(frozen=True, slots=True)
class SimConfig:
    """The validated ``simulator:`` section."""

    seed: int = DEFAULT_SEED
    speed: float = DEFAULT_SPEED
    update_interval: float = DEFAULT_UPDATE_INTERVAL
    building: BuildingConfig | None = None
    home: HomeConfig | None = None
    modbus: ModbusExposure | None = None
    bacnet: BacnetExposure | None = None
    tuya: TuyaExposure | None = None


def _default_zone_names(count: int) -> list[str]:
    return [f"Zone {n}" for n in range(1, count + 1)]


def _zones(value: object) -> list[str]:
    """A zone count becomes ``Zone 1``…; a list of names must be non-empty and unique."""
    if isinstance(value, bool):
        raise vol.Invalid("expected a number of zones or a list of zone names")
    if isinstance(value, int):
        if not 1 <= value <= MAX_ZONES:
            raise vol.Invalid(f"expected between 1 and {MAX_ZONES} zones")
        return _default_zone_names(value)
    names = vol.Schema(vol.All([vol.All(str, vol.Strip, vol.Length(min=1))], vol.Length(min=1)))(
        value
    )
    if len(names) > MAX_ZONES:
        raise vol.Invalid(f"expected at most {MAX_ZONES} zones")
    if len({name.casefold() for name in names}) != len(names):
        raise vol.Invalid("zone names must be unique")
    return list(names)


def _positive(maximum: float) -> vol.All:
    return vol.All(vol.Coerce(float), vol.Range(min=0, min_included=False, max=maximum))


BUILDING_SCHEMA = vol.Schema(
    {
        vol.Optional(CONF_ZONES, default=DEFAULT_ZONE_COUNT): _zones,
        vol.Optional(CONF_ZONE_AREA, default=DEFAULT_ZONE_AREA): _positive(10_000),
        vol.Optional(CONF_CHILLERS, default=DEFAULT_CHILLER_COUNT): vol.All(
            int, vol.Range(min=1, max=MAX_CHILLERS)
        ),
        vol.Optional(CONF_CHILLER_CAPACITY, default=DEFAULT_CHILLER_CAPACITY): _positive(5_000),
        vol.Optional(CONF_CHILLER_KW_PER_TON, default=DEFAULT_CHILLER_KW_PER_TON): vol.All(
            vol.Coerce(float), vol.Range(min=0.3, max=2.0)
        ),
    }
)

HOME_SCHEMA = vol.Schema(
    {
        vol.Optional(CONF_APPLIANCES, default=[kind.value for kind in ApplianceKind]): vol.All(
            [vol.Coerce(ApplianceKind)], vol.Unique()
        ),
        vol.Optional(CONF_BASE_LOAD, default=DEFAULT_BASE_LOAD): vol.All(
            vol.Coerce(float), vol.Range(min=0, max=10_000)
        ),
        vol.Optional(CONF_SCHEDULES, default=True): bool,
        vol.Optional(CONF_PHYSICS, default=HomePhysics.HOUSEHOLD.value): vol.Coerce(HomePhysics),
    }
)


_PORT = vol.All(int, vol.Range(min=1, max=65535))

MODBUS_SCHEMA = vol.Schema(
    {
        vol.Optional(CONF_HOST, default=DEFAULT_MODBUS_HOST): vol.All(str, vol.Length(min=1)),
        vol.Optional(CONF_PORT, default=DEFAULT_MODBUS_PORT): _PORT,
    }
)

_TUYA_VERSION = vol.All(vol.Coerce(float), vol.In([3.1, 3.3, 3.4, 3.5]))


def _tuya_key(value: Any) -> str:
    if not isinstance(value, str) or len(value) != 16 or not value.isascii():
        raise vol.Invalid("a Tuya local key is 16 ASCII characters")
    return value


TUYA_SCHEMA = vol.Schema(
    {
        vol.Optional(CONF_HOST, default=DEFAULT_TUYA_HOST): vol.All(str, vol.Length(min=1)),
        vol.Optional(CONF_PORT, default=DEFAULT_TUYA_PORT): vol.All(
            int, vol.Range(min=1, max=65535 - len(ApplianceKind))
        ),
        vol.Optional(CONF_LOCAL_KEY, default=DEFAULT_TUYA_KEY): _tuya_key,
        vol.Optional(CONF_VERSION, default=DEFAULT_TUYA_VERSION): _TUYA_VERSION,
        vol.Optional(CONF_VERSIONS, default=dict): {vol.Coerce(ApplianceKind): _TUYA_VERSION},
    }
)

BACNET_SCHEMA = vol.Schema(
    {
        vol.Optional(CONF_ADDRESS, default=DEFAULT_BACNET_ADDRESS): vol.All(str, vol.Length(min=1)),
        vol.Optional(CONF_PORT, default=DEFAULT_BACNET_PORT): _PORT,
        # 4194303 is the wildcard instance, not a device's.
        vol.Optional(CONF_INSTANCE, default=DEFAULT_BACNET_INSTANCE): vol.All(
            int, vol.Range(min=0, max=4194302)
        ),
        vol.Optional(CONF_NAME, default=DEFAULT_BACNET_NAME): vol.All(str, vol.Length(min=1)),
    }
)


def _part(schema: vol.Schema) -> vol.Any:
    """A part of the site: omitted or empty means its defaults, ``false`` leaves it out."""
    return vol.Any(vol.All(None, lambda _: schema({})), False, schema)


SECTION_SCHEMA = vol.Schema(
    {
        vol.Optional(CONF_SEED, default=DEFAULT_SEED): vol.All(int, vol.Range(min=0)),
        vol.Optional(CONF_SPEED, default=DEFAULT_SPEED): vol.All(
            vol.Coerce(float), vol.Range(min=MIN_SPEED, max=MAX_SPEED)
        ),
        vol.Optional(CONF_UPDATE_INTERVAL, default=DEFAULT_UPDATE_INTERVAL): vol.All(
            vol.Coerce(float), vol.Range(min=MIN_UPDATE_INTERVAL, max=MAX_UPDATE_INTERVAL)
        ),
        vol.Optional(CONF_BUILDING, default=None): _part(BUILDING_SCHEMA),
        vol.Optional(CONF_HOME, default=None): _part(HOME_SCHEMA),
        vol.Optional(CONF_MODBUS, default=False): _part(MODBUS_SCHEMA),
        vol.Optional(CONF_BACNET, default=False): _part(BACNET_SCHEMA),
        vol.Optional(CONF_TUYA, default=False): _part(TUYA_SCHEMA),
    }
)


def _to_config(section: Mapping[str, Any]) -> SimConfig:
    building: Mapping[str, Any] | bool = section[CONF_BUILDING]
    home: Mapping[str, Any] | bool = section[CONF_HOME]
    modbus: Mapping[str, Any] | bool = section[CONF_MODBUS]
    bacnet: Mapping[str, Any] | bool = section[CONF_BACNET]
    tuya: Mapping[str, Any] | bool = section[CONF_TUYA]
    return SimConfig(
        seed=section[CONF_SEED],
        speed=section[CONF_SPEED],
        update_interval=section[CONF_UPDATE_INTERVAL],
        building=None
        if isinstance(building, bool)
        else BuildingConfig(
            zones=tuple(building[CONF_ZONES]),
            zone_area=building[CONF_ZONE_AREA],
            chillers=building[CONF_CHILLERS],
            chiller_capacity=building[CONF_CHILLER_CAPACITY],
            chiller_kw_per_ton=building[CONF_CHILLER_KW_PER_TON],
        ),
        home=None
        if isinstance(home, bool)
        else HomeConfig(
            appliances=tuple(home[CONF_APPLIANCES]),
            base_load=home[CONF_BASE_LOAD],
            schedules=home[CONF_SCHEDULES],
            physics=home[CONF_PHYSICS],
        ),
        modbus=None
        if isinstance(modbus, bool)
        else ModbusExposure(host=modbus[CONF_HOST], port=modbus[CONF_PORT]),
        bacnet=None
        if isinstance(bacnet, bool)
        else BacnetExposure(
            address=bacnet[CONF_ADDRESS],
            port=bacnet[CONF_PORT],
            instance=bacnet[CONF_INSTANCE],
            name=bacnet[CONF_NAME],
        ),
        tuya=None
        if isinstance(tuya, bool)
        else TuyaExposure(
            host=tuya[CONF_HOST],
            port=tuya[CONF_PORT],
            local_key=tuya[CONF_LOCAL_KEY],
            version=tuya[CONF_VERSION],
            versions=dict(tuya[CONF_VERSIONS]),
        ),
    )


CONFIG_SCHEMA = vol.All(lambda value: {} if value is None else value, SECTION_SCHEMA, _to_config)
"""Validates the value under ``simulator:`` into a :class:`SimConfig`."""
