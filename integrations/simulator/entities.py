"""The simulator's entities: the models' values as ordinary sensors, switches, numbers, climates.

Every piece of equipment is a device (``DeviceInfo`` with a suggested area), and its entities
are named within it. Writes (plugs, AHU fan, chiller enables, the supply-air setpoint, zone
setpoints and modes) change the model at once, as a device would, and every entity whose state
changed is written again, so the house meter drops as soon as a plug is switched off. Bounds
are the domain services' (``number`` and ``climate`` refuse out-of-range values before they get
here), and the audit log records each write like any other device's.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol

from core.entities.binary_sensor import BinarySensorDeviceClass, BinarySensorEntity
from core.entities.climate import ClimateEntity, HVACAction, HVACMode
from core.entities.number import NumberEntity, NumberMode
from core.entities.sensor import SensorDeviceClass, SensorEntity, SensorStateClass
from core.entities.switch import SwitchDeviceClass, SwitchEntity
from core.entity import DeviceInfo, Entity, StateType
from core.restore_state import RestoreEntity
from core.state import finite_number

from .building import Building, Chiller, Zone, ZoneAction, ZoneMode
from .const import DOMAIN, MANUFACTURER, ApplianceKind
from .home import Appliance, EVCharger, HeatPump, Home
from .playback import STATUS_OPTIONS, PlayedAppliance
from .sim import Simulation

#: AHU supply-air setpoint bounds, °C.
SUPPLY_SETPOINT_MIN = 10.0
SUPPLY_SETPOINT_MAX = 20.0
#: Zone setpoint bounds, °C.
ZONE_TARGET_MIN = 16.0
ZONE_TARGET_MAX = 28.0

_AREAS: dict[ApplianceKind, str] = {
    ApplianceKind.DISHWASHER: "Kitchen",
    ApplianceKind.WASHING_MACHINE: "Utility room",  # with its plug and appliance
    ApplianceKind.EV_CHARGER: "Garage",
    ApplianceKind.HEAT_PUMP: "Utility room",
    ApplianceKind.FRIDGE: "Kitchen",
}

_STATUS_OPTIONS: dict[ApplianceKind, tuple[str, ...]] = {
    ApplianceKind.DISHWASHER: (
        "off", "idle", "pre-rinse", "heating", "washing", "rinse heating", "rinsing", "drying"
    ),
    ApplianceKind.WASHING_MACHINE: (
        "off", "idle", "filling", "heating", "washing", "rinsing", "spinning"
    ),
    ApplianceKind.EV_CHARGER: ("off", "idle", "charging", "complete"),
    ApplianceKind.HEAT_PUMP: (
        "off", "idle", "standby", "heating", "cycling on", "cycling off", "defrosting", "hot water"
    ),
    ApplianceKind.FRIDGE: ("off", "idle", "cooling"),
}  # fmt: skip

_MODES: dict[HVACMode, ZoneMode] = {
    HVACMode.OFF: ZoneMode.OFF,
    HVACMode.HEAT: ZoneMode.HEAT,
    HVACMode.COOL: ZoneMode.COOL,
    HVACMode.AUTO: ZoneMode.AUTO,
}
_ACTIONS: dict[ZoneAction, HVACAction] = {
    ZoneAction.OFF: HVACAction.OFF,
    ZoneAction.IDLE: HVACAction.IDLE,
    ZoneAction.HEATING: HVACAction.HEATING,
    ZoneAction.COOLING: HVACAction.COOLING,
}


def _device(key: str, name: str, model: str, area: str) -> DeviceInfo:
    return DeviceInfo(
        identifiers=frozenset({(DOMAIN, key)}),
        name=name,
        manufacturer=MANUFACTURER,
        model=model,
        suggested_area=area,
    )


class SimulatorHub:
    """The simulation and its entities: writes what changed after a step or a write."""

    def __init__(self, simulation: Simulation) -> None:
        self.simulation = simulation
        self.entities: list[Entity] = []

    def publish(self) -> None:
        """Write the state of every added entity whose state or attributes changed."""
        for entity in self.entities:
            if isinstance(entity, SimEntity) and entity.added:
                entity.sync()

    def after_write(self) -> None:
        """A device write changed a model: read the meters again and publish."""
        if self.simulation.home is not None:
            self.simulation.home.read_meter()
        if self.simulation.building is not None:
            self.simulation.building.step(
                0.0, self.simulation.now, self.simulation.outdoor_temperature
            )
        self.publish()


class SimEntity(Entity):
    """What every simulator entity shares: the hub, its device, and writing only on change."""

    _attr_has_entity_name = True

    def __init__(self, hub: SimulatorHub, key: str, name: str | None, device: DeviceInfo) -> None:
        super().__init__()
        self.hub = hub
        self._attr_unique_id = f"{DOMAIN}_{key}"
        self._attr_name = name
        self._attr_device_info = device
        self._last: tuple[str, object, object] | None = None

    def sync(self) -> None:
        """Write the state when it or the attributes differ from what was last written."""
        snapshot = (self.state_string(), self.state_attributes, self.extra_state_attributes)
        if snapshot != self._last:
            self._last = snapshot
            self.write_state()


class SimSensor(SimEntity, SensorEntity):
    """A sensor reading one model value."""

    def __init__(
        self,
        hub: SimulatorHub,
        key: str,
        name: str,
        device: DeviceInfo,
        value: Callable[[], StateType],
        *,
        device_class: SensorDeviceClass | None = None,
        state_class: SensorStateClass | None = SensorStateClass.MEASUREMENT,
        unit: str | None = None,
        precision: int | None = None,
        options: Sequence[str] | None = None,
    ) -> None:
        super().__init__(hub, key, name, device)
        self._value = value
        self._attr_device_class = device_class
        self._attr_state_class = state_class
        self._attr_native_unit_of_measurement = unit
        self._attr_suggested_display_precision = precision
        self._attr_options = options

    @property
    def native_value(self) -> StateType:
        """The model's value now."""
        return self._value()


