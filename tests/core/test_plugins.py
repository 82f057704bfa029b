"""Tests for core/plugins.py: finding, registering and ordering integrations.

The first tests install a real third-party plugin package (``tests/fixtures/
edgewise_example_plugin``) with pip and run the ``edgewise`` command with it; the others register
small plugin objects in-process.
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from core.condition import plugin_condition_platforms
from core.config import load_site_config
from core.const import CoreState
from core.errors import IntegrationError
from core.hookspecs import hookimpl
from core.integration import IntegrationStatus, Manifest
from core.plugins import IntegrationLoader, LoadedIntegration, setup_order
from core.runtime import Runtime
from core.trigger import plugin_trigger_platforms
from tests.conftest import ConfigDirFactory, EdgewiseFactory

EXAMPLE_PLUGIN = Path(__file__).resolve().parent.parent / "fixtures" / "edgewise_example_plugin"


@pytest.fixture(scope="session")
def example_plugin_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The example plugin installed by pip into a directory for ``PYTHONPATH``; built once."""
    root = tmp_path_factory.mktemp("example_plugin")
    # Build from a copy, so no build/ or *.egg-info lands in the repository.
    source = root / "src"
    shutil.copytree(
        EXAMPLE_PLUGIN,
        source,
        ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"),
    )
    site = root / "site"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--no-deps",
            "--disable-pip-version-check",
            "--no-input",
            "--quiet",
            "--target",
            str(site),
            str(source),
        ],
        capture_output=True,
        text=True,
        timeout=110,
        check=False,
    )
    assert result.returncode == 0, f"pip install failed:\n{result.stdout}\n{result.stderr}"
    return site


def test_third_party_plugin_is_discovered_configured_and_run(
    example_plugin_site: Path,
    config_dir: ConfigDirFactory,
    edgewise: EdgewiseFactory,
    unused_port: int,
    tmp_path: Path,
) -> None:
    marker = tmp_path / "stopped.txt"
    site = config_dir(
        f"""\
        http:
          server_host: 127.0.0.1
          server_port: {unused_port}
        example_counter:
          start: 5
          step: 2
          stop_marker: {marker}
        """
    )
    process = edgewise("run", "-c", site, port=unused_port, pythonpath=example_plugin_site)
    process.wait_ready()

    assert process.stop() == 0, process.output()
    # Set to 5 at setup, incremented by 2 through its own service once started, written at stop.
    assert marker.read_text() == "stopped 7\n", process.output()


def test_check_config_reports_file_line_and_key_of_a_third_party_plugins_bad_value(
    example_plugin_site: Path,
    config_dir: ConfigDirFactory,
    edgewise_cmd: Callable[..., subprocess.CompletedProcess[str]],
) -> None:
    site = config_dir(
        """\
        edgewise:
          name: Test
        example_counter:
          start: abc
        """
    )
    result = edgewise_cmd("check-config", "-c", site, pythonpath=example_plugin_site)

    assert result.returncode == 1, result.stdout + result.stderr
    assert "configuration.yaml, line 4: example_counter.start: expected int" in result.stderr


def test_check_config_accepts_a_valid_third_party_plugin_section(
    example_plugin_site: Path,
    config_dir: ConfigDirFactory,
    edgewise_cmd: Callable[..., subprocess.CompletedProcess[str]],
) -> None:
    site = config_dir("example_counter:\n  start: 3\n")
    result = edgewise_cmd("check-config", "-c", site, pythonpath=example_plugin_site)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "valid" in result.stdout


# --- registering ---------------------------------------------------------------------------------


class Plugin:
    """An integration object whose manifest is built from keyword arguments."""

    def __init__(self, domain: str, **manifest: object) -> None:
        self.manifest = Manifest(domain=domain, name=domain.title(), **manifest)  # type: ignore[arg-type]  # test shorthand

    @hookimpl
    def edgewise_manifest(self) -> Manifest:
        return self.manifest


def test_plugin_without_manifest_is_rejected_with_a_clear_error() -> None:
    class NoManifest:
        @hookimpl
        def edgewise_setup(self, runtime: object, config: object) -> None:
            pass

    loader = IntegrationLoader()

    with pytest.raises(IntegrationError, match=r"no_manifest_pkg has no edgewise_manifest hook"):
        loader.register(NoManifest(), source="no_manifest_pkg")
    assert loader.integrations == {}


def test_plugin_whose_manifest_hook_raises_is_rejected_naming_the_error() -> None:
    class Broken:
        @hookimpl
        def edgewise_manifest(self) -> Manifest:
            raise ValueError("bad domain")

    with pytest.raises(
        IntegrationError, match=r"broken_pkg failed to give its manifest.*bad domain"
    ):
        IntegrationLoader().register(Broken(), source="broken_pkg")


