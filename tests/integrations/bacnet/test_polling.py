"""Reading real devices: ReadPropertyMultiple, the ReadProperty fallback, availability, and a
device that stops answering and comes back."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

from core.integration import IntegrationStatus
from integrations.bacnet import BACNET_DATA
from tests._helpers import wait_for
from tests.integrations._runtime import clock_of

from .conftest import call, running, site_yaml, state_of, wait_state
from .device import TestDevice


async def test_points_are_read_with_read_property_multiple(
    tmp_path: Path, device: TestDevice, client_port: int
) -> None:
    async with running(tmp_path, site_yaml(device, client_port)) as runtime:
        loaded = runtime.loader.get("bacnet")
        assert loaded is not None
        assert loaded.status is IntegrationStatus.RUNNING, loaded.error
        await wait_state(runtime, "number.ahu_supply_setpoint", "21.0")
        await wait_state(runtime, "sensor.ahu_supply_temperature", "18.5")
        await wait_state(runtime, "binary_sensor.ahu_filter_alarm", "off")
        await wait_state(runtime, "switch.ahu_fan_enable", "off")
        await wait_state(runtime, "select.ahu_mode", "Off")
        await wait_state(runtime, "binary_sensor.ahu_connectivity", "on")
        temperature = runtime.states.get("sensor.ahu_supply_temperature")
        assert temperature is not None
        assert temperature.attributes["unit_of_measurement"] == "°C"
        assert temperature.attributes["object"] == "analog-input,1"
        assert temperature.attributes["object_name"] == "Supply temperature"
        assert temperature.attributes["description"] == "Supply air temperature"
        assert temperature.attributes["status_flags"] == []
        mode = runtime.states.get("select.ahu_mode")
        assert mode is not None
        assert mode.attributes["options"] == ["Off", "Auto", "Manual"]

        link = runtime.data[BACNET_DATA].hub.links[device.instance]
        assert link.rpm is True
        assert device.app is not None
        assert device.app.rp_requests == 0
        rpm_before = device.app.rpm_requests

        device.set("analog-input,1", 19.25)
        device.set("binary-input,1", "active")
        clock_of(runtime).advance(timedelta(seconds=30))
        await wait_state(runtime, "sensor.ahu_supply_temperature", "19.25")
        await wait_state(runtime, "binary_sensor.ahu_filter_alarm", "on")
        # Six points, two properties each: one ReadPropertyMultiple per cycle.
        assert device.app.rpm_requests == rpm_before + 1
        scraped = runtime.metrics.render().decode()
        assert f'bacnet_device_online{{device="{device.instance}"}} 1.0' in scraped
        assert f'bacnet_poll_seconds_count{{device="{device.instance}"}}' in scraped
        assert f'bacnet_requests_total{{device="{device.instance}"}}' in scraped


async def test_a_device_without_rpm_is_read_one_property_at_a_time(
    tmp_path: Path, client_port: int
) -> None:
    device = TestDevice(1002, rpm=False)
    await device.start()
    try:
        async with running(tmp_path, site_yaml(device, client_port)) as runtime:
            await wait_state(runtime, "sensor.ahu_supply_temperature", "18.5")
            await wait_state(runtime, "number.ahu_supply_setpoint", "21.0")
            link = runtime.data[BACNET_DATA].hub.links[device.instance]
            assert link.rpm is False
            connectivity = runtime.states.get("binary_sensor.ahu_connectivity")
            assert connectivity is not None
            assert connectivity.state == "on"
            assert connectivity.attributes["read_property_multiple"] is False
            assert device.app is not None
            before = device.app.rp_requests
            device.set("analog-input,1", 17.0)
            clock_of(runtime).advance(timedelta(seconds=30))
            await wait_state(runtime, "sensor.ahu_supply_temperature", "17.0")
            # Present value and status flags of six points: twelve ReadProperty requests.
            await wait_for(lambda: device.app is not None and device.app.rp_requests >= before + 12)
            assert device.app.rp_requests == before + 12
    finally:
        device.stop()


async def test_a_fault_in_status_flags_makes_the_point_unavailable(
    tmp_path: Path, device: TestDevice, client_port: int
) -> None:
    async with running(tmp_path, site_yaml(device, client_port)) as runtime:
        await wait_state(runtime, "sensor.ahu_supply_temperature", "18.5")
        device.obj("analog-input,1").reliability = "unreliableOther"
        clock_of(runtime).advance(timedelta(seconds=30))
        await wait_state(runtime, "sensor.ahu_supply_temperature", "unavailable")
        assert state_of(runtime, "number.ahu_supply_setpoint") == "21.0"
        device.obj("analog-input,1").reliability = "noFaultDetected"
        clock_of(runtime).advance(timedelta(seconds=30))
        await wait_state(runtime, "sensor.ahu_supply_temperature", "18.5")


async def test_an_unknown_object_is_unavailable_and_the_others_still_read(
    tmp_path: Path, device: TestDevice, client_port: int
) -> None:
    points = "      - object: analog-input,99\n        name: Ghost\n      - object: ai,1\n"
    async with running(tmp_path, site_yaml(device, client_port, points)) as runtime:
        await wait_state(runtime, "sensor.ahu_analog_input_1", "18.5")
        await wait_state(runtime, "sensor.ahu_ghost", "unavailable")
        assert state_of(runtime, "binary_sensor.ahu_connectivity") == "on"


async def test_a_device_that_stops_answering_is_unavailable_then_recovers(
    tmp_path: Path, device: TestDevice, client_port: int
) -> None:
    async with running(tmp_path, site_yaml(device, client_port)) as runtime:
        await wait_state(runtime, "sensor.ahu_supply_temperature", "18.5")
        device.stop()
        clock_of(runtime).advance(timedelta(seconds=30))
        await wait_state(runtime, "binary_sensor.ahu_connectivity", "off")
        await wait_state(runtime, "sensor.ahu_supply_temperature", "unavailable")
        assert state_of(runtime, "number.ahu_supply_setpoint") == "unavailable"
        connectivity = runtime.states.get("binary_sensor.ahu_connectivity")
        assert connectivity is not None
        assert "did not answer" in connectivity.attributes["last_error"]

        await device.start()
        device.set("analog-input,1", 20.5)
        clock_of(runtime).advance(timedelta(seconds=30))
        await wait_state(runtime, "binary_sensor.ahu_connectivity", "on")
        await wait_state(runtime, "sensor.ahu_supply_temperature", "20.5")
        await wait_state(runtime, "number.ahu_supply_setpoint", "21.0")


async def test_a_requested_poll_waits_for_a_running_one_instead_of_being_skipped(
    tmp_path: Path, device: TestDevice, client_port: int
) -> None:
    async with running(tmp_path, site_yaml(device, client_port)) as runtime:
        await wait_state(runtime, "sensor.ahu_supply_temperature", "18.5")
        link = runtime.data[BACNET_DATA].hub.links[device.instance]
        device.stop()
        stuck = asyncio.create_task(link.poll())  # waits out the silent device's timeout
        await asyncio.sleep(0)
        await link.poll()  # a scheduled poll meanwhile is skipped, not queued
        assert not stuck.done()
        await device.start()
        device.set("analog-input,1", 20.5)
        # bacnet.poll (as a picked point's first read) waits for the running poll, then reads.
        await call(runtime, "poll", {})
        assert stuck.done()
        assert state_of(runtime, "sensor.ahu_supply_temperature") == "20.5"


async def test_a_device_without_segmentation_gets_requests_that_fit_its_apdu(
    tmp_path: Path, client_port: int
) -> None:
    device = TestDevice(1007, segmentation=False, extra_points=60)
    await device.start()
    points = "".join(
        f"      - object: analog-value,{1000 + i}\n        writable: false\n" for i in range(60)
    )
    try:
        async with running(tmp_path, site_yaml(device, client_port, points)) as runtime:
            link = runtime.data[BACNET_DATA].hub.links[device.instance]
            await wait_for(
                lambda: all(p.value is not None for p in link.points.values()),
                what="every point read",
            )
            assert (link.max_apdu, link.segmentation) == (480, "no-segmentation")
            assert link.rpm is True
            assert [link.points[ref].value for ref in sorted(link.points)] == [
                float(i) for i in range(60)
            ]
            assert device.app is not None
            before = device.app.rpm_requests
            await link.poll()
            # 120 properties in answers of at most 480 bytes: several requests, none refused.
            requests = device.app.rpm_requests - before
            assert 2 <= requests <= 12
            assert state_of(runtime, "sensor.ahu_analog_value_1059") == "59.0"
    finally:
        device.stop()
