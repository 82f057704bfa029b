"""Failed-login rate limiting: too many failures from one address ban it for a while.

What counts: a wrong password, a spent or unknown authorisation code, a refresh token or bearer
token the server never issued, a login flow started beyond the per-address limit. What does
not: a token the server did issue that has since expired or been revoked (an open tab retrying
after a restart or a logout), health checks, and anything done with a valid token. A banned
address may still use a valid token; it may not try a password.

Password checks are *reserved* before the (slow, off-loop) hash is verified, so that parallel
guesses are counted while they run: an address may have at most ``threshold`` failures and
attempts in flight together.
"""

from __future__ import annotations

import logging
from collections import deque

from core.clock import Clock, SystemClock

_LOGGER = logging.getLogger(__name__)

#: Addresses whose failures are remembered; past it the oldest half is forgotten.
MAX_TRACKED_ADDRESSES = 10_000


class LoginGuard:
    """Counts failed logins per address and bans an address that fails too often.

    ``threshold`` failures within ``window`` seconds ban the address for ``ban_seconds``. The ban
    is temporary and in memory: a restart lifts it. A successful login does not clear the
    count (an attacker who knows one password must not reset it). Runs on the loop; reads the
    time from ``clock`` (the runtime's, so a test moves a ``FakeClock`` to lift a ban).
    """

    def __init__(
        self,
        threshold: int,
        ban_seconds: float,
        window: float = 600.0,
        *,
        clock: Clock | None = None,
    ) -> None:
        self.threshold = threshold
        self.ban_seconds = ban_seconds
        self.window = window
        self._clock: Clock = clock if clock is not None else SystemClock()
        self._failures: dict[str, deque[float]] = {}
        self._pending: dict[str, int] = {}
        self._banned_until: dict[str, float] = {}

    def banned_for(self, address: str) -> float:
        """Seconds the address is still banned for (0 when it is not)."""
        until = self._banned_until.get(address)
        if until is None:
            return 0.0
        left = until - self._clock.monotonic()
        if left <= 0:
            del self._banned_until[address]
            return 0.0
        return left

    def failures(self, address: str) -> int:
        """Failures counted against ``address`` within the window."""
        return len(self._recent(address))

    def _recent(self, address: str, *, create: bool = False) -> deque[float]:
        """The address's failures within the window (a new deque, unstored, when it has none)."""
        now = self._clock.monotonic()
        failures = self._failures.get(address)
        if failures is None:
            failures = deque()
            if create:
                self._failures[address] = failures
            return failures
        while failures and failures[0] < now - self.window:
            failures.popleft()
        return failures

    def reserve(self, address: str) -> bool:
        """Reserve one attempt at a secret (a password) before checking it.

        False when the address is banned, or when its recent failures plus the attempts it
        has in flight already reach the threshold: the caller refuses without checking. A
        reservation is ended by ``release``.
        """
        if self.banned_for(address) > 0:
            return False
        pending = self._pending.get(address, 0)
        if len(self._recent(address)) + pending >= self.threshold:
            return False
        self._pending[address] = pending + 1
        return True

    def release(self, address: str, *, failed: bool, what: str = "login") -> None:
        """End a reservation: ``failed`` records the failure (and may ban)."""
        left = self._pending.get(address, 0) - 1
        if left > 0:
            self._pending[address] = left
        else:
            self._pending.pop(address, None)
        if failed:
            self.failed(address, what)

    def failed(self, address: str, what: str) -> None:
        """Record a failed login (or a token never issued) from ``address``."""
        now = self._clock.monotonic()
        failures = self._recent(address, create=True)
        failures.append(now)
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
        if len(self._failures) > MAX_TRACKED_ADDRESSES:
            # A scan from many addresses: keep memory bounded, forget the oldest.
            for key in list(self._failures)[: MAX_TRACKED_ADDRESSES // 2]:
                del self._failures[key]
