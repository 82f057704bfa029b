"""Blueprints: the bundled ones working end to end, !input anywhere, script blueprints, and
selector validation that names the automation, the input and the reason."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from automations.blueprint import BUNDLED_DIR, load_blueprint

from .conftest import site
from .test_config_store import SHIPPED


def test_bundled_blueprints_load_with_their_headers(tmp_path: Path) -> None:
    names = sorted(p.name for p in (BUNDLED_DIR / "automation" / "edgewise").glob("*.yaml"))
    assert names == [
        "cheap_tariff_appliance.yaml",
        "motion_light.yaml",
        "sensor_out_of_range.yaml",
    ]
    for name in names:
        blueprint = load_blueprint(tmp_path, "automation", f"edgewise/{name}")
        assert blueprint.name
        assert blueprint.domain == "automation"
        assert blueprint.inputs
    motion = load_blueprint(tmp_path, "automation", "edgewise/motion_light.yaml")
    assert "no_motion_wait" in motion.inputs  # declared inside a section
    assert motion.inputs["no_motion_wait"].default == 120


MOTION = """\
automation:
  - id: hall_light
    alias: Hall light
    use_blueprint:
      path: edgewise/motion_light.yaml
      input:
        motion_entity: binary_sensor.hall_motion
        light_target: {entity_id: light.hall}
        no_motion_wait: 60
"""


async def test_motion_light_blueprint_end_to_end(cfg: Path) -> None:
    async with site(cfg, MOTION) as s:
        assert s.runtime.states.get("automation.hall_light") is not None
        s.set("binary_sensor.hall_motion", "off")
        await s.settle()
        s.set("binary_sensor.hall_motion", "on")
        await s.wait_for(lambda: len(s.calls) == 1)
        assert (s.calls[0].domain, s.calls[0].service) == ("light", "turn_on")
        assert s.calls[0].target.entity_ids == {"light.hall"}
        s.set("binary_sensor.hall_motion", "off")
        await s.advance(seconds=59)
        assert len(s.calls) == 1
        await s.advance(seconds=2)
        await s.wait_for(lambda: len(s.calls) == 2)
        assert s.calls[1].service == "turn_off"
        trace = s.traces("hall_light")[-1]
        assert trace["blueprint_inputs"]["path"] == "edgewise/motion_light.yaml"


async def test_sensor_out_of_range_blueprint_runs_the_users_actions(cfg: Path) -> None:
    yaml = """\
automation:
  - id: freezer
    use_blueprint:
      path: edgewise/sensor_out_of_range.yaml
      input:
        sensor: sensor.freezer
        low: -30
        high: -15
        duration: {minutes: 10}
        actions:
          - action: notify.notify
            data:
              message: "{{ sensor }} is {{ direction }} its range: {{ value }}"
"""
    async with site(cfg, yaml) as s:
        s.set("sensor.freezer", "-20")
        await s.settle()
        s.set("sensor.freezer", "-10")
        await s.advance(minutes=9)
        assert s.calls == []
        await s.advance(minutes=2)
        await s.wait_for(lambda: len(s.calls) == 1)
        assert s.calls[0].data == {"message": "sensor.freezer is above its range: -10"}


async def test_cheap_tariff_blueprint_runs_the_appliance_in_the_window(cfg: Path) -> None:
    yaml = """\
automation:
  - id: dishwasher
    use_blueprint:
      path: edgewise/cheap_tariff_appliance.yaml
      input:
        price_sensor: sensor.electricity_price
        max_price: 0.15
        appliance: switch.dishwasher
        run_time: {hours: 1}
        window_start: "11:00:00"
        window_end: "18:00:00"
"""
    async with site(cfg, yaml) as s:  # 12:00 local
        s.set("switch.dishwasher", "off")
        s.set("sensor.electricity_price", "0.30")
        await s.settle()
        s.set("sensor.electricity_price", "0.12")
        await s.wait_for(lambda: len(s.calls) == 1)
        assert (s.calls[0].domain, s.calls[0].service) == ("switch", "turn_on")
        assert s.calls[0].target.entity_ids == {"switch.dishwasher"}
        await s.advance(hours=1, seconds=1)
        await s.wait_for(lambda: len(s.calls) == 2)
        assert s.calls[1].service == "turn_off"


@pytest.mark.parametrize(
    ("inputs", "reason"),
    [
        (
            "motion_entity: sensor.hall_motion\n        light_target: {entity_id: light.hall}",
            "blueprint input 'motion_entity': sensor.hall_motion is not of domain binary_sensor",
        ),
        (
            "motion_entity: binary_sensor.m\n        light_target: {entity_id: switch.hall}",
            "blueprint input 'light_target': switch.hall is not of domain light",
        ),
        (
            "motion_entity: binary_sensor.m\n        light_target: {entity_id: light.hall}\n"
            "        no_motion_wait: 7200",
            "blueprint input 'no_motion_wait': 7200 is above the maximum 3600",
        ),
        (
            "motion_entity: binary_sensor.m\n        light_target: {entity_id: light.hall}\n"
            "        no_motion_wait: soon",
            "blueprint input 'no_motion_wait': expected a number, got 'soon'",
        ),
        (
            "light_target: {entity_id: light.hall}",
            "is missing input(s) motion_entity",
        ),
        (
            "motion_entity: binary_sensor.m\n        light_target: {entity_id: light.hall}\n"
            "        colour: red",
            "has no input named colour",
        ),
    ],
)
async def test_selector_rejections_name_automation_input_and_reason(
    cfg: Path, inputs: str, reason: str
) -> None:
    yaml = f"""\
