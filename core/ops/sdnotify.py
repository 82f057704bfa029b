"""systemd's readiness and watchdog protocol (``sd_notify``) over ``NOTIFY_SOCKET``.

systemd passes a ``Type=notify`` service the path of a datagram socket in ``NOTIFY_SOCKET``
(``@`` for Linux's abstract namespace); the service sends newline-separated ``KEY=VALUE``
assignments to it: ``READY=1`` once started, ``WATCHDOG=1`` at least every ``WATCHDOG_USEC``
microseconds while healthy, ``STOPPING=1`` when it shuts down. Outside systemd nothing is sent.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Mapping

_LOGGER = logging.getLogger(__name__)


class SystemdNotifier:
    """Sends state assignments to systemd's notification socket, if there is one."""

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        env = os.environ if environ is None else environ
        address = env.get("NOTIFY_SOCKET", "")
        self._address = "\0" + address[1:] if address.startswith("@") else address
        self._socket: socket.socket | None = None
        self.watchdog_interval_s = _watchdog_interval(env)

    @property
    def enabled(self) -> bool:
        """Whether systemd asked for notifications."""
        return bool(self._address)

    def notify(self, *assignments: str) -> bool:
        """Send ``assignments`` (e.g. ``"READY=1"``) as one datagram; False if not sent.

        A failure is logged, never raised: the service keeps running without systemd's view.
        """
        if not self._address:
            return False
        try:
            if self._socket is None:
                sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
                sock.setblocking(False)
                self._socket = sock
            self._socket.sendto("\n".join(assignments).encode(), self._address)
        except OSError as err:
            _LOGGER.warning("Cannot notify systemd (%s): %s", " ".join(assignments), err)
            return False
        return True

    def close(self) -> None:
        """Close the socket."""
        if self._socket is not None:
            self._socket.close()
            self._socket = None


def _watchdog_interval(env: Mapping[str, str]) -> float | None:
    """Seconds between watchdog pings (half of ``WATCHDOG_USEC``), or None without a watchdog.

    ``WATCHDOG_PID``, when set, must be this process: the variables may be inherited.
    """
    usec = env.get("WATCHDOG_USEC")
    pid = env.get("WATCHDOG_PID")
    if not usec or (pid and pid != str(os.getpid())):
        return None
    try:
        value = int(usec)
    except ValueError:
        _LOGGER.warning("WATCHDOG_USEC is not a number: %r", usec)
        return None
    return value / 2e6 if value > 0 else None
