"""Every trigger platform, through real YAML on a real Runtime with a FakeClock."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from .conftest import site


def _automation(trigger: str, *, extra: str = "") -> str:
    return f"""\
automation:
  - id: t
    triggers:
{trigger}
    actions:
      - action: test.record
        data:
          platform: "{{{{ trigger.platform }}}}"
          id: "{{{{ trigger.id }}}}"
{extra}
"""


async def test_state_trigger_to_fires_only_on_matching_change(cfg: Path) -> None:
    yaml = _automation(
        "      - trigger: state\n        entity_id: binary_sensor.motion\n        to: 'on'"
    )
    async with site(cfg, yaml) as s:
        s.set("binary_sensor.motion", "off")
        s.set("sensor.other", "on")
        await s.settle()
        assert s.calls == []
        s.set("binary_sensor.motion", "on")
        await s.wait_for(lambda: len(s.calls) == 1)
        assert s.calls[0].data == {"platform": "state", "id": 0}  # rendered "0" parses as 0
        s.set("binary_sensor.motion", "on", {"brightness": 3})  # attribute-only change
        await s.settle()
        assert len(s.calls) == 1


async def test_state_trigger_from_not_to_and_attribute(cfg: Path) -> None:
    yaml = """\
automation:
  - id: t
    triggers:
      - trigger: state
        entity_id: [sensor.a, sensor.b]
        from: "idle"
        not_to: ["unavailable"]
        id: from_idle
      - trigger: state
        entity_id: climate.zone
        attribute: current_temperature
        id: temp
    actions:
      - action: test.record
        data: {id: "{{ trigger.id }}", entity: "{{ trigger.entity_id }}"}
"""
    async with site(cfg, yaml) as s:
        s.set("sensor.a", "idle")
        s.set("sensor.b", "idle")
        s.set("climate.zone", "heat", {"current_temperature": 20})
        await s.settle()
        s.calls.clear()  # the attribute appearing on a new entity counts as a change
        s.set("sensor.a", "unavailable")
        await s.settle()
        assert s.calls == []
        s.set("sensor.b", "running")
        await s.wait_for(lambda: len(s.calls) == 1)
        assert s.calls[0].data == {"id": "from_idle", "entity": "sensor.b"}
        s.set("climate.zone", "heat", {"current_temperature": 21})
        await s.wait_for(lambda: len(s.calls) == 2)
        assert s.calls[1].data == {"id": "temp", "entity": "climate.zone"}
        s.set("climate.zone", "cool", {"current_temperature": 21})  # attribute unchanged
        await s.settle()
        assert len(s.calls) == 2


async def test_state_trigger_for_fires_after_duration(cfg: Path) -> None:
    yaml = _automation(
        "      - trigger: state\n        entity_id: binary_sensor.door\n        to: 'on'\n"
        "        for: '00:05:00'"
    )
    async with site(cfg, yaml) as s:
        s.set("binary_sensor.door", "off")
        s.set("binary_sensor.door", "on")
        await s.advance(minutes=4, seconds=59)
        assert s.calls == []
        await s.advance(seconds=2)
        await s.wait_for(lambda: len(s.calls) == 1)


async def test_state_trigger_for_resets_when_state_flips_back(cfg: Path) -> None:
    yaml = _automation(
        "      - trigger: state\n        entity_id: binary_sensor.door\n        to: 'on'\n"
        "        for: {minutes: 5}"
    )
    async with site(cfg, yaml) as s:
        s.set("binary_sensor.door", "off")
        s.set("binary_sensor.door", "on")
        await s.advance(minutes=3)
        s.set("binary_sensor.door", "off")
        await s.advance(minutes=3)
        assert s.calls == []
        s.set("binary_sensor.door", "on")
        await s.advance(minutes=4)
        assert s.calls == []
        await s.advance(minutes=1, seconds=1)
        await s.wait_for(lambda: len(s.calls) == 1)


async def test_state_trigger_for_with_template_duration(cfg: Path) -> None:
    yaml = _automation(
        "      - trigger: state\n        entity_id: binary_sensor.door\n        to: 'on'\n"
        "        for: \"{{ states('input_number.minutes') | int * 60 }}\""
    )
    async with site(cfg, yaml) as s:
        s.set("input_number.minutes", "2")
        s.set("binary_sensor.door", "off")
        s.set("binary_sensor.door", "on")
        await s.advance(seconds=119)
        assert s.calls == []
        await s.advance(seconds=2)
        await s.wait_for(lambda: len(s.calls) == 1)


async def test_numeric_state_fires_on_crossing_only(cfg: Path) -> None:
    yaml = _automation(
        "      - trigger: numeric_state\n        entity_id: sensor.temp\n        above: 25\n"
        "        below: 40"
    )
    async with site(cfg, yaml) as s:
        s.set("sensor.temp", "20")
        await s.settle()
        s.set("sensor.temp", "26")
        await s.wait_for(lambda: len(s.calls) == 1)
        s.set("sensor.temp", "30")  # still inside: no new crossing
        await s.settle()
        assert len(s.calls) == 1
        s.set("sensor.temp", "45")  # out above
        s.set("sensor.temp", "not a number")
        await s.settle()
        s.set("sensor.temp", "27")
        await s.wait_for(lambda: len(s.calls) == 2)


async def test_numeric_state_entity_in_range_at_start_waits_for_a_crossing(cfg: Path) -> None:
    yaml = """\
