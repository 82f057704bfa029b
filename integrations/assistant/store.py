"""Sessions, messages and token use per user, in the integration's own SQLite file.

Every method is synchronous and short; callers run them with ``runtime.run_in_executor``.
A session belongs to one user: every read and write names the user, so nobody reaches another
user's conversation by guessing its id.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .const import MAX_SESSION_MESSAGES, MAX_SESSIONS_PER_USER

_SCHEMA = """
CREATE TABLE IF NOT EXISTS sessions (
    id TEXT PRIMARY KEY, user_id TEXT NOT NULL, title TEXT NOT NULL,
    created REAL NOT NULL, updated REAL NOT NULL);
CREATE INDEX IF NOT EXISTS sessions_user ON sessions (user_id, updated);
CREATE TABLE IF NOT EXISTS messages (
    id INTEGER PRIMARY KEY AUTOINCREMENT, session_id TEXT NOT NULL REFERENCES sessions (id)
    ON DELETE CASCADE, role TEXT NOT NULL, content TEXT NOT NULL, created REAL NOT NULL);
CREATE INDEX IF NOT EXISTS messages_session ON messages (session_id, id);
CREATE TABLE IF NOT EXISTS usage (
    user_id TEXT NOT NULL, day TEXT NOT NULL, input_tokens INTEGER NOT NULL DEFAULT 0,
    output_tokens INTEGER NOT NULL DEFAULT 0, cache_write_tokens INTEGER NOT NULL DEFAULT 0,
    cache_read_tokens INTEGER NOT NULL DEFAULT 0, cost REAL NOT NULL DEFAULT 0,
    turns INTEGER NOT NULL DEFAULT 0, PRIMARY KEY (user_id, day));
