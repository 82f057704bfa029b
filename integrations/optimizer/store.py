"""Results cached by a hash of their input, and kept with their input in a small SQLite table.

The table lives next to the configuration (``optimizer_results.db``), apart from the recorder's
history so a purge of one never touches the other. Writes run in the runtime's executor.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from core.json import json_text

_SCHEMA = """
CREATE TABLE IF NOT EXISTS optimizer_results (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    created REAL NOT NULL,
    service TEXT NOT NULL,
    input_hash TEXT NOT NULL,
    status TEXT NOT NULL,
    objective REAL,
    solve_time_s REAL,
    input TEXT NOT NULL,
    result TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS ix_optimizer_results_hash ON optimizer_results (input_hash);
"""


def input_hash(service: str, data: Mapping[str, Any]) -> str:
    """A stable hash of a service's input (keys sorted)."""
    text = json.dumps({"service": service, "input": data}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


class ResultCache:
    """Results by input hash, each valid for ``validity`` seconds."""

    def __init__(self, validity: float) -> None:
        self.validity = validity
        self._items: dict[str, tuple[float, dict[str, Any]]] = {}

    def get(self, key: str) -> dict[str, Any] | None:
        """The cached result, or None when absent or expired."""
        item = self._items.get(key)
        if item is None:
            return None
        if time.monotonic() > item[0]:
            del self._items[key]
            return None
        return item[1]

    def put(self, key: str, result: dict[str, Any]) -> None:
        """Keep ``result`` for the validity (not at all when it is 0)."""
        if self.validity <= 0:
            return
        now = time.monotonic()
        self._items = {k: v for k, v in self._items.items() if v[0] > now}
        self._items[key] = (now + self.validity, result)


class ResultStore:
    """The results table: each result with its input. Blocking: call from the executor."""

    def __init__(self, path: Path, keep: int) -> None:
        self.path = path
        self.keep = keep

    def _connect(self) -> sqlite3.Connection:
        connection = sqlite3.connect(self.path)
        connection.executescript(_SCHEMA)
        return connection

    def add(
        self, service: str, key: str, data: Mapping[str, Any], result: Mapping[str, Any]
    ) -> int:
        """Insert one result; delete the oldest beyond ``keep``. Returns the row id."""
        with self._connect() as db:
            cursor = db.execute(
                "INSERT INTO optimizer_results (created, service, input_hash, status, objective,"
                " solve_time_s, input, result) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    time.time(),
                    service,
                    key,
                    str(result.get("status")),
                    result.get("objective"),
                    result.get("solve_time_s"),
                    json_text(data),
                    json_text(result),
                ),
            )
            row_id = int(cursor.lastrowid or 0)
            db.execute("DELETE FROM optimizer_results WHERE id <= ?", (row_id - max(self.keep, 1),))
        return row_id

    def recent(self, limit: int = 20) -> list[dict[str, Any]]:
        """The newest results' summaries, newest first."""
        with self._connect() as db:
            rows = db.execute(
                "SELECT id, created, service, input_hash, status, objective, solve_time_s "
                "FROM optimizer_results ORDER BY id DESC LIMIT ?",
                (limit,),
            ).fetchall()
        keys = ("id", "created", "service", "input_hash", "status", "objective", "solve_time_s")
        return [dict(zip(keys, row, strict=True)) for row in rows]

    def load(self, row_id: int) -> tuple[str, str] | None:
        """The stored input and result JSON of one row."""
        with self._connect() as db:
            row = db.execute(
                "SELECT input, result FROM optimizer_results WHERE id = ?", (row_id,)
            ).fetchone()
        return None if row is None else (row[0], row[1])
