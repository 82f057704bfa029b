"""Energy, cost, carbon and runtime of one appliance, integrated over time. Pure, no I/O.

Power comes from the appliance's power sensor when it has one, else from its nameplate while it
is on (a virtual appliance, or a plug without metering). Each ``advance`` integrates the power
held since the previous one (left Riemann sum: a reading holds until the next), so the caller
advances whenever the power, the on/off state or the price changes, and on a regular tick. The
"today" figures restart at local midnight; the totals only grow (they are ``total_increasing``
sensors, which the recorder turns into long-term statistics).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, tzinfo
from typing import Any

from core.state import finite_number


@dataclass(slots=True)
class Totals:
    """Energy (kWh), cost (currency), carbon (kg CO2e) and runtime (s)."""

    energy: float = 0.0
    cost: float = 0.0
    carbon: float = 0.0
    runtime: float = 0.0

    def add(self, energy: float, cost: float, carbon: float, runtime: float) -> None:
        """Add an increment."""
        self.energy += energy
        self.cost += cost
        self.carbon += carbon
        self.runtime += runtime

    def as_dict(self) -> dict[str, float]:
        """The JSON form."""
        return {
            "energy": self.energy,
            "cost": self.cost,
            "carbon": self.carbon,
            "runtime": self.runtime,
        }

    @classmethod
    def from_dict(cls, data: Any) -> Totals:
        """Read back ``as_dict``'s form; anything malformed (text, negative, not finite) reads as
        zero."""
        totals = cls()
        if isinstance(data, dict):
            for name in ("energy", "cost", "carbon", "runtime"):
                value = data.get(name)
                number = finite_number(value) if isinstance(value, int | float) else None
                if number is not None and number >= 0:
                    setattr(totals, name, number)
        return totals


@dataclass(slots=True)
class Meter:
    """The running accounts of one appliance.

    Attributes:
        power: the draw held since the last advance, W.
        on: whether the appliance was on since the last advance.
        price: per kWh, held since the last advance.
        intensity: kg CO2e per kWh, held since the last advance.
    """

    tz: tzinfo
    power: float = 0.0
    on: bool = False
    price: float = 0.0
    intensity: float = 0.0
    total: Totals = field(default_factory=Totals)
    today: Totals = field(default_factory=Totals)
    day: date | None = None
    last: datetime | None = None

    def advance(self, now: datetime) -> None:
        """Account for the time since the last advance at the values held then."""
        last = self.last
        self.last = now
        local_day = now.astimezone(self.tz).date()
        if last is None or now <= last:
            if self.day is None:
                self.day = local_day
            return
        seconds = (now - last).total_seconds()
        energy = max(self.power, 0.0) * seconds / 3_600_000.0  # W·s → kWh
        runtime = seconds if self.on else 0.0
        increment = (energy, energy * self.price, energy * self.intensity, runtime)
        self.total.add(*increment)
        if self.day != local_day:
            # A new local day. The increment that crosses midnight (one tick at most) counts to
            # the new day; yesterday's figures live on in the totals' statistics.
            self.day = local_day
            self.today = Totals()
        self.today.add(*increment)