class SimBinarySensor(SimEntity, BinarySensorEntity):
    """A binary sensor reading one model flag."""

    def __init__(
        self,
        hub: SimulatorHub,
        key: str,
        name: str,
        device: DeviceInfo,
        *,
        value: Callable[[], bool],
        device_class: BinarySensorDeviceClass,
    ) -> None:
        super().__init__(hub, key, name, device)
        self._value = value
        self._attr_device_class = device_class

    @property
    def is_on(self) -> bool | None:
        """The model's flag now."""
        return self._value()


class SimSwitch(SimEntity, SwitchEntity):
    """A switch on a model flag: a plug, the AHU fan, a chiller enable."""

    def __init__(
        self,
        hub: SimulatorHub,
        key: str,
        name: str,
        device: DeviceInfo,
        *,
        get: Callable[[], bool],
        put: Callable[[bool], None],
        device_class: SwitchDeviceClass = SwitchDeviceClass.SWITCH,
    ) -> None:
        super().__init__(hub, key, name, device)
        self._get = get
        self._put = put
        self._attr_device_class = device_class

    @property
    def is_on(self) -> bool | None:
        """The model's flag now."""
        return self._get()

    async def async_turn_on(self, **kwargs: Any) -> None:
        """Switch on; the simulated device takes it at once."""
        self._put(True)
        self.hub.after_write()

    async def async_turn_off(self, **kwargs: Any) -> None:
        """Switch off; the simulated device takes it at once."""
        self._put(False)
        self.hub.after_write()


class SupplyAirSetpoint(SimEntity, NumberEntity):
    """The AHU's supply-air temperature setpoint."""

    _attr_native_min_value = SUPPLY_SETPOINT_MIN
    _attr_native_max_value = SUPPLY_SETPOINT_MAX
    _attr_native_step = 0.5
    _attr_native_unit_of_measurement = "°C"
    _attr_device_class = "temperature"
    _attr_mode = NumberMode.BOX

    def __init__(self, hub: SimulatorHub, building: Building, device: DeviceInfo) -> None:
        super().__init__(hub, "ahu_supply_setpoint", "Supply air setpoint", device)
        self._building = building

    @property
    def native_value(self) -> float | None:
        """The setpoint now."""
        return self._building.ahu.supply_setpoint

    async def async_set_native_value(self, value: float) -> None:
        """Take the new setpoint (the service checked it is within bounds)."""
        self._building.ahu.supply_setpoint = value
        self.hub.after_write()


class ZoneClimate(SimEntity, ClimateEntity):
    """A zone's thermostat: mode, setpoint, measured temperature and what the VAV box does."""

    _attr_hvac_modes = (HVACMode.OFF, HVACMode.HEAT, HVACMode.COOL, HVACMode.AUTO)
    _attr_min_temp = ZONE_TARGET_MIN
    _attr_max_temp = ZONE_TARGET_MAX
    _attr_target_temp_step = 0.5

    def __init__(self, hub: SimulatorHub, key: str, zone: Zone, device: DeviceInfo) -> None:
        super().__init__(hub, f"{key}_climate", None, device)
        self._zone = zone

    @property
    def hvac_mode(self) -> HVACMode | None:
        """The zone's mode."""
        return HVACMode(self._zone.mode.value)

    @property
    def hvac_action(self) -> HVACAction | None:
        """What the zone's HVAC does now."""
        return _ACTIONS[self._zone.action]

    @property
    def current_temperature(self) -> float | None:
        """The zone temperature, to 0.1 °C as a thermostat shows it."""
        return round(self._zone.temperature, 1)

    @property
    def target_temperature(self) -> float | None:
        """The zone setpoint."""
        return self._zone.target

    async def async_set_temperature(self, temperature: float) -> None:
        """Take the new setpoint (the service checked it is within bounds)."""
        self._zone.target = temperature
        self.hub.after_write()

    async def async_set_hvac_mode(self, hvac_mode: HVACMode) -> None:
        """Take the new mode (the service checked it is one of ``hvac_modes``)."""
        self._zone.mode = _MODES[hvac_mode]
        self.hub.after_write()


