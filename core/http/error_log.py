"""The recent warnings and errors, kept in memory for ``GET /api/error_log``."""

from __future__ import annotations

import logging
from collections import deque

#: Records kept; older ones are dropped.
MAX_RECORDS = 500


class ErrorLogHandler(logging.Handler):
    """Keeps the last ``MAX_RECORDS`` formatted records of level WARNING and above."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.setFormatter(
            logging.Formatter("%(asctime)s %(levelname)s (%(threadName)s) [%(name)s] %(message)s")
        )
        self._lines: deque[str] = deque(maxlen=MAX_RECORDS)
        self.installed = False

    def emit(self, record: logging.LogRecord) -> None:
        """Format and keep one record."""
        try:
            self._lines.append(self.format(record))
        except Exception:  # logging must never raise into the caller
            self.handleError(record)

    def text(self) -> str:
        """Every kept line, oldest first."""
        return "\n".join(self._lines) + ("\n" if self._lines else "")

    def install(self) -> None:
        """Attach to the root logger (once per process)."""
        if not self.installed:
            logging.getLogger().addHandler(self)
            self.installed = True


ERROR_LOG = ErrorLogHandler()
