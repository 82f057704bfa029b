"""Failed-login rate limiting: too many failures from one address ban it for a while."""

from __future__ import annotations

import logging
import time
from collections import deque

_LOGGER = logging.getLogger(__name__)


class LoginGuard:
    """Counts failed logins per address and bans an address that fails too often.

    ``threshold`` failures within ``window`` seconds ban the address for ``ban_seconds``. The ban
    is temporary and in memory: a restart lifts it. A successful login does not clear the
    count (an attacker who knows one password must not reset it). Runs on the loop.
    """

    def __init__(self, threshold: int, ban_seconds: float, window: float = 600.0) -> None:
        self.threshold = threshold
        self.ban_seconds = ban_seconds
        self.window = window
        self._failures: dict[str, deque[float]] = {}
        self._banned_until: dict[str, float] = {}

    def banned_for(self, address: str) -> float:
        """Seconds the address is still banned for (0 when it is not)."""
        until = self._banned_until.get(address)
        if until is None:
            return 0.0
        left = until - time.monotonic()
        if left <= 0:
            del self._banned_until[address]
            return 0.0
        return left

    def failed(self, address: str, what: str) -> None:
        """Record a failed login (or a wrong token) from ``address``."""
        now = time.monotonic()
        failures = self._failures.setdefault(address, deque())
        failures.append(now)
        while failures and failures[0] < now - self.window:
            failures.popleft()
        _LOGGER.warning("Failed %s from %s (%d in a row)", what, address, len(failures))
        if len(failures) >= self.threshold and self.ban_seconds > 0:
            self._banned_until[address] = now + self.ban_seconds
            failures.clear()
            _LOGGER.warning(
                "Banned %s for %g s after %d failed logins",
                address,
                self.ban_seconds,
                self.threshold,
            )
        if len(self._failures) > 10_000:
            # A scan from many addresses: keep memory bounded, forget the oldest.
            for key in list(self._failures)[:5000]:
                del self._failures[key]
