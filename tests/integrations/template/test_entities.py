"""Template sensors and binary sensors in a real Runtime on a FakeClock (Europe/Amsterdam)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from core.bus import Event, callback
from core.const import EVENT_STATE_CHANGED
from core.integration import IntegrationStatus
from core.runtime import Runtime
from core.state import State
from tests._helpers import settle
from tests.integrations._runtime import clock_of, running

BASE = """\
edgewise:
  latitude: 52.3731
  longitude: 4.8922
  time_zone: Europe/Amsterdam
http:
  server_host: 127.0.0.1
  server_port: 0
"""

#: 11:00:30 UTC, 12:00:30 in Amsterdam.
START = datetime(2024, 1, 15, 11, 0, 30, tzinfo=UTC)

CONFIG = (
    BASE
    + """\
template:
  - unique_id: plant
    sensor:
      - name: Total power
        unique_id: total_power
        unit_of_measurement: W
        device_class: power
        state_class: measurement
        state: "{{ states('sensor.a') | float(0) + states('sensor.b') | float(0) }}"
        availability: "{{ has_value('sensor.a') }}"
        icon: "{{ 'mdi:flash' if states('sensor.a') | float(0) > 100 else 'mdi:flash-outline' }}"
        attributes:
          a: "{{ states('sensor.a') }}"
          # 'this' is the entity's state before the write; reading sensor.a re-renders it.
          previous: "{{ [this.state, states('sensor.a')] | first }}"
      - name: "{{ 'Clock' }}"
        state: "{{ now().strftime('%H:%M') }}"
      - name: Mode text
        state: "{{ states('input_select.mode') }}"
      - name: Broken
        unit_of_measurement: W
        state: "{{ states('sensor.a') | float }}"
  - binary_sensor:
      - name: Heating needed
        device_class: heat
        state: "{{ states('sensor.t') | float(99) < 19 }}"
        delay_on: "00:05:00"
        delay_off:
          minutes: 2
      - name: Door open
        state: "{{ states('binary_sensor.contact') }}"
        delay_on: "{{ states('input_number.door_delay') | int(0) }}"
