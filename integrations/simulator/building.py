"""The simulated commercial building: pure physics, no runtime.

Units: temperatures in °C, heat flows and electrical loads in kW, thermal capacitance in kJ/K,
thermal resistance in K/kW (so ``R * C`` is in seconds), airflow in m³/s, time in seconds.

* **Weather**: the outdoor temperature follows a seasonal mean plus a daily sinusoid (coldest
  around 03:00, warmest around 15:00) plus seeded, slowly wandering noise (an AR(1) process).
  Solar gain through each zone's windows uses the sun's elevation and azimuth from astral and a
  clear-sky beam irradiance.
* **Zones**: a first-order RC model, ``C dT/dt = (T_out - T)/R + Q_solar + Q_internal + Q_hvac``.
  Over one sub-step the inputs are held constant and the equation is solved exactly, so a zone
  with no gains relaxes to the outdoor temperature as ``exp(-t / (R C))``. Internal gains follow
  occupancy (weekdays 08:00-18:00): people, lighting and plug loads; the lighting and plug loads
  are electrical and count at the main meter.
* **AHU**: one air-handling unit with a fan and a supply-air temperature setpoint. Each zone's
  VAV box modulates its airflow between a minimum and its design flow with a proportional
  controller on its setpoint, and reheats electrically when the zone needs heat. The mixed air
  (20 % outdoor air) is cooled to the setpoint by the chilled-water coil, limited by what the
  enabled chillers can deliver: when they cannot, the supply air is warmer than its setpoint.
  With the fan off no air moves and the zones get neither cooling nor heating.
* **Chillers**: staged in order (lead first) so each runs at no more than 90 % load where the
  enabled ones allow, the load shared equally. Their efficiency follows a part-load curve,
  ``kW/ton = design * (m + (1 - m) * ((PLR - 0.7) / 0.3)²)``, best at 70 % load; below the
  minimum part load a running chiller false-loads (draws as at its minimum). Each running chiller
  also runs its pumps and tower fan.
* **Main meter**: the sum of every electrical load, exactly.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from enum import StrEnum

from astral import Observer
from astral import sun as astral_sun

#: Volumetric heat capacity of air, kJ/(m³·K).
RHO_CP_AIR = 1.2
#: One ton of refrigeration in kW (thermal).
KW_PER_TON = 3.517
#: Part-load ratio at which a chiller is most efficient.
BEST_PLR = 0.7
#: Chillers are staged up before any runs above this part-load ratio.
STAGE_UP_PLR = 0.9
#: Fraction of outdoor air in the AHU's mixed air.
OUTDOOR_AIR_FRACTION = 0.2


class ZoneMode(StrEnum):
    """What a zone's controller is allowed to do."""

    OFF = "off"
    HEAT = "heat"
    COOL = "cool"
    AUTO = "auto"


class ZoneAction(StrEnum):
    """What a zone's HVAC is doing now."""

    OFF = "off"
    IDLE = "idle"
    HEATING = "heating"
    COOLING = "cooling"


# --- weather and sun ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class WeatherParams:
    """The outdoor temperature curve."""

    annual_mean: float = 11.0
    seasonal_amplitude: float = 8.0
    daily_amplitude: float = 5.0
    #: Local hour of the daily maximum.
    peak_hour: float = 15.0
    #: Standard deviation of the stationary noise, K.
    noise_sigma: float = 0.8
    #: Correlation time of the noise, s.
    noise_tau: float = 3 * 3600.0


def outdoor_curve(params: WeatherParams, day_of_year: float, local_hour: float) -> float:
    """The noiseless outdoor temperature: seasonal mean plus the daily sinusoid, °C.

    The seasonal mean is lowest in mid-January and highest in mid-July (northern hemisphere).
    """
    seasonal = -params.seasonal_amplitude * math.cos(2 * math.pi * (day_of_year - 15) / 365.25)
    daily = params.daily_amplitude * math.cos(2 * math.pi * (local_hour - params.peak_hour) / 24)
    return params.annual_mean + seasonal + daily


class Weather:
    """The outdoor temperature, with seeded AR(1) noise around the curve."""

    def __init__(self, params: WeatherParams, rng: random.Random) -> None:
        self.params = params
        self._rng = rng
        self.noise = 0.0
        self.temperature = 0.0

    def step(self, dt: float, when: datetime, tz: tzinfo) -> float:
        """Advance the noise by ``dt`` seconds and return the temperature at ``when``."""
        p = self.params
        if dt > 0 and p.noise_sigma > 0:
            a = math.exp(-dt / p.noise_tau)
            self.noise = a * self.noise + p.noise_sigma * math.sqrt(1 - a * a) * self._rng.gauss()
        local = when.astimezone(tz)
        hour = local.hour + local.minute / 60 + local.second / 3600
        self.temperature = outdoor_curve(p, local.timetuple().tm_yday, hour) + self.noise
        return self.temperature


