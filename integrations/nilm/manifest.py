"""A NILM model's manifest: what the ONNX file is, what it expects, and how it was measured.

One JSON file next to each model (``<id>.json``)::

    {"id": "edgewise-nilm-home", "version": "1.0.0", "file": "edgewise-nilm-home.onnx",
     "sha256": "<hex of the ONNX file>", "sample_period_s": 6, "window_length": 1200,
     "output_index": 900,
     "input": {"name": "window", "normalisation": {"offset": 0.0, "scale": 1000.0}},
     "outputs": {"power": "power", "probability": "probability"},
     "appliances": [{"name": "fridge", "on_threshold_w": 50.0, "on_probability": 0.4}, ...],
     "training": {...free-form provenance...}, "metrics": {...measured figures...}}

The model takes ``[batch, window_length]`` float32 normalised readings (``(W - offset) /
scale``) and answers ``power`` (W) and ``probability`` (of being on), ``[batch, appliances]``
each, for the sample at ``output_index`` of the window. An appliance is on when its
probability exceeds its ``on_probability`` (0.5 unless the manifest says otherwise; the graph
answers 0 W otherwise), which training tunes on a house of its own (post-processing is part of
the model, so the live sensors, the API and the offline commands agree).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .const import MAX_MANIFEST_BYTES

_ID = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")
_SHA = re.compile(r"^[0-9a-f]{64}$")
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")


class ManifestError(ValueError):
    """A manifest is malformed; the message names the file and the key."""


class ModelRefused(Exception):
    """A model cannot be used: tampered, corrupt, or not what its manifest says."""


@dataclass(frozen=True)
class ApplianceSpec:
    """One appliance a model disaggregates."""

    name: str
    on_threshold_w: float
    on_probability: float = 0.5


@dataclass(frozen=True)
class ModelManifest:
    """A parsed, validated manifest."""

    id: str
    version: str
    file: str
    sha256: str
    sample_period_s: int
    window_length: int
    output_index: int
    input_name: str
    offset: float
    scale: float
    power_output: str
    probability_output: str
    appliances: tuple[ApplianceSpec, ...]
    training: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)

    @property
    def appliance_names(self) -> tuple[str, ...]:
        """The appliances in output order."""
        return tuple(a.name for a in self.appliances)

    def thresholds(self) -> dict[str, float]:
        """Each appliance's on-threshold (W)."""
        return {a.name: a.on_threshold_w for a in self.appliances}

    def on_probabilities(self) -> dict[str, float]:
        """Each appliance's probability above which it is on."""
        return {a.name: a.on_probability for a in self.appliances}

    def as_dict(self) -> dict[str, Any]:
        """The manifest as its JSON document."""
        return {
            "id": self.id,
            "version": self.version,
            "file": self.file,
            "sha256": self.sha256,
            "sample_period_s": self.sample_period_s,
            "window_length": self.window_length,
            "output_index": self.output_index,
            "input": {
                "name": self.input_name,
                "normalisation": {"offset": self.offset, "scale": self.scale},
            },
            "outputs": {"power": self.power_output, "probability": self.probability_output},
            "appliances": [
                {
                    "name": a.name,
                    "on_threshold_w": a.on_threshold_w,
                    "on_probability": a.on_probability,
                }
                for a in self.appliances
            ],
            "training": self.training,
            "metrics": self.metrics,
        }


def _get(doc: dict[str, Any], key: str, kind: type | tuple[type, ...], where: str) -> Any:
    if key not in doc:
        raise ManifestError(f"{where}: missing key {key!r}")
    value = doc[key]
    if isinstance(value, bool) or not isinstance(value, kind):
        raise ManifestError(f"{where}: {key!r} has the wrong type ({type(value).__name__})")
    return value


