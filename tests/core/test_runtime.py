"""Tests for core/runtime.py: start-up stages, isolation of failing integrations, shutdown.

Each test runs a real ``Runtime`` on the test's event loop with its HTTP server on 127.0.0.1,
port 0, and small integrations registered directly with its loader.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import textwrap
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import aiohttp
import pytest
import voluptuous as vol

from core.const import CoreState
from core.errors import IntegrationError
from core.hookspecs import hookimpl
from core.integration import IntegrationStatus, Manifest
from core.plugins import IntegrationLoader
from core.runtime import Runtime
from core.schedules import ScheduledJob
from tests.conftest import ConfigDirFactory

HTTP_ON_ANY_PORT = "http:\n  server_host: 127.0.0.1\n  server_port: 0\n"


class Integration:
    """A test integration: manifest from keyword arguments, every hook call recorded in ``log``.

    Subclasses override ``setup`` and ``stop`` to misbehave.
    """

    def __init__(self, domain: str, log: list[str], **manifest: object) -> None:
        self.domain = domain
        self.log = log
        self.manifest = Manifest(domain=domain, name=domain, **manifest)  # type: ignore[arg-type]  # test shorthand
        self.config: object = None
        self.started = asyncio.Event()

    async def setup(self, runtime: Runtime) -> None:
        """What setting up does beyond recording it."""

    async def stop(self, runtime: Runtime) -> None:
        """What stopping does beyond recording it."""

    @hookimpl
    def edgewise_manifest(self) -> Manifest:
        return self.manifest

    @hookimpl
    async def edgewise_setup(self, runtime: Runtime, config: object) -> None:
        self.log.append(f"setup {self.domain}")
        self.config = config
        await self.setup(runtime)

    @hookimpl
    def edgewise_started(self, runtime: Runtime) -> None:
        self.log.append(f"started {self.domain}")
        self.started.set()

    @hookimpl
    async def edgewise_stop(self, runtime: Runtime) -> None:
        self.log.append(f"stop {self.domain}")
        await self.stop(runtime)


StartRuntime = Callable[..., Awaitable[Runtime]]


@pytest.fixture
def log() -> list[str]:
    """The hook calls of every test integration, in order."""
    return []


@pytest.fixture
async def make_runtime(config_dir: ConfigDirFactory) -> AsyncIterator[Callable[..., Runtime]]:
    """Build (not start) a Runtime with the given integrations; each one is stopped at teardown.

    Call it with the integrations and optionally ``config``, YAML added after the ``http:``
    section that puts the server on 127.0.0.1, port 0.
    """
    runtimes: list[Runtime] = []

    def make(*integrations: Integration, config: str = "") -> Runtime:
        site = config_dir(HTTP_ON_ANY_PORT + textwrap.dedent(config))
        loader = IntegrationLoader()
        for integration in integrations:
            loader.register(integration, source=f"test {integration.domain}")
        runtime = Runtime(site, loader=loader)
        runtimes.append(runtime)
        return runtime

    yield make
    for runtime in runtimes:
        if runtime.state is not CoreState.NOT_RUNNING:
            await runtime.stop()


@pytest.fixture
def start_runtime(make_runtime: Callable[..., Runtime]) -> StartRuntime:
    """Build and start a Runtime with the given integrations (see ``make_runtime``)."""

    async def start(*integrations: Integration, config: str = "") -> Runtime:
        runtime = make_runtime(*integrations, config=config)
        await runtime.start()
        return runtime

    return start


async def http_status(runtime: Runtime, path: str) -> tuple[int, object]:
    """GET ``path`` from the runtime's HTTP server; the status and the JSON body."""
    assert runtime.http is not None
    assert runtime.http.port is not None
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"http://127.0.0.1:{runtime.http.port}{path}") as response,
    ):
        return response.status, await response.json()


def status_of(runtime: Runtime, domain: str) -> tuple[IntegrationStatus, str | None]:
    loaded = runtime.loader.get(domain)
    assert loaded is not None
    return loaded.status, loaded.error


# --- start-up ------------------------------------------------------------------------------------


async def test_integration_whose_setup_raises_is_reported_and_the_others_still_start(
    start_runtime: StartRuntime, log: list[str]
) -> None:
    class Failing(Integration):
        async def setup(self, runtime: Runtime) -> None:
            raise IntegrationError("no meter answers on /dev/ttyUSB0", integration="failing")

    runtime = await start_runtime(
        Failing("failing", log, default=True), Integration("good", log, default=True)
    )

    assert status_of(runtime, "failing") == (
        IntegrationStatus.SETUP_ERROR,
        "no meter answers on /dev/ttyUSB0",
    )
    assert status_of(runtime, "good") == (IntegrationStatus.RUNNING, None)
    assert "started good" in log
    assert "started failing" not in log
    assert await http_status(runtime, "/ready") == (200, {"status": "ready"})


