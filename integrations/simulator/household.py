"""A vectorised generator of realistic household power traces, for NILM training and evaluation.

Each seed is a different house: appliance ratings, habits, mains voltage, base load and
unmetered loads (hob, oven, toaster, iron) all drawn from the seed. The physics runs at 1 s and
is averaged to the meter's period, as a real meter integrating energy would report it.

The appliances behave like real ones:

- fridge: thermostat cycling stretched by the kitchen's daily temperature and by door
  openings, a compressor inrush of several times the running power that decays over a minute,
  and a defrost heater every several hours followed by a longer pull-down run;
- kettle: one rating per house (2.0 to 3.0 kW), resistive (power follows the voltage squared);
- washing machine: heating, drum bursts, rinses with the pump and a spin that ramps up;
- dishwasher: pre-wash, heating, wash, rinse heating and drying phases;
- microwave: full power, or reduced power by duty-cycling the magnetron (the lamp and the
  turntable stay on);
- EV charger: soft start, a constant-current phase and a taper as the battery fills;
- heat pump: compressor modulating with the outdoor temperature, soft start, defrosts in the
  cold, and a hot-water cycle or two a day.

numpy only, imported by training, benchmarks and tests (never by the running site's setup).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: The appliances whose ground truth a house carries, in this order.
APPLIANCES: tuple[str, ...] = (
    "fridge",
    "kettle",
    "washing_machine",
    "dishwasher",
    "microwave",
    "ev_charger",
    "heat_pump",
)

DAY = 86_400


@dataclass(frozen=True)
class House:
    """A generated house: the meter's aggregate and each appliance's power at ``period`` s."""

    seed: int
    period: int
    timestamps: np.ndarray  #: int64 epoch seconds, the start of each period
    aggregate: np.ndarray  #: float32 W, what the house meter reads
    appliances: dict[str, np.ndarray]  #: float32 W per appliance in ``APPLIANCES``


def _starts(rng: np.random.Generator, days: int, per_day: float, hours: list[float]) -> list[int]:
    """Event start times (s): a Poisson number a day, near one of the preferred hours."""
    starts: list[int] = []
    for day in range(days):
        for _ in range(rng.poisson(per_day)):
            hour = rng.choice(hours) + rng.normal(0, 1.2)
            starts.append(int(day * DAY + np.clip(hour, 0, 23.9) * 3600))
    return sorted(starts)


def _put(trace: np.ndarray, start: int, values: np.ndarray) -> int:
    """Add ``values`` into ``trace`` from ``start`` (clipped at the end); answer the end."""
    end = min(start + len(values), len(trace))
    if end > start:
        trace[start:end] += values[: end - start]
    return start + len(values)


def _bursts(rng: np.random.Generator, seconds: int, power: float, on: int, off: int) -> np.ndarray:
    """A drum or pump pattern: ``on`` s at about ``power``, ``off`` s at a few watts."""
    pattern = np.concatenate([np.full(on, power), np.full(off, 5.0)])
    reps = seconds // len(pattern) + 1
    out = np.tile(pattern, reps)[:seconds]
    return out * rng.uniform(0.9, 1.1, size=seconds)


def _fridge(rng: np.random.Generator, n: int, kitchen: np.ndarray) -> np.ndarray:
    trace = np.zeros(n)
    running = rng.uniform(70, 140)
    base_on, base_off = rng.uniform(900, 1700), rng.uniform(1500, 3000)
    defrost_every = rng.uniform(8, 20) * 3600
    defrost_w = rng.uniform(150, 400)
    t = int(rng.uniform(0, base_off))
    next_defrost = rng.uniform(0, defrost_every)
    pull_down = 1.0
    while t < n:
        warm = kitchen[min(t, n - 1)]
        door = 1.0 + (rng.random() < 0.3) * rng.uniform(0.1, 0.5)
        on = int(base_on * (1 + 0.04 * (warm - 20)) * door * pull_down * rng.uniform(0.9, 1.1))
        pull_down = 1.0
        cycle = np.full(on, running)
        cycle *= 1 + 0.3 * np.exp(-np.arange(on) / 60.0)  # decay after the start
        cycle[: min(2, on)] = running * rng.uniform(5, 8)  # inrush
        cycle += rng.normal(0, 1.5, size=on)
        t = _put(trace, t, cycle)
        if t >= next_defrost:
            length = int(rng.uniform(900, 1500))
            t = _put(trace, t, np.full(length, defrost_w) * rng.uniform(0.97, 1.03, size=length))
            next_defrost = t + defrost_every * rng.uniform(0.8, 1.2)
            pull_down = 1.6
        t += int(base_off * (1 - 0.03 * (warm - 20)) * rng.uniform(0.85, 1.15))
    return trace


def _kettle(rng: np.random.Generator, n: int, days: int) -> np.ndarray:
    trace = np.zeros(n)
    rating = rng.uniform(2000, 3000)
    for start in _starts(rng, days, rng.uniform(2, 6), [7.5, 10.5, 13, 16, 20]):
        _put(trace, start, np.full(int(rng.uniform(60, 240)), rating))
    return trace


def _microwave(rng: np.random.Generator, n: int, days: int) -> np.ndarray:
    trace = np.zeros(n)
    rating = rng.uniform(900, 1500)
    for start in _starts(rng, days, rng.uniform(0.8, 2.5), [8, 12.5, 18.5, 21]):
        seconds = int(rng.uniform(40, 360))
        on = np.full(seconds, rating)
        if rng.random() < 0.4:  # reduced power: the magnetron duty-cycles
            period = int(rng.uniform(20, 32))
            duty = rng.uniform(0.3, 0.7)
            on[(np.arange(seconds) % period) >= duty * period] = rng.uniform(60, 110)
        _put(trace, start, on)
    return trace


def _washer(rng: np.random.Generator, n: int, days: int) -> np.ndarray:
    trace = np.zeros(n)
    heater = rng.uniform(1800, 2300)
    drum = rng.uniform(120, 300)
    spin = rng.uniform(300, 550)
    for start in _starts(rng, days, rng.uniform(0.3, 1.0), [9, 11, 14, 19]):
        parts = [np.full(int(rng.uniform(120, 300)), 8.0)]  # filling
        if rng.random() < 0.75:
            heat = int(rng.uniform(600, 1500))
            parts.append(np.full(heat, heater) + _bursts(rng, heat, drum * 0.5, 10, 20))
        wash = int(rng.uniform(1500, 3000))
        parts.append(_bursts(rng, wash, drum, 12, 4))
        for _ in range(int(rng.integers(2, 4))):
            parts.append(_bursts(rng, int(rng.uniform(300, 600)), drum, 10, 5))
            parts.append(np.full(60, 90.0))  # drain pump
        spin_s = int(rng.uniform(300, 720))
        parts.append(spin * np.minimum(1.0, np.arange(spin_s) / 120.0 + 0.2))
        _put(trace, start, np.concatenate(parts))
    return trace


def _dishwasher(rng: np.random.Generator, n: int, days: int) -> np.ndarray:
    trace = np.zeros(n)
    heater = rng.uniform(1800, 2200)
    pump = rng.uniform(50, 90)
    for start in _starts(rng, days, rng.uniform(0.4, 1.0), [13.5, 20, 21.5]):
        parts = [
            np.full(int(rng.uniform(300, 700)), pump),
            np.full(int(rng.uniform(600, 1200)), heater + pump),
            np.full(int(rng.uniform(1200, 2000)), pump),
            np.full(int(rng.uniform(60, 180)), 30.0),
            np.full(int(rng.uniform(400, 800)), heater + pump),
            np.full(int(rng.uniform(900, 1800)), rng.uniform(3, 15)),  # drying
        ]
        trace_part = np.concatenate(parts)
        _put(trace, start, trace_part * rng.uniform(0.98, 1.02, size=len(trace_part)))
    return trace


def _ev(rng: np.random.Generator, n: int, days: int) -> np.ndarray:
    trace = np.zeros(n)
    if rng.random() < 0.15:
        return trace  # no car
    rate = float(rng.choice([3700, 7400, 11000]))
    every = rng.uniform(1, 3)
    for day in range(days):
        if rng.random() > 1 / every:
            continue
        start = int(day * DAY + rng.uniform(17.5, 23) * 3600)
        bulk = int(rng.uniform(1800, 4 * 3600))
        ramp = int(rng.uniform(20, 60))
        taper = int(rng.uniform(900, 2400))
        power = np.concatenate(
            [
                np.linspace(0, rate, ramp),
                np.full(bulk, rate) * rng.uniform(0.99, 1.01, size=bulk),
                rate * np.exp(-np.arange(taper) / (taper / 3.0)),
            ]
        )
        _put(trace, start, power)
    return trace


def _heat_pump(rng: np.random.Generator, n: int, outdoor: np.ndarray) -> np.ndarray:
    trace = np.zeros(n)
    if rng.random() < 0.15:
        return trace  # gas boiler
    nominal = rng.uniform(1500, 3000)
    hot_water_hours = sorted(rng.choice([5, 6, 7, 14, 17, 22], size=int(rng.integers(1, 3))))
    t = 0
    while t < n:
        cold = outdoor[min(t, n - 1)]
        demand = float(np.clip((16 - cold) / 20, 0, 1))
        hour = (t % DAY) / 3600
        if any(abs(hour - h) < 0.05 for h in hot_water_hours):
            length = int(rng.uniform(1800, 3600))
            _put(trace, t, np.full(length, nominal * rng.uniform(0.9, 1.1)))
            t += length + 300
            continue
        if demand < 0.1:
            t += 180
            continue
        run = int(rng.uniform(1800, 5400) * (0.5 + demand))
        level = nominal * (0.3 + 0.6 * demand)
        power = level * (1 + 0.08 * np.sin(np.arange(run) / rng.uniform(200, 600)))
        ramp = min(run, 120)
        power[:ramp] *= np.linspace(0.1, 1, ramp)
        if cold < 5:  # defrost: a short reversal every 45 to 90 minutes
            every = int(rng.uniform(2700, 5400))
            for d in range(every, run, every):
                power[d : d + 300] = rng.uniform(80, 200)
        _put(trace, t, power + rng.normal(0, 10, size=run))
        t += run + int(rng.uniform(600, 2400) * (1.2 - demand))
    return np.clip(trace, 0, None)


def _confusers(rng: np.random.Generator, n: int, days: int) -> np.ndarray:
    """Unmetered loads of similar size: hob, oven, toaster, iron."""
    trace = np.zeros(n)
    hob = rng.uniform(1200, 2000)
    for start in _starts(rng, days, rng.uniform(0.5, 1.5), [12, 18, 19]):
        seconds = int(rng.uniform(600, 1800))
        period = int(rng.uniform(20, 45))
        duty = rng.uniform(0.3, 0.8)
        _put(trace, start, hob * ((np.arange(seconds) % period) < duty * period))
    oven = rng.uniform(2000, 2600)
    for start in _starts(rng, days, rng.uniform(0.1, 0.5), [17.5, 18.5]):
        heat = np.full(int(rng.uniform(500, 900)), oven)
        keep = int(rng.uniform(1200, 3600))
        cycling = oven * ((np.arange(keep) % 90) < rng.uniform(25, 50))
        _put(trace, start, np.concatenate([heat, cycling]))
    toaster = rng.uniform(800, 1300)
    for start in _starts(rng, days, rng.uniform(0.2, 1.0), [7.5, 8.5]):
        _put(trace, start, np.full(int(rng.uniform(100, 240)), toaster))
    iron = rng.uniform(1000, 2400)
    for start in _starts(rng, days, rng.uniform(0.0, 0.4), [10, 20]):
        seconds = int(rng.uniform(900, 2400))
        _put(trace, start, iron * ((np.arange(seconds) % 60) < rng.uniform(10, 30)))
    return trace


def _base_load(rng: np.random.Generator, n: int, days: int) -> np.ndarray:
    """Always-on load plus lights, TV and electronics switching through the day."""
    base = np.full(n, rng.uniform(60, 250))
    for start in _starts(rng, days, rng.uniform(6, 16), [7, 12, 17, 19, 20, 21, 22]):
        _put(base, start, np.full(int(rng.uniform(300, 7200)), rng.uniform(10, 250)))
    return base + rng.normal(0, 3, size=n)


def generate_house(seed: int, days: int = 14, period: int = 6, start: int = 1_700_000_000) -> House:
    """Generate ``days`` of house ``seed`` at ``period`` s (1 s physics averaged).

    ``start`` is the epoch second of the first sample (midnight, local time of the house).
    """
    rng = np.random.default_rng(seed)
    n = days * DAY
    t = np.arange(n)
    hour = (t % DAY) / 3600.0
    season = rng.uniform(-3, 12)
    outdoor = season + 5 * np.sin((hour - 9) / 24 * 2 * np.pi) + rng.normal(0, 0.3)
    kitchen = 20 + 2 * np.sin((hour - 10) / 24 * 2 * np.pi)
    volts = 230 + rng.uniform(-4, 4) + 3 * np.sin((hour - 4) / 24 * 2 * np.pi)
    resistive = ((volts + rng.normal(0, 0.8, size=n)) / 230.0) ** 2
    traces = {
        "fridge": _fridge(rng, n, kitchen),
        "kettle": _kettle(rng, n, days) * resistive,
        "washing_machine": _washer(rng, n, days),
        "dishwasher": _dishwasher(rng, n, days),
        "microwave": _microwave(rng, n, days),
        "ev_charger": _ev(rng, n, days),
        "heat_pump": _heat_pump(rng, n, outdoor),
    }
    other = _confusers(rng, n, days) * resistive + _base_load(rng, n, days)
    total = other + sum(traces.values())
    usable = n - n % period

    def meter(x: np.ndarray) -> np.ndarray:
        return np.asarray(x[:usable].reshape(-1, period).mean(axis=1), dtype=np.float32)

    return House(
        seed=seed,
        period=period,
        timestamps=start + np.arange(usable // period, dtype=np.int64) * period,
        aggregate=meter(total),
        appliances={name: meter(trace) for name, trace in traces.items()},
    )
