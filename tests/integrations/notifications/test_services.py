"""The persistent_notification and notify services, called as automations call them."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import pytest

from core.errors import ServiceValidationError
from core.notifications import Notification
from core.runtime import Runtime
from tests.integrations._runtime import running


async def wait_for_notification(
    runtime: Runtime, notification_id: str, present: bool = True
) -> Notification | None:
    """Wait until a run or a (re)load has (or has not) left the notification; answer it."""
    async with asyncio.timeout(10):
        while (runtime.notifications.get(notification_id) is not None) != present:  # noqa: ASYNC110
            await asyncio.sleep(0.001)
    return runtime.notifications.get(notification_id)


START = datetime(2026, 6, 1, 8, 0, tzinfo=UTC)

CONFIG = """\
http:
  server_port: 0
automation:
  - id: too_warm
    alias: Too warm
    triggers:
      - trigger: numeric_state
        entity_id: sensor.zone_1
        above: 26
    actions:
      - action: notify.persistent_notification
        data:
          title: Too warm
          message: "Zone 1 is at {{ states('sensor.zone_1') }} °C"
          data:
            notification_id: zone_1_warm
  - id: cooled
    alias: Cooled down
    triggers:
      - trigger: numeric_state
        entity_id: sensor.zone_1
        below: 24
    actions:
      - action: persistent_notification.dismiss
        data:
          notification_id: zone_1_warm
"""


async def test_an_automation_notifies_then_dismisses(tmp_path: Path) -> None:
    async with running(tmp_path, CONFIG, START) as runtime:
        async with asyncio.timeout(10):  # automations load in the background after start
            while "automation.cooled_down" not in runtime.states:  # noqa: ASYNC110 - no event for it
                await asyncio.sleep(0.001)
        runtime.states.set("sensor.zone_1", "25")
        runtime.states.set("sensor.zone_1", "27.5")
        await wait_for_notification(runtime, "zone_1_warm", present=True)
        notification = runtime.notifications.get("zone_1_warm")
        assert notification is not None
        assert notification["title"] == "Too warm"
        assert notification["message"] == "Zone 1 is at 27.5 °C"
        runtime.states.set("sensor.zone_1", "23")
        await wait_for_notification(runtime, "zone_1_warm", present=False)


async def test_create_dismiss_all_and_bad_calls(tmp_path: Path) -> None:
    async with running(tmp_path, "http:\n  server_port: 0\n", START) as runtime:
        call = runtime.services.call
        await call("persistent_notification", "create", {"message": "One"})
        await call("persistent_notification", "create", {"message": "Two", "title": "2"})
        assert len(runtime.notifications) == 2
        await call("persistent_notification", "dismiss_all")
        assert len(runtime.notifications) == 0
        with pytest.raises(ServiceValidationError) as err:
            await call("persistent_notification", "create", {"title": "no message"})
        assert "message" in str(err.value)
        with pytest.raises(ServiceValidationError) as err:
            await call("notify", "persistent_notification", {"message": "x", "data": {"y": 1}})
        assert "y" in str(err.value)
        assert len(runtime.notifications) == 0


async def test_automations_raise_alarms_by_id_with_a_severity_and_repeats_stack(
    tmp_path: Path,
) -> None:
    async with running(tmp_path, "http:\n  server_port: 0\n", START) as runtime:
        call = runtime.services.call
        raise_power = {
            "message": "9.6 kW",
            "title": "House power high",
            "notification_id": "house_power_high",
            "severity": "warning",
        }
        await call("persistent_notification", "create", raise_power)
        await call("persistent_notification", "create", {**raise_power, "message": "9.8 kW"})
        await call(
            "notify",
            "persistent_notification",
            {
                "message": "9.9 kW",
                "title": "House power high",
                "data": {"notification_id": "house_power_high", "severity": "critical"},
            },
        )
        alarm = runtime.notifications.get("house_power_high")
        assert alarm is not None
        assert (alarm["count"], alarm["severity"], alarm["message"]) == (3, "critical", "9.9 kW")
        await call(
            "persistent_notification", "acknowledge", {"notification_id": "house_power_high"}
        )
        acked = runtime.notifications.get("house_power_high")
        assert acked is not None
        assert acked["acknowledged_at"] is not None
        await call("persistent_notification", "dismiss", {"notification_id": "house_power_high"})
        assert [n["notification_id"] for n in runtime.notifications.history()] == [
            "house_power_high"
        ]
        for bad in ({"severity": "loud"}, {"data": {"severity": "loud"}}):
            service = "create" if "severity" in bad else "persistent_notification"
            domain = "persistent_notification" if service == "create" else "notify"
            with pytest.raises(ServiceValidationError) as err:
                await call(domain, service, {"message": "x", **bad})
            assert "severity" in str(err.value)


BROKEN_AUTOMATION = """\
- id: fine
  alias: Fine
  triggers: [{trigger: state, entity_id: sensor.a}]
  actions: [{event: fine}]
- id: broken
  alias: Broken
  triggers: [{trigger: state, entity_id: sensor.a}]
  actions: [{delay: {bogus: 1}}]
"""


async def test_broken_automations_are_reported_until_a_reload_fixes_them(tmp_path: Path) -> None:
    (tmp_path / "automations.yaml").write_text(BROKEN_AUTOMATION, encoding="utf-8")
    config = "http:\n  server_port: 0\nautomation: !include automations.yaml\n"
    async with running(tmp_path, config, START) as runtime:
        notification = await wait_for_notification(runtime, "invalid_automations")
        assert notification is not None
        assert "Broken" in notification["message"]
        assert "Fine" not in notification["message"]
        fixed = BROKEN_AUTOMATION.replace("{bogus: 1}", "{seconds: 1}")
        (tmp_path / "automations.yaml").write_text(fixed, encoding="utf-8")
        await runtime.services.call("automation", "reload")
        assert runtime.notifications.get("invalid_automations") is None


async def test_a_script_calling_an_unknown_service_is_reported(tmp_path: Path) -> None:
    config = """\
http:
  server_port: 0
script:
  ventilate:
    sequence: [{action: fan.nonexistent_service}]
  fine:
    sequence: [{event: fine}]
"""
    async with running(tmp_path, config, START) as runtime:
        notification = await wait_for_notification(runtime, "invalid_scripts")
        assert notification is not None
        assert "ventilate" in notification["message"]
        assert "fan.nonexistent_service" in notification["message"]
        assert "script.fine" in runtime.states
