"""The device double agrees with tinytuya's own client, version by version."""

from __future__ import annotations

import pytest
import tinytuya

from integrations.tuya.device_double import TuyaDeviceDouble

from .conftest import DEVICE_ID, KEY, LoopThread, plug_dps

VERSIONS = (3.1, 3.3, 3.4, 3.5)


def _client(double: TuyaDeviceDouble, key: str = KEY) -> tinytuya.OutletDevice:
    device = tinytuya.OutletDevice(
        DEVICE_ID,
        "127.0.0.1",
        key,
        version=double.version,
        port=double.port,
        connection_timeout=2,
        connection_retry_limit=1,
        connection_retry_delay=0,
    )
    device.set_socketPersistent(True)
    return device


def _start(loop_thread: LoopThread, version: float) -> TuyaDeviceDouble:
    double = TuyaDeviceDouble(DEVICE_ID, KEY, version, plug_dps())
    loop_thread.run(double.start())
    return double


@pytest.mark.parametrize("version", VERSIONS)
def test_tinytuya_reads_the_status_of_the_double(loop_thread: LoopThread, version: float) -> None:
    double = _start(loop_thread, version)
    client = _client(double)
    try:
        status = client.status()
    finally:
        client.close()
        loop_thread.run(double.stop())

    assert status["dps"] == plug_dps()


@pytest.mark.parametrize("version", VERSIONS)
def test_tinytuya_turns_the_double_on_and_sees_the_push(
    loop_thread: LoopThread, version: float
) -> None:
    double = _start(loop_thread, version)
    client = _client(double)
    try:
        result = client.turn_on()
        client.set_value(9, 60)
        status = client.status()
    finally:
        client.close()
        loop_thread.run(double.stop())

    assert double.dps["1"] is True
    assert result["dps"]["1"] is True
    assert status["dps"]["9"] == 60


@pytest.mark.parametrize("version", [3.3, 3.4, 3.5])
def test_tinytuya_asks_the_double_to_refresh_power_with_updatedps(
    loop_thread: LoopThread, version: float
) -> None:
    double = TuyaDeviceDouble(DEVICE_ID, KEY, version, plug_dps(), refresh=lambda dps: {"19": 1234})
    loop_thread.run(double.start())
    client = _client(double)
    try:
        client.heartbeat(nowait=False)
        result = client.updatedps([18, 19, 20])
    finally:
        client.close()
        loop_thread.run(double.stop())

    assert result["dps"]["19"] == 1234


@pytest.mark.parametrize(("version", "code"), [(3.3, "904"), (3.4, "914"), (3.5, "914")])
def test_tinytuya_reports_a_wrong_key_to_the_double(
    loop_thread: LoopThread, version: float, code: str
) -> None:
    double = _start(loop_thread, version)
    client = _client(double, key="fedcba9876543210")
    try:
        status = client.status()
    finally:
        client.close()
        loop_thread.run(double.stop())

    assert status["Err"] == code