"""
)


@pytest.fixture
async def runtime(tmp_path: Path) -> AsyncIterator[Runtime]:
    async with running(tmp_path, CONFIG, START) as rt:
        yield rt


def state(runtime: Runtime, entity_id: str) -> State:
    current = runtime.states.get(entity_id)
    assert current is not None, f"{entity_id} has no state"
    return current


def record_changes(runtime: Runtime, entity_id: str) -> list[State | None]:
    changes: list[State | None] = []

    @callback
    def on_change(event: Event[Any]) -> None:
        changes.append(event.data["new_state"])

    runtime.states.track(entity_id, on_change)
    return changes


async def test_integration_is_set_up_from_its_entry_point(runtime: Runtime) -> None:
    loaded = runtime.loader.get("template")
    assert loaded is not None
    assert loaded.status is IntegrationStatus.RUNNING


async def test_sensor_follows_what_it_reads(runtime: Runtime) -> None:
    assert state(runtime, "sensor.total_power").state == "unavailable"
    runtime.states.set("sensor.a", "40")
    runtime.states.set("sensor.b", "2.5")
    await settle(runtime)
    total = state(runtime, "sensor.total_power")
    assert total.state == "42.5"
    assert total.attributes["unit_of_measurement"] == "W"
    assert total.attributes["device_class"] == "power"
    assert total.attributes["state_class"] == "measurement"
    assert total.attributes["friendly_name"] == "Total power"
    assert total.attributes["icon"] == "mdi:flash-outline"
    assert total.attributes["a"] == 40

    runtime.states.set("sensor.a", "140")
    await settle(runtime)
    total = state(runtime, "sensor.total_power")
    assert total.state == "142.5"
    assert total.attributes["icon"] == "mdi:flash"
    assert total.attributes["previous"] == 42.5


async def test_unrelated_changes_write_nothing_and_one_change_writes_once(
    runtime: Runtime,
) -> None:
    runtime.states.set("sensor.a", "1")
    await settle(runtime)
    changes = record_changes(runtime, "sensor.total_power")
    runtime.states.set("sensor.unrelated", "5")
    await settle(runtime)
    assert changes == []
    # sensor.a is read by the state, availability, icon and an attribute: one state write.
    runtime.states.set("sensor.a", "2")
    await settle(runtime)
    assert len(changes) == 1
    assert changes[0] is not None
    assert changes[0].state == "2.0"


async def test_availability_template_makes_the_entity_unavailable(runtime: Runtime) -> None:
    runtime.states.set("sensor.a", "5")
    await settle(runtime)
    assert state(runtime, "sensor.total_power").state == "5.0"
    runtime.states.set("sensor.a", "unavailable")
    await settle(runtime)
    total = state(runtime, "sensor.total_power")
    assert total.state == "unavailable"
    assert "a" not in total.attributes


async def test_registry_entry_uses_the_block_prefix(runtime: Runtime) -> None:
    entry = runtime.entity_registry.get("sensor.total_power")
    assert entry is not None
    assert entry.unique_id == "plant_total_power"
    assert entry.platform == "template"


async def test_name_template_and_time_sensor(runtime: Runtime) -> None:
    assert state(runtime, "sensor.clock").state == "12:00"
    clock_of(runtime).advance(timedelta(seconds=30))
    await settle(runtime)
    assert state(runtime, "sensor.clock").state == "12:01"


async def test_text_sensor_and_failing_numeric_sensor(
    runtime: Runtime, caplog: pytest.LogCaptureFixture
) -> None:
    assert state(runtime, "sensor.mode_text").state == "unknown"
    runtime.states.set("input_select.mode", "eco")
    await settle(runtime)
    assert state(runtime, "sensor.mode_text").state == "eco"
    # sensor.broken has no default: 'unknown' cannot be a float.
    assert state(runtime, "sensor.broken").state == "unknown"
    setup_log = "\n".join(record.getMessage() for record in caplog.get_records("setup"))
    assert "'sensor.broken state'" in setup_log
    assert "float got invalid input 'unknown'" in setup_log
    runtime.states.set("sensor.a", "7")
    await settle(runtime)
    assert state(runtime, "sensor.broken").state == "7.0"


async def test_numeric_sensor_refuses_text(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    yaml = BASE + "template:\n  - sensor:\n      - name: Bad\n        unit_of_measurement: W\n"
    yaml += "        state: \"{{ 'lots' }}\"\n"
    async with running(tmp_path, yaml, START) as runtime:
        assert state(runtime, "sensor.bad").state == "unknown"
        assert "sensor.bad: the state template rendered 'lots', which is not a number" in (
            caplog.text
        )


async def test_binary_sensor_delay_on_and_off(runtime: Runtime) -> None:
    clock = clock_of(runtime)
    heating = "binary_sensor.heating_needed"
    assert state(runtime, heating).state == "off"  # unknown -> 99: not below 19
    assert state(runtime, heating).attributes["device_class"] == "heat"

    runtime.states.set("sensor.t", "18")
    await settle(runtime)
    assert state(runtime, heating).state == "off"  # held back by delay_on
    await clock.advance_and_settle(timedelta(minutes=4))
    assert state(runtime, heating).state == "off"
    await clock.advance_and_settle(timedelta(minutes=1))
    await settle(runtime)
    assert state(runtime, heating).state == "on"

    # A flicker shorter than delay_off changes nothing.
    runtime.states.set("sensor.t", "20")
    await settle(runtime)
    await clock.advance_and_settle(timedelta(minutes=1))
    runtime.states.set("sensor.t", "18.5")
    await settle(runtime)
    await clock.advance_and_settle(timedelta(minutes=5))
    await settle(runtime)
    assert state(runtime, heating).state == "on"

    runtime.states.set("sensor.t", "21")
    await settle(runtime)
    await clock.advance_and_settle(timedelta(minutes=2))
    await settle(runtime)
    assert state(runtime, heating).state == "off"


async def test_binary_sensor_delay_from_a_template(runtime: Runtime) -> None:
    clock = clock_of(runtime)
    door = "binary_sensor.door_open"
    assert state(runtime, door).state == "off"
    runtime.states.set("binary_sensor.contact", "on")
    await settle(runtime)
    assert state(runtime, door).state == "on"  # delay 0: at once
    runtime.states.set("binary_sensor.contact", "off")
    runtime.states.set("input_number.door_delay", "30")
    await settle(runtime)
    assert state(runtime, door).state == "off"
    runtime.states.set("binary_sensor.contact", "on")
    await settle(runtime)
    assert state(runtime, door).state == "off"
    await clock.advance_and_settle(timedelta(seconds=30))
    await settle(runtime)
    assert state(runtime, door).state == "on"


async def test_stop_removes_entities_and_their_listeners(tmp_path: Path) -> None:
    async with running(tmp_path, CONFIG, START) as runtime:
        before = runtime.bus.listener_counts().get(EVENT_STATE_CHANGED, 0)
        assert "sensor.total_power" in runtime.states
    assert "sensor.total_power" not in runtime.states
    assert runtime.bus.listener_counts().get(EVENT_STATE_CHANGED, 0) <= before


async def test_a_bad_entity_is_reported_and_the_others_run(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR)
    yaml = BASE + (
        "template:\n"
        "  - sensor:\n"
        "      - name: Bad\n"
        '        state: "{{ 1 + }}"\n'
        "      - name: Good\n"
        '        state: "{{ 2 }}"\n'
    )
    async with running(tmp_path, yaml, START) as runtime:
        loaded = runtime.loader.get("template")
        assert loaded is not None
        assert loaded.status is IntegrationStatus.RUNNING
        assert (
            "configuration.yaml, line 11: template.0.sensor.0.state: invalid template"
            in caplog.text
        )
        assert state(runtime, "sensor.good").state == "2"
        assert "sensor.bad" not in runtime.states


async def test_an_entity_reading_its_own_state_does_not_loop(tmp_path: Path) -> None:
    yaml = BASE + (
        "template:\n"
        "  - sensor:\n"
        "      - name: Counter\n"
        "        state: >-\n"
        "          {{ states('sensor.counter') | int(0) + states('sensor.step') | int(0) }}\n"
    )
    async with running(tmp_path, yaml, START) as runtime:
        changes = record_changes(runtime, "sensor.counter")
        runtime.states.set("sensor.step", "1")
        await settle(runtime)
        await settle(runtime)
        assert [change.state for change in changes if change is not None] == ["1"]


async def test_entities_created_through_the_api_persist(tmp_path: Path) -> None:
    from core.collection import ItemInvalidError, get_collection

    async with running(tmp_path, BASE + "template:\n", START) as runtime:
        collection = get_collection(runtime, "template")
        assert collection is not None
        item = await collection.create(
            {
                "template_type": "sensor",
                "name": "Double A",
                "state": "{{ states('sensor.a') | float(0) * 2 }}",
                "unit_of_measurement": "W",
            }
        )
        assert item.id == "double_a"
        await collection.create(
            {
                "template_type": "binary_sensor",
                "name": "A high",
                "state": "{{ states('sensor.a') | float(0) > 10 }}",
            }
        )
        runtime.states.set("sensor.a", "21")
        await settle(runtime)
        assert state(runtime, "sensor.double_a").state == "42.0"
        assert state(runtime, "sensor.double_a").attributes["unit_of_measurement"] == "W"
        assert state(runtime, "binary_sensor.a_high").state == "on"

        await collection.update("double_a", {"state": "{{ states('sensor.a') | float(0) * 3 }}"})
        await settle(runtime)
        assert state(runtime, "sensor.double_a").state == "63.0"
        runtime.states.set("sensor.a", "1")
        await settle(runtime)
        assert state(runtime, "sensor.double_a").state == "3.0"
        assert state(runtime, "binary_sensor.a_high").state == "off"

        with pytest.raises(ItemInvalidError, match="state"):
            await collection.update("double_a", {"state": "{{ 1 + }}"})
        await collection.delete("a_high")
        assert "binary_sensor.a_high" not in runtime.states

    # After a restart the stored entity is back, rendering from the states it reads.
    async with running(tmp_path, BASE + "template:\n", START) as runtime:
        runtime.states.set("sensor.a", "5")
        await settle(runtime)
        assert state(runtime, "sensor.double_a").state == "15.0"
        assert "binary_sensor.a_high" not in runtime.states
        entry = runtime.entity_registry.get("sensor.double_a")
        assert entry is not None
        assert entry.unique_id == "double_a"


async def test_reload_reads_the_yaml_section_again(tmp_path: Path) -> None:
    from tests.integrations._runtime import write_config

    first = BASE + 'template:\n  - sensor:\n      - name: One\n        state: "1"\n'
    async with running(tmp_path, first, START) as runtime:
        assert state(runtime, "sensor.one").state == "1"
        second = BASE + (
            "template:\n"
            "  - sensor:\n"
            "      - name: Two\n        state: \"{{ states('sensor.a') }}\"\n"
            '      - name: Broken\n        state: "{{ 1 + }}"\n'
        )
        write_config(tmp_path, second)
        await runtime.services.call("template", "reload", {}, blocking=True)
        assert "sensor.one" not in runtime.states
        assert state(runtime, "sensor.two").state == "unknown"
        runtime.states.set("sensor.a", "on")
        await settle(runtime)
        assert state(runtime, "sensor.two").state == "on"
        assert "sensor.broken" not in runtime.states


async def test_labelled_sections_are_joined(tmp_path: Path) -> None:
    yaml = BASE + (
        'template:\n  - sensor:\n      - name: First\n        state: "1"\n'
        'template extra:\n  - sensor:\n      - name: Second\n        state: "{{ 1 + }}"\n'
        '      - name: Third\n        state: "3"\n'
    )
    async with running(tmp_path, yaml, START) as runtime:
        assert state(runtime, "sensor.first").state == "1"
        assert state(runtime, "sensor.third").state == "3"
        assert "sensor.second" not in runtime.states


TRIGGER_CONFIG = BASE + (
    "template:\n"
    "  - trigger:\n"
    "      - trigger: event\n"
    "        event_type: doorbell\n"
    "    variables:\n"
    "      who: \"{{ trigger.event.data.who | default('nobody') }}\"\n"
    "    sensor:\n"
    "      - name: Last visitor\n"
    '        state: "{{ who }}"\n'
    "        attributes:\n"
    "          reads: \"{{ states('sensor.a') }}\"\n"
    "    binary_sensor:\n"
    "      - name: Doorbell ringing\n"
    '        state: "{{ true }}"\n'
    '        auto_off: "00:00:30"\n'
    "  - triggers:\n"
    "      - platform: no_such_platform\n"
    "    sensor:\n"
    "      - name: Never\n"
    '        state: "1"\n'
)


async def test_trigger_based_entities_render_when_triggered(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async with running(tmp_path, TRIGGER_CONFIG, START) as runtime:
        clock = clock_of(runtime)
        await settle(runtime)
        assert state(runtime, "sensor.last_visitor").state == "unknown"
        assert state(runtime, "binary_sensor.doorbell_ringing").state == "unknown"
        # Reading a state does not make a trigger-based entity follow it.
        runtime.states.set("sensor.a", "1")
        await settle(runtime)
        assert state(runtime, "sensor.last_visitor").state == "unknown"

        runtime.bus.fire("doorbell", {"who": "postman"})
        await settle(runtime)
        visitor = state(runtime, "sensor.last_visitor")
        assert visitor.state == "postman"
        assert visitor.attributes["reads"] == 1
        assert state(runtime, "binary_sensor.doorbell_ringing").state == "on"

        await clock.advance_and_settle(timedelta(seconds=20))
        runtime.bus.fire("doorbell", {})  # rings again: auto_off starts over
        await settle(runtime)
        assert state(runtime, "sensor.last_visitor").state == "nobody"
        await clock.advance_and_settle(timedelta(seconds=20))
        await settle(runtime)
        assert state(runtime, "binary_sensor.doorbell_ringing").state == "on"
        await clock.advance_and_settle(timedelta(seconds=10))
        await settle(runtime)
        assert state(runtime, "binary_sensor.doorbell_ringing").state == "off"

        assert state(runtime, "sensor.never").state == "unknown"
        assert "sensor.never: its triggers are not attached" in caplog.text
