"""The simulated home on household physics: ``household.py``'s house played back in real time.

``household.generate_house`` is the realistic house the NILM model is trained on (1 s physics of
the fridge, kettle, washing machine, dishwasher, microwave, EV charger and heat pump, mains
voltage and unmetered confusers, averaged to the meter's period). The running simulator plays
that house back: the house of the simulator's seed, generated once in a child process
(``household_export``, numpy stays out of the runtime) into a cache file, and read here one
simulated day at a time (about 460 KB), looping every ``days`` days. A period of the house is
picked by the local time of day, so the kettle boils at breakfast whatever the date.

* The house meter reads, for every period of ``period`` s, the mean power of that period, as a
  meter integrating energy reports it: what the model saw in training. Each step of the
  simulation plays the periods completed since the last one (one at the default update
  interval of 6 s, the steps falling on period boundaries) and reads their mean.
* Each appliance behind a plug reads its own power in that physics: the plug's readings and the
  NILM estimates compare side by side. Switching its plug off cuts it (and the meter drops by
  as much); switching it on resumes it. For the dishwasher, the washing machine and the EV
  charger, switching the plug on starts a cycle on demand: one of the house's own cycles,
  replayed from its start. With ``schedules: false`` they run only on demand.
* The kettle and the microwave (no plugs in the simulated home) and appliances left out of the
  home's ``appliances`` are part of the meter all the same, as unmetered loads are.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import math
import random
import sys
from array import array
from datetime import datetime, tzinfo
from pathlib import Path

import platformdirs

from core.isolated import run_module

from .const import ApplianceKind
from .home import APPLIANCE_TYPES, Appliance, Home, HomeInputs

_LOGGER = logging.getLogger(__name__)

DAY = 86_400
#: Days of house generated and looped.
TRACE_DAYS = 14
#: The meter's period (s): the shipped NILM model's sample period.
TRACE_PERIOD = 6
#: Longest wait for the child process that generates the house (s).
EXPORT_TIMEOUT_S = 600.0
#: A played appliance above this (W) is running.
RUNNING_W = 1.0
#: The appliances that run a cycle when their plug is switched on.
CYCLED = frozenset(
    {ApplianceKind.DISHWASHER, ApplianceKind.WASHING_MACHINE, ApplianceKind.EV_CHARGER}
)
#: Status options of a played appliance.
STATUS_OPTIONS = ("off", "idle", "running")


class TraceError(Exception):
    """The house could not be generated or read; the message says why."""


class HouseTrace:
    """A generated house on disk: its header, and its rows read one local day at a time."""

    def __init__(self, path: Path) -> None:
        """Read the header of ``path``.

        Raises:
            TraceError: the file is missing, truncated or not a house.
        """
        self.path = path
        try:
            with path.open("rb") as file:
                line = file.readline(1 << 20)
                header = json.loads(line)
                self.period = int(header["period"])
                self.days = int(header["days"])
                self.rows = int(header["rows"])
                self.columns: tuple[str, ...] = tuple(header["columns"])
                self.cycles: dict[str, list[tuple[int, int]]] = {
                    name: [(int(a), int(n)) for a, n in found]
                    for name, found in header["cycles"].items()
                }
                size = file.seek(0, 2)
        except (OSError, ValueError, KeyError, TypeError) as err:
            raise TraceError(f"{path}: not a generated house ({err})") from err
        self._offset = len(line)
        self._width = len(self.columns)
        self.rows_per_day = DAY // self.period
        if size != self._offset + self.rows * self._width * 4 or self.rows < self.rows_per_day:
            raise TraceError(f"{path}: truncated")
        self._day = -1
        self._data = array("f")

    def row_of(self, start: float, tz: tzinfo) -> int:
        """The row of the period starting at epoch ``start``: by local day and time of day."""
        local = datetime.fromtimestamp(start, tz)
        seconds = local.hour * 3600 + local.minute * 60 + local.second
        day = local.date().toordinal() % self.days
        return min(day * self.rows_per_day + seconds // self.period, self.rows - 1)

    def row(self, index: int) -> array[float]:
        """Row ``index`` (modulo the rows), the columns in order.

        Reads the local day holding it when it is not the one in memory (one ~460 KB read a
        simulated day, from a local file).
        """
        index %= self.rows
        day = index // self.rows_per_day
        if day != self._day:
            first = day * self.rows_per_day
            self._data = self._read(first, min(self.rows_per_day, self.rows - first))
            self._day = day
        at = (index - day * self.rows_per_day) * self._width
        return self._data[at : at + self._width]

    def span(self, first: int, count: int, column: int) -> list[float]:
        """Column ``column`` of rows ``first`` to ``first + count`` (within the file), one read."""
        return self._read(first, count)[column :: self._width].tolist()

    def _read(self, first: int, count: int) -> array[float]:
        """Rows ``first`` to ``first + count`` of the file (little-endian float32), one read."""
        data = array("f")
        with self.path.open("rb") as file:
            file.seek(self._offset + first * self._width * 4)
            data.frombytes(file.read(count * self._width * 4))
        if sys.byteorder != "little":
            data.byteswap()
        return data


def trace_path(seed: int, period: int, days: int) -> Path:
    """Where the house of ``seed`` is cached: the user's cache folder, keyed by the physics.

    The key holds a digest of ``household.py``, so a change to the physics makes a new file.
    """
    physics = Path(__file__).with_name("household.py").read_bytes()
    export = Path(__file__).with_name("household_export.py").read_bytes()
    digest = hashlib.sha256(physics + export).hexdigest()[:12]
    folder = Path(platformdirs.user_cache_dir("edgewise", appauthor=False)) / "simulator"
    return folder / f"house-{seed}-{period}s-{days}d-{digest}.bin"


async def ensure_trace(seed: int, period: int = TRACE_PERIOD, days: int = TRACE_DAYS) -> HouseTrace:
    """The house of ``seed``, generated first (in a child process) unless cached.

    Raises:
        TraceError: the child process failed or took longer than ``EXPORT_TIMEOUT_S``.
    """
    path = trace_path(seed, period, days)
    try:
        return HouseTrace(path)
    except TraceError:
        pass
    _LOGGER.info(
        "Generating the simulated house of seed %d (%d days, once) in %s", seed, days, path
    )
    try:
        async with asyncio.timeout(EXPORT_TIMEOUT_S):
            returncode, _, err = await run_module(
                f"{__package__}.household_export", str(seed), str(period), str(days), str(path)
            )
    except TimeoutError:
        raise TraceError(f"generating the house took longer than {EXPORT_TIMEOUT_S:g} s") from None
    if returncode != 0:
        raise TraceError(f"generating the house failed: {err.decode(errors='replace')[-500:]}")
    return HouseTrace(path)


class PlayedAppliance(Appliance):
    """An appliance of the played house behind its plug: its power is the house's."""

    def __init__(self, kind: ApplianceKind, rng: random.Random, trace: HouseTrace) -> None:
        super().__init__(rng)
        self.kind = kind
        self.name = APPLIANCE_TYPES[kind].name
        self.status = "idle"
        self._trace = trace
        self._column = trace.columns.index(kind.value)
        self._cycles = trace.cycles.get(kind.value, [])
        self._cycle: list[float] = []  # what is left of a cycle started on demand, W per period
        self.cycles = 0

    @property
    def running(self) -> bool:
        """Whether it draws power now."""
        return self.plug_on and self.power_w > RUNNING_W

    def _abort(self) -> None:
        """The plug was switched off: a cycle started on demand ends with it."""
        self._cycle = []

    def _plugged_in(self) -> None:
        """The plug was switched on: start one of the house's own cycles (where it has one)."""
        if self.kind in CYCLED and self._cycles:
            first, count = self._rng.choice(self._cycles)
            self._cycle = self._trace.span(first, count, self._column)[::-1]  # popped from the end
            self.cycles += 1

    def play(self, scheduled: float) -> float:
        """Take one period: ``scheduled`` W from the house, unless a cycle on demand runs.

        Returns:
            The appliance's mean power over the period, W.
        """
        if not self.plug_on:
            value = 0.0
        elif self._cycle:
            value = self._cycle.pop()
        else:
            value = scheduled
        self.show(value)
        return value

    def show(self, watts: float) -> None:
        """Read ``watts`` (the mean power since the last reading) on the plug, and the status."""
        self.power_w = watts if self.plug_on else 0.0
        self.status = "off" if not self.plug_on else "running" if watts > RUNNING_W else "idle"

    def _power_now(self) -> float:
        return self.power_w

    def _elapse(self, seconds: float, inputs: HomeInputs) -> None:
        """Time passes in ``PlayedHome.step``, by periods."""


