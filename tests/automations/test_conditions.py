"""Every condition, as automation conditions, checked by whether the action ran."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from .conftest import Site, site


def _with_conditions(conditions: str) -> str:
    return f"""\
automation:
  - id: c
    triggers: [{{trigger: event, event_type: go, id: go_event}}]
    conditions:
{conditions}
    actions: [{{action: test.record}}]
"""


async def _fires(s: Site) -> bool:
    before = len(s.calls)
    s.runtime.bus.fire("go")
    await s.settle()
    return len(s.calls) > before


async def test_state_condition_with_match_any_attribute_and_for(cfg: Path) -> None:
    yaml = _with_conditions(
        "      - condition: state\n        entity_id: [light.a, light.b]\n        state: 'on'\n"
        "        match: any\n"
        "      - condition: state\n        entity_id: climate.x\n        attribute: hvac_action\n"
        "        state: [heating, cooling]\n"
        "      - condition: state\n        entity_id: binary_sensor.door\n        state: 'off'\n"
        "        for: {minutes: 10}"
    )
    async with site(cfg, yaml) as s:
        s.set("light.a", "off")
        s.set("light.b", "on")
        s.set("climate.x", "auto", {"hvac_action": "heating"})
        s.set("binary_sensor.door", "off")
        assert not await _fires(s)  # door closed for 0 minutes
        await s.advance(minutes=11)
        assert await _fires(s)
        s.set("light.b", "off")
        assert not await _fires(s)
        s.set("light.a", "on")
        s.set("climate.x", "auto", {"hvac_action": "idle"})
        assert not await _fires(s)


async def test_numeric_state_condition(cfg: Path) -> None:
    yaml = _with_conditions(
        "      - condition: numeric_state\n        entity_id: sensor.t\n        above: 18\n"
        "        below: input_number.max"
    )
    async with site(cfg, yaml) as s:
        s.set("input_number.max", "25")
        s.set("sensor.t", "20.5")
        assert await _fires(s)
        s.set("sensor.t", "25")
        assert not await _fires(s)
        s.set("sensor.t", "unavailable")
        assert not await _fires(s)


async def test_template_condition_and_bare_template_shorthand(cfg: Path) -> None:
    yaml = _with_conditions(
        "      - condition: template\n        value_template: \"{{ is_state('sun.sun', 'up') }}\"\n"
        "      - \"{{ states('sensor.n') | int(0) > 3 }}\""
    )
    async with site(cfg, yaml) as s:
        s.set("sun.sun", "up")
        s.set("sensor.n", "5")
        assert await _fires(s)
        s.set("sensor.n", "1")
        assert not await _fires(s)


async def test_and_or_not_and_their_shorthands(cfg: Path) -> None:
    yaml = _with_conditions(
        "      - or:\n"
        "          - condition: state\n            entity_id: input_boolean.a\n"
        "            state: 'on'\n"
        "          - and:\n"
        "              - condition: state\n                entity_id: input_boolean.b\n"
        "                state: 'on'\n"
        "              - condition: state\n                entity_id: input_boolean.c\n"
        "                state: 'on'\n"
        "      - condition: not\n        conditions:\n"
        "          - condition: state\n            entity_id: input_boolean.block\n"
        "            state: 'on'"
    )
    async with site(cfg, yaml) as s:
        for e in ("a", "b", "c", "block"):
            s.set(f"input_boolean.{e}", "off")
        assert not await _fires(s)
        s.set("input_boolean.b", "on")
        s.set("input_boolean.c", "on")
        assert await _fires(s)
        s.set("input_boolean.block", "on")
        assert not await _fires(s)


@pytest.mark.parametrize(
    ("utc_time", "expected"),
    [
        (datetime(2024, 6, 3, 20, 30, tzinfo=UTC), True),  # Mon 22:30 local
        (datetime(2024, 6, 4, 3, 0, tzinfo=UTC), True),  # Tue 05:00 local, over midnight
        (datetime(2024, 6, 4, 10, 0, tzinfo=UTC), False),  # Tue 12:00
        (datetime(2024, 6, 1, 20, 30, tzinfo=UTC), False),  # Sat 22:30: not a weekday listed
    ],
)
async def test_time_condition_window_over_midnight_and_weekdays(
    cfg: Path, utc_time: datetime, expected: bool
) -> None:
    yaml = _with_conditions(
        "      - condition: time\n        after: '22:00:00'\n        before: '06:00'\n"
        "        weekday: [mon, tue, wed, thu, fri]"
    )
    async with site(cfg, yaml, start=utc_time) as s:
        assert await _fires(s) is expected


async def test_time_condition_with_input_datetime(cfg: Path) -> None:
    yaml = _with_conditions("      - condition: time\n        after: input_datetime.start\n")
    async with site(cfg, yaml) as s:  # 12:00 local
        s.set(
            "input_datetime.start",
            "11:00:00",
            {"has_date": False, "has_time": True, "hour": 11, "minute": 0, "second": 0},
        )
        assert await _fires(s)
        s.set(
            "input_datetime.start",
            "13:00:00",
            {"has_date": False, "has_time": True, "hour": 13, "minute": 0, "second": 0},
        )
        assert not await _fires(s)


async def test_sun_condition(cfg: Path) -> None:
    yaml = _with_conditions(
        "      - condition: sun\n        after: sunrise\n        before: sunset\n"
        "        before_offset: '-01:00:00'"
    )
    async with site(cfg, yaml) as s:  # noon: after sunrise, before sunset - 1 h
        assert await _fires(s)
    async with site(cfg, yaml, start=datetime(2024, 6, 1, 21, 0, tzinfo=UTC)) as s:
        assert not await _fires(s)


async def test_trigger_condition_and_plugin_condition(cfg: Path) -> None:
    yaml = _with_conditions(
        "      - condition: trigger\n        id: [go_event, other]\n"
        "      - condition: even\n        entity_id: counter.n"
    )
    async with site(cfg, yaml) as s:
        s.set("counter.n", "2")
        assert await _fires(s)
        s.set("counter.n", "3")
        assert not await _fires(s)


async def test_disabled_condition_is_skipped(cfg: Path) -> None:
    yaml = _with_conditions(
        "      - condition: state\n        entity_id: light.x\n        state: 'on'\n"
        "        enabled: false"
    )
    async with site(cfg, yaml) as s:
        s.set("light.x", "off")
        assert await _fires(s)
