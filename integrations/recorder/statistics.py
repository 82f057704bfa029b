"""Long-term statistics: 5-minute and hourly mean/min/max and sums of numeric sensors.

Home Assistant's semantics, compiled from the ``states`` table:

* An entity takes part when its recorded attributes carry ``state_class`` ``measurement``,
  ``total`` or ``total_increasing`` and its state is a finite number; ``unknown``,
  ``unavailable`` and other non-numbers are left out (the previous number carries on).
* ``measurement``: a time-weighted mean over the 5-minute period (each value weighted by how long
  it held, the value carried in from before the period included), min and max.
* ``total`` / ``total_increasing``: ``state`` is the last value and ``sum`` grows by the change
  of the value, summed over meter cycles. The first value ever seen is the zero point. A new
  cycle starts from 0: for ``total`` when the ``last_reset`` attribute changes, for
  ``total_increasing`` when the value drops below 90 % of the previous one. A smaller dip is no
  new cycle (Home Assistant's rule, against meters that jitter): the sum follows the value down
  and back up, so a dip that recovers nets to nothing. Negative ``total_increasing`` values are
  skipped.
* When a period completes an hour (UTC), the hourly row is made from that hour's 5-minute rows:
  mean of means, min of mins, max of maxes, state/sum/last_reset of the last one.

Each compiled period is noted in ``statistics_runs``, so compiling is idempotent and a restart
catches up on the periods it missed (at most ``MAX_CATCH_UP`` back). Statistics are never purged
here; the purge removes 5-minute rows older than ``purge_keep_days``.

This module is the light part that the integration's setup imports: the constants and types,
the ``recorder.get_statistics`` service and the 5-minute compile job. The SQL lives in
``statistics_compile.py`` (compiling, imported by the job's first run) and
``statistics_query.py`` (``statistics_during_period``, imported by the service's first call);
unit conversion is in ``units.py``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager, suppress
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Final, Literal, Protocol, TypedDict, cast, get_args

import voluptuous as vol

from core.errors import ServiceValidationError
from core.services import ServiceCall, ServiceResponse, SupportsResponse

from .const import DOMAIN
from .units import units_schema

if TYPE_CHECKING:
    from core.runtime import Runtime

    from .sql import Connection

_LOGGER = logging.getLogger(__name__)

SOURCE: Final = "recorder"
SERVICE_GET_STATISTICS: Final = "get_statistics"

SHORT_TERM_PERIOD: Final = timedelta(minutes=5)
HOUR: Final = timedelta(hours=1)
#: How far back a (re)start compiles missed periods.
MAX_CATCH_UP: Final = timedelta(days=10)
#: The compile job runs this long after each 5-minute boundary, once the period's states are in.
COMPILE_DELAY: Final = timedelta(seconds=10)
#: Longest wait for the recorder to commit its queue before a compile.
FLUSH_TIMEOUT: Final = 30.0
#: A ``total_increasing`` value below this share of the previous one starts a new meter cycle.
RESET_DROP_RATIO: Final = 0.9

ATTR_STATE_CLASS: Final = "state_class"
ATTR_UNIT_OF_MEASUREMENT: Final = "unit_of_measurement"
ATTR_FRIENDLY_NAME: Final = "friendly_name"
ATTR_LAST_RESET: Final = "last_reset"

Period = Literal["5minute", "hour", "day", "week", "month", "year"]
StatisticType = Literal["mean", "min", "max", "state", "sum", "last_reset", "change"]
PERIODS: Final[tuple[str, ...]] = get_args(Period)
STATISTIC_TYPES: Final[frozenset[str]] = frozenset(get_args(StatisticType))


class StatisticsRecorder(Protocol):
    """What statistics need of the recorder (``core.Recorder`` fits; tests may use a stand-in)."""

    @property
    def runtime(self) -> Runtime:
        """The runtime the recorder belongs to (clock, time zone, scheduler, services)."""

    def connect(self) -> AbstractAsyncContextManager[Connection]:
        """A connection for reads (``sql.py``), once the database is open."""

    @property
    def database_ready(self) -> bool:
        """Whether the database is open (a recorder that gave up is not)."""

    async def flush(self) -> None:
        """Commit everything queued so far."""

    def write_transaction(self) -> AbstractAsyncContextManager[Connection]:
        """A transaction that takes turns with the recorder's own writes; commits on exit."""

    def is_duplicate(self, err: BaseException) -> bool:
        """Whether ``err`` is a unique-constraint violation of the recorder's database."""


