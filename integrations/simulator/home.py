"""The simulated home: appliances with realistic power signatures, their plugs, a house meter.

Pure models, no runtime. Power in W, energy in kWh, time in seconds, ``when`` aware datetimes.
Every appliance integrates its energy exactly across phase boundaries inside a step, so the
energy of a cycle does not depend on how often the simulation is stepped; the power it reports
is the one at the end of the step (as a meter sampled then would read).

* **Dishwasher**: pre-rinse (pump ~100 W), heat (~2 kW), wash (pump), rinse heat (~2 kW), rinse,
  dry (fan); about 1.0-1.2 kWh a cycle.
* **Washing machine**: fill, heat (~2 kW), wash (motor ~200 W with fluctuation), rinse, spin
  (~450 W); about 0.7-0.9 kWh a cycle.
* **EV charger**: 7.4 kW constant current until the battery is at 80 %, then a taper towards
  ~1 kW at full; a session starts with the battery 20-50 % full.
* **Heat pump**: the compressor modulates with the heat demand and the outdoor temperature (COP
  falls with the cold); below its minimum modulation it cycles on and off; below 5 °C it defrosts
  every 45-75 minutes of running; a daily hot-water cycle at 05:00.
* **Fridge**: compressor cycles, 12-20 minutes on (~90 W, a ~450 W start-up spike for 3 s) and
  25-40 minutes off.

A plug that is switched off cuts its appliance to 0 W and aborts any cycle; switching it on
starts a cycle of the dishwasher, the washing machine and the EV charger (the fridge and the heat
pump simply run). With schedules on, cycles also start by themselves at their usual times. The
house meter reads the sum of the appliances plus a constant base load.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo

from .const import ApplianceKind

#: Standby draw of an idle appliance whose plug is on, W.
STANDBY_W = 1.0
#: No segment an appliance integrates over is longer than this, s.
MAX_SEGMENT = 60.0


@dataclass(frozen=True, slots=True)
class HomeInputs:
    """What the appliances see from outside: the time and the outdoor temperature."""

    when: datetime
    tz: tzinfo
    outdoor_temperature: float

    @property
    def local(self) -> datetime:
        """``when`` in the site's time zone."""
        return self.when.astimezone(self.tz)


class Appliance:
    """An appliance behind a smart plug: power, energy, status and a plug."""

    kind: ApplianceKind
    name: str = ""

    def __init__(self, rng: random.Random) -> None:
        self._rng = rng
        self.plug_on = True
        self.power_w = 0.0
        self.energy_kwh = 0.0
        self.status = "idle"

    def set_plug(self, on: bool) -> None:
        """Switch the plug; off cuts the power at once. Switching to the same state does nothing."""
        if on == self.plug_on:
            return
        self.plug_on = on
        if not on:
            self.power_w = 0.0
            self.status = "off"
            self._abort()
        else:
            self.status = "idle"
            self._plugged_in()
            self.power_w = self._power_now()

    def advance(self, dt: float, inputs: HomeInputs) -> float:
        """Run ``dt`` seconds ending at ``inputs.when``; returns the energy used, kWh."""
        if not self.plug_on:
            self.power_w = 0.0
            return 0.0
        joules = 0.0
        remaining = dt
        while remaining > 1e-9:
            segment = min(remaining, self._segment_limit(), MAX_SEGMENT)
            power = self._power_now()
            joules += power * segment
            self._elapse(segment, inputs)
            remaining -= segment
        self._check_schedule(inputs)
        self.power_w = self._power_now()
        kwh = joules / 3.6e6
        self.energy_kwh += kwh
        return kwh

    # --- what each appliance defines -----------------------------------------------------------

    def _power_now(self) -> float:
        raise NotImplementedError

    def _segment_limit(self) -> float:
        """Seconds until the power may next change."""
        return MAX_SEGMENT

    def _elapse(self, seconds: float, inputs: HomeInputs) -> None:
        raise NotImplementedError

    def _check_schedule(self, inputs: HomeInputs) -> None:
        """Start a cycle when one is due."""

    def _abort(self) -> None:
        """The plug was switched off."""

    def _plugged_in(self) -> None:
        """The plug was switched on."""


# --- program appliances ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Phase:
    """One phase of a program: how long, at what power, with how much fluctuation."""

    name: str
    minutes: float
    power_w: float
    fluctuation_w: float = 0.0


DISHWASHER_PROGRAM = (
    Phase("pre-rinse", 10, 100, 5),
    Phase("heating", 14, 2000, 30),
    Phase("washing", 30, 110, 10),
    Phase("rinse heating", 12, 2000, 30),
    Phase("rinsing", 10, 100, 5),
    Phase("drying", 30, 15, 1),
)