automation:
  - id: checked
    alias: Checked light
    use_blueprint:
      path: edgewise/motion_light.yaml
      input:
        {inputs}
  - id: other
    triggers: [{{trigger: event, event_type: go}}]
    actions: [{{action: test.record}}]
"""
    async with site(cfg, yaml) as s:
        assert set(s.manager.automations) == {"other"}
        message = next(iter(s.manager.errors.values()))
        assert "id 'checked'" in message
        assert reason in message, message


async def test_missing_blueprint_and_site_blueprint_with_input_anywhere(cfg: Path) -> None:
    site_blueprint = """\
blueprint:
  name: Echo
  domain: automation
  input:
    event_name: {selector: {text: {}}}
    key: {default: word}
mode: !input mode
triggers:
  - trigger: event
    event_type: !input event_name
actions:
  - action: test.record
    data:
      !input key: "{{ trigger.event.event_type }}"
"""
    yaml = """\
automation:
  - id: echo
    use_blueprint:
      path: mine/echo.yaml
      input: {event_name: shout}
  - id: lost
    use_blueprint: {path: nowhere/none.yaml}
"""
    files = {
        "blueprints/automation/mine/echo.yaml": site_blueprint.replace("mode: !input mode\n", "")
    }
    async with site(cfg, yaml, files=files) as s:
        assert "blueprint automation/nowhere/none.yaml not found" in " ".join(
            s.manager.errors.values()
        )
        s.runtime.bus.fire("shout")
        await s.wait_for(lambda: len(s.calls) == 1)
        assert s.calls[0].data == {"word": "shout"}


async def test_script_blueprint(cfg: Path) -> None:
    blueprint = """\
blueprint:
  name: Flash
  domain: script
  input:
    target_light: {selector: {entity: {domain: light}}}
sequence:
  - action: light.turn_on
    target: {entity_id: !input target_light}
"""
    yaml = """\
script:
  flash_hall:
    use_blueprint:
      path: flash.yaml
      input: {target_light: light.hall}
  flash_bad:
    use_blueprint:
      path: flash.yaml
      input: {target_light: sensor.hall}
"""
    from automations.script_integration import ScriptManager

    async with site(cfg, yaml, files={"blueprints/script/flash.yaml": blueprint}) as s:
        manager = s.runtime.data[ScriptManager.KEY]
        assert set(manager.scripts) == {"flash_hall"}
        assert "sensor.hall is not of domain light" in " ".join(manager.errors.values())
        await s.runtime.services.call("script", "flash_hall")
        assert s.calls[0].target.entity_ids == {"light.hall"}


async def test_list_blueprints_for_the_api(cfg: Path) -> None:
    from automations import api

    files = {"blueprints/automation/mine/broken.yaml": "blueprint: {name: x}\n"}
    async with site(cfg, "automation:\n", files=files) as s:
        listed = await api.list_blueprints(s.runtime, "automation")
        motion = listed["edgewise/motion_light.yaml"]["metadata"]
        assert motion["name"] == "Motion-activated light"
        assert motion["input"]["no_motion_wait"]["default"] == 120
        assert "error" in listed["mine/broken.yaml"]


def shipped_comfort_band() -> str:
    """The sample comfort alarm of ``config/automations.yaml``, notifying through test.record."""
    entries = yaml.safe_load((SHIPPED / "automations.yaml").read_text(encoding="utf-8"))
    [entry] = [e for e in entries if e["id"] == "zone_1_comfort_band"]
    text = yaml.safe_dump({"automation": [entry]}, sort_keys=False, allow_unicode=True)
    return text.replace("notify.persistent_notification", "test.record")


async def test_the_sample_comfort_alarm_ignores_the_night_setback(cfg: Path) -> None:
    async with site(cfg, shipped_comfort_band()) as s:
        s.set("input_boolean.vacation_mode", "off")
        s.set("schedule.office_hours", "off")
        s.set("sensor.zone_1_temperature", "21")
        await s.settle()
        # The night: the zone falls to the sample setback (17 °C), below the band, for hours.
        s.set("sensor.zone_1_temperature", "17")
        await s.advance(minutes=30)
        assert s.calls == []
        # Office hours: a zone out of its band is told.
        s.set("schedule.office_hours", "on")
        s.set("sensor.zone_1_temperature", "21")
        await s.settle()
        s.set("sensor.zone_1_temperature", "27")
        await s.advance(minutes=11)
        await s.wait_for(lambda: len(s.calls) == 1)
        assert "above" in s.calls[0].data["message"]
