"""Tariff figures: the cheapest-window search, schedule firing lateness, autopilot reaction.

* ``tariff_cheapest_window_ms``: ``window.cheapest`` over 48 h at 15-minute resolution (192
  slots), a 3-hour run in up to 3 blocks under a price cap (the 70th percentile), median time of
  one search; ``tariff_cheapest_window_1block_ms`` the same in one block.
* ``schedule_lateness_p99_ms``: Edgewise on the real clock with 10 virtual appliances and 40
  one-shot schedules (80 start/stop executions) a few seconds ahead; the schedule log's actual
  minus planned time, p99 (and p50).
* ``autopilot_reaction_s``: a price entity whose forecast turns to a peak one second ahead; from
  that boundary to the autopilot's turn-off of a running shiftable appliance, confirmed.

Run: ``.venv/bin/python bench/tariff.py``. Prints one JSON object per figure (bench/README.md).
"""

from __future__ import annotations

import asyncio
import math
import random
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from figures import emit  # bench/ is the script directory, so on sys.path

from core.runtime import Runtime
from integrations.tariff import AUTOPILOT, SCHEDULES
from integrations.tariff.api import API
from integrations.tariff.timeline import Segment, Timeline
from integrations.tariff.window import cheapest

STEP = timedelta(minutes=15)
APPLIANCES = 10


def day_ahead_prices(rng: random.Random) -> list[float]:
    """Two days of 15-minute day-ahead prices shaped like a Nord Pool area's: a night valley,
    morning and evening peaks, a midday solar dip, and noise."""
    prices = []
    for day in range(2):
        for quarter in range(96):
            hour = quarter / 4
            shape = (
                0.12
                + 0.10 * math.exp(-((hour - 8) ** 2) / 3)
                + 0.14 * math.exp(-((hour - 19) ** 2) / 4)
                - 0.05 * math.exp(-((hour - 13) ** 2) / 5)
            )
            prices.append(shape * (1 + 0.1 * day) + rng.gauss(0, 0.01))
    return prices


def bench_window(runs: int = 5, searches: int = 200) -> None:
    """Median time of one search, per batch; the median batch."""
    rng = random.Random(17)  # noqa: S311 - benchmark data
    t0 = datetime(2026, 1, 15, tzinfo=UTC)
    cases = (
        ("tariff_cheapest_window_ms", day_ahead_prices(rng), 3, "day-ahead shape"),
        ("tariff_cheapest_window_1block_ms", day_ahead_prices(rng), 1, "day-ahead shape"),
        (
            "tariff_cheapest_window_iid_ms",
            [0.1 + 0.3 * rng.random() for _ in range(192)],
            3,
            "i.i.d. random prices (worst case: the dynamic programme always runs)",
        ),
    )
    end = t0 + 192 * STEP
    for metric, prices, blocks, shape in cases:
        timeline = Timeline(
            [Segment(t0 + i * STEP, t0 + (i + 1) * STEP, p) for i, p in enumerate(prices)], STEP
        )
        cap = sorted(prices)[int(0.7 * len(prices))]
        medians = []
        for _ in range(runs):
            times = []
            for _ in range(searches):
                start = time.perf_counter()
                cheapest(timeline, timedelta(hours=3), t0, end, blocks=blocks, cap=cap)
                times.append((time.perf_counter() - start) * 1000.0)
            medians.append(statistics.median(times))
        emit(
            metric,
            medians,
            "ms",
            f"192 slots ({shape}), 3 h run, up to {blocks} block(s), cap at p70; "
            f"median of {searches} per run",
        )


def _yaml(body: str) -> str:
    appliances = "".join(
        f"    - {{name: Load {i}, tier: shiftable, power: 1000}}\n" for i in range(APPLIANCES)
    )
    return (
        "edgewise:\n  time_zone: UTC\n  latitude: 0\n  longitude: 0\n"
        f"appliance:\n  appliances:\n{appliances}"
        "tariff:\n  currency: EUR\n" + body
    )


TOU = """\
  plan:
    day_sets:
      all:
        days: [mon, tue, wed, thu, fri, sat, sun]
        slots:
          - {start: "00:00", end: "24:00", price: 0.2, type: standard}
"""