"""


@dataclass(frozen=True, slots=True)
class Usage:
    """Tokens of one or more model calls, and what they cost."""

    input_tokens: int = 0
    output_tokens: int = 0
    cache_write_tokens: int = 0
    cache_read_tokens: int = 0
    cost: float = 0.0

    @property
    def total(self) -> int:
        """Every token sent and received."""
        return (
            self.input_tokens
            + self.output_tokens
            + self.cache_write_tokens
            + self.cache_read_tokens
        )

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            self.input_tokens + other.input_tokens,
            self.output_tokens + other.output_tokens,
            self.cache_write_tokens + other.cache_write_tokens,
            self.cache_read_tokens + other.cache_read_tokens,
            self.cost + other.cost,
        )

    def as_dict(self) -> dict[str, Any]:
        """The JSON form."""
        return {
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "cache_write_tokens": self.cache_write_tokens,
            "cache_read_tokens": self.cache_read_tokens,
            "total_tokens": self.total,
            "cost": round(self.cost, 6),
        }


class SessionNotFound(KeyError):
    """No session of that id belongs to the user."""


class ConversationStore:
    """The SQLite file of sessions, messages and usage."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None

    def _db(self) -> sqlite3.Connection:
        if self._conn is None:
            conn = sqlite3.connect(self._path, check_same_thread=False, isolation_level=None)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA foreign_keys=ON")
            conn.executescript(_SCHEMA)
            self._conn = conn
        return self._conn

    def close(self) -> None:
        """Close the file."""
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    # --- sessions ------------------------------------------------------------------------------

    def create_session(self, user_id: str, title: str) -> str:
        """A new session of ``user_id``; its id."""
        session_id = uuid.uuid4().hex
        now = time.time()
        with self._lock:
            db = self._db()
            db.execute(
                "INSERT INTO sessions VALUES (?, ?, ?, ?, ?)",
                (session_id, user_id, title[:80], now, now),
            )
            old = db.execute(
                "SELECT id FROM sessions WHERE user_id = ? ORDER BY updated DESC LIMIT -1 OFFSET ?",
                (user_id, MAX_SESSIONS_PER_USER),
            ).fetchall()
            for (old_id,) in old:
                db.execute("DELETE FROM messages WHERE session_id = ?", (old_id,))
                db.execute("DELETE FROM sessions WHERE id = ?", (old_id,))
        return session_id

    def list_sessions(self, user_id: str) -> list[dict[str, Any]]:
        """The user's sessions, newest first."""
        with self._lock:
            rows = (
                self._db()
                .execute(
                    "SELECT s.id, s.title, s.created, s.updated, COUNT(m.id) FROM sessions s "
                    "LEFT JOIN messages m ON m.session_id = s.id WHERE s.user_id = ? "
                    "GROUP BY s.id ORDER BY s.updated DESC",
                    (user_id,),
                )
                .fetchall()
            )
        return [
            {"id": r[0], "title": r[1], "created": r[2], "updated": r[3], "messages": r[4]}
            for r in rows
        ]

    def _check(self, user_id: str, session_id: str) -> None:
        row = (
            self._db()
            .execute("SELECT 1 FROM sessions WHERE id = ? AND user_id = ?", (session_id, user_id))
            .fetchone()
        )
        if row is None:
            raise SessionNotFound(session_id)

    def messages(self, user_id: str, session_id: str) -> list[dict[str, Any]]:
        """The session's messages in the Messages API's form (``role``, ``content``).

        Raises:
            SessionNotFound: the user has no such session.
        """
        with self._lock:
            self._check(user_id, session_id)
            rows = (
                self._db()
                .execute(
                    "SELECT role, content FROM messages WHERE session_id = ? ORDER BY id",
                    (session_id,),
                )
                .fetchall()
            )
        return [{"role": role, "content": json.loads(content)} for role, content in rows]

    def append(self, user_id: str, session_id: str, messages: list[dict[str, Any]]) -> None:
        """Add messages to the session, dropping the oldest past the cap.

        Raises:
            SessionNotFound: the user has no such session.
        """
        now = time.time()
        with self._lock:
            db = self._db()
            self._check(user_id, session_id)
            db.executemany(
                "INSERT INTO messages (session_id, role, content, created) VALUES (?, ?, ?, ?)",
                [(session_id, m["role"], json.dumps(m["content"]), now) for m in messages],
            )
            db.execute(
                "DELETE FROM messages WHERE session_id = ? AND id NOT IN (SELECT id FROM messages "
                "WHERE session_id = ? ORDER BY id DESC LIMIT ?)",
                (session_id, session_id, MAX_SESSION_MESSAGES),
            )
            db.execute("UPDATE sessions SET updated = ? WHERE id = ?", (now, session_id))

    def delete_session(self, user_id: str, session_id: str) -> None:
        """Delete the session and its messages.

        Raises:
            SessionNotFound: the user has no such session.
        """
        with self._lock:
            self._check(user_id, session_id)
            db = self._db()
            db.execute("DELETE FROM messages WHERE session_id = ?", (session_id,))
            db.execute("DELETE FROM sessions WHERE id = ?", (session_id,))

    # --- usage ---------------------------------------------------------------------------------

    def add_usage(self, user_id: str, day: str, usage: Usage) -> None:
        """Count ``usage`` (one turn) to the user's ``day``."""
        with self._lock:
            self._db().execute(
                "INSERT INTO usage VALUES (?, ?, ?, ?, ?, ?, ?, 1) ON CONFLICT (user_id, day) DO "
                "UPDATE SET input_tokens = input_tokens + excluded.input_tokens, "
                "output_tokens = output_tokens + excluded.output_tokens, "
                "cache_write_tokens = cache_write_tokens + excluded.cache_write_tokens, "
                "cache_read_tokens = cache_read_tokens + excluded.cache_read_tokens, "
                "cost = cost + excluded.cost, turns = turns + 1",
                (
                    user_id, day, usage.input_tokens, usage.output_tokens,
                    usage.cache_write_tokens, usage.cache_read_tokens, usage.cost,
                ),
            )  # fmt: skip

    def usage(self, user_id: str, day: str) -> tuple[Usage, int]:
        """The user's usage on ``day`` and the number of turns."""
        with self._lock:
            row = (
                self._db()
                .execute(
                    "SELECT input_tokens, output_tokens, cache_write_tokens, cache_read_tokens, "
                    "cost, "
                    "turns FROM usage WHERE user_id = ? AND day = ?",
                    (user_id, day),
                )
                .fetchone()
            )
        if row is None:
            return Usage(), 0
        return Usage(row[0], row[1], row[2], row[3], row[4]), row[5]
