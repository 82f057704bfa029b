"""``edgewise check-config`` reports broken automations and scripts exactly as loading does."""

from __future__ import annotations

import asyncio
import re
import subprocess
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import voluptuous as vol

from automations.manager import AutomationManager
from automations.script_integration import ScriptManager
from core.config import load_site_config
from core.const import CoreState
from core.core_sections import CORE_SECTIONS
from core.hookspecs import hookimpl
from core.integration import Manifest
from core.plugins import IntegrationLoader
from core.runtime import Runtime
from tests._helpers import free_port

from .conftest import site

RunCommand = Callable[..., subprocess.CompletedProcess[str]]

#: The test site has a plugin trigger and condition more than the installed integrations.
_KNOWN = re.compile(r"; known: [^;]*?, got ")


def _same(message: str) -> str:
    return _KNOWN.sub("; known: ..., got ", message)


AUTOMATIONS = """\
# Kept by hand: comments and order matter to the people who wrote them.
- id: fine
  alias: Fine
  triggers: [{trigger: state, entity_id: sensor.a}]
  actions: [{action: homeassistant.turn_on}]
- id: unknown_trigger
  alias: Unknown trigger
  triggers:
    - trigger: teleport
  actions: [{action: homeassistant.turn_on}]
- id: unknown_condition
  triggers: [{trigger: state, entity_id: sensor.a}]
  conditions:
    - condition: moon_phase
  actions: [{action: homeassistant.turn_on}]
- id: unknown_action
  triggers: [{trigger: state, entity_id: sensor.a}]
  actions:
    - choose:
        - conditions: []
          sequence:
            - teleport: home
- id: bad_template
  alias: Bad template
  triggers: [{trigger: state, entity_id: sensor.a}]
  conditions: "{{ states('sensor.a') | float > }}"
  actions: [{action: homeassistant.turn_on}]
- id: bad_blueprint_input
  use_blueprint:
    path: edgewise/sensor_out_of_range.yaml
    input:
      sensor: light.not_a_sensor
      low: 10
      high: 30
      actions: []
- id: missing_blueprint
  use_blueprint:
    path: edgewise/nowhere.yaml
    input: {}
"""

SCRIPTS = """\
good_script:
  sequence:
    - action: homeassistant.turn_on
bad_template_script:
  alias: Bad data
  sequence:
    - action: homeassistant.turn_on
      data:
        brightness: "{{ 1 + }}"
unknown_step:
  sequence:
    - frobnicate: now
"""

BROKEN = (
    "id 'unknown_trigger'",
    "id 'unknown_condition'",
    "id 'unknown_action'",
    "id 'bad_template'",
    "id 'bad_blueprint_input'",
    "id 'missing_blueprint'",
    "Script 'bad_template_script'",
    "Script 'unknown_step'",
)


def _write(config_dir: Path, configuration: str) -> None:
    config_dir.mkdir(parents=True, exist_ok=True)
    (config_dir / "configuration.yaml").write_text(textwrap.dedent(configuration))
    (config_dir / "automations.yaml").write_text(AUTOMATIONS)
    (config_dir / "scripts.yaml").write_text(SCRIPTS)