async def test_integration_failing_after_setup_is_reported_failed_and_still_stopped(
    start_runtime: StartRuntime, log: list[str], caplog: pytest.LogCaptureFixture
) -> None:
    runtime = await start_runtime(
        Integration("background", log, default=True), Integration("good", log, default=True)
    )
    assert status_of(runtime, "background") == (IntegrationStatus.RUNNING, None)

    # What a background task of the integration does once it knows it cannot work.
    runtime.integration_failed(
        "background", IntegrationError("the database is too new", integration="background")
    )

    assert status_of(runtime, "background") == (
        IntegrationStatus.FAILED,
        "the database is too new",
    )
    assert "Integration background failed: the database is too new" in caplog.text
    assert status_of(runtime, "good") == (IntegrationStatus.RUNNING, None)
    await runtime.stop()
    assert "stop background" in log
    assert status_of(runtime, "background")[0] is IntegrationStatus.FAILED
    assert status_of(runtime, "good")[0] is IntegrationStatus.STOPPED


async def test_setup_longer_than_its_setup_timeout_is_a_setup_error_and_the_others_start(
    start_runtime: StartRuntime, log: list[str]
) -> None:
    class Slow(Integration):
        async def setup(self, runtime: Runtime) -> None:
            await asyncio.sleep(30)

    started = time.monotonic()
    runtime = await start_runtime(
        Slow("slow", log, default=True, setup_timeout=0.2), Integration("good", log, default=True)
    )

    assert time.monotonic() - started < 5
    assert status_of(runtime, "slow") == (
        IntegrationStatus.SETUP_ERROR,
        "setup took longer than 0.2 s",
    )
    assert status_of(runtime, "good") == (IntegrationStatus.RUNNING, None)
    assert runtime.ready


async def test_integration_is_not_set_up_when_its_dependency_fails(
    start_runtime: StartRuntime, log: list[str]
) -> None:
    class Failing(Integration):
        async def setup(self, runtime: Runtime) -> None:
            raise RuntimeError("boom")

    runtime = await start_runtime(
        Failing("base", log, default=True),
        Integration("dependent", log, default=True, dependencies=("base",)),
        Integration("unrelated", log, default=True),
    )

    assert status_of(runtime, "base") == (IntegrationStatus.SETUP_ERROR, "boom")
    assert status_of(runtime, "dependent")[0] is IntegrationStatus.DEPENDENCY_FAILED
    assert "setup dependent" not in log
    assert status_of(runtime, "unrelated") == (IntegrationStatus.RUNNING, None)


async def test_integration_with_invalid_config_is_not_set_up_and_the_others_run(
    start_runtime: StartRuntime, log: list[str]
) -> None:
    schema = vol.Schema({vol.Required("port"): int})
    runtime = await start_runtime(
        Integration("meter", log, config_schema=schema),
        Integration("inverter", log, config_schema=schema),
        config="""\
        meter:
          port: abc
        inverter:
          port: 502
        """,
    )

    status, error = status_of(runtime, "meter")
    assert status is IntegrationStatus.CONFIG_ERROR
    assert error is not None
    assert "expected int" in error
    assert "setup meter" not in log
    assert status_of(runtime, "inverter") == (IntegrationStatus.RUNNING, None)
    assert runtime.loader.get("inverter").plugin.config == {"port": 502}  # type: ignore[union-attr]  # checked by status_of


async def test_integration_not_configured_and_not_default_is_not_set_up(
    start_runtime: StartRuntime, log: list[str]
) -> None:
    runtime = await start_runtime(
        Integration("configured", log), Integration("idle", log), config="configured:\n"
    )

    assert status_of(runtime, "configured") == (IntegrationStatus.RUNNING, None)
    assert status_of(runtime, "idle") == (IntegrationStatus.NOT_CONFIGURED, None)
    assert log == ["setup configured", "started configured"]


async def test_ready_is_503_and_live_is_200_while_a_setup_is_still_running(
    make_runtime: Callable[..., Runtime], log: list[str]
) -> None:
    entered = asyncio.Event()
    release = asyncio.Event()

    class Pending(Integration):
        async def setup(self, runtime: Runtime) -> None:
            entered.set()
            await release.wait()

    runtime = make_runtime(Pending("pending", log, default=True))
    start = asyncio.create_task(runtime.start())
    async with asyncio.timeout(5):
        await entered.wait()

    assert await http_status(runtime, "/ready") == (503, {"status": "starting"})
    assert await http_status(runtime, "/live") == (200, {"status": "alive"})

    release.set()
    async with asyncio.timeout(5):
        await start
    assert await http_status(runtime, "/ready") == (200, {"status": "ready"})


# --- shutdown ------------------------------------------------------------------------------------