def test_hookimpl_with_a_misspelled_hook_name_is_rejected_and_unregistered() -> None:
    class Typo(Plugin):
        @hookimpl
        def edgewise_setpu(self, runtime: object, config: object) -> None:
            pass

    loader = IntegrationLoader()

    with pytest.raises(IntegrationError, match=r"typo_pkg .*unknown hook 'edgewise_setpu'"):
        loader.register(Typo("typo"), source="typo_pkg")
    # The rejected plugin is gone: the next one registers and its own hooks are checked cleanly.
    assert loader.register(Plugin("good"), source="good_pkg").domain == "good"
    assert set(loader.integrations) == {"good"}


def test_hookimpl_with_an_argument_the_hookspec_lacks_is_rejected_as_integration_error() -> None:
    class WrongArgument(Plugin):
        @hookimpl
        def edgewise_setup(self, runtime: object, cfg: object) -> None:
            pass

    loader = IntegrationLoader()

    with pytest.raises(
        IntegrationError, match=r"(?s)wrong_arg_pkg .*\{'cfg'\} are declared in the hookimpl"
    ):
        loader.register(WrongArgument("wrong"), source="wrong_arg_pkg")
    assert loader.register(Plugin("good"), source="good_pkg").domain == "good"


def test_duplicate_domain_is_rejected_naming_both_sources() -> None:
    loader = IntegrationLoader()
    first = loader.register(Plugin("meter"), source="meter = meter_a (meter-a 1.0)")

    with pytest.raises(IntegrationError) as excinfo:
        loader.register(Plugin("meter"), source="meter = meter_b (meter-b 2.0)")

    message = str(excinfo.value)
    assert "meter-a 1.0" in message
    assert "meter-b 2.0" in message
    assert "'meter'" in message
    assert loader.get("meter") is first


def test_call_reaches_only_the_named_integrations_hook() -> None:
    calls: list[str] = []

    class Recorder(Plugin):
        @hookimpl
        def edgewise_started(self, runtime: object) -> None:
            calls.append(self.manifest.domain)

    loader = IntegrationLoader()
    loader.register(Recorder("one"), source="one")
    loader.register(Recorder("two"), source="two")

    loader.call("two", "edgewise_started", runtime=None)

    assert calls == ["two"]
    assert loader.call("one", "edgewise_stop", runtime=None) is None


# --- entry points --------------------------------------------------------------------------------


