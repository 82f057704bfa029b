"""A verified NILM model, ready for inference (numpy and onnxruntime).

Imported by the inference process (``worker.py``), the offline commands, training and the
benchmarks; never by the runtime process. The bytes that are hashed are the bytes handed to
onnxruntime (no second read). The graph's input and outputs are checked against the manifest
(input ``[batch, window_length]``; ``power`` and ``probability`` ``[batch, appliances]``), on
the declared shapes and by running two windows.
"""

from __future__ import annotations

import numpy as np
import onnxruntime as ort

from .manifest import ModelManifest, ModelRefused
from .registry import check_digest


class LoadedModel:
    """A verified model, ready for inference."""

    def __init__(self, manifest: ModelManifest, session: ort.InferenceSession) -> None:
        self.manifest = manifest
        self._session = session
        self._outputs = [manifest.power_output, manifest.probability_output]

    def predict(self, windows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Power (W) and on-probability ``[n, appliances]`` for raw windows ``[n, W]`` in W.

        Raises:
            ValueError: the windows are not ``[n, window_length]`` or hold a non-finite value.
        """
        m = self.manifest
        if windows.ndim != 2 or windows.shape[1] != m.window_length:
            raise ValueError(
                f"expected windows of {m.window_length} samples, got shape {list(windows.shape)}"
            )
        if not np.all(np.isfinite(windows)):
            raise ValueError("windows hold NaN or infinite readings")
        x = ((windows - m.offset) / m.scale).astype(np.float32)
        power, prob = self._session.run(self._outputs, {m.input_name: x})
        return np.asarray(power, np.float32), np.asarray(prob, np.float32)


def _session(data: bytes) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    # Small batches on a small device: no arena kept for the largest batch ever seen.
    options.enable_cpu_mem_arena = False
    options.enable_mem_pattern = False
    # The basic graph rewrites only: the extended ones cost ~30 MiB of resident memory per
    # session for no measurable speed on a graph this small (bench/nilm.py).
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
    return ort.InferenceSession(data, options, providers=["CPUExecutionProvider"])


def verify_and_load(manifest: ModelManifest, data: bytes, where: str) -> LoadedModel:
    """Check ``data`` against ``manifest`` and load it.

    Raises:
        ModelRefused: hash mismatch, not ONNX, or input/outputs that disagree with the manifest.
    """
    check_digest(manifest, data, where)
    try:
        session = _session(data)
    except Exception as err:  # onnxruntime raises its own several types for a bad graph
        raise ModelRefused(f"{where}: not a loadable ONNX model ({err})") from err
    inputs = session.get_inputs()
    if len(inputs) != 1 or inputs[0].name != manifest.input_name:
        names = [i.name for i in inputs]
        raise ModelRefused(f"{where}: inputs {names}, the manifest says [{manifest.input_name!r}]")
    shape = inputs[0].shape
    if len(shape) != 2 or (isinstance(shape[1], int) and shape[1] != manifest.window_length):
        raise ModelRefused(
            f"{where}: input shape {shape}, the manifest says [batch, {manifest.window_length}]"
        )
    outputs = {o.name: o.shape for o in session.get_outputs()}
    count = len(manifest.appliances)
    for name in (manifest.power_output, manifest.probability_output):
        if name not in outputs:
            raise ModelRefused(f"{where}: no output {name!r} (outputs: {sorted(outputs)})")
        out_shape = outputs[name]
        if len(out_shape) != 2 or (isinstance(out_shape[1], int) and out_shape[1] != count):
            raise ModelRefused(
                f"{where}: output {name!r} shape {out_shape}, the manifest says [batch, {count}]"
            )
    model = LoadedModel(manifest, session)
    try:
        power, prob = model.predict(np.zeros((2, manifest.window_length), np.float32))
    except Exception as err:  # a graph that declares one shape and computes another
        raise ModelRefused(f"{where}: fails on a window of the manifest's length ({err})") from err
    if power.shape != (2, count) or prob.shape != (2, count):
        raise ModelRefused(
            f"{where}: answers {list(power.shape)} for 2 windows, the manifest says [2, {count}]"
        )
    return model