automation:
  - id: t
    triggers:
      - trigger: numeric_state
        entity_id: sensor.power
        attribute: watts
        above: sensor.limit
        for: {seconds: 30}
    actions:
      - action: test.record
"""
    async with site(cfg, yaml) as s:
        s.set("sensor.limit", "100")
        s.set("sensor.power", "x", {"watts": 50})
        await s.settle()
        s.set("sensor.power", "x", {"watts": 150})
        await s.advance(seconds=20)
        s.set("sensor.power", "x", {"watts": 90})  # left the range: the wait is cancelled
        await s.advance(seconds=20)
        assert s.calls == []
        s.set("sensor.power", "x", {"watts": 120})
        await s.advance(seconds=31)
        await s.wait_for(lambda: len(s.calls) == 1)


async def test_numeric_state_value_template(cfg: Path) -> None:
    yaml = _automation(
        "      - trigger: numeric_state\n        entity_id: sensor.text\n"
        '        value_template: "{{ state.state | length }}"\n        above: 3'
    )
    async with site(cfg, yaml) as s:
        s.set("sensor.text", "ab")
        await s.settle()
        s.set("sensor.text", "abcdef")
        await s.wait_for(lambda: len(s.calls) == 1)


async def test_event_trigger_with_data_and_context_filters(cfg: Path) -> None:
    yaml = """\
automation:
  - id: t
    triggers:
      - trigger: event
        event_type: [button_pressed, button_held]
        event_data: {button: "1"}
        context: {user_id: [alice]}
    actions:
      - action: test.record
        data: {type: "{{ trigger.event.event_type }}"}
