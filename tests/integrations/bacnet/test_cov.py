"""Change-of-value subscriptions on a real device: notifications, renewal before the lifetime
lapses, unconfirmed notifications, and a refused subscription falling back to polling."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from integrations.bacnet import BACNET_DATA
from tests._helpers import wait_for
from tests.integrations._runtime import clock_of

from .conftest import running, site_yaml, wait_state
from .device import TestDevice

COV_POINTS = """\
      - object: analog-input,1
        name: Supply temperature
        cov: confirmed
      - object: analog-input,2
        name: Return temperature
        cov: unconfirmed
"""


async def test_cov_notifications_update_the_state_and_are_renewed_before_they_lapse(
    tmp_path: Path, device: TestDevice, client_port: int
) -> None:
    extra = "cov_lifetime: 60\n"
    async with running(tmp_path, site_yaml(device, client_port, COV_POINTS, extra)) as runtime:
        await wait_state(runtime, "sensor.ahu_supply_temperature", "18.5")
        await wait_state(runtime, "sensor.ahu_return_temperature", "24.0")
        await wait_for(
            lambda: device.app is not None and len(device.app.subscribe_requests) == 2,
            what="two subscriptions",
        )
        assert device.app is not None
        assert sorted(device.app.subscribe_requests) == ["analog-input,1", "analog-input,2"]
        link = runtime.data[BACNET_DATA].hub.links[device.instance]
        await wait_for(lambda: all(p.cov_active for p in link.points.values()), what="cov active")
        state = runtime.states.get("sensor.ahu_supply_temperature")
        assert state is not None
        assert state.attributes["cov"] == "active"

        # No clock moves, so no poll: only the notifications can bring these values.
        polls = device.app.rpm_requests
        device.set("analog-input,1", 19.0)
        device.set("analog-input,2", 26.5)
        await wait_state(runtime, "sensor.ahu_supply_temperature", "19.0")
        await wait_state(runtime, "sensor.ahu_return_temperature", "26.5")
        assert device.app.rpm_requests == polls

        # Three quarters into the lifetime, both subscriptions are renewed.
        await clock_of(runtime).advance_and_settle(timedelta(seconds=46))
        await wait_for(
            lambda: device.app is not None and len(device.app.subscribe_requests) == 4,
            what="renewed subscriptions",
        )
        device.set("analog-input,1", 20.0)
        await wait_state(runtime, "sensor.ahu_supply_temperature", "20.0")


async def test_a_refused_subscription_falls_back_to_polling(
    tmp_path: Path, client_port: int
) -> None:
    device = TestDevice(1004, refuse_cov={"analog-input,2"})
    await device.start()
    try:
        yaml = site_yaml(device, client_port, COV_POINTS)
        async with running(tmp_path, yaml) as runtime:
            await wait_state(runtime, "sensor.ahu_return_temperature", "24.0")

            def refused() -> bool:
                state = runtime.states.get("sensor.ahu_return_temperature")
                return state is not None and "refused" in str(state.attributes.get("cov"))

            await wait_for(refused, what="refused subscription")
            state = runtime.states.get("sensor.ahu_return_temperature")
            assert state is not None
            assert state.attributes["cov"] == "refused (cov-subscription-failed)"
            device.set("analog-input,2", 25.5)
            clock_of(runtime).advance(timedelta(seconds=30))
            await wait_state(runtime, "sensor.ahu_return_temperature", "25.5")
            # The other point is still kept current by its subscription.
            device.set("analog-input,1", 18.0)
            await wait_state(runtime, "sensor.ahu_supply_temperature", "18.0")
    finally:
        device.stop()