async def test_stop_calls_edgewise_stop_in_reverse_setup_order(
    start_runtime: StartRuntime, log: list[str]
) -> None:
    runtime = await start_runtime(
        Integration("app", log, default=True, dependencies=("mqtt",)),
        Integration("mqtt", log, default=True, dependencies=("network",)),
        Integration("network", log, default=True),
    )

    await runtime.stop()

    assert log == [
        "setup network",
        "setup mqtt",
        "setup app",
        "started network",
        "started mqtt",
        "started app",
        "stop app",
        "stop mqtt",
        "stop network",
    ]
    assert {status_of(runtime, d)[0] for d in ("app", "mqtt", "network")} == {
        IntegrationStatus.STOPPED
    }
    assert runtime.state is CoreState.STOPPED


async def test_stop_hook_hanging_past_its_stop_timeout_is_logged_and_shutdown_finishes(
    start_runtime: StartRuntime, log: list[str], caplog: pytest.LogCaptureFixture
) -> None:
    class Hanging(Integration):
        async def stop(self, runtime: Runtime) -> None:
            await asyncio.sleep(60)

    runtime = await start_runtime(
        Integration("base", log, default=True),
        Hanging("hanging", log, default=True, dependencies=("base",), stop_timeout=0.2),
    )

    started = time.monotonic()
    await runtime.stop()

    assert time.monotonic() - started < 5
    assert log[-2:] == ["stop hanging", "stop base"]
    assert "Integration hanging: edgewise_stop still running after 0.2 s" in caplog.text
    assert runtime.state is CoreState.STOPPED


async def test_stop_hook_that_raises_is_logged_and_the_next_one_still_runs(
    start_runtime: StartRuntime, log: list[str], caplog: pytest.LogCaptureFixture
) -> None:
    class Raising(Integration):
        async def stop(self, runtime: Runtime) -> None:
            raise RuntimeError("socket already closed")

    runtime = await start_runtime(
        Integration("base", log, default=True),
        Raising("raising", log, default=True, dependencies=("base",)),
    )

    await runtime.stop()

    assert log[-2:] == ["stop raising", "stop base"]
    assert "Integration raising failed in edgewise_stop" in caplog.text


async def test_tasks_from_create_task_are_cancelled_at_stop(
    start_runtime: StartRuntime, log: list[str]
) -> None:
    tasks: list[asyncio.Task[None]] = []

    async def poll_forever() -> None:
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            log.append("poll cancelled")
            raise

    class Polling(Integration):
        async def setup(self, runtime: Runtime) -> None:
            tasks.append(runtime.create_task(poll_forever(), name="polling.poll"))

    runtime = await start_runtime(Polling("polling", log, default=True))
    await asyncio.sleep(0)
    assert not tasks[0].done()

    await runtime.stop()

    assert tasks[0].cancelled()
    assert "poll cancelled" in log


async def test_run_until_stopped_returns_the_exit_code_given_to_request_stop(
    make_runtime: Callable[..., Runtime], log: list[str]
) -> None:
    good = Integration("good", log, default=True)
    runtime = make_runtime(good)
    run = asyncio.create_task(runtime.run_until_stopped())
    async with asyncio.timeout(5):
        await good.started.wait()
    assert runtime.ready

    runtime.request_stop(3)

    async with asyncio.timeout(5):
        assert await run == 3
    assert runtime.state is CoreState.STOPPED
    assert log[-1] == "stop good"


async def test_registries_and_schedules_are_written_to_storage_at_stop(
    start_runtime: StartRuntime, log: list[str]
) -> None:
    class Registering(Integration):
        async def setup(self, runtime: Runtime) -> None:
            runtime.entity_registry.get_or_create("sensor", "registering", "meter-1-power")
            assert runtime.schedules is not None
            runtime.schedules.add(
                ScheduledJob(
                    id="night-charge",
                    name="Night charge",
                    trigger={"daily": "03:00"},
                    action="battery.charge",
                )
            )

    runtime = await start_runtime(Registering("registering", log, default=True))
    storage = runtime.config_dir / ".storage"

    await runtime.stop()

    entities = json.loads((storage / "core.entity_registry").read_text())
    assert [e["unique_id"] for e in entities["data"]["entities"]] == ["meter-1-power"]
    assert "night-charge" in (storage / "schedules.json").read_text()


# --- heavy dependencies --------------------------------------------------------------------------

HEAVY_MODULES = (
    "scipy",
    "onnxruntime",
    "bacpypes3",
    "anthropic",
    "pymodbus",
    "aiomqtt",
    "tinytuya",
    "sqlalchemy",
)

_LOAD_ALL = """
import json, sys
from core.plugins import IntegrationLoader
loader = IntegrationLoader()
loader.load_entry_points()
print(json.dumps({
    "integrations": sorted(loader.integrations),
    "load_errors": loader.load_errors,
    "heavy": sorted(m for m in HEAVY if m in sys.modules),
}))
"""


def test_loading_all_integrations_imports_no_heavy_dependency(tmp_path: Path) -> None:
    script = f"HEAVY = {HEAVY_MODULES!r}\n{_LOAD_ALL}"
    result = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=tmp_path,
    )

    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["heavy"] == [], (
        f"Loading the integrations {report['integrations']} imported {report['heavy']}; "
        "import heavy dependencies inside edgewise_setup"
    )