"""
    from core.context import Context

    async with site(cfg, yaml) as s:
        bus = s.runtime.bus
        bus.fire("button_pressed", {"button": "2"}, Context(user_id="alice"))
        bus.fire("button_pressed", {"button": "1"}, Context(user_id="bob"))
        await s.settle()
        assert s.calls == []
        bus.fire("button_held", {"button": "1", "extra": True}, Context(user_id="alice"))
        await s.wait_for(lambda: len(s.calls) == 1)
        assert s.calls[0].data == {"type": "button_held"}


async def test_time_trigger_fixed_time_and_weekday(cfg: Path) -> None:
    # 2024-06-01 is a Saturday; 12:00 local now.
    yaml = _automation("      - trigger: time\n        at: '13:30:00'\n        weekday: [sat]")
    async with site(cfg, yaml) as s:
        await s.advance(hours=1, minutes=29)
        assert s.calls == []
        await s.advance(minutes=2)
        await s.wait_for(lambda: len(s.calls) == 1)
        await s.advance(days=1)  # Sunday 13:31: the Sunday run is filtered out
        await s.settle()
        assert len(s.calls) == 1


async def test_time_trigger_runs_once_on_dst_days(cfg: Path) -> None:
    # Amsterdam springs forward on 2024-03-31 02:00 -> 03:00; a 02:30 trigger runs at 03:30.
    yaml = _automation("      - trigger: time\n        at: '02:30'")
    start = datetime(2024, 3, 30, 23, 0, tzinfo=UTC)  # 00:00 local, 31 March
    async with site(cfg, yaml, start=start) as s:
        await s.advance(minutes=149)  # 01:29 UTC = 03:29 CEST (02:00-03:00 never happened)
        assert s.calls == []
        await s.advance(minutes=2)  # 01:31 UTC = 03:31 CEST
        await s.wait_for(lambda: len(s.calls) == 1)
        await s.advance(hours=20)
        await s.settle()
        assert len(s.calls) == 1


async def test_time_trigger_fall_back_runs_once(cfg: Path) -> None:
    # 2024-10-27 03:00 CEST -> 02:00 CET: 02:30 exists twice, runs on the first one.
    yaml = _automation("      - trigger: time\n        at: '02:30'")
    start = datetime(2024, 10, 26, 22, 0, tzinfo=UTC)  # 00:00 local
    async with site(cfg, yaml, start=start) as s:
        await s.advance(hours=2, minutes=31)  # 00:31 UTC = 02:31 CEST
        await s.wait_for(lambda: len(s.calls) == 1)
        await s.advance(hours=1)  # 01:31 UTC = 02:31 CET, the repeat
        await s.settle()
        assert len(s.calls) == 1


async def test_time_trigger_on_input_datetime_and_timestamp_sensor(cfg: Path) -> None:
    yaml = _automation("      - trigger: time\n        at: [input_datetime.wake, sensor.alarm]\n")
    async with site(cfg, yaml) as s:
        s.set(
            "input_datetime.wake",
            "12:10:00",
            {"has_date": False, "has_time": True, "hour": 12, "minute": 10, "second": 0},
        )
        s.set("sensor.alarm", "2024-06-01T10:30:00+00:00", {"device_class": "timestamp"})
        await s.settle()
        await s.advance(minutes=11)  # 12:11 local
        await s.wait_for(lambda: len(s.calls) == 1)
        await s.advance(minutes=20)  # 10:31 UTC
        await s.wait_for(lambda: len(s.calls) == 2)
        # Changing the helper reschedules the trigger.
        s.set(
            "input_datetime.wake",
            "13:00:00",
            {"has_date": False, "has_time": True, "hour": 13, "minute": 0, "second": 0},
        )
        await s.advance(minutes=30)  # 13:01 local
        await s.wait_for(lambda: len(s.calls) == 3)


async def test_time_trigger_with_offset_on_a_sensor(cfg: Path) -> None:
    yaml = _automation(
        "      - trigger: time\n        at:\n          entity_id: sensor.departure\n"
        "          offset: '-00:10:00'"
    )
    async with site(cfg, yaml) as s:
        s.set("sensor.departure", "2024-06-01T11:00:00+00:00", {"device_class": "timestamp"})
        await s.advance(minutes=49)
        assert s.calls == []
        await s.advance(minutes=2)
        await s.wait_for(lambda: len(s.calls) == 1)


async def test_time_pattern_every_five_minutes(cfg: Path) -> None:
    yaml = _automation("      - trigger: time_pattern\n        minutes: '/5'")
    async with site(cfg, yaml) as s:
        for expected in (1, 2, 3):
            await s.advance(minutes=5)
            await s.wait_for(lambda n=expected: len(s.calls) == n)


async def test_sun_trigger_with_offset(cfg: Path) -> None:
    from astral import Observer
    from astral import sun as astral_sun

    yaml = _automation("      - trigger: sun\n        event: sunset\n        offset: '-01:00:00'")
    sunset = astral_sun.sunset(Observer(52.3731, 4.8922, 0), date=datetime(2024, 6, 1).date())
    async with site(cfg, yaml) as s:
        before = sunset.astimezone(UTC) - s.clock.now()
        await s.advance(seconds=before.total_seconds() - 3600 - 5)
        assert s.calls == []
        await s.advance(seconds=10)
        await s.wait_for(lambda: len(s.calls) == 1)


async def test_template_trigger_fires_on_false_to_true_with_for(cfg: Path) -> None:
    yaml = _automation(
        "      - trigger: template\n"
        "        value_template: \"{{ states('sensor.co2') | int(0) > 1000 }}\"\n"
        "        for: '00:01:00'"
    )
    async with site(cfg, yaml) as s:
        s.set("sensor.co2", "800")
        await s.settle()
        s.set("sensor.co2", "1200")
        await s.advance(seconds=30)
        s.set("sensor.co2", "900")  # false again: the wait is cancelled
        await s.advance(seconds=60)
        assert s.calls == []
        s.set("sensor.co2", "1300")
        await s.advance(seconds=61)
        await s.wait_for(lambda: len(s.calls) == 1)
        s.set("sensor.co2", "1400")  # still true: no new firing
        await s.advance(seconds=61)
        assert len(s.calls) == 1


async def test_start_and_shutdown_triggers(cfg: Path) -> None:
    yaml = """\
