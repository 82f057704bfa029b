"""The runtime: one event loop, one bus, one state machine, and the integrations around them.

Start-up runs in named stages (configuration, core, http, integrations, started); shutdown runs
them in reverse, each bounded by a named timeout, and logs what was still running when a timeout
expired.
"""

from __future__ import annotations

import asyncio
import dataclasses
import gc
import logging
import os
import time
from collections.abc import Awaitable, Callable, Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Generic, TypeVar, cast

from .bus import EventBus
from .clock import Clock, SystemClock
from .config import CoreConfig, LoadedConfig, load_site_config
from .const import (
    EVENT_EDGEWISE_CLOSE,
    EVENT_EDGEWISE_FINAL_WRITE,
    EVENT_EDGEWISE_START,
    EVENT_EDGEWISE_STARTED,
    EVENT_EDGEWISE_STOP,
    CoreState,
)
from .core_sections import CONF_HTTP, CONF_LOGGER, CORE_SECTIONS, HttpConfig, LoggerConfig
from .device_registry import AreaRegistry, DeviceRegistry
from .entity_registry import EntityRegistry
from .errors import IntegrationError, NotStartedError
from .floor_label_registry import FloorRegistry, LabelRegistry
from .http import HttpServer
from .http.registry import ApiRegistry
from .http.ws_commands import KERNEL_COMMANDS
from .integration import IntegrationStatus
from .logbook import LogbookDescriptions
from .metrics import Metrics
from .notifications import STORAGE_KEY as NOTIFICATIONS_STORAGE_KEY
from .notifications import STORAGE_VERSION as NOTIFICATIONS_VERSION
from .notifications import Notifications
from .plugins import IntegrationLoader, setup_order
from .registrations import Registrations
from .schedules import ScheduledJob, ScheduleStore
from .services import ServiceRegistry
from .state import StateMachine
from .storage import JsonStore
from .timers import Scheduler

_LOGGER = logging.getLogger(__name__)

#: Statuses of an integration that should run but could not be set up (configuration errors
#: are reported as the configuration's issues).
_SETUP_FAILURES = frozenset({IntegrationStatus.SETUP_ERROR, IntegrationStatus.DEPENDENCY_FAILED})

_T = TypeVar("_T")

#: Statuses of an integration whose setup succeeded and that has not been stopped yet.
_STOPPABLE = frozenset({IntegrationStatus.RUNNING, IntegrationStatus.FAILED})

#: Seconds each integration's ``edgewise_started`` may take (it should only start tasks).
STARTED_TIMEOUT = 10.0

#: Seconds each shutdown stage may take before the runtime logs what is left and goes on.
STOP_TIMEOUTS: dict[str, float] = {
    "stop_event": 10.0,
    "integrations": 30.0,
    "tasks": 10.0,
    "final_write": 30.0,
    "http": 5.0,
    "executor": 10.0,
}


#: Allocations between young-generation collections. CPython's default (700) makes a busy bus
#: spend a large share of its time in the cyclic collector although almost all of its objects
#: (events, states, contexts) are freed by reference counting, not by the collector.
GC_THRESHOLDS = (20_000, 20, 20)


def tune_gc() -> None:
    """Set the collector's thresholds for an event-heavy, long-running process.

    Called by ``edgewise run`` once start-up is over (not by ``Runtime`` itself, which may share
    a process with others, as in tests), after freezing the objects made during start-up so that
    full collections no longer walk them.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


class RuntimeKey(Generic[_T]):
    """A typed key for ``Runtime.data``: integrations keep their shared objects under one."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"<RuntimeKey {self.name}>"


class RuntimeData:
    """A mapping from typed keys to the objects integrations share; the key fixes the type."""

    def __init__(self) -> None:
        self._data: dict[RuntimeKey[Any], object] = {}

    def __getitem__(self, key: RuntimeKey[_T]) -> _T:
        return cast(_T, self._data[key])

    def __setitem__(self, key: RuntimeKey[_T], value: _T) -> None:
        self._data[key] = value

    def __delitem__(self, key: RuntimeKey[Any]) -> None:
        del self._data[key]

    def __contains__(self, key: RuntimeKey[Any]) -> bool:
        return key in self._data

    def get(self, key: RuntimeKey[_T], default: _T | None = None) -> _T | None:
        """The value under ``key``, or ``default``."""
        return cast(_T | None, self._data.get(key, default))

    def setdefault(self, key: RuntimeKey[_T], factory: Callable[[], _T]) -> _T:
        """The value under ``key``; made with ``factory()`` and stored the first time."""
        if key not in self._data:
            self._data[key] = factory()
        return cast(_T, self._data[key])


