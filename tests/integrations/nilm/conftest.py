"""Fixtures of the NILM tests: a tiny model, trained for two steps, in a model folder; a site
with one meter on it, and readings fed to that meter on the site's FakeClock."""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from core import Runtime
from integrations.nilm import train
from integrations.nilm.integration import RUNNING
from integrations.nilm.perceptron import Perceptron
from integrations.simulator.household import APPLIANCES
from tests._helpers import settle
from tests.integrations._runtime import clock_of


def write_tiny_model(folder: Path, model_id: str = "tiny") -> dict[str, Any]:
    """An untrained (random) model of the shipped layout with its manifest, in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(1)
    mlp = Perceptron([train.N_FEATURES, 8, 8, 2 * len(APPLIANCES)], rng)
    path = folder / f"{model_id}.onnx"
    train.export_onnx(mlp, path)
    manifest = {
        "id": model_id,
        "version": "0.0.1",
        "file": path.name,
        "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
        "sample_period_s": train.PERIOD,
        "window_length": train.WINDOW,
        "output_index": train.OUTPUT_INDEX,
        "input": {"name": "window", "normalisation": {"offset": 0.0, "scale": 1000.0}},
        "outputs": {"power": "power", "probability": "probability"},
        "appliances": [{"name": a, "on_threshold_w": train.THRESHOLDS[a]} for a in APPLIANCES],
        "training": {"data": "random weights, for tests"},
        "metrics": {},
    }
    (folder / f"{model_id}.json").write_text(json.dumps(manifest))
    return manifest


#: The power sensor of the one meter of ``house_yaml``'s site.
HOUSE_METER = "sensor.house_meter"


def house_yaml(models: Path, *, recorder: bool = False) -> str:
    """A site with one NILM meter, House, on ``HOUSE_METER`` with the tiny model in ``models``;
    with the recorder when ``recorder``."""
    return (
        "http:\n  server_port: 0\n"
        + ("recorder:\n" if recorder else "")
        + f"nilm:\n  models_dir: {models}\n  model: tiny\n"
        + f"  meters:\n    - {{name: House, power_sensor: {HOUSE_METER}}}\n"
    )


def meter_readings(n: int) -> list[float]:
    """A meter that is not constant, so a resumed window is recognisably the recorded one."""
    return [300.0 + (i % 50) * 10 for i in range(n)]


async def drained(runtime: Runtime) -> None:
    """Wait until the site is idle and every meter's inferences are answered."""
    await settle(runtime)
    for meter in runtime.data[RUNNING].meters:
        await meter.drained()


async def feed_house(runtime: Runtime, values: list[float]) -> None:
    """``values`` as ``HOUSE_METER``'s readings (W), 6 s apart on the site's FakeClock; then
    ``drained``."""
    clock = clock_of(runtime)
    for value in values:
        # Stamped with the FakeClock's time (the state machine stamps the wall clock's).
        now = clock.now().timestamp()
        runtime.states.set(HOUSE_METER, str(value), {"unit_of_measurement": "W"}, timestamp=now)
        await runtime.bus.drain()
        clock.advance(timedelta(seconds=6))
    await drained(runtime)


@pytest.fixture
def model_dir(tmp_path: Path) -> Path:
    """A folder holding the tiny model ``tiny``."""
    folder = tmp_path / "models"
    write_tiny_model(folder)
    return folder