def _simulator_entities(hub: SimulatorHub) -> list[Entity]:
    sim = hub.simulation
    device = _device("site", "Simulator", "Site simulator", "Outdoors")
    entities: list[Entity] = [
        SimSensor(
            hub, "time", "Time", device, lambda: sim.now.replace(microsecond=0),
            device_class=SensorDeviceClass.TIMESTAMP, state_class=None,
        ),
        SimSensor(
            hub, "outdoor_temperature", "Outdoor temperature", device,
            lambda: sim.outdoor_temperature, device_class=SensorDeviceClass.TEMPERATURE,
            unit="°C", precision=1,
        ),
    ]  # fmt: skip
    return entities


def _power(
    hub: SimulatorHub,
    key: str,
    name: str,
    device: DeviceInfo,
    value: Callable[[], float],
    *,
    unit: str,
) -> SimSensor:
    return SimSensor(
        hub, key, name, device, value,
        device_class=SensorDeviceClass.POWER, unit=unit, precision=3 if unit == "kW" else 1,
    )  # fmt: skip


class _Metered(Protocol):
    """A model object that counts energy: a meter or an appliance."""

    energy_kwh: float


class SimEnergySensor(SimSensor, RestoreEntity):
    """A meter's energy total: restored after a restart, so it keeps counting from where it was
    (a total that fell back to 0 would read as a meter replaced, and chart as a sawtooth)."""

    def __init__(
        self, hub: SimulatorHub, key: str, name: str, device: DeviceInfo, owner: _Metered
    ) -> None:
        super().__init__(
            hub, key, name, device, lambda: owner.energy_kwh, device_class=SensorDeviceClass.ENERGY,
            state_class=SensorStateClass.TOTAL_INCREASING, unit="kWh", precision=3,
        )  # fmt: skip
        self._owner = owner

    async def added_to_runtime(self) -> None:
        """Put the model's total back to the last one saved (when that is a larger number)."""
        await super().added_to_runtime()
        last = await self.last_state()
        if last is None:
            return
        total = finite_number(last.state)  # None for "unknown" or "unavailable"
        if total is not None and total > self._owner.energy_kwh:
            self._owner.energy_kwh = total


def _energy(
    hub: SimulatorHub, key: str, name: str, device: DeviceInfo, owner: _Metered
) -> SimSensor:
    return SimEnergySensor(hub, key, name, device, owner)


def _zone_entities(hub: SimulatorHub, n: int, zone: Zone) -> list[Entity]:
    key = f"zone_{n}"
    device = _device(key, zone.params.name, "VAV zone", zone.params.name)
    return [
        ZoneClimate(hub, key, zone, device),
        SimSensor(
            hub, f"{key}_temperature", "Temperature", device, lambda: zone.temperature,
            device_class=SensorDeviceClass.TEMPERATURE, unit="°C", precision=2,
        ),
        SimBinarySensor(
            hub, f"{key}_occupancy", "Occupancy", device, value=lambda: zone.occupied,
            device_class=BinarySensorDeviceClass.OCCUPANCY,
        ),
        _power(hub, f"{key}_solar_gain", "Solar gain", device, lambda: zone.q_solar, unit="kW"),
        _power(
            hub, f"{key}_reheat_power", "Reheat power", device, lambda: zone.reheat_power, unit="kW"
        ),
    ]  # fmt: skip


def _chiller_entities(hub: SimulatorHub, chiller: Chiller) -> list[Entity]:
    key = f"chiller_{chiller.params.name}"
    device = _device(key, f"Chiller {chiller.params.name}", "Water-cooled chiller", "Plant room")

    def enable(on: bool) -> None:
        chiller.enabled = on

    return [
        SimSwitch(hub, f"{key}_enable", "Enable", device, get=lambda: chiller.enabled, put=enable),
        _power(hub, f"{key}_power", "Power", device, lambda: chiller.power_kw, unit="kW"),
        _power(
            hub, f"{key}_cooling_load", "Cooling load", device, lambda: chiller.load_kw, unit="kW"
        ),
        SimSensor(
            hub, f"{key}_kw_per_ton", "Efficiency", device, lambda: chiller.kw_per_ton,
            unit="kW/ton", precision=3,
        ),
        SimSensor(hub, f"{key}_cop", "COP", device, lambda: chiller.cop, precision=2),
    ]  # fmt: skip


