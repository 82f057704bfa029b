"""Typed errors of the historian's read-only sources."""

from __future__ import annotations

from core.errors import EdgewiseError


class SourceError(EdgewiseError):
    """A read-only source query failed (connection, syntax, timeout); the message says which."""

    def __init__(self, message: str, *, source: str) -> None:
        super().__init__(message)
        self.source = source


class SourceWriteError(SourceError):
    """A source query tried to write: sources are read-only by construction."""