def parse_manifest(doc: object, where: str) -> ModelManifest:
    """Validate a manifest document.

    Raises:
        ManifestError: a key is missing, of the wrong type or out of range; names ``where``.
    """
    if not isinstance(doc, dict):
        raise ManifestError(f"{where}: expected a JSON object")
    model_id = _get(doc, "id", str, where)
    if not _ID.match(model_id):
        raise ManifestError(f"{where}: 'id' must be lower-case letters, digits, '_', '.', '-'")
    sha = _get(doc, "sha256", str, where).lower()
    if not _SHA.match(sha):
        raise ManifestError(f"{where}: 'sha256' must be 64 hex digits")
    file = _get(doc, "file", str, where)
    if "/" in file or "\\" in file or file.startswith(".") or not file.endswith(".onnx"):
        raise ManifestError(f"{where}: 'file' must be a plain name ending in .onnx")
    period = _get(doc, "sample_period_s", int, where)
    window = _get(doc, "window_length", int, where)
    index = _get(doc, "output_index", int, where)
    if not 1 <= period <= 3600:
        raise ManifestError(f"{where}: 'sample_period_s' must be 1 to 3600")
    if not 1 <= window <= 100_000:
        raise ManifestError(f"{where}: 'window_length' must be 1 to 100000")
    if not 0 <= index < window:
        raise ManifestError(f"{where}: 'output_index' must be within the window")
    inp = _get(doc, "input", dict, where)
    norm = _get(inp, "normalisation", dict, f"{where}: input")
    scale = float(_get(norm, "scale", (int, float), f"{where}: input.normalisation"))
    if scale <= 0:
        raise ManifestError(f"{where}: input.normalisation 'scale' must be positive")
    outputs = _get(doc, "outputs", dict, where)
    appliances = []
    for i, item in enumerate(_get(doc, "appliances", list, where)):
        at = f"{where}: appliances[{i}]"
        if not isinstance(item, dict):
            raise ManifestError(f"{at}: expected an object")
        name = _get(item, "name", str, at)
        if not _NAME.match(name):
            raise ManifestError(f"{at}: 'name' must be a lower-case identifier")
        threshold = float(_get(item, "on_threshold_w", (int, float), at))
        gate = (
            float(_get(item, "on_probability", (int, float), at))
            if "on_probability" in item
            else 0.5
        )
        if not 0 < gate < 1:
            raise ManifestError(f"{at}: 'on_probability' must be between 0 and 1")
        appliances.append(ApplianceSpec(name, threshold, gate))
    if not appliances:
        raise ManifestError(f"{where}: 'appliances' is empty")
    if len({a.name for a in appliances}) != len(appliances):
        raise ManifestError(f"{where}: appliance names repeat")
    training = doc.get("training", {})
    metrics = doc.get("metrics", {})
    if not isinstance(training, dict) or not isinstance(metrics, dict):
        raise ManifestError(f"{where}: 'training' and 'metrics' must be objects")
    return ModelManifest(
        id=model_id,
        version=_get(doc, "version", str, where),
        file=file,
        sha256=sha,
        sample_period_s=period,
        window_length=window,
        output_index=index,
        input_name=_get(inp, "name", str, f"{where}: input"),
        offset=float(_get(norm, "offset", (int, float), f"{where}: input.normalisation")),
        scale=scale,
        power_output=_get(outputs, "power", str, f"{where}: outputs"),
        probability_output=_get(outputs, "probability", str, f"{where}: outputs"),
        appliances=tuple(appliances),
        training=training,
        metrics=metrics,
    )


def read_manifest(path: Path) -> ModelManifest:
    """Read and validate the manifest at ``path``.

    Raises:
        ManifestError: unreadable, too large, not JSON, or invalid; names the file.
    """
    try:
        size = path.stat().st_size
        if size > MAX_MANIFEST_BYTES:
            raise ManifestError(f"{path}: larger than {MAX_MANIFEST_BYTES} bytes")
        doc = json.loads(path.read_text(encoding="utf-8"))
    except OSError as err:
        raise ManifestError(f"{path}: cannot read ({err.strerror})") from err
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ManifestError(f"{path}: not valid JSON ({err})") from err
    return parse_manifest(doc, str(path))