def building_entities(hub: SimulatorHub, building: Building) -> list[Entity]:
    """The zones, the AHU, the chillers and the main meter."""
    entities: list[Entity] = []
    for n, zone in enumerate(building.zones, start=1):
        entities += _zone_entities(hub, n, zone)
    ahu = building.ahu
    device = _device("ahu", "AHU", "Air-handling unit", "Plant room")

    def fan(on: bool) -> None:
        ahu.fan_on = on

    entities += [
        SimSwitch(hub, "ahu_fan", "Fan", device, get=lambda: ahu.fan_on, put=fan),
        SupplyAirSetpoint(hub, building, device),
        SimSensor(
            hub, "ahu_supply_temperature", "Supply air temperature", device,
            lambda: ahu.supply_temperature, device_class=SensorDeviceClass.TEMPERATURE,
            unit="°C", precision=2,
        ),
        SimSensor(
            hub, "ahu_airflow", "Airflow", device, lambda: ahu.airflow * 3600,
            device_class=SensorDeviceClass.VOLUME_FLOW_RATE, unit="m³/h", precision=0,
        ),
        _power(hub, "ahu_fan_power", "Fan power", device, lambda: ahu.fan_power_kw, unit="kW"),
        _power(
            hub, "ahu_cooling_load", "Cooling load", device, lambda: ahu.coil_load_kw, unit="kW"
        ),
    ]  # fmt: skip
    for chiller in building.chillers:
        entities += _chiller_entities(hub, chiller)
    meter = building.meter
    device = _device("main_meter", "Main meter", "Electricity meter", "Plant room")
    entities += [
        _power(hub, "main_meter_power", "Power", device, lambda: meter.power_kw, unit="kW"),
        _energy(hub, "main_meter_energy", "Energy", device, meter),
    ]
    return entities


def _appliance_entities(hub: SimulatorHub, appliance: Appliance) -> list[Entity]:
    kind = appliance.kind
    key = kind.value
    device = _device(key, appliance.name, f"Simulated {appliance.name.lower()}", _AREAS[kind])
    entities: list[Entity] = [
        SimSwitch(
            hub, f"{key}_plug", "Plug", device, get=lambda: appliance.plug_on,
            put=appliance.set_plug, device_class=SwitchDeviceClass.OUTLET,
        ),
        _power(hub, f"{key}_power", "Power", device, lambda: appliance.power_w, unit="W"),
        _energy(hub, f"{key}_energy", "Energy", device, appliance),
        SimSensor(
            hub, f"{key}_status", "Status", device, lambda: appliance.status,
            device_class=SensorDeviceClass.ENUM, state_class=None,
            options=STATUS_OPTIONS if isinstance(appliance, PlayedAppliance)
            else _STATUS_OPTIONS[kind],
        ),
    ]  # fmt: skip
    if isinstance(appliance, EVCharger):
        ev = appliance
        entities.append(
            SimSensor(
                hub, f"{key}_battery", "Battery", device, lambda: ev.soc * 100,
                device_class=SensorDeviceClass.BATTERY, unit="%", precision=1,
            )
        )  # fmt: skip
    if isinstance(appliance, HeatPump):
        hp = appliance
        entities.append(SimSensor(hub, f"{key}_cop", "COP", device, lambda: hp.cop, precision=2))
    return entities


def home_entities(hub: SimulatorHub, home: Home) -> list[Entity]:
    """Every appliance's plug, power, energy and status, and the house meter."""
    entities: list[Entity] = []
    for appliance in home.appliances.values():
        entities += _appliance_entities(hub, appliance)
    meter = home.meter
    device = _device("house_meter", "House meter", "Electricity meter", "Hallway")
    entities += [
        _power(hub, "house_meter_power", "Power", device, lambda: meter.power_w, unit="W"),
        _energy(hub, "house_meter_energy", "Energy", device, meter),
    ]
    return entities


def create_entities(hub: SimulatorHub) -> list[Entity]:
    """Every entity of the simulation; kept on the hub so it can publish them."""
    sim = hub.simulation
    entities = _simulator_entities(hub)
    if sim.building is not None:
        entities += building_entities(hub, sim.building)
    if sim.home is not None:
        entities += home_entities(hub, sim.home)
    hub.entities = entities
    return entities
