"""The store-and-forward buffer: accepted rows on local disk (SQLite, WAL) until the central
database has committed them.

Blocking: every method runs in an executor thread, and only the historian's one writer task
calls them, one at a time. Rows are kept in arrival order (``seq``); a batch is removed only
after the central commit, so a crash at any point re-sends at most the batch in flight, which
the central unique key turns into a no-op.

Alongside the rows, ``completeness`` counts per entity and hour how many rows were delivered
(committed centrally and removed here), replayed (delivered after waiting out an outage) and
dropped (by the size cap); it is updated in the same transactions as the rows, so the counts
survive a SIGKILL exactly as the rows do. A row accepted is delivered, dropped or still held, so
``accepted`` is their sum (files written before kept an ``accepted`` column; it is not read).
"""

from __future__ import annotations

import functools
import itertools
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

#: Rows per INSERT statement (7 parameters each, well under SQLite's 32,766).
INSERT_CHUNK_ROWS = 1000

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

#: The hour (epoch seconds) of a row's ``time``, as SQL; ``_hour_counts`` in Python.
_HOUR = "CAST(time / 3600 AS INTEGER) * 3600"

#: Adds to one counter of ``completeness`` (the column names are the fixed ones below).
_BUMP = {
    column: (
        f"INSERT INTO completeness (entity_id, hour, {column}) VALUES (?, ?, ?) "  # noqa: S608
        f"ON CONFLICT (entity_id, hour) DO UPDATE SET {column} = {column} + excluded.{column}"
    )
    for column in ("dropped",)
}


def _bump_range(*columns: str) -> str:
    """SQL adding the rows of one ``seq`` range (``BETWEEN ? AND ?``) to ``columns``' counts.

    SQLite counts them itself: no Python work per row. A column named ``replayed`` is counted
    only when the third parameter is true.
    """
    counts = ", ".join("sum(?3 <> 0)" if column == "replayed" else "count(*)" for column in columns)
    updates = ", ".join(f"{c} = {c} + excluded.{c}" for c in columns)
    return (
        f"INSERT INTO completeness (entity_id, hour, {', '.join(columns)}) "  # noqa: S608
        f"SELECT entity_id, {_HOUR}, {counts} FROM rows WHERE seq BETWEEN ?1 AND ?2 "
        f"GROUP BY 1, 2 ON CONFLICT (entity_id, hour) DO UPDATE SET {updates}"
    )


_BUMP_DROPPED = _bump_range("dropped")
_BUMP_DELIVERED = _bump_range("delivered", "replayed")


@functools.lru_cache(maxsize=8)
def _insert_sql(rows: int) -> str:
    """One INSERT of ``rows`` rows: multi-row rather than ``executemany``.

    ``executemany`` steps into SQLite once per row, and each step gives up the GIL and has to
    win it back from the loop's thread, which is busy at high rates (the recorder measured
    16.6 µs a row against 9 with one statement per 1,000 rows).
    """
    values = ",".join(["(?,?,?,?,?,?,?)"] * rows)
    return (
        "INSERT INTO rows (time, entity_id, value, text_value, quality, unit, attributes) "  # noqa: S608 - placeholders only
        f"VALUES {values}"
    )


class BufferCorruptError(Exception):
    """The buffer file is not a usable SQLite database."""


@dataclass(frozen=True, slots=True)
class Batch:
    """Rows held in the buffer with sequence numbers ``first`` to ``last``, oldest first."""

    first: int
    last: int
    rows: Sequence[Row]
    #: Whether ``last`` was the newest row held when the batch was read or appended.
    to_end: bool = True


