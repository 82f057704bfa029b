"""The ``tuya:`` integration in a running Edgewise, against device doubles on loopback."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from core.audit import audit_log
from core.context import Context
from core.errors import DeviceTimeout
from integrations.tuya import TUYA
from integrations.tuya.setup import key_notification_id
from tests.integrations._runtime import running

from .conftest import DEVICE_ID, KEY, state_becomes, tuya_yaml

START = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)


def _device(double: Any, **extra: Any) -> dict[str, Any]:
    device = {
        "device_id": DEVICE_ID,
        "local_key": KEY,
        "host": "127.0.0.1",
        "port": double.port,
        "name": "Kettle plug",
        "command_timeout": 0.5,
    }
    device.update(extra)
    return device


async def test_a_plug_gets_a_switch_and_metering_sensors_with_their_classes(
    tmp_path: Path, make_double: Any
) -> None:
    double = await make_double(
        3.4, dps={"1": False, "9": 0, "17": 1500, "18": 250, "19": 575, "20": 2301}
    )
    async with running(tmp_path, tuya_yaml([_device(double)]), START) as runtime:
        await state_becomes(runtime, "switch.kettle_plug", "off")
        power = await state_becomes(runtime, "sensor.kettle_plug_power", "57.5")
        energy = runtime.states.get("sensor.kettle_plug_energy")
        current = runtime.states.get("sensor.kettle_plug_current")
        voltage = runtime.states.get("sensor.kettle_plug_voltage")

    assert power.attributes["device_class"] == "power"
    assert power.attributes["state_class"] == "measurement"
    assert power.attributes["unit_of_measurement"] == "W"
    assert energy is not None
    assert energy.state == "1.5"
    assert energy.attributes["state_class"] == "total_increasing"
    assert current is not None
    assert current.state == "0.25"
    assert voltage is not None
    assert voltage.state == "230.1"


async def test_switch_turn_on_is_audited_and_returns_once_the_device_confirms(
    tmp_path: Path, make_double: Any
) -> None:
    double = await make_double(3.3)
    async with running(tmp_path, tuya_yaml([_device(double, version=3.3)]), START) as runtime:
        await state_becomes(runtime, "switch.kettle_plug", "off")
        context = Context(user_id="user-1")

        await runtime.services.call(
            "switch", "turn_on", target={"entity_id": "switch.kettle_plug"}, context=context
        )

        state = runtime.states.get("switch.kettle_plug")
        records = audit_log(runtime).query("switch.kettle_plug")

    assert double.dps["1"] is True
    assert state is not None
    assert state.state == "on"
    assert state.context.id == context.id
    assert records[0].outcome == "ok"
    assert records[0].user_id == "user-1"
    assert records[0].action == "switch.turn_on"


async def test_an_unconfirmed_command_is_audited_as_failed(
    tmp_path: Path, make_double: Any
) -> None:
    double = await make_double(3.5)
    async with running(tmp_path, tuya_yaml([_device(double)]), START) as runtime:
        await state_becomes(runtime, "switch.kettle_plug", "off")
        double.silent = True

        with pytest.raises(DeviceTimeout):
            await runtime.services.call(
                "switch", "turn_on", target={"entity_id": "switch.kettle_plug"}
            )

        record = audit_log(runtime).query("switch.kettle_plug")[0]

    assert record.outcome == "error"
    assert "did not confirm" in (record.error or "")


async def test_a_strip_gets_a_switch_per_gang(tmp_path: Path, make_double: Any) -> None:
    double = await make_double(3.3, dps={"1": True, "2": False, "3": True, "7": False, "9": 0})
    async with running(tmp_path, tuya_yaml([_device(double, name="Desk strip")]), START) as runtime:
        await state_becomes(runtime, "switch.desk_strip_switch_3", "on")
        await runtime.services.call(
            "switch", "turn_on", target={"entity_id": "switch.desk_strip_switch_2"}
        )
        states = {
            entity_id: runtime.states.get(entity_id).state  # type: ignore[union-attr]
            for entity_id in (
                "switch.desk_strip_switch_1",
                "switch.desk_strip_switch_2",
                "switch.desk_strip_switch_3",
                "switch.desk_strip_switch_4",
            )
        }

    assert states == {
        "switch.desk_strip_switch_1": "on",
        "switch.desk_strip_switch_2": "on",
        "switch.desk_strip_switch_3": "on",
        "switch.desk_strip_switch_4": "off",
    }
    assert double.dps["2"] is True


async def test_yaml_profile_overrides_detection_and_unknown_dps_are_ignored(
    tmp_path: Path, make_double: Any
) -> None:
    double = await make_double(
        3.3, dps={"1": True, "104": 120, "105": "bad", "106": 2290, "33": "x"}
    )
    device = _device(double, dps="{switch: [1], power: 105, voltage: 106, current: 104}")
    async with running(tmp_path, tuya_yaml([device]), START) as runtime:
        await state_becomes(runtime, "sensor.kettle_plug_voltage", "229.0")
        power = runtime.states.get("sensor.kettle_plug_power")
        double.set_dps({"105": 999, "150": [1, 2]})
        await state_becomes(runtime, "sensor.kettle_plug_power", "99.9")

    assert power is not None
    assert power.state == "unknown"


@pytest.mark.parametrize(
    "bad", [10**400, float("nan"), float("inf")], ids=["int_beyond_float", "nan", "inf"]
)
@pytest.mark.parametrize("when", ["status", "push"])
async def test_a_power_reading_no_float_holds_is_ignored_and_the_session_lives_on(
    tmp_path: Path, make_double: Any, bad: float, when: str
) -> None:
    # A plug's JSON can hold an integer beyond a double, NaN or Infinity: the power reads as
    # unknown, and the session and the entities carry on (the next reading shows). An integer
    # too big for a float used to raise OverflowError from the entities: in the first status it
    # stopped the platform's set-up, in a push it dropped the connection and killed the session
    # on the reconnect's status.
    dps: dict[str, Any] = {"1": True, "17": 1500, "18": 250, "19": 575, "20": 2301}
    if when == "status":
        dps["19"] = bad
    double = await make_double(3.3, dps=dps)
    async with running(tmp_path, tuya_yaml([_device(double)]), START) as runtime:
        if when == "push":
            await state_becomes(runtime, "sensor.kettle_plug_power", "57.5")
            double.set_dps({"19": bad})
        await state_becomes(runtime, "sensor.kettle_plug_power", "unknown")
        voltage = runtime.states.get("sensor.kettle_plug_voltage")
        double.set_dps({"19": 600})
        await state_becomes(runtime, "sensor.kettle_plug_power", "60.0")

    assert voltage is not None
    assert voltage.state == "230.1"


async def test_entities_are_unavailable_while_the_device_is_gone(
    tmp_path: Path, make_double: Any
) -> None:
    double = await make_double(3.4)
    port = double.port
    async with running(tmp_path, tuya_yaml([_device(double)]), START) as runtime:
        await state_becomes(runtime, "sensor.kettle_plug_power", "0.0")
        await double.stop()
        await state_becomes(runtime, "switch.kettle_plug", "unavailable")
        await state_becomes(runtime, "sensor.kettle_plug_power", "unavailable")
        await make_double(3.4, port=port)
        await state_becomes(runtime, "switch.kettle_plug", "off")


async def test_a_wrong_key_makes_one_notification_naming_the_device(
    tmp_path: Path, make_double: Any
) -> None:
    double = await make_double(3.4)
    device = _device(double, version=3.4, local_key="!secret kettle_key", dps="{switch: [1]}")
    (tmp_path / "secrets.yaml").write_text("kettle_key: fedcba9876543210\n")
    async with running(tmp_path, tuya_yaml([device]), START) as runtime:
        session = runtime.data[TUYA].devices[DEVICE_ID].session
        assert session is not None
        async with asyncio.timeout(5):
            await session.gave_up.wait()
        state = runtime.states.get("switch.kettle_plug")
        notification = runtime.notifications.get(key_notification_id(DEVICE_ID))

    assert state is not None
    assert state.state == "unavailable"
    assert notification is not None
    assert "Kettle plug" in notification["message"]
    assert "local key" in notification["message"]
    assert "secrets.yaml" in notification["message"]
    assert double.connections == 2
