"""``edgewise nilm``: offline prediction, evaluation and training on npz files.

- ``edgewise nilm predict --model ID --input IN.npz --output OUT.npz``: IN holds
  ``timestamps`` (int64 epoch s, one per sample) and ``aggregate`` (float32 W) at the model's
  sample period; OUT holds ``timestamps`` and one float32 array of predicted W per appliance,
  the same length (0 W where no whole window surrounds a sample, and for samples whose window
  holds a missing (NaN) or negative reading).
- ``edgewise nilm evaluate --truth TRUTH.npz --pred OUT.npz [--model ID]``: per appliance and
  macro mean, MAE, SAE (signed, absolute, whole period and per day), precision, recall and F1
  with the model manifest's on-thresholds, NDE; JSON on standard output.
- ``edgewise nilm train --output DIR`` (the ``[nilm-train]`` extra): train on simulated houses
  and write ``<id>.onnx`` and ``<id>.json``.

This module only builds the parser; numpy and onnxruntime are imported when a command runs.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from .const import BUNDLED_MODELS, DEFAULT_MODEL

#: Largest npz accepted (bytes).
MAX_NPZ_BYTES = 2 * 1024 * 1024 * 1024


class CommandError(Exception):
    """A command cannot run; the message names the file and the key."""


def add_commands(sub: Any) -> None:
    """Add ``nilm`` and its subcommands to the ``edgewise`` parser."""
    nilm = sub.add_parser("nilm", help="disaggregate, evaluate and train NILM models offline")
    commands = nilm.add_subparsers(dest="nilm_command", required=True)
    models = argparse.ArgumentParser(add_help=False)
    models.add_argument(
        "--models-dir",
        type=Path,
        action="append",
        default=[],
        help="a folder of models besides the shipped ones (repeatable)",
    )
    predict = commands.add_parser("predict", parents=[models], help="predict appliance power")
    predict.add_argument("--model", default=DEFAULT_MODEL)
    predict.add_argument("--input", type=Path, required=True)
    predict.add_argument("--output", type=Path, required=True)
    predict.set_defaults(run_command=_guard(_predict))
    evaluate = commands.add_parser("evaluate", parents=[models], help="score a prediction")
    evaluate.add_argument("--truth", type=Path, required=True)
    evaluate.add_argument("--pred", type=Path, required=True)
    evaluate.add_argument("--model", default=DEFAULT_MODEL, help="whose thresholds to use")
    evaluate.set_defaults(run_command=_guard(_evaluate))
    train = commands.add_parser("train", help="train a model on simulated houses")
    train.add_argument("--output", type=Path, required=True)
    train.add_argument("--houses", type=int, default=20, help="simulated houses (seeds 1...)")
    train.add_argument("--days", type=int, default=14)
    train.add_argument(
        "--epochs", type=int, default=0, help="of the shared perceptron (0: --init-from's as is)"
    )
    train.add_argument("--windows-per-house", type=int, default=10_000)
    train.add_argument("--model-id", default=DEFAULT_MODEL)
    train.add_argument("--learning-rate", type=float, default=1e-3)
    train.add_argument("--fridge-epochs", type=int, default=8, help="the fridge head (0: none)")
    train.add_argument(
        "--tail-epochs", type=int, default=8, help="the dishwasher's own tail (0: none)"
    )
    train.add_argument(
        "--kettle-epochs", type=int, default=16, help="the kettle's own head (0: none)"
    )
    train.add_argument(
        "--init-from",
        type=Path,
        default=BUNDLED_MODELS / f"{DEFAULT_MODEL}.onnx",
        help="continue from this model's weights (ONNX; default: the shipped model)",
    )
    train.set_defaults(run_command=_guard(_train))


def _guard(command: Any) -> Any:
    def run(args: argparse.Namespace) -> int:
        try:
            return int(command(args))
        except CommandError as err:
            print(f"error: {err}", file=sys.stderr)
            return 2

    return run


def _registry(args: argparse.Namespace) -> Any:
    from .registry import ModelRegistry  # noqa: PLC0415 - onnxruntime only when run

    registry = ModelRegistry([*args.models_dir, BUNDLED_MODELS])
    registry.scan()
    return registry


def _load_npz(path: Path, keys: tuple[str, ...] | None = None) -> dict[str, Any]:
    import numpy as np  # noqa: PLC0415 - only when run

    try:
        if path.stat().st_size > MAX_NPZ_BYTES:
            raise CommandError(f"{path}: larger than {MAX_NPZ_BYTES} bytes")
        with np.load(path, allow_pickle=False) as data:
            arrays = {name: data[name] for name in data.files}
    except OSError as err:
        raise CommandError(f"{path}: cannot read ({err})") from err
    except ValueError as err:  # not an npz, or an object array (pickle refused)
        raise CommandError(f"{path}: not a numeric npz ({err})") from err
    for key in keys or ():
        if key not in arrays:
            raise CommandError(f"{path}: missing array {key!r} (has: {sorted(arrays)})")
    return arrays


def _predict(args: argparse.Namespace) -> int:
    import numpy as np  # noqa: PLC0415 - only when run

    from .registry import ModelRefused  # noqa: PLC0415

    try:
        model = _registry(args).load(args.model)
    except ModelRefused as err:
        raise CommandError(str(err)) from err
    data = _load_npz(args.input, ("timestamps", "aggregate"))
    stamps = np.asarray(data["timestamps"])
    aggregate = np.asarray(data["aggregate"], np.float32)
    if stamps.ndim != 1 or aggregate.shape != stamps.shape:
        raise CommandError(f"{args.input}: timestamps and aggregate must be 1-D, the same length")
    m = model.manifest
    if len(stamps) > 1:
        steps = np.diff(stamps)
        if np.any(steps != m.sample_period_s):
            raise CommandError(
                f"{args.input}: timestamps must step by the model's {m.sample_period_s} s "
                f"(first other step at index {int(np.argmax(steps != m.sample_period_s))})"
            )
    out = predict_series(model, aggregate)
    names = m.appliance_names
    np.savez_compressed(
        args.output, timestamps=stamps, **{n: out[:, i] for i, n in enumerate(names)}
    )
    print(f"{len(stamps)} samples of {len(names)} appliances written to {args.output}")
    return 0


def predict_series(model: Any, aggregate: Any, batch: int = 2048) -> Any:
    """Predicted W ``[n, appliances]`` for every sample of a series (0 without a whole window)."""
    import numpy as np  # noqa: PLC0415 - only when run

    m = model.manifest
    n = len(aggregate)
    out = np.zeros((n, len(m.appliances)), np.float32)
    if n < m.window_length:
        return out
    clean = np.where(np.isfinite(aggregate) & (aggregate >= 0), aggregate, np.nan)
    windows = np.lib.stride_tricks.sliding_window_view(clean, m.window_length)
    bad = np.concatenate([[0], np.cumsum(np.isnan(clean))])
    whole = (bad[m.window_length :] - bad[: n - m.window_length + 1]) == 0
    targets = np.arange(len(windows)) + m.output_index
    for start in range(0, len(windows), batch):
        rows = np.arange(start, min(start + batch, len(windows)))
        rows = rows[whole[rows]]
        if len(rows):
            power, _ = model.predict(np.ascontiguousarray(windows[rows]))
            out[targets[rows]] = power
    return out


def _evaluate(args: argparse.Namespace) -> int:
    import numpy as np  # noqa: PLC0415 - only when run

    from .metrics import evaluate  # noqa: PLC0415

    registry = _registry(args)
    entry = registry.entries.get(args.model)
    if entry is None:
        raise CommandError(f"no NILM model {args.model!r} for the thresholds")
    truth = _load_npz(args.truth)
    pred = _load_npz(args.pred)
    thresholds = entry.manifest.thresholds()
    try:
        result = evaluate(
            {k: np.asarray(v, np.float64) for k, v in truth.items() if k in thresholds},
            {k: np.asarray(v, np.float64) for k, v in pred.items() if k in thresholds},
            thresholds,
            entry.manifest.sample_period_s,
        )
    except ValueError as err:
        raise CommandError(f"{args.truth} vs {args.pred}: {err}") from err
    print(json.dumps(result, indent=1))
    return 0


def _train(args: argparse.Namespace) -> int:
    try:
        import onnx  # noqa: F401, PLC0415 - the [nilm-train] extra

        from .train import TrainOptions, train  # noqa: PLC0415
    except ImportError as err:
        raise CommandError(
            f"training needs the nilm-train extra: pip install 'edgewise[nilm-train]' ({err})"
        ) from err
    options = TrainOptions(
        seeds=tuple(range(1, args.houses + 1)),
        days=args.days,
        epochs=args.epochs,
        windows_per_house=args.windows_per_house,
        model_id=args.model_id,
        learning_rate=args.learning_rate,
        init_from=args.init_from,
        fridge_epochs=args.fridge_epochs,
        tail_epochs=args.tail_epochs,
        kettle_epochs=args.kettle_epochs,
    )
    manifest = train(options, args.output)
    print(json.dumps(manifest["metrics"], indent=1))
    return 0