class Runtime:
    """One running Edgewise site.

    Create it on the event loop that will run it; every method must be called from that loop
    unless its docstring says otherwise.
    """

    def __init__(
        self,
        config_dir: Path,
        *,
        loader: IntegrationLoader | None = None,
        clock: Clock | None = None,
        http_port: int | None = None,
    ) -> None:
        self.loop = asyncio.get_running_loop()
        #: Overrides ``http: server_port`` (``edgewise run --port``).
        self._http_port = http_port
        self.config_dir = config_dir.resolve()
        self.clock: Clock = clock if clock is not None else SystemClock()
        self._executor = ThreadPoolExecutor(
            max_workers=min(8, (os.cpu_count() or 1) * 2), thread_name_prefix="edgewise-executor"
        )
        #: What each integration registered, removed when it stops (``core.registrations``).
        self.registrations = Registrations()
        self.bus = EventBus(self.loop, self.executor_job)
        self.states = StateMachine(self.bus)
        self.services = ServiceRegistry(self.bus, self.executor_job, track=self.registrations.track)
        #: HTTP routes and WebSocket commands (``core.http.register_route/register_command``).
        self.api = ApiRegistry(self.registrations, KERNEL_COMMANDS)
        #: The events the logbook shows and how (``core.logbook``).
        self.logbook = LogbookDescriptions(self.registrations)
        self.loader = loader if loader is not None else IntegrationLoader()
        self.data = RuntimeData()
        self.state = CoreState.NOT_RUNNING
        self._config: LoadedConfig | None = None
        self.core: CoreConfig = CoreConfig()
        self.http_config = HttpConfig()
        self._scheduler: Scheduler | None = None
        self._schedules: ScheduleStore | None = None
        self.area_registry = AreaRegistry(self)
        self.floor_registry = FloorRegistry(self)
        self.label_registry = LabelRegistry(self)
        self.device_registry = DeviceRegistry(self)
        self.entity_registry = EntityRegistry(self)
        self._http: HttpServer | None = None
        #: Prometheus metrics, served at ``/metrics`` (see ``core.metrics``).
        self.metrics = Metrics()
        #: Persistent notifications for the panel (see ``core.notifications``).
        self.notifications = Notifications()
        self.exit_code = 0
        #: When this runtime was made (seconds since the epoch), for uptime and diagnostics.
        self.started_at = time.time()
        #: How long each start-up stage took, in seconds, for diagnostics and the benchmark.
        self.stage_timings: dict[str, float] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._stop_requested = asyncio.Event()
        self._stopped = asyncio.Event()
        self._setup_done: list[str] = []
        self._stopped_integrations: set[str] = set()

    # --- kernel services, there once their start-up stage has run -------------------------------

    @property
    def config(self) -> LoadedConfig:
        """The site's configuration, as loaded (start-up stage ``config``).

        Raises:
            NotStartedError: before that stage.
        """
        if self._config is None:
            raise NotStartedError("config", "the configuration is not loaded yet")
        return self._config

    @property
    def scheduler(self) -> Scheduler:
        """Timers on the runtime's clock (start-up stage ``core``).

        Raises:
            NotStartedError: before that stage.
        """
        if self._scheduler is None:
            raise NotStartedError("core", "the scheduler does not exist yet")
        return self._scheduler

    @scheduler.setter
    def scheduler(self, scheduler: Scheduler) -> None:
        """Give the runtime a scheduler before start (tests of one part on a fake clock)."""
        self._scheduler = scheduler

    @property
    def schedules(self) -> ScheduleStore:
        """Stored scheduled service calls (start-up stage ``core``).

        Raises:
            NotStartedError: before that stage.
        """
        if self._schedules is None:
            raise NotStartedError("core", "the schedule store does not exist yet")
        return self._schedules

    @property
    def http(self) -> HttpServer:
        """The HTTP server (start-up stage ``http``).

        Raises:
            NotStartedError: before that stage.
        """
        if self._http is None:
            raise NotStartedError("http", "the HTTP server is not started yet")
        return self._http

    @property
    def has_scheduler(self) -> bool:
        """Whether the scheduler exists (the ``core`` stage has run)."""
        return self._scheduler is not None

    # --- helpers for integrations --------------------------------------------------------------

    def executor_job(self, func: Callable[[], _T]) -> asyncio.Future[_T]:
        """Run a blocking function in the runtime's thread pool; await the result on the loop."""
        return self.loop.run_in_executor(self._executor, func)

    async def run_in_executor(self, func: Callable[..., _T], *args: object) -> _T:
        """Run ``func(*args)`` in the runtime's thread pool and return its result."""
        return await self.loop.run_in_executor(self._executor, func, *args)

    def create_task(self, coro: Coroutine[Any, Any, _T], name: str) -> asyncio.Task[_T]:
        """Start a named background task that the runtime cancels at shutdown.

        An exception in the task is logged with the task's name when it ends.
        """
        task = self.loop.create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def integration_failed(self, domain: str, error: BaseException | str) -> None:
        """Report that an integration failed for good after its setup returned.

        For work an integration finishes in the background, after start-up (the recorder opens
        its database once the runtime is ready): its status becomes ``failed`` with ``error``,
        and the error is logged once. The integration itself stops what it runs; its
        ``edgewise_stop`` is still called at shutdown. Call on the loop.
        """
        message = str(error) or type(error).__name__
        _LOGGER.error("Integration %s failed: %s", domain, message)
        if (loaded := self.loader.get(domain)) is not None:
            loaded.status = IntegrationStatus.FAILED
            loaded.error = message
        name = loaded.manifest.name if loaded is not None else domain
        self.notifications.create(
            f"{name} ({domain}) stopped working: {message}\n\nSee the log for details.",
            title=f"{name} failed",
            notification_id=f"integration_failed_{domain}",
        )

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and (exc := task.exception()) is not None:
            _LOGGER.error("Task %s failed", task.get_name(), exc_info=exc)

    # --- start ---------------------------------------------------------------------------------

    @contextmanager
    def _stage(self, name: str) -> Iterator[None]:
        started = time.perf_counter()
        _LOGGER.debug("Start-up stage %s", name)
        try:
            yield
        finally:
            self.stage_timings[name] = time.perf_counter() - started

    async def start(self) -> None:
        """Load the configuration, set up every configured integration, and start running.

        A configuration error or a failing integration is logged and left out; the rest starts.
        """
        if self.state is not CoreState.NOT_RUNNING:
            raise RuntimeError(f"Runtime cannot start from state {self.state}")
        self.state = CoreState.STARTING
        with self._stage("plugins"):
            if not self.loader.integrations:
                await self.run_in_executor(self.loader.load_entry_points)
        with self._stage("config"):
            await self._load_config()
        with self._stage("core"):
            await self._start_core()
        with self._stage("http"):
            await self._start_http()
        self.bus.fire(EVENT_EDGEWISE_START)
        with self._stage("integrations"):
            await self._setup_integrations()
        with self._stage("started"):
            for domain in [d for d in self._setup_done if self._running(d)]:
                # What it registers now (and the tasks it starts) belongs to the integration.
                with self.registrations.owner(domain):
                    await self.loader.call_each(
                        "edgewise_started",
                        domains=[domain],
                        time_limit=STARTED_TIMEOUT,
                        runtime=self,
                    )
            self.state = CoreState.RUNNING
            self.bus.fire(EVENT_EDGEWISE_STARTED)
            self._notify_setup_problems()
        _LOGGER.info(
            "Edgewise started in %.2f s with %d integration(s): %s",
            sum(self.stage_timings.values()),
            len(self._setup_done),
            ", ".join(self._setup_done) or "none",
        )

    def _notify_setup_problems(self) -> None:
        """One notification listing the configuration errors and the integrations left out."""
        problems = [str(issue) for issue in self.config.issues]
        problems += [
            f"{loaded.manifest.name} ({domain}): {loaded.error}"
            for domain, loaded in self.loader.integrations.items()
            if loaded.status in _SETUP_FAILURES
        ]
        self.notifications.report_problems(
            "invalid_config",
            "Invalid configuration",
            "These parts of the configuration could not be set up; the rest is running. "
            "`edgewise check-config` lists every error with its file and line.",
            problems,
        )

    async def check_config(self, loaded: LoadedConfig) -> list[str]:
        """``edgewise check-config``: each configured integration checks its section further.

        Nothing is set up. ``loaded`` is the configuration as ``load_site_config`` read it; an
        integration whose section failed its schema is not asked (that error is already in
        ``loaded.issues``). The executor is shut down afterwards: this runtime is not started.

        Returns:
            The problems the integrations' ``edgewise_check_config`` hooks found.
        """
        self._config = loaded
        self.core = loaded.core
        failed = {issue.integration for issue in loaded.issues if issue.integration}
        problems: list[str] = []
        try:
            for domain, section in loaded.integrations.items():
                if domain in CORE_SECTIONS or domain in failed:
                    continue
                if self.loader.get(domain) is None:
                    continue
                found = await self.loader.call_each(
                    "edgewise_check_config", domains=[domain], runtime=self, config=section
                )
                for err in found.failed.values():
                    problems.append(f"{domain}: the configuration check failed: {err}")
                for _, result in found.results:
                    problems.extend(str(problem) for problem in result or ())
        finally:
            await self._shutdown_executor()
        return problems

    async def _load_config(self) -> None:
        known: dict[str, Any] = dict(CORE_SECTIONS)
        for domain, loaded in self.loader.integrations.items():
            known[domain] = loaded.manifest.config_schema
        self._config = await self.run_in_executor(load_site_config, self.config_dir, known)
        self.core = self._config.core
        for issue in self._config.issues:
            _LOGGER.error("Configuration: %s", issue)
            if issue.integration and (failed := self.loader.get(issue.integration)):
                failed.status = IntegrationStatus.CONFIG_ERROR
                failed.error = issue.message
        http = self._config.integrations.get(CONF_HTTP)
        if isinstance(http, HttpConfig):
            self.http_config = http
        if self._http_port is not None:
            self.http_config = dataclasses.replace(self.http_config, server_port=self._http_port)
        logger = self._config.integrations.get(CONF_LOGGER)
        if isinstance(logger, LoggerConfig):
            logger.apply()

    async def _start_core(self) -> None:
        self._scheduler = scheduler = Scheduler(
            self.loop,
            tz=self.core.tzinfo,
            latitude=self.core.latitude,
            longitude=self.core.longitude,
            elevation=self.core.elevation,
            clock=self.clock,
        )
        storage = self.config_dir / ".storage"
        await self.run_in_executor(lambda: storage.mkdir(parents=True, exist_ok=True))
        await self.notifications.load(
            JsonStore.for_runtime(self, NOTIFICATIONS_STORAGE_KEY, version=NOTIFICATIONS_VERSION)
        )
        await self.area_registry.load()
        await self.floor_registry.load()
        await self.label_registry.load()
        await self.device_registry.load()
        await self.entity_registry.load()
        self._schedules = schedules = ScheduleStore(
            storage / "schedules.json",
            scheduler,
            self._run_scheduled_job,
            executor=self.run_in_executor,
        )
        await schedules.load()
        # Imported here: the homeassistant services need the entity platform, which needs us.
        from .core_services import register_core_services  # noqa: PLC0415

        register_core_services(self)

    async def _run_scheduled_job(self, job: ScheduledJob, when: object) -> None:
        domain, _, service = job.action.partition(".")
        await self.services.call(domain, service, dict(job.data), target=job.target)

    async def _start_http(self) -> None:
        self._http = HttpServer(self, self.http_config)
        await self._http.start()

    async def _setup_integrations(self) -> None:
        integrations = self.loader.integrations
        configured = {d for d in self.config.integrations if d in integrations}
        defaults = {d for d, i in integrations.items() if i.manifest.default}
        errored = {d for d, i in integrations.items() if i.status is IntegrationStatus.CONFIG_ERROR}
        order, failed = setup_order(integrations, (configured | defaults) - errored)
        for domain, reason in failed.items():
            _LOGGER.error("Integration %s is not set up: %s", domain, reason)
            if (loaded := integrations.get(domain)) is not None:
                loaded.status = IntegrationStatus.DEPENDENCY_FAILED
                loaded.error = reason
        for domain, loaded in integrations.items():
            if domain not in order and loaded.status is IntegrationStatus.LOADED:
                loaded.status = IntegrationStatus.NOT_CONFIGURED
        done: dict[str, asyncio.Future[bool]] = {d: self.loop.create_future() for d in order}

        async def setup_one(domain: str) -> None:
            loaded = integrations[domain]
            deps = [d for d in loaded.manifest.dependencies if d in done]
            position = order.index(domain)
            deps += [
                d
                for d in loaded.manifest.after_dependencies
                if d in done and order.index(d) < position
            ]
            results = [await done[d] for d in deps]
            ok = False
            if not all(results[: len(loaded.manifest.dependencies)]):
                loaded.status = IntegrationStatus.DEPENDENCY_FAILED
                loaded.error = "a dependency failed to set up"
                _LOGGER.error("Integration %s is not set up: a dependency failed", domain)
            else:
                ok = await self._setup_one(domain)
            done[domain].set_result(ok)

        await asyncio.gather(*(setup_one(d) for d in order))
        self._setup_done = [d for d in order if done[d].result()]

    async def _setup_one(self, domain: str) -> bool:
        loaded = self.loader.integrations[domain]
        loaded.status = IntegrationStatus.SETTING_UP
        timeout = loaded.manifest.setup_timeout
        started = time.perf_counter()
        try:
            # What setup (and the tasks it starts) registers belongs to the integration.
            with self.registrations.owner(domain):
                config = loaded.manifest.checked_config(self.config.integrations.get(domain))
                async with asyncio.timeout(timeout):
                    result = self.loader.call(domain, "edgewise_setup", runtime=self, config=config)
                    if isinstance(result, Awaitable):
                        await result
        except TimeoutError:
            loaded.status = IntegrationStatus.SETUP_ERROR
            loaded.error = f"setup took longer than {timeout:g} s"
            _LOGGER.error("Integration %s: setup took longer than %g s", domain, timeout)
            self.registrations.teardown(domain)
            return False
        except Exception as err:  # an isolation boundary: one integration only
            loaded.status = IntegrationStatus.SETUP_ERROR
            loaded.error = str(err) or type(err).__name__
            if isinstance(err, IntegrationError):
                _LOGGER.error("Integration %s failed to set up: %s", domain, err)
            else:
                _LOGGER.exception("Integration %s failed to set up", domain)
            self.registrations.teardown(domain)
            return False
        loaded.status = IntegrationStatus.RUNNING
        loaded.error = None
        _LOGGER.debug("Integration %s set up in %.3f s", domain, time.perf_counter() - started)
        return True

    # --- stop ----------------------------------------------------------------------------------

    def request_stop(self, exit_code: int = 0) -> None:
        """Ask the runtime to stop; ``run_until_stopped`` then shuts it down. Safe to repeat."""
        self.exit_code = exit_code
        self._stop_requested.set()

    async def run_until_stopped(self) -> int:
        """Start, run until ``request_stop``, stop; return the exit code."""
        try:
            await self.start()
        except Exception as err:
            if isinstance(err, OSError):
                # Typically the HTTP port is taken: one clear line, not a traceback.
                _LOGGER.error("Edgewise failed to start: %s", err)
            else:
                _LOGGER.exception("Edgewise failed to start")
            self.exit_code = 1
            await self.stop()
            return self.exit_code
        await self._stop_requested.wait()
        await self.stop()
        return self.exit_code

    async def stop(self) -> None:
        """Stop in the reverse order of start-up, each stage bounded by ``STOP_TIMEOUTS``."""
        if self.state in (CoreState.STOPPING, CoreState.FINAL_WRITE, CoreState.STOPPED):
            await self._stopped.wait()
            return
        self.state = CoreState.STOPPING
        _LOGGER.info("Edgewise is stopping")
        await self._bounded("stop_event", self._fire_and_drain(EVENT_EDGEWISE_STOP))
        await self._bounded("integrations", self._stop_integrations())
        await self._bounded("tasks", self._cancel_tasks())
        self.state = CoreState.FINAL_WRITE
        await self._bounded("final_write", self._final_write())
        if self._scheduler is not None:
            self._scheduler.close()
        self.bus.fire(EVENT_EDGEWISE_CLOSE)
        if self._http is not None:
            await self._bounded("http", self._http.stop())
        await self._bounded("executor", self._shutdown_executor())
        self.state = CoreState.STOPPED
        self._stopped.set()
        _LOGGER.info("Edgewise stopped")

    async def _bounded(self, stage: str, coro: Coroutine[Any, Any, None]) -> None:
        timeout = STOP_TIMEOUTS[stage]
        try:
            async with asyncio.timeout(timeout):
                await coro
        except TimeoutError:
            _LOGGER.warning("Shutdown stage %s timed out after %g s", stage, timeout)
        except Exception:
            _LOGGER.exception("Error in shutdown stage %s", stage)

    async def _fire_and_drain(self, event_type: str) -> None:
        self.bus.fire(event_type)
        await self.bus.drain()

    async def _stop_integrations(self) -> None:
        await self._stop_domains([d for d in reversed(self._setup_done) if self._running(d)])

    def _running(self, domain: str) -> bool:
        loaded = self.loader.get(domain)
        return (
            loaded is not None
            and loaded.status in _STOPPABLE
            and domain not in self._stopped_integrations
        )

    async def stop_integration(self, domain: str) -> list[str]:
        """Stop one running integration, and first the running ones that depend on it.

        Each gets its ``edgewise_stop`` (bounded by its manifest's ``stop_timeout``), then
        everything it registered (routes, WebSocket commands, services, logbook descriptions,
        webhooks...) is removed, and its status becomes ``stopped``: its panels and trigger and
        condition platforms are no longer asked for. The rest of the runtime keeps running.

        Returns:
            The domains stopped, in the order they were.
        """
        wanted = {domain}
        changed = True
        while changed:  # the running integrations that need one already wanted
            changed = False
            for other in self._setup_done:
                deps = self.loader.integrations[other].manifest.dependencies
                if other not in wanted and wanted.intersection(deps) and self._running(other):
                    wanted.add(other)
                    changed = True
        order = [d for d in reversed(self._setup_done) if d in wanted and self._running(d)]
        await self._stop_domains(order)
        return order

    async def _stop_domains(self, order: list[str]) -> None:
        """``edgewise_stop`` each of ``order`` in turn, then remove what it registered."""
        for domain in order:
            self._stopped_integrations.add(domain)
            await self.loader.call_each(
                "edgewise_stop",
                domains=[domain],
                time_limit=lambda loaded: loaded.manifest.stop_timeout,
                runtime=self,
            )
            removed = self.registrations.teardown(domain)
            _LOGGER.debug("Integration %s stopped; %d registrations removed", domain, removed)
            loaded = self.loader.integrations[domain]
            if loaded.status is not IntegrationStatus.FAILED:
                loaded.status = IntegrationStatus.STOPPED

    async def _cancel_tasks(self) -> None:
        tasks = [t for t in self._tasks if not t.done()]
        for task in tasks:
            task.cancel()
        if not tasks:
            return
        _, pending = await asyncio.wait(tasks, timeout=STOP_TIMEOUTS["tasks"])
        for task in pending:
            _LOGGER.warning("Task %s still running at shutdown", task.get_name())

    async def _final_write(self) -> None:
        await self._fire_and_drain(EVENT_EDGEWISE_FINAL_WRITE)
        if self._schedules is not None:
            await self._schedules.flush()
        await self.notifications.flush()
        await self.entity_registry.flush()
        await self.device_registry.flush()
        await self.area_registry.flush()
        await self.floor_registry.flush()
        await self.label_registry.flush()

    async def _shutdown_executor(self) -> None:
        await self.loop.run_in_executor(None, self._executor.shutdown, True)

    @property
    def ready(self) -> bool:
        """Whether start-up has finished and the runtime is running."""
        return self.state is CoreState.RUNNING

    async def wait_stopped(self) -> None:
        """Wait until ``stop`` has finished."""
        await self._stopped.wait()
