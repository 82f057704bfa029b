"""The sample block proposed for ``config/configuration.yaml`` loads without an issue, and
``edgewise check-config`` reports a bad helper item with its file, line and key."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.cli import _check_config
from tests.integrations._runtime import write_config
from tests.integrations.helpers.conftest import HEADER, Site, state_of

SAMPLE = """\
input_boolean:
  vacation_mode:
    name: Vacation mode
    icon: mdi:airplane
input_number:
  comfort_setpoint:
    name: Comfort setpoint
    min: 16
    max: 26
    step: 0.5
    mode: box
    unit_of_measurement: °C
input_select:
  hvac_program:
    name: HVAC program
    options: [comfort, eco, away]
input_text:
  site_note:
    name: Site note
    max: 120
input_datetime:
  wake_up:
    name: Wake up
    has_time: true
    initial: "06:30"
input_button:
  reset_alarms:
    name: Reset alarms
counter:
  chiller_starts:
    name: Chiller starts
    minimum: 0
timer:
  boost:
    name: Boost ventilation
    duration: "00:30:00"
    restore: true
schedule:
  office_hours:
    name: Office hours
    monday: &workday
      - from: "07:30"
        to: "18:00"
        data: {setpoint: 21}
    tuesday: *workday
    wednesday: *workday
    thursday: *workday
    friday: *workday
"""


async def test_sample_block_loads_cleanly(site: Site) -> None:
    async with site(SAMPLE) as runtime:
        assert runtime.config is not None
        assert runtime.config.issues == ()
        assert state_of(runtime, "schedule.office_hours") == "on"  # Monday 10:00
        assert state_of(runtime, "input_select.hvac_program") == "comfort"
        assert state_of(runtime, "timer.boost") == "idle"


def test_check_config_names_the_item_and_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_config(tmp_path, HEADER + "counter:\n  good:\n  bad:\n    step: many\n")
    assert _check_config(tmp_path) == 1
    err = capsys.readouterr().err
    assert "configuration.yaml, line 9: counter.bad.step: expected an integer" in err
