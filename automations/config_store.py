"""Create, read, update and delete automations by id in ``automations.yaml``.

The file is edited with ruamel.yaml's round-trip mode, so the other entries keep their
comments, key order, quoting and layout; only the entry written is replaced (its own comments
are not kept). Writes are atomic (a temporary file renamed over the old one).
"""

from __future__ import annotations

import io
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq

from .const import AUTOMATIONS_FILE, CONF_ID


class AutomationsFileError(Exception):
    """``automations.yaml`` is not a list of automations, so it is not rewritten."""


def _yaml() -> YAML:
    yaml = YAML(typ="rt")
    yaml.preserve_quotes = True
    # The layout Home Assistant writes automations.yaml in: "- id:" at the left margin.
    yaml.indent(mapping=2, sequence=2, offset=0)
    yaml.width = 100
    return yaml


def _read(path: Path) -> CommentedSeq:
    if not path.is_file():
        return CommentedSeq()
    text = path.read_text(encoding="utf-8")
    if not text.strip():
        return CommentedSeq()
    data = _yaml().load(text)
    if data is None:
        return CommentedSeq()
    if not isinstance(data, CommentedSeq):
        raise AutomationsFileError(f"{path.name} must hold a list of automations")
    return data


def _write(path: Path, data: CommentedSeq) -> None:
    buffer = io.StringIO()
    _yaml().dump(data, buffer)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_text(buffer.getvalue(), encoding="utf-8")
    os.replace(tmp, path)


def _index(data: CommentedSeq, automation_id: str) -> int | None:
    for index, item in enumerate(data):
        if isinstance(item, Mapping) and str(item.get(CONF_ID)) == automation_id:
            return index
    return None


def _plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _commented(value: Any) -> Any:
    if isinstance(value, Mapping):
        result = CommentedMap()
        for key, item in value.items():
            result[key] = _commented(item)
        return result
    if isinstance(value, list):
        return CommentedSeq([_commented(v) for v in value])
    return value


def automations_path(config_dir: Path) -> Path:
    """The ``automations.yaml`` of a configuration directory."""
    return config_dir / AUTOMATIONS_FILE


def read_all(config_dir: Path) -> list[dict[str, Any]]:
    """Every entry of ``automations.yaml`` as plain data (blocking)."""
    return [_plain(item) for item in _read(automations_path(config_dir))]


def read_one(config_dir: Path, automation_id: str) -> dict[str, Any] | None:
    """The entry with ``id: automation_id``, or None (blocking)."""
    data = _read(automations_path(config_dir))
    index = _index(data, automation_id)
    return None if index is None else _plain(data[index])


def write_one(config_dir: Path, automation_id: str, config: Mapping[str, Any]) -> bool:
    """Replace (or append) the entry with ``id: automation_id``; True when it was new (blocking)."""
    path = automations_path(config_dir)
    data = _read(path)
    entry = CommentedMap()
    entry[CONF_ID] = automation_id
    for key, value in config.items():
        if key != CONF_ID:
            entry[key] = _commented(value)
    index = _index(data, automation_id)
    if index is None:
        data.append(entry)
    else:
        data[index] = entry
    _write(path, data)
    return index is None


def delete_one(config_dir: Path, automation_id: str) -> bool:
    """Remove the entry with ``id: automation_id``; False when there was none (blocking)."""
    path = automations_path(config_dir)
    data = _read(path)
    index = _index(data, automation_id)
    if index is None:
        return False
    del data[index]
    _write(path, data)
    return True
