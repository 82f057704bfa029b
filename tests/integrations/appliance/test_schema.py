"""The ``appliance:`` section: errors that name the file, line and key."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.cli import _check_config
from tests.integrations._runtime import write_config


@pytest.mark.parametrize(
    ("item", "message"),
    [
        ("{name: Oven, power: 2000, tier: urgent}", "appliance.appliances.0.tier"),
        ("{name: Oven, power: -5}", "appliance.appliances.0.power"),
        ("{name: Oven, power: 5, switch: not an entity}", "appliance.appliances.0.switch"),
        ("{name: Oven, power: 5, power_sensor: switch.x}", "appliance.appliances.0.power_sensor"),
    ],
)
def test_check_config_names_the_key_of_a_bad_appliance(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], item: str, message: str
) -> None:
    write_config(tmp_path, f"appliance:\n  appliances:\n    - {item}\n")

    assert _check_config(tmp_path) == 1
    err = capsys.readouterr().err
    assert "configuration.yaml, line" in err
    assert message in err


def test_two_appliances_with_one_name_are_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    item = "    - {name: Oven, power: 2000}\n"
    write_config(tmp_path, "appliance:\n  appliances:\n" + item + item)

    assert _check_config(tmp_path) == 1
    assert "two appliances are called 'Oven'" in capsys.readouterr().err
