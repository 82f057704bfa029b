"""The store-and-forward buffer: accepted rows on local disk (SQLite, WAL) until the central
database has committed them.

Blocking: every method runs in an executor thread, and only the historian's one writer task
calls them, one at a time. Rows are kept in arrival order (``seq``); a batch is removed only
after the central commit, so a crash at any point re-sends at most the batch in flight, which
the central unique key turns into a no-op.

Alongside the rows, ``completeness`` counts per entity and hour how many rows were accepted,
delivered (committed centrally and removed here), replayed (delivered after waiting out an
outage) and dropped (by the size cap); it is updated in the same transactions as the rows, so
the counts survive a SIGKILL exactly as the rows do.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from .const import FullPolicy

_LOGGER = logging.getLogger(__name__)

#: A row as buffered: (time, entity_id, value, text_value, quality, unit, attributes JSON).
Row = tuple[float, str, float | None, str | None, str, str | None, str | None]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS rows (
    seq INTEGER PRIMARY KEY,
    time REAL NOT NULL,
    entity_id TEXT NOT NULL,
    value REAL,
    text_value TEXT,
    quality TEXT NOT NULL,
    unit TEXT,
    attributes TEXT
);
CREATE TABLE IF NOT EXISTS completeness (
    entity_id TEXT NOT NULL,
    hour INTEGER NOT NULL,
    accepted INTEGER NOT NULL DEFAULT 0,
    delivered INTEGER NOT NULL DEFAULT 0,
    replayed INTEGER NOT NULL DEFAULT 0,
    dropped INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (entity_id, hour)
) WITHOUT ROWID;
"""

#: Adds to one counter of ``completeness`` (the column names are the fixed ones below).
_BUMP = {
    column: (
        f"INSERT INTO completeness (entity_id, hour, {column}) VALUES (?, ?, ?) "  # noqa: S608
        f"ON CONFLICT (entity_id, hour) DO UPDATE SET {column} = {column} + excluded.{column}"
    )
    for column in ("accepted", "delivered", "replayed", "dropped")
}


class BufferCorruptError(Exception):
    """The buffer file is not a usable SQLite database."""


@dataclass(frozen=True, slots=True)
class SeriesHour:
    """One line of the completeness report: one entity, one hour."""

    entity_id: str
    hour: float
    accepted: int
    delivered: int
    replayed: int
    dropped: int
    pending: int

    @property
    def missing(self) -> int:
        """Rows accepted but not (yet) in the central database: dropped or still pending."""
        return self.dropped + self.pending


