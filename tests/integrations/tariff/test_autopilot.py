"""The peak autopilot: pause at peak entry, resume at exit, overrides, must-run, dry run."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import voluptuous as vol

from core import Context
from core.clock import FakeClock
from core.runtime import Runtime
from integrations.appliance.api import CONTROL_LOG
from integrations.appliance.const import Source
from integrations.tariff import AUTOPILOT
from integrations.tariff.api import API
from tests.integrations._runtime import clock_of, running, write_config

from .conftest import tariff_yaml

APPLIANCES = """\
  appliances:
    - {name: Dishwasher, tier: shiftable, power: 2000}
    - {name: Dryer, tier: shiftable, power: 1500}
    - {name: EV charger, tier: deferrable, power: 7000}
    - {name: Fridge, tier: essential, power: 150}
"""
MIDNIGHT = datetime(2026, 1, 14, 18, 30, tzinfo=UTC)


def _yaml(autopilot: str = "") -> str:
    extra = (
        "  autopilot: {must_run: [appliance.ev_charger], override_minutes: 30" + autopilot + "}\n"
    )
    return tariff_yaml("Asia/Kolkata", extra=extra, appliances=APPLIANCES)


async def _turn_on(runtime: Runtime, *appliances: str, user: str | None = None) -> None:
    for appliance in appliances:
        await runtime.services.call(
            "appliance",
            "turn_on",
            target={"entity_id": appliance},
            context=Context(user_id=user),
        )


def _states(runtime: Runtime) -> dict[str, str]:
    return {
        s.entity_id: s.state for s in runtime.states.all() if s.entity_id.startswith("appliance.")
    }


async def test_peak_entry_pauses_shiftable_loads_and_exit_resumes_them(tmp_path: Path) -> None:
    async with running(tmp_path, _yaml(), MIDNIGHT + timedelta(hours=17)) as runtime:
        clock = clock_of(runtime)
        control: list[Any] = []
        runtime.data[CONTROL_LOG].subscribe(control.append)
        await _turn_on(runtime, "appliance.dishwasher", "appliance.ev_charger", "appliance.fridge")
        await clock.advance_and_settle(timedelta(minutes=40))  # 17:40
        await _turn_on(runtime, "appliance.dryer", user="user-1")  # an override: within 30 min
        await clock.advance_and_settle(timedelta(minutes=20))  # 18:00, the peak
        in_peak = _states(runtime)
        paused_note = runtime.notifications.get("tariff_autopilot")
        await clock.advance_and_settle(timedelta(hours=4))  # 22:00, the peak ends
        after = _states(runtime)
        resumed_note = runtime.notifications.get("tariff_autopilot")
        await clock.advance_and_settle(timedelta(hours=1))
        await runtime.services.call(
            "appliance", "turn_off", target={"entity_id": "appliance.dishwasher"}
        )
        receipts = list(runtime.data[API].store.receipts)
    assert in_peak == {
        "appliance.dishwasher": "off",
        "appliance.dryer": "running",  # user override
        "appliance.ev_charger": "running",  # must run
        "appliance.fridge": "running",  # essential
    }
    autopilot = [
        (e.appliance, e.action, e.source_detail) for e in control if e.source is Source.AUTOPILOT
    ]
    assert autopilot == [
        ("appliance.dishwasher", "turn_off", "pause non-essential loads during peak"),
        ("appliance.dishwasher", "turn_on", "resume after the peak"),
    ]
    assert paused_note is not None
    assert "turned off appliance.dishwasher" in paused_note["message"]
    assert "appliance.dryer left running (user override)" in paused_note["message"]
    assert after["appliance.dishwasher"] == "running"
    assert resumed_note is not None
    assert "turned appliance.dishwasher back on" in resumed_note["message"]
    # Resumed 22:00-23:00 at 6.0 (2 kWh = 12.0) instead of the peak's 10.0 (20.0): saving 8.0.
    (receipt,) = receipts
    assert receipt["source"] == "autopilot"
    assert receipt["cost"] == pytest.approx(12.0)
    assert receipt["saving"] == pytest.approx(8.0)


async def test_dry_run_only_says_what_it_would_do(tmp_path: Path) -> None:
    async with running(
        tmp_path, _yaml(", dry_run: true"), MIDNIGHT + timedelta(hours=17)
    ) as runtime:
        await _turn_on(runtime, "appliance.dishwasher")
        await clock_of(runtime).advance_and_settle(timedelta(hours=1))
        state = _states(runtime)["appliance.dishwasher"]
        note = runtime.notifications.get("tariff_autopilot")
    assert state == "running"
    assert note is not None
    assert note["title"] == "Autopilot (dry run)"
    assert "would turn off appliance.dishwasher" in note["message"]


async def test_a_user_turning_a_paused_appliance_back_on_takes_it_over(tmp_path: Path) -> None:
    async with running(tmp_path, _yaml(), MIDNIGHT + timedelta(hours=17)) as runtime:
        clock = clock_of(runtime)
        await _turn_on(runtime, "appliance.dishwasher")
        await clock.advance_and_settle(timedelta(hours=1))
        await _turn_on(runtime, "appliance.dishwasher", user="user-1")
        await clock.advance_and_settle(timedelta(hours=4))
        actions = list(runtime.data[AUTOPILOT].actions)
    assert [(a, s) for a, s, _ in actions] == [("appliance.dishwasher", "turn_off")]


async def test_a_restart_during_the_peak_still_resumes_after_it(tmp_path: Path) -> None:
    write_config(tmp_path, _yaml())
    clock = FakeClock(MIDNIGHT + timedelta(hours=17))
    runtime = Runtime(tmp_path, clock=clock)
    await runtime.start()
    await _turn_on(runtime, "appliance.dishwasher")
    await clock.advance_and_settle(timedelta(hours=1, minutes=30))
    await runtime.stop()
    clock.advance(timedelta(hours=4))  # back at 22:30: the peak ended while down
    runtime = Runtime(tmp_path, clock=clock)
    await runtime.start()
    await clock.advance_and_settle(timedelta(seconds=1))
    state = _states(runtime)["appliance.dishwasher"]
    note = runtime.notifications.get("tariff_autopilot")
    await runtime.stop()
    assert state == "running"
    assert note is not None
    assert note["message"].startswith("The peak ended while Edgewise was down")


async def test_the_policy_pauses_only_the_tiers_it_names(tmp_path: Path) -> None:
    extra = "  autopilot: {tiers: [shiftable]}\n"
    yaml = tariff_yaml("Asia/Kolkata", extra=extra, appliances=APPLIANCES)
    async with running(tmp_path, yaml, MIDNIGHT + timedelta(hours=17)) as runtime:
        await _turn_on(runtime, "appliance.dishwasher", "appliance.ev_charger")
        await clock_of(runtime).advance_and_settle(timedelta(hours=1))
        states = _states(runtime)
    assert states["appliance.dishwasher"] == "off"
    assert states["appliance.ev_charger"] == "running"  # deferrable: not in the policy


def test_a_policy_naming_essential_loads_is_refused() -> None:
    from integrations.tariff.schema import CONFIG_SCHEMA

    with pytest.raises(vol.Invalid, match="never pauses essential loads"):
        CONFIG_SCHEMA({"price_entity": "sensor.p", "autopilot": {"tiers": ["essential"]}})
