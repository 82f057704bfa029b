"""``edgewise nilm predict`` and ``evaluate`` on the npz format, on a small generated house."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from core.cli import main
from integrations.simulator.household import APPLIANCES, generate_house


@pytest.fixture
def house_files(tmp_path: Path) -> tuple[Path, Path]:
    house = generate_house(7, days=1, period=6)
    source = tmp_path / "in.npz"
    truth = tmp_path / "truth.npz"
    np.savez(source, timestamps=house.timestamps, aggregate=house.aggregate)
    np.savez(truth, **house.appliances)
    return source, truth


def test_predict_writes_one_array_per_appliance_of_the_input_length_and_evaluate_scores_it(
    tmp_path: Path,
    model_dir: Path,
    house_files: tuple[Path, Path],
    capsys: pytest.CaptureFixture[str],
) -> None:
    source, truth = house_files
    out = tmp_path / "out.npz"
    common = ["--models-dir", str(model_dir), "--model", "tiny"]
    assert main(["nilm", "predict", *common, "--input", str(source), "--output", str(out)]) == 0
    with np.load(out) as pred:
        assert set(pred.files) == {"timestamps", *APPLIANCES}
        assert all(pred[a].shape == (14_400,) and pred[a].dtype == np.float32 for a in APPLIANCES)
    capsys.readouterr()
    assert main(["nilm", "evaluate", *common, "--truth", str(truth), "--pred", str(out)]) == 0
    report = json.loads(capsys.readouterr().out)
    assert set(report["appliances"]) == set(APPLIANCES)
    fridge = report["appliances"]["fridge"]
    assert set(fridge) >= {
        "mae_w",
        "sae",
        "sae_abs",
        "sae_per_day",
        "sae_per_day_abs",
        "precision",
        "recall",
        "f1",
        "nde",
    }
    assert fridge["mae_w"] > 0
    assert report["macro"]["mae_w"] > 0


def test_an_input_without_aggregate_or_at_the_wrong_period_is_refused_by_name(
    tmp_path: Path, model_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "missing.npz"
    np.savez(missing, timestamps=np.arange(10, dtype=np.int64))
    common = ["--models-dir", str(model_dir), "--model", "tiny", "--output", str(tmp_path / "o")]
    assert main(["nilm", "predict", *common, "--input", str(missing)]) == 2
    assert "missing array 'aggregate'" in capsys.readouterr().err
    wrong = tmp_path / "wrong.npz"
    np.savez(
        wrong, timestamps=np.arange(0, 50, 5, dtype=np.int64), aggregate=np.zeros(10, np.float32)
    )
    assert main(["nilm", "predict", *common, "--input", str(wrong)]) == 2
    assert "must step by the model's 6 s" in capsys.readouterr().err
    pickled = tmp_path / "pickled.npz"
    np.savez(pickled, timestamps=np.array([object()]), aggregate=np.zeros(1))
    assert main(["nilm", "predict", *common, "--input", str(pickled)]) == 2
    assert "not a numeric npz" in capsys.readouterr().err


def test_evaluate_scores_a_perfect_prediction_as_perfect(
    house_files: tuple[Path, Path], model_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, truth = house_files
    common = ["--models-dir", str(model_dir), "--model", "tiny"]
    assert main(["nilm", "evaluate", *common, "--truth", str(truth), "--pred", str(truth)]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["appliances"]["fridge"]["f1"] == 1.0
    assert report["appliances"]["fridge"]["nde"] == 0.0
    assert report["macro"]["mae_w"] == 0.0
