"""Prometheus metrics of one runtime, served at ``/metrics``; integrations add their own.

Each runtime has its own ``CollectorRegistry`` (tests run several runtimes in one process). An
integration asks for a metric by name; asking twice returns the same object, so setup may run
again after a reload::

    from core.metrics import get_metrics

    polls = get_metrics(runtime).histogram(
        "modbus_poll_seconds", "Time to poll one Modbus hub", ["hub"]
    )
    with polls.labels(hub="plant").time():
        await hub.poll()

Names should start with the integration's domain; the kernel's start with ``edgewise_``.
Labels must have few values (a hub, a route), never an entity id per sample on a big site.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, TypeVar

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

_LOGGER = logging.getLogger(__name__)

if TYPE_CHECKING:
    from .runtime import Runtime

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

_M = TypeVar("_M", Counter, Gauge, Histogram)


class _ValueCollector(Collector):
    """Metrics whose value is read from a function when ``/metrics`` is scraped."""

    def __init__(self) -> None:
        self._readers: list[tuple[str, str, bool, Callable[[], float]]] = []

    def add(self, name: str, documentation: str, counter: bool, read: Callable[[], float]) -> None:
        self._readers.append((name, documentation, counter, read))

    def collect(self) -> Iterator[Metric]:
        for name, documentation, counter, read in self._readers:
            try:
                value = float(read())
            except Exception:  # a failing reader must not break the whole page
                _LOGGER.exception("Cannot read metric %s", name)
                continue
            if counter:
                yield CounterMetricFamily(name, documentation, value=value)
            else:
                yield GaugeMetricFamily(name, documentation, value=value)


class Metrics:
    """The metrics of one runtime. Create metrics through it, never on the global registry."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self._metrics: dict[str, Counter | Gauge | Histogram] = {}
        self._values = _ValueCollector()
        self.registry.register(self._values)
        self._value_names: set[str] = set()

    def _get(self, kind: type[_M], name: str, make: Callable[[], _M]) -> _M:
        existing = self._metrics.get(name)
        if existing is not None:
            if not isinstance(existing, kind):
                raise ValueError(f"Metric {name} exists as a {type(existing).__name__}")
            return existing
        metric = make()
        self._metrics[name] = metric
        return metric

    def counter(self, name: str, documentation: str, labels: Sequence[str] = ()) -> Counter:
        """A counter (``name`` without ``_total``; Prometheus adds it)."""
        return self._get(
            Counter,
            name,
            lambda: Counter(name, documentation, list(labels), registry=self.registry),
        )

    def gauge(self, name: str, documentation: str, labels: Sequence[str] = ()) -> Gauge:
        """A gauge: a value that goes up and down."""
        return self._get(
            Gauge, name, lambda: Gauge(name, documentation, list(labels), registry=self.registry)
        )

    def histogram(
        self,
        name: str,
        documentation: str,
        labels: Sequence[str] = (),
        buckets: Iterable[float] | None = None,
    ) -> Histogram:
        """A histogram of durations or sizes (seconds and bytes, as Prometheus prefers)."""
        chosen = Histogram.DEFAULT_BUCKETS if buckets is None else tuple(buckets)
        return self._get(
            Histogram,
            name,
            lambda: Histogram(
                name, documentation, list(labels), registry=self.registry, buckets=chosen
            ),
        )

    def value(
        self, name: str, documentation: str, read: Callable[[], float], *, counter: bool = False
    ) -> None:
        """A metric read from ``read()`` at scrape time (a queue's length, a running count).

        Adding a name twice keeps the first reader.
        """
        if name in self._value_names:
            return
        self._value_names.add(name)
        self._values.add(name, documentation, counter, read)

    def render(self) -> bytes:
        """The Prometheus text exposition of every metric."""
        return generate_latest(self.registry)


def get_metrics(runtime: Runtime) -> Metrics:
    """The runtime's metrics (the same as ``runtime.metrics``)."""
    return runtime.metrics