async def test_check_config_reports_what_loading_reports(
    tmp_path: Path, edgewise_cmd: RunCommand
) -> None:
    # Loading, in a running site.
    loaded_dir = tmp_path / "loaded"
    yaml = "automation: !include automations.yaml\nscript: !include scripts.yaml\n"
    async with site(
        loaded_dir, yaml, files={"automations.yaml": AUTOMATIONS, "scripts.yaml": SCRIPTS}
    ) as s:
        load_errors = [
            *s.manager.errors.values(),
            *s.runtime.data[ScriptManager.KEY].errors.values(),
        ]
        assert set(s.manager.automations) == {"fine"}
    assert len(load_errors) == len(BROKEN)

    # The same files, checked without starting anything.
    checked_dir = tmp_path / "checked"
    _write(
        checked_dir,
        """\
        edgewise:
          time_zone: Europe/Amsterdam
        automation: !include automations.yaml
        script: !include scripts.yaml
        """,
    )
    result = edgewise_cmd("check-config", "-c", checked_dir)
    assert result.returncode == 1, result.stdout + result.stderr
    lines = result.stderr.splitlines()
    assert f"{len(BROKEN)} error(s) in {checked_dir}" in lines
    checked = [_same(line) for line in lines]
    for message in load_errors:
        assert _same(message) in checked, (message, lines)
    for name in BROKEN:
        assert any(name in line for line in lines), name
    assert not any("'fine'" in line or "good_script" in line for line in lines)

    by_name = {name: next(line for line in lines if name in line) for name in BROKEN}
    assert by_name["id 'unknown_trigger'"].startswith(
        "Automation id 'unknown_trigger' alias 'Unknown trigger' (automations.yaml, line 6) "
        "is not loaded: automations.yaml, line 9: automation.triggers.0.trigger: "
        "unknown trigger platform 'teleport'"
    )
    assert (
        "automations.yaml, line 14: automation.conditions.0.condition: unknown condition"
        in (by_name["id 'unknown_condition'"])
    )
    assert (
        "automations.yaml, line 22: automation.actions.0.choose.0.sequence.0: unknown action"
        in by_name["id 'unknown_action'"]
    )
    assert (
        "invalid template in condition/0 (automations.yaml, line 26)"
        in (by_name["id 'bad_template'"])
    )
    assert by_name["id 'bad_blueprint_input'"] == (
        "Automation id 'bad_blueprint_input' (automations.yaml, line 28): "
        "blueprint input 'sensor': light.not_a_sensor is not of domain sensor"
    )
    assert "nowhere.yaml" in by_name["id 'missing_blueprint'"]
    assert by_name["Script 'bad_template_script'"].startswith(
        "Script 'bad_template_script' alias 'Bad data' (scripts.yaml, line 5) is not loaded: "
        "invalid template in sequence/0 data.brightness (scripts.yaml, line 9)"
    )
    assert (
        "scripts.yaml, line 12: script.sequence.0: unknown action"
        in (by_name["Script 'unknown_step'"])
    )


def test_check_config_knows_the_trigger_platforms_of_configured_integrations(
    tmp_path: Path, edgewise_cmd: RunCommand
) -> None:
    automations = """\
- id: from_mqtt
  triggers: [{trigger: mqtt, topic: site/door}]
  actions: [{action: homeassistant.turn_on}]
"""
    config_dir = tmp_path / "config"
    config_dir.mkdir()
    (config_dir / "automations.yaml").write_text(automations)
    (config_dir / "configuration.yaml").write_text(
        "edgewise:\n  time_zone: UTC\nautomation: !include automations.yaml\n"
        "mqtt:\n  broker: 127.0.0.1\n"
    )
    result = edgewise_cmd("check-config", "-c", config_dir)
    assert result.returncode == 0, result.stderr
    assert "is valid" in result.stdout

    # Without the mqtt integration configured, loading would refuse the trigger: so does this.
    (config_dir / "configuration.yaml").write_text(
        "edgewise:\n  time_zone: UTC\nautomation: !include automations.yaml\n"
    )
    result = edgewise_cmd("check-config", "-c", config_dir)
    assert result.returncode == 1
    assert "unknown trigger platform 'mqtt'" in result.stderr
    assert "Automation id 'from_mqtt' (automations.yaml, line 1)" in result.stderr


class _Checking:
    """A plugin with its own edgewise_check_config: it reports what its section asks it to."""

    def __init__(self, domain: str, *, fail: bool = False) -> None:
        self.domain = domain
        self.fail = fail
        self.seen: list[object] = []

    @hookimpl
    def edgewise_manifest(self) -> Manifest:
        return Manifest(domain=self.domain, name=self.domain, config_schema=vol.Schema(dict))

    @hookimpl
    async def edgewise_check_config(self, runtime: Runtime, config: object) -> list[str]:
        self.seen.append(config)
        assert runtime.state is CoreState.NOT_RUNNING  # nothing is set up
        if self.fail:
            raise RuntimeError("the checker broke")
        assert isinstance(config, dict)
        return [f"{self.domain}: {problem}" for problem in config.get("problems", [])]


