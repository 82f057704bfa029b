"""The inference process: where NILM models load and run, out of the runtime's memory.

numpy, onnxruntime and a session cost about 45 MiB; they live in this spawned child process
(``core.isolated``), never in the runtime's. The runtime sends windows as float32 bytes and
gets plain lists of floats back (nothing numpy crosses back, so unpickling the answer imports
nothing). A model is verified (SHA-256, shapes) the first time the process sees it, so a new
process after a crash verifies again before it answers.

:class:`InferenceClient` is the runtime's side; the functions below run in the child.
"""

from __future__ import annotations

from array import array
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from core.isolated import IsolatedProcess

from .manifest import ModelRefused, parse_manifest
from .registry import ModelEntry, read_model_file

if TYPE_CHECKING:
    from .model import LoadedModel

#: Most windows in one call (1,024 windows of 1,200 samples: 4.9 MB).
MAX_WINDOWS_PER_CALL = 1024
#: Calls that may wait for the process (more are refused: the meter skips those windows).
MAX_PENDING = 4

# --- in the child ---------------------------------------------------------------------------

_MODELS: dict[tuple[str, str], LoadedModel] = {}


def _model(path: str, manifest_doc: dict[str, Any]) -> LoadedModel:
    from .model import verify_and_load  # noqa: PLC0415 - the child only

    key = (path, str(manifest_doc.get("sha256")))
    model = _MODELS.get(key)
    if model is None:
        from pathlib import Path  # noqa: PLC0415

        manifest = parse_manifest(manifest_doc, path)
        model = verify_and_load(manifest, read_model_file(Path(path)), path)
        _MODELS[key] = model
    return model


def load_in_child(path: str, manifest_doc: dict[str, Any]) -> None:
    """Verify and load a model (raises ModelRefused)."""
    _model(path, manifest_doc)


def verify_in_child(manifest_doc: dict[str, Any], data: bytes) -> None:
    """Verify uploaded model bytes against their manifest (raises ModelRefused)."""
    from .model import verify_and_load  # noqa: PLC0415 - the child only

    verify_and_load(parse_manifest(manifest_doc, "uploaded manifest"), data, "uploaded model")


def predict_in_child(
    path: str, manifest_doc: dict[str, Any], windows: bytes, count: int
) -> tuple[list[list[float]], list[list[float]]]:
    """Power (W) and on-probability per window, per appliance, as plain lists."""
    import numpy as np  # noqa: PLC0415 - the child only

    model = _model(path, manifest_doc)
    length = model.manifest.window_length
    if len(windows) != count * length * 4:
        raise ValueError(f"expected {count} windows of {length} float32 readings")
    x = np.frombuffer(windows, np.float32).reshape(count, length)
    power, prob = model.predict(x)
    return power.tolist(), prob.tolist()


def forget_in_child() -> None:
    """Drop the loaded models (after a reload)."""
    _MODELS.clear()


# --- in the runtime ---------------------------------------------------------------------------


class InferenceClient:
    """The runtime's side of the inference process."""

    def __init__(self, on_health: Callable[[bool, str], None] | None = None) -> None:
        self.process = IsolatedProcess(
            "NILM inference", max_pending=MAX_PENDING, on_health=on_health
        )

    async def load(self, entry: ModelEntry) -> None:
        """Verify and load ``entry`` in the process.

        Raises:
            ModelRefused: the model fails verification.
            WorkerUnavailable, WorkerDied: the process cannot run it now.
        """
        await self.process.call(load_in_child, str(entry.path), entry.manifest.as_dict())

    async def verify(self, manifest_doc: dict[str, Any], data: bytes) -> None:
        """Verify an upload in the process (raises ModelRefused)."""
        await self.process.call(verify_in_child, manifest_doc, data)

    async def predict(
        self, entry: ModelEntry, windows: list[array[float]]
    ) -> tuple[list[list[float]], list[list[float]]]:
        """Power and probability for ``windows`` (float32 arrays of the model's length).

        Raises:
            ValueError: too many windows, or of the wrong length.
            ModelRefused: the model fails verification (in a new process).
            WorkerUnavailable, WorkerDied: the process cannot run it now.
        """
        length = entry.manifest.window_length
        if not 0 < len(windows) <= MAX_WINDOWS_PER_CALL:
            raise ValueError(f"1 to {MAX_WINDOWS_PER_CALL} windows per call")
        if any(len(w) != length or w.typecode != "f" for w in windows):
            raise ValueError(f"every window must hold {length} float32 readings")
        data = b"".join(w.tobytes() for w in windows)
        return await self.process.call(
            predict_in_child, str(entry.path), entry.manifest.as_dict(), data, len(windows)
        )

    async def forget(self) -> None:
        """Drop the process's loaded models, if it runs."""
        if self.process.process_alive:
            await self.process.call(forget_in_child)

    def stop(self) -> None:
        """End the process."""
        self.process.stop()


__all__ = ["InferenceClient", "ModelRefused"]
