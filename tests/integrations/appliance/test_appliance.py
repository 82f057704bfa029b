"""Appliances with and without a plug: one pipeline, one control log, the same accounting."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from core import Context, DeviceConnectError
from core.audit import audit_log
from integrations.appliance.api import CONTROL_LOG
from integrations.appliance.const import Source
from integrations.appliance.control_log import LogQuery, tag_context
from tests.integrations._runtime import clock_of
from tests.integrations.tuya.conftest import state_becomes

from .conftest import site, site_yaml

VIRTUAL = """\
  price: 0.30
  carbon_intensity: 0.2
  appliances:
    - {name: Dishwasher, area: Kitchen, tier: shiftable, power: 2000}
    - {name: Heater, area: Office, tier: deferrable, power: 1000}
"""


async def _log(runtime: Any, **query: Any) -> list[Any]:
    return await runtime.data[CONTROL_LOG].query(LogQuery(**query))


async def test_a_virtual_appliance_turns_on_through_the_audited_pipeline_and_is_logged(
    tmp_path: Path,
) -> None:
    async with site(tmp_path, site_yaml(VIRTUAL)) as runtime:
        context = Context(user_id="user-7")
        await runtime.services.call(
            "appliance", "turn_on", target={"entity_id": "appliance.dishwasher"}, context=context
        )
        state = runtime.states.get("appliance.dishwasher")
        entries = await _log(runtime, appliance="appliance.dishwasher")
        audited = audit_log(runtime).query("appliance.dishwasher")

    assert state is not None
    assert state.state == "running"
    assert state.attributes["source"] == "virtual"
    assert state.attributes["tier"] == "shiftable"
    assert len(entries) == 1
    entry = entries[0]
    assert (entry.action, entry.source, entry.user_id) == ("turn_on", Source.USER, "user-7")
    assert (entry.state_before, entry.result.value, entry.error) == ("off", "ok", None)
    assert entry.confirmation_ms is not None
    assert audited[0].action == "appliance.turn_on"
    assert audited[0].context_id == context.id


async def test_a_plug_appliance_switches_its_tuya_plug_and_logs_the_confirmation_time(
    tmp_path: Path, make_double: Any
) -> None:
    double = await make_double(3.3)
    appliances = """\
  appliances:
    - {name: Kettle, area: Kitchen, tier: essential, power: 2000,
       switch: switch.kettle_plug, power_sensor: sensor.kettle_plug_power}