class StatisticsRow(TypedDict, total=False):
    """One period of one statistic, as ``statistics_during_period`` returns it (POSIX times)."""

    start: float
    end: float
    mean: float | None
    min: float | None
    max: float | None
    last_reset: float | None
    state: float | None
    sum: float | None
    change: float | None


# --- time helpers ---------------------------------------------------------------------------------


def aware_utc(when: datetime, what: str) -> datetime:
    """``when`` in UTC.

    Raises:
        ValueError: ``when`` is naive (``what`` names it in the message).
    """
    if when.tzinfo is None or when.utcoffset() is None:
        raise ValueError(f"{what} must be an aware datetime, got naive {when!r}")
    return when.astimezone(UTC)


def short_term_period_start(when: datetime) -> datetime:
    """The start (UTC) of the 5-minute period ``when`` falls in.

    Raises:
        ValueError: ``when`` is naive.
    """
    when = aware_utc(when, "when")
    return when.replace(minute=when.minute - when.minute % 5, second=0, microsecond=0)


def utc_from_timestamp(ts: float) -> datetime:
    """The aware UTC datetime of a POSIX time."""
    return datetime.fromtimestamp(ts, UTC)


# --- the service and the compile job ------------------------------------------------------------


def _datetime(value: object) -> datetime:
    """A datetime or ISO 8601 text (naive is local time, resolved by the handler)."""
    when: datetime | None = value if isinstance(value, datetime) else None
    if isinstance(value, str):
        with suppress(ValueError):
            when = datetime.fromisoformat(value)
    if when is None:
        raise vol.Invalid(f"expected a date and time (ISO 8601), got {value!r}")
    from .util import query_time_error  # noqa: PLC0415 - loads with the first query

    # Naive times are local: checked here in UTC, give or take the site's offset.
    if (problem := query_time_error(when.replace(tzinfo=when.tzinfo or UTC), "time")) is not None:
        raise vol.Invalid(problem)
    return when


def _id_list(value: object) -> list[str]:
    items = [part.strip() for part in value.split(",")] if isinstance(value, str) else value
    if not isinstance(items, list) or not items or not all(isinstance(i, str) and i for i in items):
        raise vol.Invalid("expected a non-empty list of statistic ids")
    return items


def _type_list(value: object) -> list[str]:
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not items:
        raise vol.Invalid("expected a non-empty list of statistic types")
    for item in items:
        if item not in STATISTIC_TYPES:
            raise vol.Invalid(
                f"unknown statistic type {item!r}; expected one of {sorted(STATISTIC_TYPES)}"
            )
    return items


GET_STATISTICS_SCHEMA: Final = vol.Schema(
    {
        vol.Required("statistic_ids"): _id_list,
        vol.Required("start_time"): _datetime,
        vol.Optional("end_time"): _datetime,
        vol.Required("period"): vol.In(PERIODS),
        vol.Optional("types"): _type_list,
        vol.Optional("units"): units_schema,
    }
)


def _iso(ts: float | None) -> str | None:
    return None if ts is None else utc_from_timestamp(ts).isoformat()


#: Seconds a cancelled compile run may take to let go of the database at shutdown.
STOP_TIMEOUT = 10.0


