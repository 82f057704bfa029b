"""Replays equal live runs: the same automation, run live over a recorded history and then
backtested against that history, calls the same services with the same data at the same times."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from automations.backtest.run import backtest
from tests.automations.backtest.conftest import START, backtest_site, recorder_of
from tests.automations.conftest import Site

#: Every action of the automations under test records its automation and the replay time.
RECORD = """
          - action: test.record
            data:
              tag: "{tag}"
              at: "{{{{ now().isoformat() }}}}"
"""


def record(tag: str, indent: int = 10) -> str:
    """The YAML of a ``test.record`` action tagged ``tag``."""
    lines = RECORD.format(tag=tag).strip("\n").splitlines()
    shift = indent - 10
    return "\n".join((" " * shift + line) if shift >= 0 else line[-shift:] for line in lines) + "\n"


async def advance(site: Site, seconds: float) -> None:
    """Move the live clock by ``seconds``, stopping at each scheduled job's due time on the way,
    as a real clock would (a single jump would run a job late, at the jump's end)."""
    target = site.clock.now() + timedelta(seconds=seconds)
    scheduler = site.runtime.scheduler
    assert scheduler is not None
    await site.settle()
    while (jobs := scheduler.jobs()) and (due := jobs[0].next_run) is not None and due <= target:
        site.clock.set(max(due, site.clock.now()))
        await site.settle()
    site.clock.set(target)
    await site.settle()


async def drive(site: Site, script: dict[int, list[tuple[str, str]]], minutes: int) -> None:
    """Walk the clock minute by minute; at minute m (plus 7 s) set the states ``script[m]``."""
    for minute in range(minutes):
        await advance(site, 7)
        for entity_id, state in script.get(minute, []):
            site.set(entity_id, state)
        await advance(site, 53)
    await site.settle()


def live_calls(site: Site, tag: str) -> list[tuple[str, str]]:
    """(service, time) of the live calls tagged ``tag``."""
    return [
        (f"{c.domain}.{c.service}", str(c.data["at"]))
        for c in site.calls
        if c.data.get("tag") == tag
    ]


async def replayed(site: Site, item_id: str, start: datetime, end: datetime) -> dict[str, Any]:
    """The backtest report of the site's own automation ``item_id`` over ``[start, end)``."""
    await recorder_of(site).flush()
    config = dict(site.manager.automations[item_id].raw_config)
    return await backtest(site.runtime, config, start=start, end=end, item_id=item_id)


def replay_calls(report: dict[str, Any], tag: str) -> list[tuple[str, str]]:
    """(service, time) of the replayed calls tagged ``tag``."""
    return [
        (a["service"], str(a["data"]["at"]))
        for a in report["actions"]
        if a["data"].get("tag") == tag
    ]


async def assert_same(
    site: Site, tags: list[str], start: datetime, end: datetime
) -> dict[str, dict[str, Any]]:
    """Backtest each automation ``tag`` and check its calls equal the live ones (and exist)."""
    reports = {}
    for tag in tags:
        report = await replayed(site, tag, start, end)
        live = live_calls(site, tag)
        assert live, f"{tag}: the live automation never ran; the scenario tests nothing"
        assert replay_calls(report, tag) == live, tag
        reports[tag] = report
    return reports


STATE_AUTOMATIONS = f"""
automation:
  - id: door_open
    triggers:
      - trigger: state
        entity_id: binary_sensor.door
        to: "on"
        for: "00:05:00"
    actions:
{record("door_open")}
  - id: hot
    triggers:
      - trigger: numeric_state
        entity_id: sensor.temp
        above: 25
        for: {{minutes: 10}}
    conditions:
      - condition: state
        entity_id: input_boolean.home
        state: "on"
    actions:
{record("hot")}
  - id: template_hot
    triggers:
      - trigger: template
        value_template: "{{{{ states('sensor.temp') | float(0) > 28 }}}}"
    actions:
{record("template_hot")}
"""


async def test_state_numeric_state_for_and_template_triggers_replay_as_they_ran(cfg: Path) -> None:
    script = {
        0: [("binary_sensor.door", "off"), ("sensor.temp", "20"), ("input_boolean.home", "on")],
        3: [("binary_sensor.door", "on")],
        5: [("binary_sensor.door", "off")],  # open 2 minutes: no run
        10: [("binary_sensor.door", "on")],  # open 7 minutes: a run at 10:15
        17: [("binary_sensor.door", "off")],
        20: [("sensor.temp", "26")],
        25: [("sensor.temp", "24")],  # above for 5 minutes: no run
        30: [("sensor.temp", "27")],
        45: [("sensor.temp", "29")],  # template run; numeric_state ran at 40
        50: [("sensor.temp", "22"), ("input_boolean.home", "off")],
        60: [("sensor.temp", "30")],  # numeric_state at 70 stopped by the condition
        90: [("sensor.temp", "20")],
    }
    async with backtest_site(cfg, STATE_AUTOMATIONS) as site:
        await drive(site, script, 100)
        end = site.clock.now()
        reports = await assert_same(site, ["door_open", "hot", "template_hot"], START, end)
    hot = reports["hot"]
    assert hot["summary"]["stopped_by_conditions"] == 1
    assert hot["summary"]["runs"] == 2
    assert [c["result"] for c in hot["runs"][1]["conditions"]] == [False]
    assert hot["runs"][0]["trace"]["trace"]["trigger/0"]
    assert len(reports["door_open"]["actions"]) == 1
    assert (
        reports["door_open"]["actions"][0]["time"]
        == (START + timedelta(minutes=15, seconds=7)).isoformat()
    )


TIME_AUTOMATIONS = f"""
automation:
  - id: morning
    triggers:
      - trigger: time
        at: "07:00:00"
      - trigger: time
        at: input_datetime.wake
    actions:
{record("morning")}
  - id: half_hourly
    triggers:
      - trigger: time_pattern
        minutes: "/30"
    conditions:
      - condition: template
        value_template: "{{{{ now().hour % 2 == 0 }}}}"
    actions:
{record("half_hourly")}
"""


async def test_time_and_time_pattern_triggers_replay_over_a_night(cfg: Path) -> None:
    start = datetime(2024, 6, 1, 2, 0, tzinfo=UTC)  # 04:00 in Amsterdam
    script = {0: [("input_datetime.wake", "unknown")]}
    async with backtest_site(cfg, TIME_AUTOMATIONS, start=start) as site:
        site.set(
            "input_datetime.wake",
            "06:10:00",
            {"has_date": False, "has_time": True, "hour": 6, "minute": 10, "second": 0},
        )
        await drive(site, script, 240)
        end = site.clock.now()
        await assert_same(site, ["morning", "half_hourly"], start, end)


SUN_AUTOMATIONS = f"""
automation:
  - id: sunrise
    triggers:
      - trigger: sun
        event: sunrise
        offset: "-00:10:00"
    actions:
{record("sunrise")}
  - id: early
    triggers:
      - trigger: time
        at: "02:30:00"
    actions:
{record("early")}
"""


async def test_sun_and_time_triggers_replay_on_the_spring_dst_day(cfg: Path) -> None:
    # 2024-03-31: Amsterdam goes from 02:00 to 03:00; 02:30 does not exist that night.
    start = datetime(2024, 3, 30, 22, 0, tzinfo=UTC)
    async with backtest_site(cfg, SUN_AUTOMATIONS, start=start) as site:
        await drive(site, {0: [("sensor.any", "1")]}, 9 * 60)
        end = site.clock.now()
        await assert_same(site, ["sunrise", "early"], start, end)


ACTION_AUTOMATIONS = f"""
automation:
  - id: branches
    mode: queued
    triggers:
      - trigger: state
        entity_id: sensor.mode
    actions:
      - choose:
          - conditions: "{{{{ trigger.to_state.state == 'a' }}}}"
            sequence:
{record("branches", 14)}
        default:
          - if: "{{{{ trigger.to_state.state == 'b' }}}}"
            then:
{record("branches", 14)}
{record("branches", 14)}
            else:
              - repeat:
                  count: 2
                  sequence:
{record("branches", 20)}
                    - delay: "00:02:00"
  - id: waiter
    mode: restart
    triggers:
      - trigger: state
        entity_id: binary_sensor.motion
        to: "on"
    actions:
      - action: light.turn_on
        target:
          entity_id: light.hall
        data:
          tag: waiter
          at: "{{{{ now().isoformat() }}}}"
      - wait_template: "{{{{ is_state('binary_sensor.motion', 'off') }}}}"
        timeout: "00:10:00"
      - delay: "00:03:00"
      - action: light.turn_off
        target:
          entity_id: light.hall
        data:
          tag: waiter
          at: "{{{{ now().isoformat() }}}}"
"""


MODE_AUTOMATIONS = f"""
automation:
  - id: single
    mode: single
    triggers:
      - trigger: state
        entity_id: sensor.pulse
    actions:
{record("single", 6)}
      - delay: "00:03:00"
{record("single", 6)}
  - id: parallel
    mode: parallel
    max: 2
    triggers:
      - trigger: state
        entity_id: sensor.pulse
    actions:
{record("parallel", 6)}
      - wait_for_trigger:
          - trigger: state
            entity_id: binary_sensor.ack
            to: "on"
        timeout: "00:04:00"
{record("parallel", 6)}
"""


async def test_single_and_parallel_modes_and_wait_for_trigger_replay_as_they_ran(
    cfg: Path,
) -> None:
    script = {
        0: [("binary_sensor.ack", "off")],
        1: [("sensor.pulse", "1")],
        2: [("sensor.pulse", "2")],  # single: dropped; parallel: a second run
        3: [("sensor.pulse", "3")],  # parallel: over max, dropped
        4: [("binary_sensor.ack", "on")],  # both waiting runs go on
        6: [("binary_sensor.ack", "off"), ("sensor.pulse", "4")],
        # nothing acknowledges: the wait times out at 10
    }
    async with backtest_site(cfg, MODE_AUTOMATIONS) as site:
        await drive(site, script, 14)
        end = site.clock.now()
        reports = await assert_same(site, ["single", "parallel"], START, end)
    assert reports["single"]["summary"]["runs"] == 4
    assert len(reports["single"]["actions"]) == 4


async def test_choose_if_repeat_wait_and_modes_replay_as_they_ran(cfg: Path) -> None:
    script = {
        0: [("sensor.mode", "x"), ("binary_sensor.motion", "off"), ("light.hall", "off")],
        2: [("sensor.mode", "a")],
        4: [("sensor.mode", "b")],
        6: [("sensor.mode", "c")],
        7: [("sensor.mode", "d")],  # queued behind the repeat with delays
        10: [("binary_sensor.motion", "on")],
        12: [("binary_sensor.motion", "off")],
        14: [("binary_sensor.motion", "on")],  # restarts the run waiting out its delay
        40: [("binary_sensor.motion", "off")],
    }
    async with backtest_site(cfg, ACTION_AUTOMATIONS) as site:
        await drive(site, script, 60)
        end = site.clock.now()
        reports = await assert_same(site, ["branches", "waiter"], START, end)
    waiter = reports["waiter"]
    simulated = [a["simulated"] for a in waiter["actions"]]
    assert simulated[0] == [{"entity_id": "light.hall", "from": "off", "to": "on"}]
    assert waiter["summary"]["actions_by_service"] == {"light.turn_on": 2, "light.turn_off": 1}