automation:
  - id: on_start
    triggers: [{trigger: homeassistant, event: start}]
    actions: [{action: test.record, data: {what: start}}]
  - id: on_stop
    triggers: [{trigger: edgewise, event: shutdown}]
    actions: [{action: test.record, data: {what: stop}}]
"""
    async with site(cfg, yaml) as s:
        await s.wait_for(lambda: len(s.calls) == 1)
        assert s.calls[0].data == {"what": "start"}
        calls = s.calls
    assert [c.data["what"] for c in calls] == ["start", "stop"]


async def test_plugin_trigger_platform_from_edgewise_trigger_platforms(cfg: Path) -> None:
    yaml = _automation("      - trigger: pulse\n        name: heartbeat\n        id: beat")
    async with site(cfg, yaml) as s:
        s.runtime.bus.fire("pulse", {"name": "other"})
        s.runtime.bus.fire("pulse", {"name": "heartbeat"})
        await s.wait_for(lambda: len(s.calls) == 1)
        assert s.calls[0].data == {"platform": "pulse", "id": "beat"}


async def test_trigger_variables_and_enabled_false(cfg: Path) -> None:
    yaml = """\
automation:
  - id: t
    trigger_variables:
      watched: binary_sensor.a
    variables:
      room: hall
    triggers:
      - trigger: state
        entity_id: binary_sensor.a
        enabled: false
      - trigger: state
        entity_id: binary_sensor.b
        variables:
          who: "{{ trigger.entity_id }}"
    actions:
      - action: test.record
        data: {who: "{{ who }}", room: "{{ room }}", watched: "{{ watched }}",
               this: "{{ this.entity_id }}"}
"""
    async with site(cfg, yaml) as s:
        s.set("binary_sensor.a", "on")
        await s.settle()
        assert s.calls == []
        s.set("binary_sensor.b", "on")
        await s.wait_for(lambda: len(s.calls) == 1)
        assert s.calls[0].data == {
            "who": "binary_sensor.b",
            "room": "hall",
            "watched": "binary_sensor.a",
            "this": "automation.t",
        }


async def test_time_trigger_on_input_datetime_with_date_fires_once(cfg: Path) -> None:
    yaml = _automation("      - trigger: time\n        at: input_datetime.holiday_start")
    async with site(cfg, yaml) as s:  # 2024-06-01 12:00 local
        s.set(
            "input_datetime.holiday_start",
            "2024-06-02 08:00:00",
            {"has_date": True, "has_time": True},
        )
        await s.advance(hours=19, minutes=59)  # 2024-06-02 07:59 local
        assert s.calls == []
        await s.advance(minutes=2)
        await s.wait_for(lambda: len(s.calls) == 1)
        await s.advance(days=1)
        assert len(s.calls) == 1


async def test_template_trigger_already_true_at_start_waits_for_false(cfg: Path) -> None:
    yaml = _automation(
        "      - trigger: template\n        value_template: \"{{ is_state('light.x', 'on') }}\""
    )
    async with site(cfg, yaml) as s:
        s.set("light.x", "on")
        await s.settle()
        # Re-attached while the template is already true: it must turn false before it fires.
        await s.runtime.services.call("automation", "turn_off", target={"entity_id": "all"})
        await s.runtime.services.call("automation", "turn_on", target={"entity_id": "all"})
        s.set("light.x", "on", {"brightness": 1})
        await s.settle()
        count = len(s.calls)
        s.set("light.x", "off")
        await s.settle()
        s.set("light.x", "on")
        await s.wait_for(lambda: len(s.calls) == count + 1)
