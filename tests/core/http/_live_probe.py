"""A thread that keeps asking a server's ``/live`` and notes how long each answer took.

The server's event loop answers ``/live``; while a template renders on that loop, the probe's
request waits. The worst wait is how long the loop was held. The probe runs in its own thread
with a blocking client, so it measures the server's loop, not its own.
"""

from __future__ import annotations

import asyncio
import http.client
import threading
import time
from types import TracebackType
from urllib.parse import urlsplit


class LiveProbe:
    """``[async] with LiveProbe(url) as probe: ...``, then ``probe.worst`` (seconds)."""

    def __init__(self, url: str, interval: float = 0.005) -> None:
        """Probe ``url``'s ``/live`` every ``interval`` seconds once entered."""
        parts = urlsplit(url)
        self._host = parts.hostname or "127.0.0.1"
        self._port = parts.port or 80
        self._interval = interval
        self._stop = threading.Event()
        self._first = threading.Event()
        self._thread = threading.Thread(target=self._run, name="live-probe", daemon=True)
        self.latencies: list[float] = []
        #: When each answered request was sent (``perf_counter``), in the order of ``latencies``.
        self.sent: list[float] = []
        self.failures: list[str] = []

    @property
    def worst(self) -> float:
        """The longest answer, in seconds."""
        return max(self.latencies, default=0.0)

    def slower_than(self, seconds: float) -> list[float]:
        """The answers that took longer than ``seconds``.

        A loop held for a while delays one request (the probe waits for it), so this counts
        the times the loop was held, however long each was.
        """
        return [latency for latency in self.latencies if latency > seconds]

    @property
    def worst_window(self) -> tuple[float, float]:
        """When the longest wait began and ended (``perf_counter``)."""
        if not self.latencies:
            return (0.0, 0.0)
        index = self.latencies.index(self.worst)
        return (self.sent[index], self.sent[index] + self.latencies[index])

    @property
    def answers(self) -> int:
        """How many answers arrived."""
        return len(self.latencies)

    def _run(self) -> None:
        connection = http.client.HTTPConnection(self._host, self._port, timeout=10)
        try:
            while not self._stop.is_set():
                started = time.perf_counter()
                try:
                    connection.request("GET", "/live")
                    response = connection.getresponse()
                    response.read()
                except OSError as err:  # pragma: no cover - reported by the test
                    self.failures.append(repr(err))
                    connection.close()
                    connection = http.client.HTTPConnection(self._host, self._port, timeout=10)
                else:
                    if response.status != 200:
                        self.failures.append(f"status {response.status}")
                    self.sent.append(started)
                    self.latencies.append(time.perf_counter() - started)
                self._first.set()
                self._stop.wait(self._interval)
        finally:
            connection.close()

    def __enter__(self) -> LiveProbe:
        """Probe a server that runs on another thread's loop (blocks until the first answer)."""
        self._thread.start()
        self._first.wait(20)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._stop.set()
        self._thread.join(timeout=20)

    async def __aenter__(self) -> LiveProbe:
        """Probe a server that may run on this loop (waits without blocking it)."""
        self._thread.start()
        async with asyncio.timeout(20):
            while not self._first.is_set():  # noqa: ASYNC110 - a thread sets it
                await asyncio.sleep(0.005)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        # The server may run on this very loop: wait for the thread without blocking it.
        self._stop.set()
        async with asyncio.timeout(20):
            while self._thread.is_alive():  # noqa: ASYNC110 - a thread ends
                await asyncio.sleep(0.005)
