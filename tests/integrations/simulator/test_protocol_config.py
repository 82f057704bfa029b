"""The ``modbus:`` and ``bacnet:`` keys of ``simulator:``: defaults, bad values, lazy imports."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import voluptuous as vol

from integrations.simulator.schema import CONFIG_SCHEMA, BacnetExposure, ModbusExposure

ROOT = Path(__file__).resolve().parents[3]


def test_protocols_are_off_unless_given_and_empty_means_defaults() -> None:
    bare = CONFIG_SCHEMA(None)
    assert bare.modbus is None
    assert bare.bacnet is None
    both = CONFIG_SCHEMA({"modbus": None, "bacnet": {}})
    assert both.modbus == ModbusExposure("127.0.0.1", 5020)
    assert both.bacnet == BacnetExposure("127.0.0.2", 47808, 599, "Edgewise simulator")
    custom = CONFIG_SCHEMA({"bacnet": {"address": "127.0.0.9", "port": 47900, "instance": 12}})
    assert custom.bacnet == BacnetExposure("127.0.0.9", 47900, 12, "Edgewise simulator")


@pytest.mark.parametrize(
    ("section", "path"),
    [
        ({"modbus": {"port": 70000}}, ["modbus", "port"]),
        ({"modbus": {"port": "five"}}, ["modbus", "port"]),
        ({"modbus": {"hots": "127.0.0.1"}}, ["modbus", "hots"]),
        ({"modbus": True}, ["modbus"]),
        ({"bacnet": {"instance": 4194303}}, ["bacnet", "instance"]),
        ({"bacnet": {"address": ""}}, ["bacnet", "address"]),
    ],
)
def test_bad_values_name_their_key(section: dict[str, object], path: list[str]) -> None:
    with pytest.raises(vol.Invalid) as raised:
        CONFIG_SCHEMA(section)
    assert [str(p) for p in raised.value.path] == path


def test_pymodbus_and_bacpypes3_are_not_imported_by_the_integration_module() -> None:
    code = (
        "import sys, integrations.simulator, integrations.simulator.schema\n"
        "print(sorted(m for m in ('pymodbus', 'bacpypes3') if m in sys.modules))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "[]"
