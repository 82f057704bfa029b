"""The Tuya session against the device double: every version, pushes, confirmation, failures."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from core import DeviceConnectError, DeviceTimeout
from integrations.tuya.device_double import TuyaDeviceDouble
from integrations.tuya.schema import TuyaDeviceConfig
from integrations.tuya.session import TuyaKeyError, TuyaSession

from .conftest import DEVICE_ID, KEY

VERSIONS = [3.1, 3.3, 3.4, 3.5]


class Recorder:
    """What a session reported, with events to await."""

    def __init__(self) -> None:
        self.reports: list[dict[str, Any]] = []
        self.available: list[bool] = []
        self.key_errors: list[TuyaKeyError] = []
        self.changed = asyncio.Event()

    def on_dps(self, dps: dict[str, Any]) -> None:
        self.reports.append(dict(dps))
        self.changed.set()

    def on_available(self, available: bool) -> None:
        self.available.append(available)
        self.changed.set()

    def on_key_error(self, err: TuyaKeyError) -> None:
        self.key_errors.append(err)
        self.changed.set()

    async def until(self, predicate: Callable[[], bool], limit: float = 5.0) -> None:
        async with asyncio.timeout(limit):
            while not predicate():
                self.changed.clear()
                await self.changed.wait()


SessionFactory = Callable[..., tuple[TuyaSession, Recorder]]


@pytest.fixture
async def make_session() -> AsyncIterator[SessionFactory]:
    sessions: list[TuyaSession] = []

    def make(double: TuyaDeviceDouble, **overrides: Any) -> tuple[TuyaSession, Recorder]:
        fields: dict[str, Any] = {
            "device_id": DEVICE_ID,
            "local_key": KEY,
            "host": "127.0.0.1",
            "port": double.port,
            "version": double.version,
            "name": "Test plug",
            "command_timeout": 0.5,
        }
        fields.update(overrides)
        power_dps = fields.pop("power_dps", [18, 19, 20])
        recorder = Recorder()
        session = TuyaSession(
            TuyaDeviceConfig(**fields),
            on_dps=recorder.on_dps,
            on_available=recorder.on_available,
            on_key_error=recorder.on_key_error,
            power_dps=lambda: power_dps,
        )
        session.start()
        sessions.append(session)
        return session, recorder

    yield make
    for session in sessions:
        await session.stop()


@pytest.mark.parametrize("version", VERSIONS)
async def test_session_reads_the_status_and_confirms_a_command(
    make_double: Any, make_session: SessionFactory, version: float
) -> None:
    double = await make_double(version)
    session, recorder = make_session(double)
    await recorder.until(lambda: recorder.available == [True])
    assert recorder.reports[0]["20"] == 2301

    await session.set_dps({"1": True})

    assert double.dps["1"] is True
    assert recorder.reports[-1] == {"1": True}


@pytest.mark.parametrize("version", VERSIONS)
async def test_session_hands_on_a_push_at_once(
    make_double: Any, make_session: SessionFactory, version: float
) -> None:
    double = await make_double(version)
    _, recorder = make_session(double)
    await recorder.until(lambda: bool(recorder.available))

    double.set_dps({"19": 1234, "1": True})

    await recorder.until(lambda: recorder.reports[-1] == {"19": 1234, "1": True})


@pytest.mark.parametrize("version", VERSIONS)
async def test_session_detects_the_version_when_not_given(
    make_double: Any, make_session: SessionFactory, version: float
) -> None:
    double = await make_double(version)
    session, recorder = make_session(double, version=None)

    await recorder.until(lambda: bool(recorder.available))

    assert session.version == version


async def test_session_polls_power_with_updatedps(
    make_double: Any, make_session: SessionFactory
) -> None:
    readings = iter(range(100, 10000, 10))
    double = await make_double(3.4, refresh=lambda dps: {"19": next(readings)})
    _, recorder = make_session(double, poll_interval=1)
    await recorder.until(lambda: bool(recorder.available))

    await recorder.until(lambda: recorder.reports[-1].get("19") == 100)

    assert recorder.reports[-1] == {"18": 0, "19": 100, "20": 2301}
    assert any(cmd == 0x12 for cmd, _ in double.received)


@pytest.mark.parametrize("version", [3.3, 3.4, 3.5])
async def test_wrong_key_is_reported_once_and_not_retried_for_ever(
    make_double: Any, make_session: SessionFactory, version: float
) -> None:
    double = await make_double(version)
    session, recorder = make_session(double, local_key="fedcba9876543210")

    await recorder.until(lambda: bool(recorder.key_errors))
    connections = double.connections
    await asyncio.sleep(0.3)  # a loop that reconnects would connect again within this time

    assert len(recorder.key_errors) == 1
    assert recorder.key_errors[0].code in ("904", "914")
    assert double.connections == connections == 2
    assert not session.available


async def test_a_wrong_key_on_3_1_is_found_in_the_pushes(
    make_double: Any, make_session: SessionFactory
) -> None:
    double = await make_double(3.1)
    session, recorder = make_session(double, local_key="fedcba9876543210")

    # 3.1 answers the status query in plain text: each connection opens, the push gives it away.
    for _ in range(2):
        await recorder.until(lambda: session.available)
        double.set_dps({"19": 5})
        await recorder.until(lambda: not session.available)

    await recorder.until(lambda: bool(recorder.key_errors))
    assert recorder.key_errors[0].code == "904"
    assert double.connections == 2


async def test_a_key_changed_by_re_pairing_is_reported_the_same_way(
    make_double: Any, make_session: SessionFactory
) -> None:
    double = await make_double(3.3)
    _, recorder = make_session(double)
    await recorder.until(lambda: recorder.available == [True])

    double.local_key = "fedcba9876543210"  # re-paired: the device now speaks another key
    double.drop()

    await recorder.until(lambda: bool(recorder.key_errors))
    assert recorder.available == [True, False]


async def test_command_unconfirmed_is_retried_once_then_fails(
    make_double: Any, make_session: SessionFactory
) -> None:
    double = await make_double(3.3)
    session, recorder = make_session(double)
    await recorder.until(lambda: bool(recorder.available))
    double.silent = True

    with pytest.raises(DeviceTimeout):
        await session.set_dps({"1": True})

    controls = [plain for cmd, plain in double.received if cmd == 7]
    assert len(controls) == 2


async def test_command_fails_when_the_device_closes_the_socket_mid_command(
    make_double: Any, make_session: SessionFactory
) -> None:
    double = await make_double(3.4)
    session, recorder = make_session(double, command_timeout=0.3)
    await recorder.until(lambda: bool(recorder.available))
    double.close_on_control = True

    with pytest.raises(DeviceConnectError):
        await session.set_dps({"1": True})

    await recorder.until(lambda: recorder.available[-1] is True and len(recorder.available) >= 3)


async def test_garbage_from_the_device_drops_the_connection_and_it_reconnects(
    make_double: Any, make_session: SessionFactory
) -> None:
    double = await make_double(3.3)
    session, recorder = make_session(double)
    await recorder.until(lambda: bool(recorder.available))

    double.garbage = True
    double.set_dps({"19": 5})
    await recorder.until(lambda: recorder.available[-1] is False)
    double.garbage = False

    await recorder.until(lambda: recorder.available[-1] is True)
    assert session.connects == 2


async def test_session_reconnects_after_the_device_restarts(
    make_double: Any, make_session: SessionFactory
) -> None:
    double = await make_double(3.5)
    port = double.port
    session, recorder = make_session(double)
    await recorder.until(lambda: bool(recorder.available))

    await double.stop()
    await recorder.until(lambda: recorder.available[-1] is False)
    restarted = await make_double(3.5, port=port)

    await recorder.until(lambda: recorder.available[-1] is True)
    await session.set_dps({"1": True})
    assert restarted.dps["1"] is True


async def test_a_second_connection_is_refused_and_reported_as_such(
    make_double: Any, make_session: SessionFactory
) -> None:
    double = await make_double(3.3)
    _, first = make_session(double)
    await first.until(lambda: bool(first.available))

    second, recorder = make_session(double)
    await asyncio.wait_for(_until_error(second), 5)

    assert double.refused >= 1
    assert "accepts one connection" in (second.last_error or "")
    assert recorder.available == []


async def _until_error(session: TuyaSession) -> None:
    while session.last_error is None:  # noqa: ASYNC110 - last_error has no event to await
        await asyncio.sleep(0.01)


async def test_silent_device_is_dropped_after_missed_heartbeats(
    make_double: Any, make_session: SessionFactory
) -> None:
    double = await make_double(3.3)
    _, recorder = make_session(double, heartbeat_interval=1)
    await recorder.until(lambda: bool(recorder.available))

    double.silent = True

    await recorder.until(lambda: recorder.available[-1] is False, limit=6)
