"""The model registry: hash and shape verification before a model loads, uploads."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from integrations.nilm.registry import ModelRefused, ModelRegistry

from .conftest import write_tiny_model


def _registry(folder: Path) -> ModelRegistry:
    registry = ModelRegistry([folder])
    registry.scan()
    return registry


def test_a_verified_model_loads_and_predicts_per_appliance(model_dir: Path) -> None:
    model = _registry(model_dir).load("tiny")
    power, prob = model.predict(np.full((3, 1200), 500.0, np.float32))
    assert power.shape == (3, 7)
    assert prob.shape == (3, 7)
    assert np.all((prob >= 0) & (prob <= 1))
    assert np.all(power >= 0)


def test_a_tampered_model_is_refused_naming_the_hash(model_dir: Path) -> None:
    path = model_dir / "tiny.onnx"
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(ModelRefused, match=r"SHA-256 .* does not match"):
        _registry(model_dir).load("tiny")


def test_a_manifest_whose_window_disagrees_with_the_graph_is_refused(model_dir: Path) -> None:
    doc = json.loads((model_dir / "tiny.json").read_text())
    doc["window_length"] = 600
    doc["output_index"] = 300
    (model_dir / "tiny.json").write_text(json.dumps(doc))
    with pytest.raises(ModelRefused, match=r"input shape .* \[batch, 600\]"):
        _registry(model_dir).load("tiny")


def test_a_manifest_with_more_appliances_than_outputs_is_refused(model_dir: Path) -> None:
    doc = json.loads((model_dir / "tiny.json").read_text())
    doc["appliances"].append({"name": "toaster", "on_threshold_w": 500})
    (model_dir / "tiny.json").write_text(json.dumps(doc))
    with pytest.raises(ModelRefused, match=r"output 'power' shape .* \[batch, 8\]"):
        _registry(model_dir).load("tiny")


def test_a_corrupt_model_with_a_matching_hash_is_refused(model_dir: Path) -> None:
    import hashlib

    (model_dir / "tiny.onnx").write_bytes(b"not an onnx graph")
    doc = json.loads((model_dir / "tiny.json").read_text())
    doc["sha256"] = hashlib.sha256(b"not an onnx graph").hexdigest()
    (model_dir / "tiny.json").write_text(json.dumps(doc))
    with pytest.raises(ModelRefused, match="not a loadable ONNX model"):
        _registry(model_dir).load("tiny")


def test_a_malformed_manifest_is_recorded_as_a_problem_naming_the_key(model_dir: Path) -> None:
    (model_dir / "broken.json").write_text('{"id": "broken"}')
    registry = _registry(model_dir)
    assert "tiny" in registry.entries
    assert "missing key 'sha256'" in registry.problems["broken"]


def test_an_unknown_model_is_refused_listing_the_known(model_dir: Path) -> None:
    with pytest.raises(ModelRefused, match=r"no NILM model 'other' \(known: tiny\)"):
        _registry(model_dir).load("other")


def test_an_upload_is_verified_then_written_and_loadable(tmp_path: Path) -> None:
    source = tmp_path / "source"
    doc = write_tiny_model(source, "uploaded")
    data = (source / "uploaded.onnx").read_bytes()
    registry = _registry(tmp_path / "user")
    with pytest.raises(ModelRefused, match="given sha256 differs"):
        registry.add(doc, data, "0" * 64)
    registry.add(doc, data, doc["sha256"])
    again = _registry(tmp_path / "user")
    assert again.load("uploaded").manifest.id == "uploaded"
