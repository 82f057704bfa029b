"""The model registry: folders of ONNX files with a manifest each, verified before they load.

A model loads only if its file's SHA-256 equals the manifest's and the ONNX graph's input and
outputs agree with the manifest (input ``[batch, window_length]``; ``power`` and
``probability`` ``[batch, appliances]``, checked on the declared shapes and by running one
window). Anything else refuses the model with a :class:`ModelRefused` naming the file and the
reason; the caller keeps a persistent notification about it. The bytes that are hashed are the
bytes handed to onnxruntime (no second read). Models are ONNX only: nothing is unpickled.

onnxruntime is imported by this module, which only the ``nilm`` integration's setup, the
``edgewise nilm`` commands and the benchmarks import.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort

from .const import MAX_MODEL_BYTES
from .manifest import ManifestError, ModelManifest, parse_manifest, read_manifest

_LOGGER = logging.getLogger(__name__)


class ModelRefused(Exception):
    """A model cannot be used: tampered, corrupt, or not what its manifest says."""


@dataclass(frozen=True)
class ModelEntry:
    """A model the registry knows: its manifest and where its file is."""

    manifest: ModelManifest
    path: Path


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
    digest = hashlib.sha256(data).hexdigest()
    if digest != manifest.sha256:
        raise ModelRefused(
            f"{where}: SHA-256 {digest} does not match the manifest's {manifest.sha256}"
        )
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


class ModelRegistry:
    """The models found in ``folders`` (the first is where uploaded models are written)."""

    def __init__(self, folders: list[Path]) -> None:
        self.folders = folders
        self.entries: dict[str, ModelEntry] = {}
        self.problems: dict[str, str] = {}

    def scan(self) -> None:
        """Read every manifest; a bad one is recorded in ``problems`` under its file's stem."""
        self.entries = {}
        self.problems = {}
        for folder in reversed(self.folders):  # the first folder wins a repeated id
            if not folder.is_dir():
                continue
            for path in sorted(folder.glob("*.json")):
                try:
                    manifest = read_manifest(path)
                except ManifestError as err:
                    self.problems[path.stem] = str(err)
                    _LOGGER.error("NILM model refused: %s", err)
                    continue
                self.entries[manifest.id] = ModelEntry(manifest, path.parent / manifest.file)

    def describe(self) -> list[dict[str, Any]]:
        """Every known model's manifest, for ``GET /api/nilm/models``."""
        return [entry.manifest.as_dict() for entry in self.entries.values()]

    def load(self, model_id: str) -> LoadedModel:
        """Verify and load a model.

        Raises:
            ModelRefused: unknown id, unreadable or oversized file, or a failed verification.
        """
        entry = self.entries.get(model_id)
        if entry is None:
            known = ", ".join(sorted(self.entries)) or "none"
            raise ModelRefused(f"no NILM model {model_id!r} (known: {known})")
        try:
            with entry.path.open("rb") as handle:
                data = handle.read(MAX_MODEL_BYTES + 1)
        except OSError as err:
            raise ModelRefused(f"{entry.path}: cannot read ({err.strerror})") from err
        if len(data) > MAX_MODEL_BYTES:
            raise ModelRefused(f"{entry.path}: larger than {MAX_MODEL_BYTES} bytes")
        return verify_and_load(entry.manifest, data, str(entry.path))

    def add(self, manifest_doc: object, data: bytes, sha256: str) -> ModelManifest:
        """Verify an uploaded model and write it, with its manifest, into the first folder.

        The upload's ``sha256`` must equal the bytes' hash and the manifest's.

        Raises:
            ModelRefused: a bad manifest, a hash mismatch, or a model that does not load.
        """
        try:
            manifest = parse_manifest(manifest_doc, "uploaded manifest")
        except ManifestError as err:
            raise ModelRefused(str(err)) from err
        if sha256.lower() != manifest.sha256:
            raise ModelRefused("uploaded model: the given sha256 differs from the manifest's")
        if len(data) > MAX_MODEL_BYTES:
            raise ModelRefused(f"uploaded model: larger than {MAX_MODEL_BYTES} bytes")
        verify_and_load(manifest, data, f"uploaded model {manifest.id}")
        folder = self.folders[0]
        folder.mkdir(parents=True, exist_ok=True)
        _atomic_write(folder / manifest.file, data)
        _atomic_write(
            folder / f"{manifest.id}.json", json.dumps(manifest.as_dict(), indent=1).encode()
        )
        self.entries[manifest.id] = ModelEntry(manifest, folder / manifest.file)
        self.problems.pop(manifest.id, None)
        return manifest


def _atomic_write(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
