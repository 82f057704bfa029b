"""Energy from a plug's power sensor rather than the nameplate."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.integrations._runtime import clock_of
from tests.integrations.tuya.conftest import state_becomes

from .conftest import site, site_yaml


async def test_a_plug_appliance_counts_energy_from_its_power_sensor(
    tmp_path: Path, make_double: Any
) -> None:
    double = await make_double(3.3, dps={"1": True, "19": 10000, "20": 2300})  # 1000 W
    appliances = """\
  price: 0.5
  appliances:
    - {name: Kettle, power: 2000, switch: switch.kettle_plug,
       power_sensor: sensor.kettle_plug_power}
"""
    async with site(tmp_path, site_yaml(appliances, tuya_port=double.port)) as runtime:
        await state_becomes(runtime, "appliance.kettle", "running")
        await clock_of(runtime).advance_and_settle(timedelta(minutes=30))
        state = runtime.states.get("appliance.kettle")

    assert state is not None
    assert state.attributes["energy_today"] == pytest.approx(0.5)  # measured, not nameplate
    assert state.attributes["cost_today"] == pytest.approx(0.25)