@dataclass(frozen=True, slots=True)
class SunPosition:
    """Where the sun is, degrees."""

    elevation: float
    azimuth: float


def sun_position(observer: Observer, when: datetime) -> SunPosition:
    """The sun's elevation and azimuth at ``when`` (aware), from astral."""
    return SunPosition(
        elevation=astral_sun.elevation(observer, when), azimuth=astral_sun.azimuth(observer, when)
    )


def beam_irradiance(elevation: float) -> float:
    """Clear-sky direct normal irradiance, W/m² (Meinel's air-mass model); 0 below the horizon."""
    if elevation <= 0:
        return 0.0
    air_mass = 1 / max(math.sin(math.radians(elevation)), 0.01)
    return float(1353 * 0.7 ** (air_mass**0.678))


def window_irradiance(sun: SunPosition, window_azimuth: float) -> float:
    """Irradiance on a vertical window facing ``window_azimuth``: beam plus diffuse, W/m²."""
    if sun.elevation <= 0:
        return 0.0
    elev = math.radians(sun.elevation)
    cos_incidence = math.cos(elev) * math.cos(math.radians(sun.azimuth - window_azimuth))
    beam = beam_irradiance(sun.elevation)
    # Diffuse sky radiation on a vertical surface sees half the sky.
    diffuse = 0.5 * 0.1 * beam * math.sin(elev)
    return beam * max(cos_incidence, 0.0) + diffuse


# --- occupancy ---------------------------------------------------------------------------------


def is_occupied(local: datetime) -> bool:
    """Office hours: Monday to Friday, 08:00 to 18:00 local time."""
    return local.weekday() < 5 and 8 <= local.hour < 18


# --- zones -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ZoneParams:
    """A zone's envelope, gains and VAV box."""

    name: str
    area: float = 400.0
    #: Envelope resistance to outdoors, K/kW.
    resistance: float = 4.0
    #: Effective thermal capacitance (air, furniture, part of the structure), kJ/K.
    capacitance: float = 8000.0
    window_area: float = 40.0
    window_azimuth: float = 180.0
    shgc: float = 0.4
    people: int = 30
    #: Lighting and plug loads when occupied / unoccupied, W/m².
    equipment_occupied: float = 12.0
    equipment_unoccupied: float = 2.0
    #: Sensible heat per person, kW.
    per_person: float = 0.075
    design_airflow: float = 2.0
    min_airflow_fraction: float = 0.3
    reheat_capacity: float = 12.0
    #: Proportional band of the zone controller, K.
    band: float = 1.0

    @property
    def tau(self) -> float:
        """The zone's time constant ``R * C``, seconds."""
        return self.resistance * self.capacitance


def default_zone_params(names: tuple[str, ...], area: float) -> list[ZoneParams]:
    """Zones of ``area`` m² each, windows facing south, east, west and north in turn."""
    facings = (180.0, 90.0, 270.0, 0.0)
    scale = area / 400.0
    return [
        ZoneParams(
            name=name,
            area=area,
            resistance=4.0 / scale,
            capacitance=8000.0 * scale,
            window_area=40.0 * scale,
            window_azimuth=facings[i % len(facings)],
            people=max(1, round(30 * scale)),
            design_airflow=2.0 * scale,
            reheat_capacity=12.0 * scale,
        )
        for i, name in enumerate(names)
    ]


@dataclass(slots=True)
class Zone:
    """A zone's state: its temperature, its controller and what it gets and draws."""

    params: ZoneParams
    temperature: float = 21.0
    target: float = 22.0
    mode: ZoneMode = ZoneMode.AUTO
    occupied: bool = False
    airflow: float = 0.0
    action: ZoneAction = ZoneAction.IDLE
    q_solar: float = 0.0
    q_internal: float = 0.0
    q_hvac: float = 0.0
    #: Lighting and plug loads, kW electrical.
    equipment_power: float = 0.0
    #: Electric reheat, kW electrical.
    reheat_power: float = 0.0

    def demand(self) -> tuple[float, float]:
        """The controller's cooling and heating demand, each in [0, 1]."""
        if self.mode is ZoneMode.OFF:
            return 0.0, 0.0
        error = (self.temperature - self.target) / self.params.band
        cool = min(max(error, 0.0), 1.0) if self.mode in (ZoneMode.COOL, ZoneMode.AUTO) else 0.0
        heat = min(max(-error, 0.0), 1.0) if self.mode in (ZoneMode.HEAT, ZoneMode.AUTO) else 0.0
        return cool, heat


