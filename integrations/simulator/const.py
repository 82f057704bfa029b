"""Constants of the ``simulator`` integration, by family."""

from __future__ import annotations

from enum import StrEnum
from typing import Final

DOMAIN: Final = "simulator"
NAME: Final = "Simulator"
MANUFACTURER: Final = "Edgewise simulator"

CONF_SEED: Final = "seed"
CONF_SPEED: Final = "speed"
CONF_UPDATE_INTERVAL: Final = "update_interval"
CONF_BUILDING: Final = "building"
CONF_HOME: Final = "home"
CONF_ZONES: Final = "zones"
CONF_ZONE_AREA: Final = "zone_area"
CONF_CHILLERS: Final = "chillers"
CONF_CHILLER_CAPACITY: Final = "chiller_capacity"
CONF_CHILLER_KW_PER_TON: Final = "chiller_kw_per_ton"
CONF_APPLIANCES: Final = "appliances"
CONF_BASE_LOAD: Final = "base_load"
CONF_SCHEDULES: Final = "schedules"
CONF_PHYSICS: Final = "physics"
CONF_MODBUS: Final = "modbus"
CONF_BACNET: Final = "bacnet"
CONF_TUYA: Final = "tuya"
CONF_LOCAL_KEY: Final = "local_key"
CONF_VERSION: Final = "version"
CONF_VERSIONS: Final = "versions"
CONF_HOST: Final = "host"
CONF_PORT: Final = "port"
CONF_ADDRESS: Final = "address"
CONF_INSTANCE: Final = "instance"
CONF_NAME: Final = "name"

DEFAULT_SEED: Final = 42
DEFAULT_SPEED: Final = 1.0
#: Seconds of clock (real) time between two steps of the simulation: the house meter's period,
#: so at speed 1 each of its readings is one period's mean, as the NILM model was trained on.
DEFAULT_UPDATE_INTERVAL: Final = 6.0
DEFAULT_ZONE_COUNT: Final = 3
#: Floor area of each zone, m².
DEFAULT_ZONE_AREA: Final = 400.0
DEFAULT_CHILLER_COUNT: Final = 3
#: Nominal capacity of each chiller, tons of refrigeration.
DEFAULT_CHILLER_CAPACITY: Final = 12.0
#: Chiller efficiency at design (full) load, kW of electricity per ton of cooling.
DEFAULT_CHILLER_KW_PER_TON: Final = 0.6
#: Always-on household load (routers, standby, lighting on average), W.
DEFAULT_BASE_LOAD: Final = 150.0

#: Where the simulated meters answer Modbus TCP when ``modbus:`` is configured.
DEFAULT_TUYA_HOST: Final = "127.0.0.1"
#: The first plug's TCP port; the next plugs take the ports after it.
DEFAULT_TUYA_PORT: Final = 6670
#: The simulated plugs' local key (16 characters, as Tuya's).
DEFAULT_TUYA_KEY: Final = "edgewise-sim-key"
DEFAULT_TUYA_VERSION: Final = 3.3
DEFAULT_MODBUS_HOST: Final = "127.0.0.1"
DEFAULT_MODBUS_PORT: Final = 5020
#: Modbus device ids of the simulated meters.
MODBUS_BUILDING_METER_ID: Final = 1
MODBUS_HOUSE_METER_ID: Final = 2
#: Where the simulated BACnet device listens when ``bacnet:`` is configured: not the address and
#: port of a BACnet client on the same machine (bacpypes3 never sends to its own 127.x port).
DEFAULT_BACNET_ADDRESS: Final = "127.0.0.2"
DEFAULT_BACNET_PORT: Final = 47808
DEFAULT_BACNET_INSTANCE: Final = 599
DEFAULT_BACNET_NAME: Final = "Edgewise simulator"

#: Bounds of the speed factor: from real time to a day per ~15 minutes of clock time.
MIN_SPEED: Final = 0.1
MAX_SPEED: Final = 100.0
MIN_UPDATE_INTERVAL: Final = 1.0
MAX_UPDATE_INTERVAL: Final = 300.0
MAX_ZONES: Final = 20
MAX_CHILLERS: Final = 6

#: The longest step the physics integrate at once, seconds of simulated time.
MAX_SUBSTEP: Final = 60.0
#: At most this many sub-steps per update; a longer stall is integrated in longer sub-steps.
MAX_SUBSTEPS: Final = 1440

#: The name of the scheduler job that steps the simulation.
JOB_NAME: Final = "simulator.step"


class ApplianceKind(StrEnum):
    """The appliances the simulated home can hold."""

    DISHWASHER = "dishwasher"
    WASHING_MACHINE = "washing_machine"
    EV_CHARGER = "ev_charger"
    HEAT_PUMP = "heat_pump"
    FRIDGE = "fridge"


class HomePhysics(StrEnum):
    """What drives the simulated home's appliances and house meter."""

    #: ``household.py``'s 1 s physics averaged to the meter's period (``playback.py``): the
    #: houses the NILM model is trained on, kettle and microwave included.
    HOUSEHOLD = "household"
    #: ``home.py``'s event-driven appliance models, the meter read at each step.
    SIMPLE = "simple"
