"""The simulation and its driver: simulated time, the models, and the job that steps them.

``Simulation`` is pure: it owns the weather, the building and the home and advances them by a
number of simulated seconds, in sub-steps of at most ``MAX_SUBSTEP``. ``SimulationDriver`` ties
it to a runtime: one scheduler job (``simulator.step``) runs every ``update_interval`` seconds
of the runtime's clock, advances the simulation by ``speed`` times the clock's monotonic time
elapsed since the last step, and lets the entities write what changed. Driven by the runtime's
clock, a ``FakeClock`` drives it in tests. With a home played from household physics
(``playback.py``) the steps fall on epoch multiples of the interval: at the default interval
(6 s, the meter's period) each house meter reading is one period's mean.
"""

from __future__ import annotations

import logging
import math
import random
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, tzinfo

from astral import Observer

from core.bus import callback
from core.errors import IntegrationError
from core.runtime import Runtime
from core.timers import Cancel

from .building import (
    Building,
    ChillerParams,
    Weather,
    WeatherParams,
    default_zone_params,
)
from .const import DOMAIN, JOB_NAME, MAX_SUBSTEP, MAX_SUBSTEPS
from .home import Home
from .playback import HouseTrace, PlayedHome
from .schema import SimConfig

_LOGGER = logging.getLogger(__name__)


class ExposureError(Exception):
    """A protocol server of the simulator could not start; the message names address and port."""


class Simulation:
    """Simulated time, weather, building and home, advanced together. Pure: no runtime."""

    def __init__(
        self,
        config: SimConfig,
        observer: Observer,
        tz: tzinfo,
        start: datetime,
        trace: HouseTrace | None = None,
    ) -> None:
        """Build the site of ``config`` at simulated time ``start`` (aware).

        With ``trace`` the home is that house played back (``PlayedHome``), else ``home.py``'s.
        """
        self.config = config
        self.now = start
        self.tz = tz
        rng = random.Random(f"{config.seed}:weather")  # noqa: S311 - a simulation, not crypto
        self.weather = Weather(WeatherParams(), rng)
        self.outdoor_temperature = self.weather.step(0.0, start, tz)
        self.building: Building | None = None
        self.home: Home | None = None
        if (b := config.building) is not None:
            chillers = [
                ChillerParams(
                    name=str(n),
                    capacity_tons=b.chiller_capacity,
                    design_kw_per_ton=b.chiller_kw_per_ton,
                )
                for n in range(1, b.chillers + 1)
            ]
            self.building = Building(
                default_zone_params(b.zones, b.zone_area), chillers, observer, tz
            )
            self.building.step(0.0, start, self.outdoor_temperature)
        if (h := config.home) is not None and trace is not None:
            self.home = PlayedHome(trace, h.appliances, config.seed, tz, schedules=h.schedules)
            self.home.step(0.0, start, self.outdoor_temperature)
        elif h is not None:
            self.home = Home(
                h.appliances, config.seed, tz, base_load_w=h.base_load, schedules=h.schedules
            )
            self.home.step(0.0, start, self.outdoor_temperature)

    def advance(self, seconds: float) -> None:
        """Advance ``seconds`` of simulated time (nothing when not positive)."""
        if seconds <= 0:
            return
        steps = min(max(math.ceil(seconds / MAX_SUBSTEP), 1), MAX_SUBSTEPS)
        dt = seconds / steps
        start = self.now
        for n in range(1, steps + 1):
            when = start + timedelta(seconds=dt * n)
            self.outdoor_temperature = t_out = self.weather.step(dt, when, self.tz)
            if self.building is not None:
                self.building.step(dt, when, t_out)
            if self.home is not None:
                self.home.step(dt, when, t_out)
        self.now = start + timedelta(seconds=seconds)


class SimulationDriver:
    """Steps a ``Simulation`` from the runtime's clock. Every method runs on the event loop."""

    def __init__(
        self, runtime: Runtime, simulation: Simulation, publish: Callable[[], None]
    ) -> None:
        """Drive ``simulation`` on ``runtime``'s scheduler; ``publish`` writes changed states."""
        if not runtime.has_scheduler:
            raise IntegrationError("the runtime has no scheduler yet", integration=DOMAIN)
        self._scheduler = runtime.scheduler
        self._clock = runtime.clock
        self.simulation = simulation
        self._publish = publish
        self._last = self._clock.monotonic()
        self._cancel: Cancel | None = None

    @property
    def running(self) -> bool:
        """Whether the step job is scheduled."""
        return self._cancel is not None

    def start(self) -> None:
        """Schedule the step job (``simulator.step``).

        Raises:
            RuntimeError: it is already running.
        """
        if self._cancel is not None:
            raise RuntimeError("the simulation is already running")
        config = self.simulation.config
        self._last = self._clock.monotonic()
        interval = config.update_interval
        first: datetime | None = None
        if isinstance(self.simulation.home, PlayedHome):
            # On epoch multiples: at the default interval each step ends one meter period.
            now = self._clock.now().timestamp()
            first = datetime.fromtimestamp((math.floor(now / interval) + 1) * interval, UTC)
        self._cancel = self._scheduler.every(
            timedelta(seconds=interval), self._on_step_due, name=JOB_NAME, start=first
        )
        _LOGGER.info(
            "Simulation started at %s, speed %g, a step every %g s",
            self.simulation.now.isoformat(),
            config.speed,
            interval,
        )

    @callback
    def stop(self) -> None:
        """Cancel the step job; the simulation keeps its state. Safe to call twice."""
        if self._cancel is not None:
            self._cancel()
            self._cancel = None
            _LOGGER.info("Simulation stopped at %s", self.simulation.now.isoformat())

    @callback
    def _on_step_due(self, due: datetime) -> None:
        """Advance by speed times the clock time since the last step, then publish."""
        now = self._clock.monotonic()
        elapsed = now - self._last
        self._last = now
        self.simulation.advance(elapsed * self.simulation.config.speed)
        _LOGGER.debug("Simulation stepped %.1f s to %s", elapsed, self.simulation.now)
        self._publish()