def zone_step(
    temperature: float, outdoor: float, gains: float, params: ZoneParams, dt: float
) -> float:
    """The zone's temperature after ``dt`` seconds with constant outdoor temperature and gains.

    The exact solution of ``C dT/dt = (T_out - T)/R + gains``: the temperature relaxes towards
    ``T_out + R * gains`` with the time constant ``R * C``.
    """
    equilibrium = outdoor + params.resistance * gains
    return equilibrium + (temperature - equilibrium) * math.exp(-dt / params.tau)


# --- chillers ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ChillerParams:
    """A chiller's capacity and part-load efficiency curve."""

    name: str
    capacity_tons: float = 12.0
    design_kw_per_ton: float = 0.6
    #: kW/ton at the best part-load ratio, as a fraction of the design value.
    best_fraction: float = 0.85
    min_plr: float = 0.15
    #: Chilled-water pump and tower fan while running, kW.
    auxiliary_kw: float = 1.5

    @property
    def capacity_kw(self) -> float:
        """Capacity in kW thermal."""
        return self.capacity_tons * KW_PER_TON


def kw_per_ton(params: ChillerParams, plr: float) -> float:
    """The chiller's efficiency at part-load ratio ``plr`` (clamped to [min_plr, 1])."""
    plr = min(max(plr, params.min_plr), 1.0)
    shape = ((plr - BEST_PLR) / (1.0 - BEST_PLR)) ** 2
    return params.design_kw_per_ton * (params.best_fraction + (1 - params.best_fraction) * shape)


@dataclass(slots=True)
class Chiller:
    """A chiller's state."""

    params: ChillerParams
    enabled: bool = True
    running: bool = False
    load_kw: float = 0.0
    power_kw: float = 0.0

    @property
    def plr(self) -> float:
        """Part-load ratio of the last step."""
        return self.load_kw / self.params.capacity_kw

    @property
    def kw_per_ton(self) -> float | None:
        """Electrical kW per ton of cooling delivered; None when not running."""
        if not self.running or self.load_kw <= 0:
            return None
        return (self.power_kw - self.params.auxiliary_kw) / (self.load_kw / KW_PER_TON)

    @property
    def cop(self) -> float | None:
        """Cooling delivered per electrical kW (compressor only); None when not running."""
        value = self.kw_per_ton
        return None if value is None else KW_PER_TON / value

    def run(self, load_kw: float) -> None:
        """Deliver ``load_kw`` (at most its capacity) and draw power for it."""
        p = self.params
        self.running = True
        self.load_kw = min(load_kw, p.capacity_kw)
        # Below its minimum part load a chiller false-loads: it draws as at min_plr.
        effective_tons = max(self.load_kw, p.min_plr * p.capacity_kw) / KW_PER_TON
        plr = self.load_kw / p.capacity_kw
        self.power_kw = effective_tons * kw_per_ton(p, plr) + p.auxiliary_kw

    def stop(self) -> None:
        """Not running: no load, no power."""
        self.running = False
        self.load_kw = 0.0
        self.power_kw = 0.0


def stage_chillers(chillers: list[Chiller], load_kw: float) -> float:
    """Stage the enabled chillers in order to meet ``load_kw``, sharing it equally.

    As few chillers run as keep each at or below ``STAGE_UP_PLR`` (all enabled ones when that is
    not possible). Returns the cooling delivered, kW: the load, or all the enabled ones can give.
    """
    enabled = [c for c in chillers if c.enabled]
    for chiller in chillers:
        chiller.stop()
    if load_kw <= 0 or not enabled:
        return 0.0
    count = len(enabled)
    total = 0.0
    for n in range(1, len(enabled) + 1):
        total += enabled[n - 1].params.capacity_kw
        if load_kw <= total * STAGE_UP_PLR:
            count = n
            break
    running = enabled[:count]
    capacity = sum(c.params.capacity_kw for c in running)
    delivered = min(load_kw, capacity)
    for chiller in running:
        chiller.run(delivered * chiller.params.capacity_kw / capacity)
    return delivered


# --- AHU ---------------------------------------------------------------------------------------


@dataclass(slots=True)
class AirHandler:
    """The AHU: fan and supply-air temperature."""

    supply_setpoint: float = 13.0
    fan_on: bool = True
    design_airflow: float = 6.0
    design_fan_kw: float = 7.5
    airflow: float = 0.0
    supply_temperature: float = 13.0
    mixed_temperature: float = 20.0
    coil_demand_kw: float = 0.0
    coil_load_kw: float = 0.0
    fan_power_kw: float = 0.0

    def fan_power(self) -> float:
        """Fan power for the current airflow (fan affinity law, exponent 2.5), kW."""
        if self.airflow <= 0:
            return 0.0
        return float(self.design_fan_kw * (self.airflow / self.design_airflow) ** 2.5)


# --- the building ------------------------------------------------------------------------------


