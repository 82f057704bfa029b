"""The ``tuya:`` section: what it accepts, and errors that name the file, line and key."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.cli import _check_config
from integrations.tuya.schema import CONFIG_SCHEMA, TuyaConfig
from tests.integrations._runtime import write_config

from .conftest import DEVICE_ID, KEY


def test_a_device_with_a_profile_override_becomes_frozen_config() -> None:
    config = CONFIG_SCHEMA(
        {
            "devices": [
                {
                    "device_id": DEVICE_ID,
                    "local_key": KEY,
                    "host": "192.0.2.4",
                    "version": "3.4",
                    "dps": {"switch": [1, 2], "power": 105, "power_scale": 0.01},
                }
            ]
        }
    )

    assert isinstance(config, TuyaConfig)
    device = config.devices[0]
    assert (device.version, device.port, device.poll_interval) == (3.4, 6668, 10.0)
    assert device.profile.switches == (1, 2)
    assert device.profile.measurements == {"power": 105}
    assert device.profile.scales == {"power": 0.01}


@pytest.mark.parametrize(
    ("device", "message"),
    [
        ("local_key: short", "line 7: tuya.devices.0.local_key: a Tuya local key is 16 ASCII"),
        ("version: 3.9", "line 8: tuya.devices.0.version: expected a Tuya protocol version"),
        ("dps: {switch: [300]}", "tuya.devices.0.dps.switch.0"),
    ],
)
def test_check_config_names_the_line_and_key_of_a_bad_device(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], device: str, message: str
) -> None:
    base = f"tuya:\n  devices:\n    - device_id: {DEVICE_ID}\n      host: 192.0.2.4\n"
    extra = "" if device.startswith("local_key") else f"      local_key: {KEY}\n"
    write_config(tmp_path, "edgewise:\n  name: t\n" + base + extra + f"      {device}\n")

    assert _check_config(tmp_path) == 1
    assert message in capsys.readouterr().err


def test_the_same_device_twice_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    device = f"    - {{device_id: {DEVICE_ID}, local_key: {KEY}, host: 192.0.2.4}}\n"
    write_config(tmp_path, "tuya:\n  devices:\n" + device + device)

    assert _check_config(tmp_path) == 1
    assert f"device id {DEVICE_ID} appears twice" in capsys.readouterr().err