@pytest.fixture
def entry_point_dist(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A directory on ``sys.path`` holding a distribution whose entry points the test writes.

    Write modules into the returned directory and the ``entry_points.txt`` of the distribution
    ``edgewise-test-dist`` into ``<dir>/edgewise_test_dist-1.0.dist-info/``.
    """
    root = tmp_path / "dist_site"
    dist_info = root / "edgewise_test_dist-1.0.dist-info"
    dist_info.mkdir(parents=True)
    (dist_info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: edgewise-test-dist\nVersion: 1.0\n"
    )
    monkeypatch.syspath_prepend(str(root))
    before = set(sys.modules)
    yield root
    for name in set(sys.modules) - before:
        if name.startswith("edgewise_test_ep_"):
            del sys.modules[name]


def test_entry_point_that_fails_to_import_is_reported_and_the_others_still_load(
    entry_point_dist: Path,
) -> None:
    (entry_point_dist / "edgewise_test_ep_good.py").write_text(
        textwrap.dedent(
            """\
            from core.hookspecs import hookimpl
            from core.integration import Manifest

            @hookimpl
            def edgewise_manifest():
                return Manifest(domain="ep_good", name="Good")
            """
        )
    )
    (entry_point_dist / "edgewise_test_ep_broken.py").write_text(
        "raise ImportError('needs a library that is not installed')\n"
    )
    (entry_point_dist / "edgewise_test_ep_nomanifest.py").write_text("X = 1\n")
    (entry_point_dist / "edgewise_test_dist-1.0.dist-info" / "entry_points.txt").write_text(
        textwrap.dedent(
            """\
            [edgewise.integrations]
            broken = edgewise_test_ep_broken
            good = edgewise_test_ep_good
            missing = edgewise_test_ep_does_not_exist
            nomanifest = edgewise_test_ep_nomanifest
            """
        )
    )
    loader = IntegrationLoader()

    loader.load_entry_points()

    good = loader.get("ep_good")
    assert good is not None
    assert good.source == "good = edgewise_test_ep_good (edgewise-test-dist 1.0)"
    # Only this distribution's errors: installed integrations are loaded too.
    ours = [error for error in loader.load_errors if "edgewise_test_ep_" in error]
    assert len(ours) == 3, loader.load_errors
    broken, missing, nomanifest = ours
    assert "broken = edgewise_test_ep_broken (edgewise-test-dist 1.0)" in broken
    assert "needs a library that is not installed" in broken
    assert "edgewise_test_ep_does_not_exist" in missing
    assert "nomanifest = edgewise_test_ep_nomanifest" in nomanifest
    assert "edgewise_manifest" in nomanifest


# --- setup order ---------------------------------------------------------------------------------


def _integrations(**manifests: dict[str, object]) -> dict[str, LoadedIntegration]:
    return {
        domain: LoadedIntegration(
            Manifest(domain=domain, name=domain, **fields),  # type: ignore[arg-type]  # test shorthand
            plugin=object(),
            source=domain,
        )
        for domain, fields in manifests.items()
    }


def test_setup_order_puts_dependencies_first_and_pulls_them_in() -> None:
    integrations = _integrations(
        app={"dependencies": ("mqtt", "http_api")},
        mqtt={"dependencies": ("network",)},
        http_api={},
        network={},
        unused={},
    )

    order, failed = setup_order(integrations, ["app"])

    assert failed == {}
    assert sorted(order) == ["app", "http_api", "mqtt", "network"]
    assert order.index("network") < order.index("mqtt") < order.index("app")
    assert order.index("http_api") < order.index("app")


def test_setup_order_reports_a_missing_dependency_and_keeps_the_rest() -> None:
    integrations = _integrations(app={"dependencies": ("ghost",)}, other={})

    order, failed = setup_order(integrations, ["app", "other"])

    assert order == ["other"]
    assert failed["app"] == "dependency 'ghost' is not available"
    assert failed["ghost"] == "integration not found"


def test_setup_order_reports_a_dependency_cycle_and_keeps_the_rest() -> None:
    integrations = _integrations(
        a={"dependencies": ("b",)}, b={"dependencies": ("a",)}, c={"dependencies": ()}
    )

    order, failed = setup_order(integrations, ["a", "b", "c"])

    assert order == ["c"]
    assert set(failed) == {"a", "b"}
    assert failed["a"] == "dependency cycle: a -> b -> a"


def test_setup_order_sets_up_configured_after_dependencies_first() -> None:
    integrations = _integrations(
        alpha={"after_dependencies": ("zulu",)},
        zulu={},
    )

    order, failed = setup_order(integrations, ["alpha", "zulu"])

    assert failed == {}
    assert order == ["zulu", "alpha"]


def test_setup_order_does_not_pull_in_after_dependencies_that_are_not_configured() -> None:
    integrations = _integrations(alpha={"after_dependencies": ("zulu", "ghost")}, zulu={})

    order, failed = setup_order(integrations, ["alpha"])

    assert failed == {}
    assert order == ["alpha"]


def test_start_path_imports_no_module_the_default_config_does_not_use_at_start() -> None:
    # What ``edgewise run`` imports before it reads the configuration: the command and every
    # installed integration's hookimpls. Jinja2 (first template compile), croniter (first cron
    # schedule), SQLAlchemy (the recorder's writer, after start-up), argon2, regex and
    # multiprocessing (see tests/e2e/test_idle_imports.py) and the schemas and clients
    # of integrations a site does not configure come later, or never.
    code = textwrap.dedent(
        """\
        import sys
        import core.cli
        from core.plugins import IntegrationLoader

        loader = IntegrationLoader()
        loader.load_entry_points()
        assert not loader.load_errors, loader.load_errors
        print("\\n".join(sorted(sys.modules)))
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    loaded = set(result.stdout.split())
    assert "integrations.modbus" in loaded  # the probe did load every entry point
    unwanted = {
        "jinja2",
        "core.template.sandbox",
        "croniter",
        "sqlalchemy",
        "aiosqlite",
        "integrations.template.schema",
        "integrations.modbus.schema",
        "integrations.bacnet.schema",
        "pymodbus",
        "bacpypes3",
        "aiomqtt",
        "argon2",  # the first password hashed or checked
        "regex",  # the first regular expression in a template
        "multiprocessing",  # the optimizer's first solve
    }
    assert loaded & unwanted == set()


# --- the hooks' contracts, one test named for each hook ------------------------------------------


@dataclass(frozen=True)
class _MeterConfig:
    meters: int


class _Typed:
    """A plugin with a typed manifest; records what each hook got."""

    def __init__(self, domain: str = "typed", config_type: object = _MeterConfig) -> None:
        self.domain = domain
        self.config_type = config_type
        self.calls: list[tuple[str, object]] = []

    @hookimpl
    def edgewise_manifest(self) -> Manifest[_MeterConfig]:
        return Manifest(
            domain=self.domain,
            name="Typed",
            config_schema=lambda value: _MeterConfig(**value),  # type: ignore[arg-type]
            config_type=self.config_type,  # type: ignore[arg-type]  # the tests vary it
        )

    @hookimpl
    def edgewise_setup(self, runtime: Runtime, config: _MeterConfig) -> None:
        self.calls.append(("setup", config))
        runtime.services.register(self.domain, "read", lambda call: None)

    @hookimpl
    def edgewise_started(self, runtime: Runtime) -> None:
        self.calls.append(("started", runtime.state))

    @hookimpl
    async def edgewise_stop(self, runtime: Runtime) -> None:
        self.calls.append(("stop", runtime.services.has(self.domain, "read")))


async def _run(config_dir: ConfigDirFactory, yaml: str, *plugins: object) -> Runtime:
    loader = IntegrationLoader()
    for plugin in plugins:
        loader.register(plugin, source="test")
    # Port 0: a fixed port (8123) fails when anything else on the machine listens there.
    runtime = Runtime(config_dir("http: {server_port: 0}\n" + yaml), loader=loader)
    await runtime.start()
    return runtime


def test_edgewise_manifest_is_checked_when_the_plugin_registers() -> None:
    class NotAClass(_Typed):
        @hookimpl
        def edgewise_manifest(self) -> Manifest[_MeterConfig]:
            return Manifest(domain="bad", name="Bad", config_type="not a path")

    loader = IntegrationLoader()

    with pytest.raises(IntegrationError, match=r"failed to give its manifest.*config_type"):
        loader.register(NotAClass(), source="bad_pkg")
    with pytest.raises(ValueError, match="config_type without a config_schema"):
        Manifest(domain="x", name="X", config_type=_MeterConfig)
    with pytest.raises(ValueError, match="is not a class"):
        Manifest(domain="x", name="X", config_schema=dict, config_type=42)  # type: ignore[arg-type]
    assert loader.load_errors == []


async def test_edgewise_setup_receives_the_manifests_typed_config(
    config_dir: ConfigDirFactory,
) -> None:
    typed = _Typed()
    lazily = _Typed("lazily", config_type=f"{__name__}:_MeterConfig")

    runtime = await _run(config_dir, "typed: {meters: 3}\nlazily: {meters: 1}\n", typed, lazily)
    try:
        assert typed.calls[0] == ("setup", _MeterConfig(3))
        assert lazily.calls[0] == ("setup", _MeterConfig(1))
    finally:
        await runtime.stop()


async def test_edgewise_setup_is_not_called_with_a_config_of_another_type(
    config_dir: ConfigDirFactory,
) -> None:
    wrong = _Typed(config_type=dict)

    runtime = await _run(config_dir, "typed: {meters: 3}\n", wrong)
    try:
        loaded = runtime.loader.integrations["typed"]
        assert loaded.status is IntegrationStatus.SETUP_ERROR
        assert loaded.error is not None
        assert "returned a _MeterConfig, not the dict the manifest declares" in loaded.error
        assert wrong.calls == []
    finally:
        await runtime.stop()


async def test_edgewise_check_config_reports_problems_and_isolates_a_failing_check(
    config_dir: ConfigDirFactory,
) -> None:
    class Checks(Plugin):
        @hookimpl
        async def edgewise_check_config(self, runtime: Runtime, config: object) -> list[str]:
            return [f"{self.manifest.domain}: line 3: not so"]

    class Raises(Plugin):
        @hookimpl
        def edgewise_check_config(self, runtime: Runtime, config: object) -> list[str]:
            raise RuntimeError("checker broke")

    loader = IntegrationLoader()
    loader.register(Checks("checks"), source="a")
    loader.register(Raises("raises"), source="b")
    site = config_dir("checks:\nraises:\n")
    runtime = Runtime(site, loader=loader)
    loaded = await runtime.run_in_executor(load_site_config, site, {"checks": None, "raises": None})

    problems = await runtime.check_config(loaded)

    assert "checks: line 3: not so" in problems
    assert "raises: the configuration check failed: checker broke" in problems


async def test_edgewise_started_runs_once_per_integration_and_a_failure_stays_there(
    config_dir: ConfigDirFactory,
) -> None:
    class Broken(Plugin):
        @hookimpl
        def edgewise_started(self, runtime: Runtime) -> None:
            raise RuntimeError("no")

    typed = _Typed()
    runtime = await _run(config_dir, "typed: {meters: 1}\nbroken:\n", Broken("broken"), typed)
    try:
        assert [c for c in typed.calls if c[0] == "started"] == [("started", CoreState.STARTING)]
        assert runtime.state is CoreState.RUNNING
    finally:
        await runtime.stop()


async def test_edgewise_trigger_platforms_are_asked_only_of_running_integrations(
    config_dir: ConfigDirFactory,
) -> None:
    class Triggers(Plugin):
        @hookimpl
        def edgewise_trigger_platforms(self, runtime: Runtime) -> dict[str, str]:
            return {self.manifest.domain: "platform"}

    runtime = await _run(config_dir, "one:\n", Triggers("one"), Triggers("two"))
    try:
        assert plugin_trigger_platforms(runtime) == {"one": "platform"}
        await runtime.stop_integration("one")
        assert plugin_trigger_platforms(runtime) == {}
    finally:
        await runtime.stop()


async def test_edgewise_condition_platforms_are_asked_only_of_running_integrations(
    config_dir: ConfigDirFactory,
) -> None:
    class Conditions(Plugin):
        @hookimpl
        def edgewise_condition_platforms(self, runtime: Runtime) -> dict[str, str]:
            return {self.manifest.domain: "platform"}

    runtime = await _run(config_dir, "one:\n", Conditions("one"), Conditions("two"))
    try:
        assert plugin_condition_platforms(runtime) == {"one": "platform"}
        await runtime.stop_integration("one")
        assert plugin_condition_platforms(runtime) == {}
    finally:
        await runtime.stop()


async def test_edgewise_stop_runs_before_the_integrations_registrations_are_removed(
    config_dir: ConfigDirFactory,
) -> None:
    typed = _Typed()
    runtime = await _run(config_dir, "typed: {meters: 1}\n", typed)

    await runtime.stop()

    assert typed.calls[-1] == ("stop", True)
    assert not runtime.services.has("typed", "read")


async def test_stop_integration_stops_its_dependents_first(config_dir: ConfigDirFactory) -> None:
    order: list[str] = []

    class Stops(Plugin):
        @hookimpl
        def edgewise_stop(self, runtime: Runtime) -> None:
            order.append(self.manifest.domain)

    runtime = await _run(
        config_dir,
        "base:\nuser:\nother:\n",
        Stops("base"),
        Stops("user", dependencies=("base",)),
        Stops("other"),
    )
    try:
        assert await runtime.stop_integration("base") == ["user", "base"]
        assert order == ["user", "base"]
        assert await runtime.stop_integration("base") == []  # already stopped
    finally:
        await runtime.stop()
    assert order == ["user", "base", "other"]  # each stopped once


# --- call_each: the one way to ask every integration ---------------------------------------------


async def test_call_each_isolates_failures_and_bounds_awaitable_answers(
    caplog: pytest.LogCaptureFixture,
) -> None:
    class Answers(Plugin):
        def __init__(self, domain: str, answer: object) -> None:
            super().__init__(domain)
            self.answer = answer

        @hookimpl
        async def edgewise_stop(self, runtime: object) -> None:
            if self.answer == "hang":
                await asyncio.Event().wait()
            if isinstance(self.answer, Exception):
                raise self.answer

    loader = IntegrationLoader()
    for domain, answer in (("a", None), ("b", RuntimeError("bad")), ("c", "hang"), ("d", None)):
        loader.register(Answers(domain, answer), source=domain).status = IntegrationStatus.RUNNING
    loader.register(Answers("e", None), source="e")  # not running: not asked

    found = await loader.call_each("edgewise_stop", time_limit=0.05, runtime=None)

    assert set(found.failed) == {"b", "c"}
    assert isinstance(found.failed["c"], TimeoutError)
    assert "Integration b failed in edgewise_stop" in caplog.text
    assert "Integration c: edgewise_stop still running after 0.05 s" in caplog.text


def test_call_each_sync_refuses_an_awaitable_answer() -> None:
    class Async(Plugin):
        @hookimpl
        async def edgewise_panels(self, runtime: object) -> list[object]:
            return []

    loader = IntegrationLoader()
    loader.register(Async("a"), source="a").status = IntegrationStatus.RUNNING

    found = loader.call_each_sync("edgewise_panels", runtime=None)

    assert found.results == []
    assert "must answer at once" in str(found.failed["a"])