WASHING_PROGRAM = (
    Phase("filling", 4, 15, 2),
    Phase("heating", 13, 2100, 40),
    Phase("washing", 40, 200, 80),
    Phase("rinsing", 20, 150, 60),
    Phase("spinning", 10, 450, 120),
)


class ProgramAppliance(Appliance):
    """An appliance that runs a fixed program when started, then waits idle."""

    program: tuple[Phase, ...] = ()
    #: (weekdays, local hour) of the scheduled starts.
    schedule_days: frozenset[int] = frozenset()
    schedule_hour: float = 0.0

    def __init__(self, rng: random.Random, *, schedules: bool = True) -> None:
        super().__init__(rng)
        self.schedules = schedules
        self._phase: int | None = None
        self._left = 0.0
        self._durations: list[float] = []
        self._power = 0.0
        self._next_start: datetime | None = None
        self.cycles = 0

    @property
    def running(self) -> bool:
        """Whether a cycle is in progress."""
        return self._phase is not None

    def start_cycle(self) -> None:
        """Start the program from its first phase (durations jittered ±10 %)."""
        if not self.plug_on:
            return
        self._durations = [p.minutes * 60 * self._rng.uniform(0.9, 1.1) for p in self.program]
        self.cycles += 1
        self._enter(0)

    def _enter(self, index: int) -> None:
        if index >= len(self.program):
            self._phase = None
            self.status = "idle"
            return
        self._phase = index
        self._left = self._durations[index]
        self.status = self.program[index].name
        self._sample_power()

    def _sample_power(self) -> None:
        if self._phase is None:
            return
        phase = self.program[self._phase]
        self._power = max(phase.power_w + phase.fluctuation_w * self._rng.uniform(-1, 1), 0.0)

    def _power_now(self) -> float:
        return self._power if self._phase is not None else STANDBY_W

    def _segment_limit(self) -> float:
        return self._left if self._phase is not None else MAX_SEGMENT

    def _elapse(self, seconds: float, inputs: HomeInputs) -> None:
        if self._phase is None:
            return
        self._left -= seconds
        if self._left <= 1e-9:
            self._enter(self._phase + 1)
        else:
            self._sample_power()

    def _abort(self) -> None:
        self._phase = None

    def _plugged_in(self) -> None:
        self.start_cycle()

    def _check_schedule(self, inputs: HomeInputs) -> None:
        if not self.schedules:
            return
        local = inputs.local
        if self._next_start is None:
            self._next_start = self._schedule_after(local)
        if local >= self._next_start:
            if not self.running:
                self.start_cycle()
            self._next_start = self._schedule_after(local)

    def _schedule_after(self, local: datetime) -> datetime:
        """The next scheduled start after ``local``, with up to ±30 minutes of jitter."""
        day = local.replace(hour=0, minute=0, second=0, microsecond=0)
        for offset in range(8):
            candidate = day + timedelta(days=offset, hours=self.schedule_hour)
            candidate += timedelta(minutes=self._rng.uniform(-30, 30))
            if candidate.weekday() in self.schedule_days and candidate > local:
                return candidate
        return day + timedelta(days=8)


class Dishwasher(ProgramAppliance):
    """A dishwasher: two heating phases and a circulation pump."""

    kind = ApplianceKind.DISHWASHER
    name = "Dishwasher"
    program = DISHWASHER_PROGRAM
    schedule_days = frozenset(range(7))
    schedule_hour = 20.5


class WashingMachine(ProgramAppliance):
    """A washing machine: water heating, a fluctuating drum motor, spin."""

    kind = ApplianceKind.WASHING_MACHINE
    name = "Washing machine"
    program = WASHING_PROGRAM
    schedule_days = frozenset({2, 5})  # Wednesday and Saturday
    schedule_hour = 10.0


# --- EV charger --------------------------------------------------------------------------------


