"""The model registry: folders of ONNX files with a manifest each, verified before they load.

A model loads only if its file's SHA-256 equals the manifest's and the ONNX graph's input and
outputs agree with the manifest (``model.py``). Anything else refuses the model with a
:class:`ModelRefused` naming the file and the reason; the caller keeps a persistent notification
about it. Models are ONNX only: nothing is unpickled.

This module reads manifests and files only (no numpy, no onnxruntime), so the runtime can keep
the registry while the models load and run in the inference process (``worker.py``).
:meth:`ModelRegistry.load` (the offline commands, the benchmarks) imports ``model.py`` when called.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .const import MAX_MODEL_BYTES
from .manifest import ManifestError, ModelManifest, ModelRefused, parse_manifest, read_manifest

if TYPE_CHECKING:
    from .model import LoadedModel

_LOGGER = logging.getLogger(__name__)

__all__ = ["ModelEntry", "ModelRefused", "ModelRegistry", "read_model_file"]


@dataclass(frozen=True)
class ModelEntry:
    """A model the registry knows: its manifest and where its file is."""

    manifest: ModelManifest
    path: Path


def read_model_file(path: Path) -> bytes:
    """The bytes of a model file, bounded.

    Raises:
        ModelRefused: unreadable or larger than ``MAX_MODEL_BYTES``.
    """
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_MODEL_BYTES + 1)
    except OSError as err:
        raise ModelRefused(f"{path}: cannot read ({err.strerror})") from err
    if len(data) > MAX_MODEL_BYTES:
        raise ModelRefused(f"{path}: larger than {MAX_MODEL_BYTES} bytes")
    return data


def check_digest(manifest: ModelManifest, data: bytes, where: str) -> None:
    """Refuse ``data`` unless its SHA-256 is the manifest's (no numpy or onnxruntime needed).

    Raises:
        ModelRefused: the digests differ.
    """
    digest = hashlib.sha256(data).hexdigest()
    if digest != manifest.sha256:
        raise ModelRefused(
            f"{where}: SHA-256 {digest} does not match the manifest's {manifest.sha256}"
        )


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

    def entry(self, model_id: str) -> ModelEntry:
        """The known model ``model_id``.

        Raises:
            ModelRefused: no such model.
        """
        entry = self.entries.get(model_id)
        if entry is None:
            known = ", ".join(sorted(self.entries)) or "none"
            raise ModelRefused(f"no NILM model {model_id!r} (known: {known})")
        return entry

    def load(self, model_id: str) -> LoadedModel:
        """Verify and load a model in this process (imports numpy and onnxruntime).

        Raises:
            ModelRefused: unknown id, unreadable or oversized file, or a failed verification.
        """
        from .model import verify_and_load  # noqa: PLC0415 - onnxruntime, when asked for

        entry = self.entry(model_id)
        return verify_and_load(entry.manifest, read_model_file(entry.path), str(entry.path))

    @staticmethod
    def check_file(entry: ModelEntry) -> None:
        """Read ``entry``'s file and check its SHA-256 in this process (blocking I/O).

        The inference process checks the bytes it loads again; this early check lets the
        runtime leave a tampered model's meters out at start without waiting for that process.

        Raises:
            ModelRefused: unreadable, oversized, or a digest other than the manifest's.
        """
        check_digest(entry.manifest, read_model_file(entry.path), str(entry.path))

    @staticmethod
    def check_upload(manifest_doc: object, data: bytes, sha256: str) -> ModelManifest:
        """The manifest of an upload whose ``sha256`` is the manifest's (not yet verified).

        Raises:
            ModelRefused: a bad manifest, a hash that differs, or too many bytes.
        """
        try:
            manifest = parse_manifest(manifest_doc, "uploaded manifest")
        except ManifestError as err:
            raise ModelRefused(str(err)) from err
        if sha256.lower() != manifest.sha256:
            raise ModelRefused("uploaded model: the given sha256 differs from the manifest's")
        if len(data) > MAX_MODEL_BYTES:
            raise ModelRefused(f"uploaded model: larger than {MAX_MODEL_BYTES} bytes")
        return manifest

    def add(self, manifest_doc: object, data: bytes, sha256: str) -> ModelManifest:
        """Verify an uploaded model in this process and write it (see :meth:`write`).

        Raises:
            ModelRefused: a bad manifest, a hash mismatch, or a model that does not load.
        """
        from .model import verify_and_load  # noqa: PLC0415 - onnxruntime, when asked for

        manifest = self.check_upload(manifest_doc, data, sha256)
        verify_and_load(manifest, data, f"uploaded model {manifest.id}")
        self.write(manifest, data)
        return manifest

    def write(self, manifest: ModelManifest, data: bytes) -> None:
        """Write a verified model and its manifest into the first folder, and know it."""
        folder = self.folders[0]
        folder.mkdir(parents=True, exist_ok=True)
        _atomic_write(folder / manifest.file, data)
        _atomic_write(
            folder / f"{manifest.id}.json", json.dumps(manifest.as_dict(), indent=1).encode()
        )
        self.entries[manifest.id] = ModelEntry(manifest, folder / manifest.file)
        self.problems.pop(manifest.id, None)


def _atomic_write(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
