"""Create, read, update and delete automations and scripts by id in their YAML files.

``automations.yaml`` is a list whose entries carry ``id:``; ``scripts.yaml`` is a mapping from
each script's object id to its configuration. Both are edited with ruamel.yaml's round-trip mode,
so the other entries keep their comments, key order, quoting and layout; only the entry written
is replaced (its own comments are not kept). Writes are atomic and durable (a temporary file,
synced, renamed over the old one, and the directory synced). What is read comes back as plain
Python data (ruamel's scalar types converted), ready for ``yaml.safe_dump`` and JSON.
"""

from __future__ import annotations

import io
import os
from collections.abc import Mapping
from datetime import date, datetime
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.scalarbool import ScalarBoolean
from ruamel.yaml.scalarstring import LiteralScalarString

from .const import AUTOMATIONS_FILE, CONF_ID, SCRIPTS_FILE


class AutomationsFileError(Exception):
    """The file does not hold what it should (a list of automations, a mapping of scripts), so
    it is not rewritten."""


def _yaml() -> YAML:
    yaml = YAML(typ="rt")
    yaml.preserve_quotes = True
    # The layout Home Assistant writes these files in: "- id:" at the left margin.
    yaml.indent(mapping=2, sequence=2, offset=0)
    yaml.width = 100
    return yaml


def _write(path: Path, data: CommentedSeq | CommentedMap) -> None:
    """Replace ``path`` with ``data`` durably: the new file is complete on disk before it
    takes the old one's name, and the rename is on disk before this returns."""
    buffer = io.StringIO()
    _yaml().dump(data, buffer)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        with tmp.open("w", encoding="utf-8") as file:
            file.write(buffer.getvalue())
            file.flush()
            os.fsync(file.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


def _plain(value: Any) -> Any:
    """``value`` as plain Python data: ruamel's string, number, boolean and timestamp types
    (which keep quoting and layout) become ``str``, ``int``, ``float``, ``bool`` and ISO text,
    so that the result dumps with ``yaml.safe_dump`` and serialises as JSON."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, str):
        return str(value)
    if isinstance(value, bool | ScalarBoolean):
        return bool(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def _block_safe(text: str) -> bool:
    """Whether a literal block (``|``) holds ``text`` exactly: it has line breaks, and no line
    starts the block with a space or ends in one, and nothing in it is a control character."""
    return (
        "\n" in text
        and not text.startswith((" ", "\n"))
        and all(
            line == line.rstrip(" ") and (line.isprintable() or not line)
            for line in text.split("\n")
        )
    )


def _commented(value: Any) -> Any:
    """Plain data for ruamel to write: text with line breaks as a literal block (``|``), as
    it would be written by hand, rather than one escaped line."""
    if isinstance(value, str) and _block_safe(value):
        return LiteralScalarString(value)
    if isinstance(value, Mapping):
        result = CommentedMap()
        for key, item in value.items():
            result[key] = _commented(item)
        return result
    if isinstance(value, list):
        return CommentedSeq([_commented(v) for v in value])
    return value


class EntryFile:
    """One file of entries by id: a list of ``id:`` entries, or a mapping by key (``keyed``).

    Every method blocks (file I/O): run it in the executor.
    """

    def __init__(self, name: str, *, keyed: bool, what: str) -> None:
        self.name = name
        self.keyed = keyed
        self.what = what

    def path(self, config_dir: Path) -> Path:
        """The file in a configuration directory."""
        return config_dir / self.name

    def _read(self, path: Path) -> CommentedSeq | CommentedMap:
        empty: CommentedSeq | CommentedMap = CommentedMap() if self.keyed else CommentedSeq()
        if not path.is_file():
            return empty
        text = path.read_text(encoding="utf-8")
        if not text.strip():
            return empty
        data = _yaml().load(text)
        if data is None:
            return empty
        wanted = CommentedMap if self.keyed else CommentedSeq
        if not isinstance(data, wanted):
            shape = "mapping" if self.keyed else "list"
            raise AutomationsFileError(f"{path.name} must hold a {shape} of {self.what}")
        return data

    def _find(self, data: CommentedSeq | CommentedMap, item_id: str) -> Any:
        """The entry's index (list) or key (mapping), or None."""
        if isinstance(data, CommentedMap):
            return next((key for key in data if str(key) == item_id), None)
        for index, item in enumerate(data):
            if isinstance(item, Mapping) and str(item.get(CONF_ID)) == item_id:
                return index
        return None

    def read_all(self, config_dir: Path) -> Any:
        """Every entry as plain data: a list (automations) or a mapping by id (scripts)."""
        data = self._read(self.path(config_dir))
        return _plain(data)

    def read_one(self, config_dir: Path, item_id: str) -> dict[str, Any] | None:
        """The entry ``item_id``, or None."""
        data = self._read(self.path(config_dir))
        where = self._find(data, item_id)
        return None if where is None else _plain(data[where])

    def write_one(self, config_dir: Path, item_id: str, config: Mapping[str, Any]) -> bool:
        """Replace (or append) the entry ``item_id``; True when it was new."""
        path = self.path(config_dir)
        data = self._read(path)
        entry = CommentedMap()
        if not self.keyed:
            entry[CONF_ID] = item_id
        for key, value in config.items():
            if self.keyed or key != CONF_ID:
                entry[key] = _commented(value)
        where = self._find(data, item_id)
        if where is not None:
            data[where] = entry
        elif isinstance(data, CommentedMap):
            data[item_id] = entry
        else:
            data.append(entry)
        _write(path, data)
        return where is None

    def delete_one(self, config_dir: Path, item_id: str) -> bool:
        """Remove the entry ``item_id``; False when there was none."""
        path = self.path(config_dir)
        data = self._read(path)
        where = self._find(data, item_id)
        if where is None:
            return False
        del data[where]
        _write(path, data)
        return True


#: ``automations.yaml``: a list of automations with ``id:``.
AUTOMATIONS = EntryFile(AUTOMATIONS_FILE, keyed=False, what="automations")
#: ``scripts.yaml``: script object id -> configuration.
SCRIPTS = EntryFile(SCRIPTS_FILE, keyed=True, what="scripts")