class EVCharger(ProgramAppliance):
    """A 7.4 kW charger: constant power to 80 % state of charge, then a taper to full."""

    kind = ApplianceKind.EV_CHARGER
    name = "EV charger"
    schedule_days = frozenset(range(5))
    schedule_hour = 18.5
    max_power_w = 7400.0
    battery_kwh = 60.0
    efficiency = 0.92
    taper_from = 0.8

    def __init__(self, rng: random.Random, *, schedules: bool = True) -> None:
        super().__init__(rng, schedules=schedules)
        self.soc = 0.8
        self._charging = False

    def start_cycle(self) -> None:
        """A car arrives 20-50 % full and starts charging."""
        if not self.plug_on:
            return
        self.soc = self._rng.uniform(0.2, 0.5)
        self._charging = True
        self.cycles += 1
        self.status = "charging"

    def charge_power(self) -> float:
        """Power at the current state of charge, W."""
        if self.soc < self.taper_from:
            return self.max_power_w
        left = (1.0 - self.soc) / (1.0 - self.taper_from)
        return self.max_power_w * (0.15 + 0.85 * left)

    def _power_now(self) -> float:
        return self.charge_power() if self._charging else STANDBY_W

    def _segment_limit(self) -> float:
        return 30.0

    def _elapse(self, seconds: float, inputs: HomeInputs) -> None:
        if not self._charging:
            return
        self.soc += self.charge_power() * seconds * self.efficiency / 3.6e6 / self.battery_kwh
        if self.soc >= 0.995:
            self.soc = 1.0
            self._charging = False
            self.status = "complete"

    def _abort(self) -> None:
        self._charging = False

    @property
    def running(self) -> bool:
        """Whether the car is charging."""
        return self._charging


# --- heat pump ---------------------------------------------------------------------------------


def heat_pump_cop(outdoor: float) -> float:
    """Coefficient of performance of an air-source heat pump at ``outdoor`` °C."""
    return min(max(2.8 + 0.07 * outdoor, 1.8), 4.5)


class HeatPump(Appliance):
    """An air-source heat pump for space heating and hot water."""

    kind = ApplianceKind.HEAT_PUMP
    name = "Heat pump"
    #: Heat loss of the house, kW per K below the balance point.
    ua_kw_per_k = 0.18
    balance_point = 15.0
    min_kw = 0.6
    max_kw = 3.0
    pump_w = 45.0
    standby_w = 12.0
    defrost_w = 2000.0
    defrost_below = 5.0
    hot_water_hour = 5.0
    hot_water_minutes = 40.0
    hot_water_w = 1800.0

    def __init__(self, rng: random.Random, *, schedules: bool = True) -> None:
        super().__init__(rng)
        self.schedules = schedules
        self.cop = 3.0
        self.mode = "standby"
        self._mode_left = 0.0
        self._compressor_w = 0.0
        self._run_since_defrost = 0.0
        self._defrost_after = rng.uniform(45, 75) * 60
        self._hot_water_day: int | None = None

    def heat_demand_kw(self, outdoor: float) -> float:
        """Heat the house needs at ``outdoor`` °C, kW thermal."""
        return max(self.balance_point - outdoor, 0.0) * self.ua_kw_per_k

    def _power_now(self) -> float:
        if self.mode in {"standby", "cycling off"}:
            return self.standby_w
        return self._compressor_w + self.pump_w

    def _segment_limit(self) -> float:
        return self._mode_left if self._mode_left > 0 else MAX_SEGMENT

    def _elapse(self, seconds: float, inputs: HomeInputs) -> None:
        self._mode_left -= seconds
        if self.mode in ("heating", "cycling on", "hot water"):
            self._run_since_defrost += seconds
        if self._mode_left > 1e-9:
            return
        self._choose_mode(inputs)

    def _choose_mode(self, inputs: HomeInputs) -> None:
        """Pick the next mode; run once a mode's time is up, and on every step."""
        outdoor = inputs.outdoor_temperature
        self.cop = heat_pump_cop(outdoor)
        local = inputs.local
        if (
            self.schedules
            and self._hot_water_day != local.toordinal()
            and local.hour + local.minute / 60 >= self.hot_water_hour
        ):
            self._hot_water_day = local.toordinal()
            self._set_mode("hot water", self.hot_water_minutes * 60, self.hot_water_w)
            return
        if outdoor < self.defrost_below and self._run_since_defrost >= self._defrost_after:
            self._run_since_defrost = 0.0
            self._defrost_after = self._rng.uniform(45, 75) * 60
            self._set_mode("defrosting", self._rng.uniform(4, 8) * 60, self.defrost_w)
            return
        electric_kw = self.heat_demand_kw(outdoor) / self.cop
        if electric_kw <= 0.05:
            self._set_mode("standby", MAX_SEGMENT, 0.0)
        elif electric_kw >= self.min_kw:
            kw = min(electric_kw, self.max_kw)
            self._set_mode("heating", MAX_SEGMENT, kw * 1000 * self._rng.uniform(0.97, 1.03))
        elif self.mode == "cycling on":
            duty = electric_kw / self.min_kw
            self._set_mode("cycling off", 600 * (1 - duty) / duty, 0.0)
        else:
            self._set_mode("cycling on", 600, self.min_kw * 1000)

    def _set_mode(self, mode: str, seconds: float, compressor_w: float) -> None:
        self.mode = self.status = mode
        self._mode_left = seconds
        self._compressor_w = compressor_w

    def _check_schedule(self, inputs: HomeInputs) -> None:
        # Modulation follows the outdoor temperature at once, not only at mode changes.
        if self.mode in ("standby", "heating"):
            self._choose_mode(inputs)

    def _abort(self) -> None:
        self._set_mode("off", 0.0, 0.0)
        self.status = "off"

    def _plugged_in(self) -> None:
        self._set_mode("standby", 0.0, 0.0)


