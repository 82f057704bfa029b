"""NILM: cross-house accuracy, batch throughput, live CPU share and model load time.

- ``nilm_f1_<appliance>``, ``nilm_nde_<appliance>``, ``nilm_mae_w_<appliance>``: the shipped
  model on a simulated house whose seed was never used in training (``--seed``, default 2000;
  training used seeds 1 to 20), 14 days at 6 s, every sample with a whole window scored.
- ``nilm_windows_per_s``: batch inference throughput (4,096 windows a run, one thread).
- ``nilm_model_load_ms``: verify (SHA-256, shapes, one inference) and load the shipped model.
- ``nilm_live_cpu_pct``: a running Edgewise (``nilm:`` only, no recorder, no HTTP) with one
  meter whose power sensor changes once a second, its window already full so every 6 s sample
  is disaggregated; the CPU time over ``--live-seconds`` as a share of one core, of the runtime
  process (everything it does, feeding included) plus the inference process.
- ``nilm_worker_rss_mib``: the inference process's resident memory after that run (numpy,
  onnxruntime, the session); the runtime's own idle figure is ``bench/edge.py``'s.

Run: ``.venv/bin/python bench/nilm.py`` (about two minutes). One JSON object per figure.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
from pathlib import Path

import figures  # noqa: F401 - first: takes bench/ off sys.path
import numpy as np
from figures import emit

from integrations.nilm.cli import predict_series
from integrations.nilm.const import BUNDLED_MODELS, DEFAULT_MODEL
from integrations.nilm.metrics import evaluate
from integrations.nilm.registry import ModelRegistry
from integrations.simulator.household import generate_house


def accuracy(seed: int, days: int) -> None:
    """Per-appliance figures on an unseen house."""
    registry = ModelRegistry([BUNDLED_MODELS])
    registry.scan()
    model = registry.load(DEFAULT_MODEL)
    m = model.manifest
    house = generate_house(seed, days, m.sample_period_s)
    pred = predict_series(model, house.aggregate)
    scored = slice(m.output_index, len(house.aggregate) - (m.window_length - m.output_index))
    result = evaluate(
        {a: house.appliances[a][scored] for a in m.appliance_names},
        {a: pred[scored, i] for i, a in enumerate(m.appliance_names)},
        m.thresholds(),
        m.sample_period_s,
    )
    note = f"house seed {seed} (not in training), {days} days at {m.sample_period_s} s"
    for name, figures_ in result["appliances"].items():
        for metric, key, unit in (("f1", "f1", ""), ("nde", "nde", ""), ("mae_w", "mae_w", "W")):
            if figures_[key] is not None:  # undefined when the appliance never ran
                emit(f"nilm_{metric}_{name}", [figures_[key]], unit, note)
    emit("nilm_f1_macro", [result["macro"]["f1"]], "", note)


def throughput_and_load(runs: int) -> None:
    """Windows per second in batches, and the model's load time."""
    registry = ModelRegistry([BUNDLED_MODELS])
    registry.scan()
    loads = []
    for _ in range(runs):
        start = time.perf_counter()
        model = registry.load(DEFAULT_MODEL)
        loads.append((time.perf_counter() - start) * 1000)
    emit("nilm_model_load_ms", loads, "ms", f"median of {runs}: hash, shape check, session")
    rng = np.random.default_rng(0)
    windows = rng.uniform(0, 5000, (4096, model.manifest.window_length)).astype(np.float32)
    model.predict(windows[:64])
    rates = []
    for _ in range(runs):
        start = time.perf_counter()
        model.predict(windows)
        rates.append(len(windows) / (time.perf_counter() - start))
    emit("nilm_windows_per_s", rates, "1/s", f"median of {runs}, 4096 windows, 1 thread")


async def live_cpu(seconds: float) -> None:
    """The process's CPU share with one meter disaggregated live."""
    from core.runtime import Runtime
    from integrations.nilm.integration import RUNNING

    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp)
        (config / "configuration.yaml").write_text(
            "nilm:\n  meters:\n    - {name: Bench, power_sensor: sensor.bench_meter}\n"
        )
        runtime = Runtime(config)
        await runtime.start()
        try:
            house = generate_house(3000, 1, 1)
            meter = runtime.data[RUNNING].meters[0]
            m = meter.model.manifest
            second = 0

            async def feed(duration: float) -> None:
                nonlocal second
                start, sent = time.monotonic(), 0
                while time.monotonic() - start < duration:
                    runtime.states.set(
                        "sensor.bench_meter",
                        f"{float(house.aggregate[10_000 + second]):.1f}",
                        {"unit_of_measurement": "W"},
                    )
                    second += 1
                    sent += 1
                    await asyncio.sleep(max(0.0, start + sent - time.monotonic()))

            # The first (partial) period is missing; after it, fill the window with the
            # house's past two hours, as if Edgewise had been running.
            await feed(m.sample_period_s + 1)
            history = house.aggregate[: m.window_length * m.sample_period_s]
            past = history.reshape(-1, m.sample_period_s).mean(axis=1)
            meter.fill([float(v) for v in past], meter.buffer_end)
            worker = await meter.client.process.pid()
            before = meter.windows
            cpu0, wall0 = time.process_time() + _cpu_s(worker), time.monotonic()
            await feed(seconds)
            await meter.drained()
            cpu = time.process_time() + _cpu_s(worker) - cpu0
            wall = time.monotonic() - wall0
            windows = meter.windows - before
            rss = _rss_mib(worker)
        finally:
            await runtime.stop()
    emit(
        "nilm_live_cpu_pct",
        [100 * cpu / wall],
        "%",
        f"runtime + inference process, {wall:.0f} s, readings at 1 Hz, "
        f"{windows} windows disaggregated",
    )
    emit("nilm_worker_rss_mib", [rss], "MiB", "VmRSS of the inference process after the run")


def _cpu_s(pid: int) -> float:
    """User + system CPU seconds of process ``pid``."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def main() -> None:
    """Run the figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seed", type=int, default=2000)
    parser.add_argument("--days", type=int, default=14)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--live-seconds", type=float, default=30.0)
    args = parser.parse_args()
    accuracy(args.seed, args.days)
    throughput_and_load(args.runs)
    asyncio.run(live_cpu(args.live_seconds))


if __name__ == "__main__":
    main()
