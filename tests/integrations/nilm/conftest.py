"""Fixtures of the NILM tests: a tiny model, trained for two steps, in a model folder."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from integrations.nilm import train
from integrations.nilm.perceptron import Perceptron
from integrations.simulator.household import APPLIANCES


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


@pytest.fixture
def model_dir(tmp_path: Path) -> Path:
    """A folder holding the tiny model ``tiny``."""
    folder = tmp_path / "models"
    write_tiny_model(folder)
    return folder
