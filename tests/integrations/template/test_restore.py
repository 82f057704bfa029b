"""Trigger-based template entities take their last state and attributes back after a restart."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from tests._helpers import settle
from tests.integrations._runtime import clock_of, running

from .test_entities import BASE, START, state

CONFIG = BASE + (
    "template:\n"
    "  - triggers:\n"
    "      - trigger: event\n"
    "        event_type: meter_reading\n"
    "    sensor:\n"
    "      - name: Last reading\n"
    "        unit_of_measurement: kWh\n"
    '        state: "{{ trigger.event.data.kwh }}"\n'
    "        icon: \"{{ 'mdi:counter' }}\"\n"
    "        attributes:\n"
    '          reader: "{{ trigger.event.data.who }}"\n'
    "      - name: Last note\n"
    '        state: "{{ trigger.event.data.note }}"\n'
    "    binary_sensor:\n"
    "      - name: Reading fresh\n"
    '        state: "{{ true }}"\n'
    '        auto_off: "00:10:00"\n'
    "  - triggers:\n"
    "      - trigger: event\n"
    "        event_type: never_fired\n"
    "    sensor:\n"
    "      - name: Never triggered\n"
    '        state: "{{ 1 }}"\n'
    "  - sensor:\n"
    "      - name: Follows a\n"
    "        state: \"{{ states('sensor.a') }}\"\n"
)


async def test_trigger_based_entities_restore_state_and_attributes(tmp_path: Path) -> None:
    async with running(tmp_path, CONFIG, START) as runtime:
        await settle(runtime)
        runtime.states.set("sensor.a", "before")
        runtime.bus.fire("meter_reading", {"kwh": 1234.5, "who": "Ann", "note": "all fine"})
        await settle(runtime)
        reading = state(runtime, "sensor.last_reading")
        assert reading.state == "1234.5"
        assert reading.attributes["reader"] == "Ann"
        assert reading.attributes["icon"] == "mdi:counter"
        assert state(runtime, "binary_sensor.reading_fresh").state == "on"
        assert state(runtime, "sensor.follows_a").state == "before"

    # Restarted (the clock starts over at START: auto_off is still 10 minutes away).
    async with running(tmp_path, CONFIG, START) as runtime:
        await settle(runtime)
        reading = state(runtime, "sensor.last_reading")
        assert reading.state == "1234.5"
        assert reading.attributes["reader"] == "Ann"
        assert reading.attributes["icon"] == "mdi:counter"
        assert reading.attributes["unit_of_measurement"] == "kWh"
        assert state(runtime, "sensor.last_note").state == "all fine"
        assert state(runtime, "binary_sensor.reading_fresh").state == "on"
        # Never triggered: nothing to restore. State-based: rendered anew, not restored.
        assert state(runtime, "sensor.never_triggered").state == "unknown"
        assert state(runtime, "sensor.follows_a").state == "unknown"

        # The auto_off kept its time across the restart.
        clock = clock_of(runtime)
        await clock.advance_and_settle(timedelta(minutes=9))
        await settle(runtime)
        assert state(runtime, "binary_sensor.reading_fresh").state == "on"
        await clock.advance_and_settle(timedelta(minutes=2))
        await settle(runtime)
        assert state(runtime, "binary_sensor.reading_fresh").state == "off"

        # A new trigger replaces what was restored.
        runtime.bus.fire("meter_reading", {"kwh": 1300, "who": "Bob", "note": "later"})
        await settle(runtime)
        assert state(runtime, "sensor.last_reading").state == "1300"
        assert state(runtime, "sensor.last_reading").attributes["reader"] == "Bob"
        assert state(runtime, "binary_sensor.reading_fresh").state == "on"

    # Restarted an hour later: the auto_off time passed while the runtime was down.
    async with running(tmp_path, CONFIG, START + timedelta(hours=1)) as runtime:
        await settle(runtime)
        assert state(runtime, "sensor.last_reading").state == "1300"
        assert state(runtime, "sensor.last_reading").attributes["reader"] == "Bob"
        assert state(runtime, "binary_sensor.reading_fresh").state == "off"