def _hour_counts(rows: Iterable[tuple[float, str]]) -> list[tuple[str, int, int]]:
    counts = Counter((entity_id, int(when // 3600) * 3600) for when, entity_id in rows)
    return [(entity_id, hour, n) for (entity_id, hour), n in counts.items()]


class Buffer:
    """The SQLite buffer file: open it with :meth:`open`, which also handles a corrupt file."""

    def __init__(self, path: Path, max_rows: int, policy: FullPolicy) -> None:
        self.path = path
        self.max_rows = max_rows
        self.policy = policy
        self._conn: sqlite3.Connection | None = None
        #: Rows held now (kept in step with the table).
        self.count = 0
        #: Path the last corrupt file was moved to, if any (for the report and the notification).
        self.moved_aside: Path | None = None

    # --- opening -------------------------------------------------------------------------------

    def open(self) -> None:
        """Open (or create) the file; a corrupt one is renamed ``*.corrupt-<time>`` and replaced."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._connect()
        except sqlite3.DatabaseError as err:
            if self._conn is not None:
                self._conn.close()
                self._conn = None
            aside = self.path.with_name(f"{self.path.name}.corrupt-{int(time.time())}")
            _LOGGER.error(
                "The historian's buffer %s is corrupt (%s); moved it to %s and started a new one",
                self.path,
                err,
                aside,
            )
            self.path.rename(aside)
            for suffix in ("-wal", "-shm"):
                side = self.path.with_name(self.path.name + suffix)
                if side.exists():
                    side.rename(aside.with_name(aside.name + suffix))
            self.moved_aside = aside
            self._connect()

    def _connect(self) -> None:
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self._conn = conn
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        check = conn.execute("PRAGMA quick_check").fetchone()
        if check is None or check[0] != "ok":
            raise sqlite3.DatabaseError(f"quick_check: {check}")
        conn.executescript(_SCHEMA)
        self.count = conn.execute("SELECT count(*) FROM rows").fetchone()[0]

    def close(self) -> None:
        """Close the file (idempotent)."""
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    @property
    def conn(self) -> sqlite3.Connection:
        if self._conn is None:
            raise RuntimeError("the buffer is not open")
        return self._conn

    # --- rows ----------------------------------------------------------------------------------

    def append(self, rows: Sequence[Row]) -> int:
        """Keep ``rows`` (one transaction), applying the size cap; answer how many were dropped."""
        if not rows:
            return 0
        conn = self.conn
        dropped_rows: list[tuple[float, str]] = []
        accepted = rows
        room = self.max_rows - self.count
        if len(rows) > room and self.policy is FullPolicy.STOP_ACCEPTING:
            accepted = rows[: max(room, 0)]
            dropped_rows = [(r[0], r[1]) for r in rows[len(accepted) :]]
        conn.execute("BEGIN IMMEDIATE")
        try:
            if accepted:
                conn.executemany(
                    "INSERT INTO rows (time, entity_id, value, text_value, quality, unit, "
                    "attributes) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    accepted,
                )
            conn.executemany(_BUMP["accepted"], _hour_counts((r[0], r[1]) for r in rows))
            excess = self.count + len(accepted) - self.max_rows
            if excess > 0:  # drop_oldest
                oldest = conn.execute(
                    "SELECT seq, time, entity_id FROM rows ORDER BY seq LIMIT ?", (excess,)
                ).fetchall()
                conn.execute("DELETE FROM rows WHERE seq <= ?", (oldest[-1][0],))
                dropped_rows.extend((when, entity_id) for _, when, entity_id in oldest)
            if dropped_rows:
                conn.executemany(_BUMP["dropped"], _hour_counts(dropped_rows))
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:  # SQLite may have rolled back already (a full disk)
                conn.execute("ROLLBACK")
            raise
        self.count = min(self.count + len(accepted), self.max_rows)
        return len(dropped_rows)

    def oldest(self, limit: int, after: int = 0) -> list[tuple[int, Row]]:
        """The ``limit`` oldest rows after sequence number ``after``, with their numbers."""
        cursor = self.conn.execute(
            "SELECT seq, time, entity_id, value, text_value, quality, unit, attributes "
            "FROM rows WHERE seq > ? ORDER BY seq LIMIT ?",
            (after, limit),
        )
        return [(r[0], r[1:]) for r in cursor.fetchall()]

    def oldest_time(self) -> float | None:
        """The time of the oldest row held, or None when empty."""
        row = self.conn.execute("SELECT time FROM rows ORDER BY seq LIMIT 1").fetchone()
        return None if row is None else float(row[0])

    def remove_delivered(self, batch: Sequence[tuple[int, Row]], replayed: bool) -> None:
        """Remove ``batch`` (committed centrally) and count it as delivered (and replayed)."""
        if not batch:
            return
        conn = self.conn
        counts = _hour_counts((row[0], row[1]) for _, row in batch)
        conn.execute("BEGIN IMMEDIATE")
        try:
            # Fewer than the batch when the cap dropped some of it meanwhile.
            removed = conn.execute(
                "DELETE FROM rows WHERE seq BETWEEN ? AND ?", (batch[0][0], batch[-1][0])
            ).rowcount
            conn.executemany(_BUMP["delivered"], counts)
            if replayed:
                conn.executemany(_BUMP["replayed"], counts)
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:  # SQLite may have rolled back already (a full disk)
                conn.execute("ROLLBACK")
            raise
        self.count = max(0, self.count - removed)

    # --- the report ----------------------------------------------------------------------------

    def completeness(
        self, entity_ids: Sequence[str] | None, start: float | None, end: float | None
    ) -> list[SeriesHour]:
        """Per entity and hour: accepted, delivered, replayed, dropped and still pending."""
        where: list[str] = ["1"]
        params: list[object] = []
        if entity_ids:
            where.append(f"entity_id IN ({','.join('?' * len(entity_ids))})")
            params.extend(entity_ids)
        if start is not None:
            where.append("hour >= ?")
            params.append(int(start // 3600) * 3600)
        if end is not None:
            where.append("hour < ?")
            params.append(end)
        clause = " AND ".join(where)
        pending = {
            (entity_id, hour): n
            for entity_id, hour, n in self.conn.execute(
                "SELECT entity_id, CAST(time / 3600 AS INTEGER) * 3600 AS hour, count(*) "  # noqa: S608
                f"FROM rows WHERE {clause} GROUP BY entity_id, hour",
                params,
            )
        }
        return [
            SeriesHour(e, float(h), a, d, r, x, pending.get((e, h), 0))
            for e, h, a, d, r, x in self.conn.execute(
                "SELECT entity_id, hour, accepted, delivered, replayed, dropped "  # noqa: S608
                f"FROM completeness WHERE {clause} ORDER BY entity_id, hour",
                params,
            )
        ]

    def file_bytes(self) -> int:
        """Bytes the buffer takes on disk (database and WAL)."""
        total = 0
        for suffix in ("", "-wal"):
            side = self.path.with_name(self.path.name + suffix)
            if side.exists():
                total += side.stat().st_size
        return total