@dataclass(frozen=True, slots=True)
class Appended:
    """What :meth:`Buffer.append` kept: ``batch`` (None if nothing) and how many it dropped."""

    batch: Batch | None
    dropped: int


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

    def append(self, rows: Sequence[Row]) -> Appended:
        """Keep ``rows`` (one transaction), applying the size cap.

        Returns the rows kept as a :class:`Batch` when they are all still held (none dropped
        by the cap), and how many rows were dropped.
        """
        if not rows:
            return Appended(None, 0)
        conn = self.conn
        accepted = rows
        room = self.max_rows - self.count
        if len(rows) > room and self.policy is FullPolicy.STOP_ACCEPTING:
            accepted = rows[: max(room, 0)]
        refused = rows[len(accepted) :]
        dropped = len(refused)
        conn.execute("BEGIN IMMEDIATE")
        try:
            last = 0
            for start in range(0, len(accepted), INSERT_CHUNK_ROWS):
                chunk = accepted[start : start + INSERT_CHUNK_ROWS]
                cursor = conn.execute(
                    _insert_sql(len(chunk)), tuple(itertools.chain.from_iterable(chunk))
                )
                last = cursor.lastrowid or 0
            if refused:
                conn.executemany(_BUMP["dropped"], _hour_counts((r[0], r[1]) for r in refused))
            excess = self.count + len(accepted) - self.max_rows
            if excess > 0:  # drop_oldest
                first, cut = conn.execute(
                    "SELECT min(seq), max(seq) FROM (SELECT seq FROM rows ORDER BY seq LIMIT ?)",
                    (excess,),
                ).fetchone()
                conn.execute(_BUMP_DROPPED, (first, cut))
                dropped += conn.execute("DELETE FROM rows WHERE seq <= ?", (cut,)).rowcount
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:  # SQLite may have rolled back already (a full disk)
                conn.execute("ROLLBACK")
            raise
        self.count = min(self.count + len(accepted), self.max_rows)
        if not accepted or dropped:
            return Appended(None, dropped)
        # One transaction, one writer: the new rows got consecutive numbers.
        return Appended(Batch(last - len(accepted) + 1, last, accepted), 0)

    def oldest(self, limit: int, after: int = 0) -> Batch:
        """The ``limit`` oldest rows after sequence number ``after`` (none: an empty batch)."""
        conn = self.conn
        first, last = conn.execute(
            "SELECT min(seq), max(seq) FROM (SELECT seq FROM rows WHERE seq > ? ORDER BY seq "
            "LIMIT ?)",
            (after, limit),
        ).fetchone()
        if first is None:
            return Batch(after + 1, after, [])
        rows = conn.execute(
            "SELECT time, entity_id, value, text_value, quality, unit, attributes "
            "FROM rows WHERE seq BETWEEN ? AND ? ORDER BY seq",
            (first, last),
        ).fetchall()
        newest = conn.execute("SELECT max(seq) FROM rows").fetchone()[0]
        return Batch(first, last, rows, to_end=newest == last)

    def oldest_time(self) -> float | None:
        """The time of the oldest row held, or None when empty."""
        row = self.conn.execute("SELECT time FROM rows ORDER BY seq LIMIT 1").fetchone()
        return None if row is None else float(row[0])

    def remove_delivered(self, batch: Batch, replayed: bool) -> None:
        """Remove ``batch`` (committed centrally) and count it as delivered (and replayed)."""
        if not batch.rows:
            return
        conn = self.conn
        span = (batch.first, batch.last)
        conn.execute("BEGIN IMMEDIATE")
        try:
            # Counted from what is still held: rows the cap dropped meanwhile count as dropped.
            conn.execute(_BUMP_DELIVERED, (*span, replayed))
            removed = conn.execute("DELETE FROM rows WHERE seq BETWEEN ? AND ?", span).rowcount
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
        counts: dict[tuple[str, int], list[int]] = {}
        for entity_id, hour, delivered, replayed, dropped in self.conn.execute(
            "SELECT entity_id, hour, delivered, replayed, dropped "  # noqa: S608
            f"FROM completeness WHERE {clause}",
            params,
        ):
            counts[entity_id, hour] = [delivered, replayed, dropped, 0]
        for entity_id, hour, pending in self.conn.execute(
            f"SELECT entity_id, {_HOUR} AS hour, count(*) "  # noqa: S608
            f"FROM rows WHERE {clause} GROUP BY entity_id, hour",
            params,
        ):
            counts.setdefault((entity_id, hour), [0, 0, 0, 0])[3] = pending
        return [
            SeriesHour(e, float(h), d + x + p, d, r, x, p)
            for (e, h), (d, r, x, p) in sorted(counts.items())
        ]

    def file_bytes(self) -> int:
        """Bytes the buffer takes on disk (database and WAL)."""
        total = 0
        for suffix in ("", "-wal"):
            side = self.path.with_name(self.path.name + suffix)
            if side.exists():
                total += side.stat().st_size
        return total