@dataclass(slots=True)
class MainMeter:
    """The building's main electricity meter."""

    power_kw: float = 0.0
    energy_kwh: float = 0.0
    #: The loads the power is the sum of, kW, by name.
    loads: dict[str, float] = field(default_factory=dict)


class Building:
    """Zones, an AHU, chillers and a main meter, stepped together."""

    def __init__(
        self,
        zones: list[ZoneParams],
        chillers: list[ChillerParams],
        observer: Observer,
        tz: tzinfo,
    ) -> None:
        self.zones = [Zone(params=p) for p in zones]
        self.chillers = [Chiller(params=p) for p in chillers]
        design = sum(p.design_airflow for p in zones)
        self.ahu = AirHandler(design_airflow=design, design_fan_kw=1.25 * design)
        self.meter = MainMeter()
        self.observer = observer
        self.tz = tz
        self.sun = SunPosition(0.0, 0.0)
        self.outdoor_temperature = 0.0

    @property
    def cooling_load_kw(self) -> float:
        """Cooling delivered by the chillers in the last step, kW thermal."""
        return sum(c.load_kw for c in self.chillers)

    def step(self, dt: float, when: datetime, outdoor_temperature: float) -> None:
        """Advance ``dt`` seconds ending at ``when``, holding the inputs at their ``when`` values.

        Call it with ``dt`` of at most a minute or so: the controllers act once per call. A
        ``dt`` of 0 computes the flows and loads without moving any temperature.
        """
        self.outdoor_temperature = t_out = outdoor_temperature
        self.sun = sun = sun_position(self.observer, when)
        occupied = is_occupied(when.astimezone(self.tz))
        ahu = self.ahu

        # Airflow each VAV box asks for, and the mixed air it makes.
        demands = []
        for zone in self.zones:
            cool, heat = zone.demand()
            demands.append((cool, heat))
            p = zone.params
            if not ahu.fan_on or zone.mode is ZoneMode.OFF:
                zone.airflow = 0.0
            else:
                fraction = p.min_airflow_fraction + (1 - p.min_airflow_fraction) * cool
                zone.airflow = p.design_airflow * fraction
        ahu.airflow = sum(z.airflow for z in self.zones)
        if ahu.airflow > 0:
            returned = sum(z.airflow * z.temperature for z in self.zones) / ahu.airflow
        else:
            returned = sum(z.temperature for z in self.zones) / len(self.zones)
        ahu.mixed_temperature = mixed = (
            OUTDOOR_AIR_FRACTION * t_out + (1 - OUTDOOR_AIR_FRACTION) * returned
        )

        # Cooling coil: what the setpoint needs, limited by the chillers.
        ahu.coil_demand_kw = RHO_CP_AIR * ahu.airflow * max(mixed - ahu.supply_setpoint, 0.0)
        ahu.coil_load_kw = stage_chillers(self.chillers, ahu.coil_demand_kw)
        if ahu.airflow > 0:
            ahu.supply_temperature = mixed - ahu.coil_load_kw / (RHO_CP_AIR * ahu.airflow)
        else:
            ahu.supply_temperature = mixed
        ahu.fan_power_kw = ahu.fan_power()

        for zone, (cool, heat) in zip(self.zones, demands, strict=True):
            p = zone.params
            zone.occupied = occupied
            zone.q_solar = p.window_area * p.shgc * window_irradiance(sun, p.window_azimuth) / 1000
            per_m2 = p.equipment_occupied if occupied else p.equipment_unoccupied
            zone.equipment_power = per_m2 * p.area / 1000
            zone.q_internal = zone.equipment_power + (p.people * p.per_person if occupied else 0)
            zone.reheat_power = heat * p.reheat_capacity if zone.airflow > 0 else 0.0
            air = RHO_CP_AIR * zone.airflow * (ahu.supply_temperature - zone.temperature)
            zone.q_hvac = air + zone.reheat_power
            if zone.mode is ZoneMode.OFF or zone.airflow <= 0:
                zone.action = ZoneAction.OFF if zone.mode is ZoneMode.OFF else ZoneAction.IDLE
            elif zone.reheat_power > 0:
                zone.action = ZoneAction.HEATING
            elif cool > 0:
                zone.action = ZoneAction.COOLING
            else:
                zone.action = ZoneAction.IDLE
            gains = zone.q_solar + zone.q_internal + zone.q_hvac
            zone.temperature = zone_step(zone.temperature, t_out, gains, p, dt)

        loads = {f"chiller {c.params.name}": c.power_kw for c in self.chillers}
        loads["ahu fan"] = ahu.fan_power_kw
        for zone in self.zones:
            loads[f"{zone.params.name} equipment"] = zone.equipment_power
            loads[f"{zone.params.name} reheat"] = zone.reheat_power
        self.meter.loads = loads
        self.meter.power_kw = sum(loads.values())
        self.meter.energy_kwh += self.meter.power_kw * dt / 3600