class _StatisticsJob:
    """Compiles missed periods, one run at a time, and logs a failing database once."""

    def __init__(self, recorder: StatisticsRecorder) -> None:
        self._recorder = recorder
        self._lock = asyncio.Lock()
        self._failing = False
        self._running: set[asyncio.Task[Any]] = set()

    async def run(self, _due: datetime | None = None) -> None:
        """Flush the recorder, then compile every complete period not compiled yet."""
        task = asyncio.current_task()
        if task is not None:
            self._running.add(task)
            task.add_done_callback(self._running.discard)
        async with self._lock:
            try:
                async with asyncio.timeout(FLUSH_TIMEOUT):
                    await self._recorder.flush()
                if not self._recorder.database_ready:
                    _LOGGER.debug("Statistics not compiled: the recorder database is not open")
                    return
                # Loaded with the first run: nothing a site that never compiles needs.
                from .statistics_compile import compile_missing_statistics  # noqa: PLC0415

                await compile_missing_statistics(self._recorder, self._recorder.runtime.clock.now())
            except Exception as err:  # isolation boundary: the next period retries
                if not self._failing:
                    _LOGGER.warning(
                        "Compiling statistics failed (retried every 5 minutes): %s", err
                    )
                    self._failing = True
                else:
                    _LOGGER.debug("Compiling statistics failed again: %s", err)
                return
            if self._failing:
                _LOGGER.info("Compiling statistics works again")
                self._failing = False

    async def stop(self) -> None:
        """Cancel the runs in progress and wait until they have let go of the database.

        The recorder closes its connections next: a run cancelled in the middle of a query must
        have finished unwinding (returning or closing its connection) before that.
        """
        running = [task for task in self._running if not task.done()]
        for task in running:
            task.cancel()
        if running:
            _, still = await asyncio.wait(running, timeout=STOP_TIMEOUT)
            if still:
                _LOGGER.warning("Statistics compilation still running at shutdown")

    async def get_statistics(self, call: ServiceCall) -> ServiceResponse:
        """``recorder.get_statistics``: ``{"statistics": {id: [row with ISO times]}}``."""
        tz = self._recorder.runtime.core.tzinfo

        def local(when: datetime) -> datetime:
            return when if when.tzinfo is not None else when.replace(tzinfo=tz)

        data = call.data
        start = local(data["start_time"])
        end = local(data["end_time"]) if "end_time" in data else None
        if end is not None and end <= start:
            raise ServiceValidationError(
                "end_time must be after start_time", domain=DOMAIN, service=SERVICE_GET_STATISTICS,
                key="end_time",
            )  # fmt: skip
        types = cast(list[StatisticType] | None, data.get("types"))
        if not self._recorder.database_ready:
            raise ServiceValidationError(
                "the recorder database is not open yet", domain=DOMAIN,
                service=SERVICE_GET_STATISTICS,
            )  # fmt: skip
        from .statistics_query import statistics_during_period  # noqa: PLC0415 - on first use

        stats = await statistics_during_period(
            self._recorder, start, end, data["statistic_ids"], cast(Period, data["period"]),
            units=data.get("units"), types=types,
        )  # fmt: skip
        response: dict[str, list[dict[str, Any]]] = {}
        for statistic_id, rows in stats.items():
            out = []
            for row in rows:
                item: dict[str, Any] = dict(row)
                item["start"], item["end"] = _iso(row["start"]), _iso(row["end"])
                if "last_reset" in item:
                    item["last_reset"] = _iso(row.get("last_reset"))
                out.append(item)
            response[statistic_id] = out
        return {"statistics": response}


def setup_statistics(
    runtime: Runtime, recorder: StatisticsRecorder
) -> Callable[[], Awaitable[None]]:
    """Register ``recorder.get_statistics`` and compile every 5 minutes (+10 s), catching up now.

    Call on the loop once the recorder has started. Returns the coroutine function that undoes
    it all: cancels the job and any run in progress (waiting for it to unwind), and removes the
    service. Await it before the recorder stops.

    Raises:
        NotStartedError: the runtime has no scheduler (it has not started).
    """
    scheduler = runtime.scheduler
    job = _StatisticsJob(recorder)
    runtime.services.register(
        DOMAIN,
        SERVICE_GET_STATISTICS,
        job.get_statistics,
        GET_STATISTICS_SCHEMA,
        supports_response=SupportsResponse.ONLY,
        description="Long-term statistics (mean, min, max, state, sum, change) of sensors.",
    )
    anchor = short_term_period_start(runtime.clock.now()) + COMPILE_DELAY
    cancel_job = scheduler.every(
        SHORT_TERM_PERIOD, job.run, name="recorder.statistics", start=anchor
    )
    runtime.create_task(job.run(), name="recorder.statistics.catch_up")

    async def stop() -> None:
        cancel_job()
        await job.stop()
        if runtime.services.has(DOMAIN, SERVICE_GET_STATISTICS):
            runtime.services.remove(DOMAIN, SERVICE_GET_STATISTICS)

    return stop
