"""Training smoke test: a tiny data set trains, exports, and the registry accepts the result."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from integrations.nilm.registry import ModelRegistry
from integrations.nilm.train import (
    Heads,
    TrainOptions,
    _windows,
    export_onnx,
    features,
    predict_numpy,
    train,
    train_fridge,
    train_kettle,
    train_shared,
    train_tails,
)
from integrations.simulator.household import APPLIANCES, generate_house


def test_a_tiny_training_run_exports_a_model_the_registry_verifies_and_loads(
    tmp_path: Path,
) -> None:
    options = TrainOptions(
        seeds=(1, 2),
        days=1,
        windows_per_house=400,
        hidden=(16, 8),
        epochs=2,
        eval_seed=3,
        eval_days=1,
        model_id="smoke",
        init_from=None,
        fridge_epochs=1,
        fridge_windows_per_house=300,
        tail_epochs=1,
        tail_windows_per_house=300,
        kettle_epochs=1,
        kettle_high_per_house=200,
        kettle_uniform_per_house=100,
        tune_seeds=(4,),
    )
    manifest = train(options, tmp_path)
    assert manifest["training"]["seeds"] == [1, 2]
    assert "fridge head: Conv1d" in manifest["training"]["learner"]
    assert "dishwasher tail" in manifest["training"]["learner"]
    assert "kettle head" in manifest["training"]["learner"]
    assert all(0 < a["on_probability"] < 1 for a in manifest["appliances"])
    assert set(manifest["metrics"]["per_appliance"]) == set(APPLIANCES)
    registry = ModelRegistry([tmp_path])
    registry.scan()
    model = registry.load("smoke")
    power, _ = model.predict(np.full((1, 1200), 500.0, np.float32))
    assert power.shape == (1, len(APPLIANCES))


def test_the_exported_graph_answers_what_the_numpy_heads_answer(tmp_path: Path) -> None:
    import onnxruntime as ort

    options = TrainOptions(
        seeds=(1,),
        days=1,
        hidden=(16, 8),
        init_from=None,
        fridge_epochs=1,
        fridge_windows_per_house=200,
        tail_epochs=1,
        tail_windows_per_house=200,
        kettle_epochs=1,
        kettle_high_per_house=200,
        kettle_uniform_per_house=100,
    )
    mlp, _ = train_shared(options)
    heads = Heads(
        fridge=train_fridge(options),
        tails=train_tails(options, mlp),
        kettle=train_kettle(options, mlp),
    )
    export_onnx(mlp, tmp_path / "m.onnx", None, heads)
    house = generate_house(7, days=1)
    power, prob, centres = predict_numpy(mlp, heads, house.aggregate)
    session = ort.InferenceSession(str(tmp_path / "m.onnx"), providers=["CPUExecutionProvider"])
    graph_power, graph_prob = session.run(
        ["power", "probability"], {"window": _windows(house.aggregate, centres[::50])}
    )
    np.testing.assert_allclose(graph_prob, prob[::50], atol=1e-4)
    np.testing.assert_allclose(graph_power, power[::50] * (prob[::50] > 0.5), atol=0.1)


def test_the_generated_houses_differ_by_seed_and_hold_every_appliance() -> None:
    one, two = generate_house(11, days=2), generate_house(12, days=2)
    assert len(one.aggregate) == 2 * 14_400
    assert not np.allclose(one.aggregate, two.aggregate)
    assert set(one.appliances) == set(APPLIANCES)
    total = sum(one.appliances.values())
    assert np.all(one.aggregate >= total - 1e-3)  # the meter sees the appliances and more
    assert one.appliances["fridge"].max() > 0
    assert features(np.zeros((2, 1200), np.float32)).shape[0] == 2


def test_a_fridge_starts_with_an_inrush_and_a_kettle_follows_the_voltage() -> None:
    house = generate_house(5, days=2, period=1)
    fridge = house.appliances["fridge"]
    starts = np.flatnonzero((fridge[1:] > 0) & (fridge[:-1] == 0)) + 1
    assert len(starts) > 10
    assert np.median(fridge[starts] / fridge[starts + 120]) > 4  # inrush, then running power
    kettle = house.appliances["kettle"]
    on = kettle[kettle > 0]
    assert on.std() > 0  # mains voltage variation reaches a resistive load


def test_the_fridge_cycles_like_a_real_one() -> None:
    for seed in (1, 2000):
        fridge = generate_house(seed, days=3, period=1).appliances["fridge"]
        on = fridge > 50
        assert 0.3 <= on.mean() <= 0.47, seed  # compressor duty, defrost and pull-downs included
        running = np.median(fridge[on])
        assert 70 <= running <= 160, seed
        assert fridge.max() > 4 * running  # the inrush
        assert np.sum(fridge > 1.4 * running) > 1800  # a defrost heater, 15 min or more