async def lateness_run(schedules: int = 40) -> list[float]:
    """Lateness of every start and stop of one run, from the schedule log."""
    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp)
        (config / "configuration.yaml").write_text(_yaml(TOU), encoding="utf-8")
        runtime = Runtime(config)
        await runtime.start()
        try:
            api = runtime.data[API]
            done = asyncio.Event()

            def on_entry(_entry: dict[str, Any]) -> None:
                if sum(1 for e in api.store.log if e["result"] == "ok") >= 2 * schedules:
                    done.set()

            runtime.data[SCHEDULES].listeners.append(on_entry)
            now = datetime.now(UTC)
            for index in range(schedules):
                start = now + timedelta(seconds=2 + index * 0.1)
                api.create(
                    {
                        "appliance": f"appliance.load_{index % APPLIANCES}",
                        "kind": "once",
                        "start": start.isoformat(),
                        "end": (start + timedelta(seconds=1.5)).isoformat(),
                    },
                    None,
                )
            await asyncio.wait_for(done.wait(), 60)
            lateness = [e["lateness_ms"] for e in api.store.log]
        finally:
            await runtime.stop()
    return lateness


async def bench_lateness(runs: int = 3) -> None:
    """p99 and p50 of each run; the medians over the runs."""
    p99s, p50s = [], []
    for _ in range(runs):
        lateness = sorted(await lateness_run())
        p99s.append(lateness[min(len(lateness) - 1, int(0.99 * len(lateness)))])
        p50s.append(statistics.median(lateness))
    note = "80 executions per run on the real clock, through the appliance services"
    emit("schedule_lateness_p99_ms", p99s, "ms", note)
    emit("schedule_lateness_p50_ms", p50s, "ms", note)


def _forecast(boundary: datetime, peak: bool) -> dict[str, Any]:
    values = [0.1, 0.5 if peak else 0.1, 0.2, 0.3]
    starts = [boundary - STEP, boundary, boundary + STEP, boundary + 2 * STEP]
    return {
        "raw_today": [
            {"start": s.isoformat(), "end": (s + STEP).isoformat(), "value": v}
            for s, v in zip(starts, values, strict=True)
        ]
    }


async def bench_autopilot(runs: int = 5) -> None:
    """From a peak boundary to the confirmed turn-off."""
    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp)
        (config / "configuration.yaml").write_text(
            _yaml("  price_entity: sensor.prices\n"), encoding="utf-8"
        )
        runtime = Runtime(config)
        await runtime.start()
        reactions = []
        try:
            autopilot = runtime.data[AUTOPILOT]
            acted: asyncio.Queue[tuple[str, str, datetime]] = asyncio.Queue()
            autopilot.listeners.append(acted.put_nowait)
            for _ in range(runs):
                boundary = datetime.now(UTC) + timedelta(seconds=1)
                runtime.states.set("sensor.prices", "0.1", _forecast(boundary, peak=False))
                await asyncio.sleep(0.1)
                await runtime.services.call(
                    "appliance", "turn_on", target={"entity_id": "appliance.load_0"}
                )
                runtime.states.set("sensor.prices", "0.1", _forecast(boundary, peak=True))
                _, action, when = await asyncio.wait_for(acted.get(), 10)
                if action != "turn_off":
                    raise RuntimeError(f"the autopilot did {action}, expected turn_off")
                reactions.append((when - boundary).total_seconds())
                # Leave the peak: the autopilot resumes the load; then the next run.
                runtime.states.set("sensor.prices", "0.1", _forecast(boundary, peak=False))
                await asyncio.wait_for(acted.get(), 10)  # the resume
        finally:
            await runtime.stop()
    emit(
        "autopilot_reaction_s",
        reactions,
        "s",
        "peak boundary (price forecast) to the appliance's confirmed turn-off, real clock",
    )


def main() -> None:
    """Every figure."""
    bench_window()
    asyncio.run(bench_lateness())
    asyncio.run(bench_autopilot())


if __name__ == "__main__":
    main()