async def test_runtime_check_config_asks_each_configured_integration(tmp_path: Path) -> None:
    (tmp_path / "configuration.yaml").write_text(
        "edgewise:\n  time_zone: UTC\nchecker:\n  problems: [one, two]\nbroken_checker: {}\n"
    )
    checker, broken, unused = (
        _Checking("checker"),
        _Checking("broken_checker", fail=True),
        _Checking("unused"),
    )
    loader = IntegrationLoader()
    for plugin in (checker, broken, unused):
        loader.register(plugin, source=f"tests.{plugin.domain}")
    known: dict[str, Any] = dict(CORE_SECTIONS)
    known.update({d: i.manifest.config_schema for d, i in loader.integrations.items()})
    loaded = load_site_config(tmp_path, known)
    problems = await Runtime(tmp_path, loader=loader).check_config(loaded)
    assert problems == [
        "checker: one",
        "checker: two",
        "broken_checker: the configuration check failed: the checker broke",
    ]
    assert checker.seen == [{"problems": ["one", "two"]}]
    assert unused.seen == []  # not configured: not asked


UNKNOWN_SERVICES = """\
- id: no_lights_here
  triggers: [{trigger: state, entity_id: sensor.a}]
  actions:
    - action: light.turn_on
    - action: persistent_notification.create
      data: {message: hello}
- id: typo_in_a_declared_service
  triggers: [{trigger: state, entity_id: sensor.a}]
  actions: [{action: persistent_notification.crate, data: {message: hello}}]
- id: typo_in_homeassistant
  triggers: [{trigger: state, entity_id: sensor.a}]
  actions: [{action: homeassistant.turn_onn, target: {entity_id: switch.a}}]
- id: fine
  triggers: [{trigger: state, entity_id: sensor.a}]
  actions:
    - action: homeassistant.toggle
      target: {entity_id: switch.a}
    - action: recorder.purge
- id: no_integration_adds_switches
  triggers: [{trigger: state, entity_id: sensor.a}]
  actions: [{action: switch.turn_on, target: {entity_id: switch.a}}]
"""


async def test_check_config_refuses_the_unknown_services_the_runtime_refuses(
    tmp_path: Path, edgewise_cmd: RunCommand
) -> None:
    # The runtime, with the installed integrations (no plugin standing in for lights).
    configuration = "automation: !include automations.yaml\n"
    loaded_dir = tmp_path / "loaded"
    loaded_dir.mkdir()
    (loaded_dir / "configuration.yaml").write_text(
        f"{configuration}http:\n  server_host: 127.0.0.1\n  server_port: {free_port()}\n"
    )
    (loaded_dir / "automations.yaml").write_text(UNKNOWN_SERVICES)
    runtime = Runtime(loaded_dir)
    await runtime.start()
    try:
        manager = runtime.data[AutomationManager.KEY]
        async with asyncio.timeout(30):
            await manager.loaded.wait()
        load_errors = sorted(manager.errors.values())
        assert set(manager.automations) == {"fine"}
    finally:
        await runtime.stop()
    assert sorted(e.rsplit(": ", 1)[1] for e in load_errors) == [
        "unknown action(s) homeassistant.turn_onn",
        "unknown action(s) light.turn_on",
        "unknown action(s) persistent_notification.crate",
        "unknown action(s) switch.turn_on",
    ]

    # check-config, in another process, nothing set up: the same four, word for word.
    checked_dir = tmp_path / "checked"
    checked_dir.mkdir()
    (checked_dir / "configuration.yaml").write_text(configuration)
    (checked_dir / "automations.yaml").write_text(UNKNOWN_SERVICES)
    result = edgewise_cmd("check-config", "-c", checked_dir)
    assert result.returncode == 1, result.stdout + result.stderr
    lines = result.stderr.splitlines()
    assert lines[-1] == f"4 error(s) in {checked_dir}"
    assert sorted(lines[:-1]) == load_errors