"""
    yaml = site_yaml(appliances, tuya_port=double.port)
    async with site(tmp_path, yaml) as runtime:
        await state_becomes(runtime, "appliance.kettle", "off")
        await runtime.services.call(
            "appliance",
            "turn_on",
            target={"entity_id": "appliance.kettle"},
            context=Context(user_id="user-1"),
        )
        on = runtime.states.get("appliance.kettle")
        double.set_dps({"19": 20000})  # the kettle draws 2000 W
        running = await state_becomes(runtime, "appliance.kettle", "running")
        entries = await _log(runtime, appliance="appliance.kettle")
        switch_audit = audit_log(runtime).query("switch.kettle_plug")

    assert double.dps["1"] is True
    assert on is not None
    assert on.state == "on"  # on, but drawing nothing yet
    assert running.attributes["power"] == 2000.0
    assert running.attributes["source"] == "plug"
    assert entries[0].result.value == "ok"
    assert entries[0].confirmation_ms is not None
    assert entries[0].confirmation_ms > 0
    assert switch_audit[0].outcome == "ok"
    assert switch_audit[0].parent_context_id == entries[0].context_id


async def test_a_missing_backing_switch_is_a_clear_error_and_the_rest_keeps_working(
    tmp_path: Path,
) -> None:
    appliances = VIRTUAL + "    - {name: Dryer, power: 2500, switch: switch.does_not_exist}\n"
    async with site(tmp_path, site_yaml(appliances)) as runtime:
        dryer = runtime.states.get("appliance.dryer")
        with pytest.raises(DeviceConnectError, match=r"switch\.does_not_exist does not exist"):
            await runtime.services.call(
                "appliance", "turn_on", target={"entity_id": "appliance.dryer"}
            )
        await runtime.services.call(
            "appliance", "turn_on", target={"entity_id": "appliance.heater"}
        )
        heater = runtime.states.get("appliance.heater")
        entries = await _log(runtime, appliance="appliance.dryer")

    assert dryer is not None
    assert dryer.state == "unknown"
    assert dryer.attributes["problem"] == "backing switch switch.does_not_exist does not exist"
    assert heater is not None
    assert heater.state == "running"
    assert entries[0].result.value == "error"
    assert "does not exist" in (entries[0].error or "")


async def test_an_unavailable_plug_fails_the_command_with_its_reason(
    tmp_path: Path, make_double: Any
) -> None:
    double = await make_double(3.3)
    appliances = "  appliances:\n    - {name: Kettle, power: 2000, switch: switch.kettle_plug}\n"
    async with site(tmp_path, site_yaml(appliances, tuya_port=double.port)) as runtime:
        await state_becomes(runtime, "appliance.kettle", "off")
        await double.stop()
        await state_becomes(runtime, "appliance.kettle", "unknown")
        with pytest.raises(DeviceConnectError, match=r"switch\.kettle_plug is unavailable"):
            await runtime.services.call(
                "appliance", "turn_on", target={"entity_id": "appliance.kettle"}
            )


async def test_run_for_with_a_later_start_schedules_and_turn_on_cancels_the_schedule(
    tmp_path: Path,
) -> None:
    async with site(tmp_path, site_yaml(VIRTUAL)) as runtime:
        start = runtime.clock.now() + timedelta(hours=2)
        await runtime.services.call(
            "appliance",
            "run_for",
            {"duration": "01:00:00", "start": start.isoformat()},
            target={"entity_id": "appliance.dishwasher"},
        )
        scheduled = runtime.states.get("appliance.dishwasher")
        await runtime.services.call(
            "appliance", "turn_on", target={"entity_id": "appliance.dishwasher"}
        )
        await clock_of(runtime).advance_and_settle(timedelta(hours=3, minutes=1))
        after = runtime.states.get("appliance.dishwasher")
        entries = await _log(runtime, appliance="appliance.dishwasher")

    assert scheduled is not None
    assert scheduled.state == "scheduled"
    assert scheduled.attributes["scheduled_start"] == start.isoformat()
    assert after is not None
    assert after.state == "running"  # the cancelled schedule neither started nor stopped it
    assert [e.action for e in entries] == ["turn_on", "run_for"]
    assert entries[0].state_before == "scheduled"
    assert entries[0].params == {"cancelled_schedule": True}


async def test_run_for_now_turns_off_at_the_end_by_the_schedule(tmp_path: Path) -> None:
    async with site(tmp_path, site_yaml(VIRTUAL)) as runtime:
        await runtime.services.call(
            "appliance",
            "run_for",
            {"duration": {"minutes": 30}},
            target={"entity_id": "appliance.heater"},
        )
        on = runtime.states.get("appliance.heater")
        await clock_of(runtime).advance_and_settle(timedelta(minutes=31))
        await state_becomes(runtime, "appliance.heater", "off")
        entries = await _log(runtime, appliance="appliance.heater")

    assert on is not None
    assert on.state == "running"
    assert [(e.action, e.source) for e in entries] == [
        ("turn_off", Source.SCHEDULE),
        ("run_for", Source.SYSTEM),
    ]
    assert entries[0].source_detail == "run_for end"


async def test_energy_cost_carbon_and_runtime_of_a_virtual_appliance(tmp_path: Path) -> None:
    async with site(tmp_path, site_yaml(VIRTUAL)) as runtime:
        await runtime.services.call(
            "appliance", "turn_on", target={"entity_id": "appliance.dishwasher"}
        )
        await clock_of(runtime).advance_and_settle(timedelta(minutes=30))
        state = runtime.states.get("appliance.dishwasher")
        energy = runtime.states.get("sensor.dishwasher_energy")
        cost = runtime.states.get("sensor.dishwasher_cost")
        carbon = runtime.states.get("sensor.dishwasher_carbon")
        hours = runtime.states.get("sensor.dishwasher_runtime")

    assert state is not None
    assert state.attributes["energy_today"] == pytest.approx(1.0)
    assert state.attributes["cost_today"] == pytest.approx(0.3)
    assert state.attributes["runtime_today"] == pytest.approx(30.0)
    assert energy is not None
    assert energy.state == "1.0"
    assert energy.attributes["state_class"] == "total_increasing"
    assert energy.attributes["device_class"] == "energy"
    assert cost is not None
    assert cost.state == "0.3"
    assert cost.attributes["unit_of_measurement"] == "EUR"
    assert carbon is not None
    assert carbon.state == "0.2"
    assert hours is not None
    assert hours.state == "0.5"


async def test_eco_mode_is_set_shown_and_logged(tmp_path: Path) -> None:
    async with site(tmp_path, site_yaml(VIRTUAL)) as runtime:
        await runtime.services.call(
            "appliance",
            "set_eco_mode",
            {"eco_mode": True},
            target={"entity_id": "appliance.heater"},
        )
        state = runtime.states.get("appliance.heater")
        entries = await _log(runtime, appliance="appliance.heater")

    assert state is not None
    assert state.attributes["eco_mode"] is True
    assert entries[0].action == "set_eco_mode"
    assert entries[0].params == {"eco_mode": True}


async def test_who_asked_comes_from_the_automation_or_a_tagged_context(tmp_path: Path) -> None:
    automation = """
automation:
  - alias: Night heating
    trigger: {platform: event, event_type: go}
    action:
      - service: appliance.turn_on
        target: {entity_id: appliance.heater}
"""
    async with site(tmp_path, site_yaml(VIRTUAL, extra=automation)) as runtime:
        await state_becomes(runtime, "automation.night_heating", "on")
        runtime.bus.fire("go", {})
        await state_becomes(runtime, "appliance.heater", "running")
        autopilot = Context()
        tag_context(runtime, autopilot, Source.AUTOPILOT, "peak shaving")
        await runtime.services.call(
            "appliance", "turn_off", target={"entity_id": "appliance.heater"}, context=autopilot
        )
        entries = await _log(runtime, appliance="appliance.heater")
        by_source = await _log(runtime, source=Source.AUTOMATION)

    assert [(e.source, e.source_detail) for e in entries] == [
        (Source.AUTOPILOT, "peak shaving"),
        (Source.AUTOMATION, "Night heating"),
    ]
    assert [e.action for e in by_source] == ["turn_on"]


async def test_every_appliance_service_describes_its_appliance_target(tmp_path: Path) -> None:
    # The panel's service form and HA clients offer an entity picker from the description.
    async with site(tmp_path, site_yaml(VIRTUAL)) as runtime:
        described = {
            name: runtime.services.get("appliance", name).describe()
            for name in ("turn_on", "turn_off", "toggle", "run_for", "set_eco_mode")
        }
    for name, description in described.items():
        assert description["target"] == {"entity": [{"domain": ["appliance"]}]}, name