# --- fridge ------------------------------------------------------------------------------------


class Fridge(Appliance):
    """A fridge-freezer: compressor duty cycle with a start-up spike."""

    kind = ApplianceKind.FRIDGE
    name = "Fridge"
    running_w = 90.0
    spike_w = 450.0
    spike_seconds = 3.0

    def __init__(self, rng: random.Random, *, schedules: bool = True) -> None:
        super().__init__(rng)
        self.compressor_on = False
        self._left = rng.uniform(0, 30) * 60
        self._since_start = 0.0
        self._running_w = self.running_w
        self.status = "idle"

    def _power_now(self) -> float:
        if not self.compressor_on:
            return STANDBY_W
        return self.spike_w if self._since_start < self.spike_seconds else self._running_w

    def _segment_limit(self) -> float:
        if self.compressor_on and self._since_start < self.spike_seconds:
            return min(self.spike_seconds - self._since_start, self._left)
        return self._left

    def _elapse(self, seconds: float, inputs: HomeInputs) -> None:
        self._left -= seconds
        self._since_start += seconds
        if self._left > 1e-9:
            return
        if self.compressor_on:
            self.compressor_on = False
            self.status = "idle"
            self._left = self._rng.uniform(25, 40) * 60
        else:
            self._start_compressor()

    def _start_compressor(self) -> None:
        self.compressor_on = True
        self.status = "cooling"
        self._since_start = 0.0
        self._left = self._rng.uniform(12, 20) * 60
        self._running_w = self.running_w * self._rng.uniform(0.95, 1.05)

    def _abort(self) -> None:
        self.compressor_on = False

    def _plugged_in(self) -> None:
        # Warm after an outage: the compressor starts at once.
        self._start_compressor()


# --- the home ----------------------------------------------------------------------------------

APPLIANCE_TYPES: dict[
    ApplianceKind, type[Dishwasher | WashingMachine | EVCharger | HeatPump | Fridge]
] = {
    ApplianceKind.DISHWASHER: Dishwasher,
    ApplianceKind.WASHING_MACHINE: WashingMachine,
    ApplianceKind.EV_CHARGER: EVCharger,
    ApplianceKind.HEAT_PUMP: HeatPump,
    ApplianceKind.FRIDGE: Fridge,
}


@dataclass(slots=True)
class HouseMeter:
    """The whole-house meter: the aggregate NILM disaggregates."""

    power_w: float = 0.0
    energy_kwh: float = 0.0


class Home:
    """The appliances, their plugs, and the house meter."""

    def __init__(
        self,
        kinds: tuple[ApplianceKind, ...],
        seed: int,
        tz: tzinfo,
        *,
        base_load_w: float = 150.0,
        schedules: bool = True,
    ) -> None:
        # One generator per appliance, seeded by name, so adding one does not change the others.
        self.appliances: dict[ApplianceKind, Appliance] = {}
        for kind in kinds:
            rng = random.Random(f"{seed}:{kind.value}")  # noqa: S311 - a simulation, not crypto
            self.appliances[kind] = APPLIANCE_TYPES[kind](rng, schedules=schedules)
        self.tz = tz
        self.base_load_w = base_load_w
        self.meter = HouseMeter()

    def step(self, dt: float, when: datetime, outdoor_temperature: float) -> None:
        """Advance every appliance ``dt`` seconds ending at ``when``, then read the meter."""
        inputs = HomeInputs(when, self.tz, outdoor_temperature)
        kwh = sum(a.advance(dt, inputs) for a in self.appliances.values())
        self.meter.energy_kwh += kwh + self.base_load_w * dt / 3.6e6
        self.read_meter()

    def read_meter(self) -> None:
        """Set the meter's power to the sum of the appliances and the base load."""
        self.meter.power_w = math.fsum(a.power_w for a in self.appliances.values())
        self.meter.power_w += self.base_load_w