class PlayedHome(Home):
    """The home of ``home.py``'s interface, its meter and plugs played from a ``HouseTrace``."""

    def __init__(
        self,
        trace: HouseTrace,
        kinds: tuple[ApplianceKind, ...],
        seed: int,
        tz: tzinfo,
        *,
        schedules: bool = True,
    ) -> None:
        super().__init__((), seed, tz, base_load_w=0.0, schedules=schedules)
        self.trace = trace
        self.period = trace.period
        self.schedules = schedules
        self._column = {name: i for i, name in enumerate(trace.columns)}
        self._played: dict[ApplianceKind, PlayedAppliance] = {}
        for kind in kinds:
            rng = random.Random(f"{seed}:{kind.value}:cycles")  # noqa: S311 - a simulation
            self._played[kind] = PlayedAppliance(kind, rng, trace)
        self.appliances.update(self._played)
        controlled = {kind.value for kind in kinds}
        #: The columns no plug of the home controls: the rest of the house, kettle, microwave.
        self._unmetered_columns = [i for n, i in self._column.items() if n not in controlled]
        self._next: int | None = None  # the first period not yet played (epoch s // period)
        self._unmetered = 0.0  # W of the last period that no plug of the home controls

    def step(self, dt: float, when: datetime, outdoor_temperature: float) -> None:
        """Play every period completed by ``when``; the first call shows the last one.

        The meter and the plugs then read the mean power of those periods: one period's at the
        default update interval (6 s). ``dt`` and the outdoor temperature are not used: the
        house has its own weather, and the periods to play follow from ``when``. After a stall
        longer than a day, only the last day is played (and counted).
        """
        end = math.floor(when.timestamp() / self.period)
        if self._next is None:
            self._play(end - 1, count_energy=False)
            self._next = end
            return
        first = max(self._next, end - self.trace.rows_per_day)  # a long stall: the last day
        periods = range(first, end)
        self._next = max(self._next, end)
        if not periods:
            return
        # A step longer than a period shows the mean over its periods, as a meter read that
        # seldom integrates its energy over the time since its last reading.
        totals = dict.fromkeys(self._played, 0.0)
        unmetered = 0.0
        for period in periods:
            self._play(period, count_energy=True)
            unmetered += self._unmetered
            for kind, appliance in self._played.items():
                totals[kind] += appliance.power_w
        for kind, appliance in self._played.items():
            appliance.show(totals[kind] / len(periods))
        self._unmetered = unmetered / len(periods)
        self.read_meter()

    def _play(self, period: int, *, count_energy: bool) -> None:
        """Play period number ``period`` (epoch s // the period) of the house."""
        row = self.trace.row(self.trace.row_of(period * self.period, self.tz))
        for kind, appliance in self._played.items():
            column = self._column[kind.value]
            scheduled = row[column] if self.schedules or kind not in CYCLED else 0.0
            watts = appliance.play(scheduled)
            if count_energy:
                appliance.energy_kwh += watts * self.period / 3.6e6
        self._unmetered = math.fsum(row[i] for i in self._unmetered_columns)
        self.read_meter()
        if count_energy:
            self.meter.energy_kwh += self.meter.power_w * self.period / 3.6e6

    def read_meter(self) -> None:
        """The meter: the last period's unmetered loads plus what each plug lets through."""
        self.meter.power_w = self._unmetered + math.fsum(
            a.power_w for a in self.appliances.values()
        )
