"""Alarms over the APIs (services with severity, acknowledge, clear, history) and per-user data.

Roles: viewers read the alarms and their history; operators raise, acknowledge and clear.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import integrations.persistent_notification
from core.auth import Role
from core.storage import storage_path
from tests.core.http.conftest import Api
from tests.core.http.test_websocket import connect


async def test_operators_raise_ack_and_clear_viewers_only_read(
    api_factory: Callable[..., Any],
) -> None:
    api: Api = await api_factory("", integrations.persistent_notification)
    raise_alarm = {
        "notification_id": "house_power_high",
        "severity": "critical",
        "title": "House power high",
        "message": "9.6 kW",
    }
    for _ in range(3):
        status, _ = await api.request(
            "POST", "/api/services/persistent_notification/create", Role.OPERATOR, json=raise_alarm
        )
        assert status == 200
    async with connect(api, Role.VIEWER) as viewer:
        denied = await viewer.command(
            "call_service",
            domain="persistent_notification",
            service="acknowledge",
            service_data={"notification_id": "house_power_high"},
        )
        assert denied["success"] is False
        assert denied["error"]["code"] == "unauthorized"
        await viewer.send("persistent_notification/subscribe")
        result = await viewer.receive()
        assert result["success"] is True
        current = await viewer.receive()
        alarm = current["event"]["notifications"]["house_power_high"]
        assert (alarm["count"], alarm["severity"]) == (3, "critical")

    status, body = await api.request(
        "POST",
        "/api/services/persistent_notification/create",
        Role.OPERATOR,
        json={**raise_alarm, "severity": "loud"},
    )
    assert status == 400
    assert "severity" in str(body)

    async with connect(api, Role.OPERATOR) as operator:
        for service in ("acknowledge", "dismiss"):
            answer = await operator.command(
                "call_service",
                domain="persistent_notification",
                service=service,
                service_data={"notification_id": "house_power_high"},
            )
            assert answer["success"] is True, answer
    operator_id = next(
        user.id for user in api.runtime.http.auth.data.users.values() if user.role is Role.OPERATOR
    )
    async with connect(api, Role.VIEWER) as viewer:
        history = await viewer.command("persistent_notification/history")
        [cleared] = history["result"]
        assert cleared["notification_id"] == "house_power_high"
        assert cleared["acknowledged_by"] == operator_id
        assert cleared["cleared_by"] == operator_id


async def test_user_data_is_per_user_bounded_and_kept(api: Api) -> None:
    async with connect(api, Role.VIEWER) as viewer, connect(api, Role.OPERATOR) as operator:
        hidden = ["sensor.house_meter_power", "sensor.outside"]
        ok = await viewer.command("frontend/set_user_data", key="logbook_hidden", value=hidden)
        assert ok["success"] is True
        mine = await viewer.command("frontend/get_user_data", key="logbook_hidden")
        assert mine["result"] == {"value": hidden}
        theirs = await operator.command("frontend/get_user_data", key="logbook_hidden")
        assert theirs["result"] == {"value": None}
        everything = await viewer.command("frontend/get_user_data")
        assert everything["result"] == {"value": {"logbook_hidden": hidden}}

        await operator.send("frontend/subscribe_user_data", key="layout")
        assert (await operator.receive())["success"] is True
        assert (await operator.receive())["event"] == {"value": None}
        await operator.send("frontend/set_user_data", key="layout", value={"cols": 3})
        answers = [await operator.receive(), await operator.receive()]
        assert {"value": {"cols": 3}} in [msg.get("event") for msg in answers]
        assert any(msg["type"] == "result" and msg["success"] for msg in answers)

        too_big = await viewer.command("frontend/set_user_data", key="x", value="a" * 70_000)
        assert too_big["success"] is False
        assert "KiB" in too_big["error"]["message"]
        long_key = await viewer.command("frontend/set_user_data", key="k" * 101, value=1)
        assert long_key["success"] is False
        assert "key" in long_key["error"]["message"]
        for n in range(49):
            await viewer.command("frontend/set_user_data", key=f"k{n}", value=n)
        full = await viewer.command("frontend/set_user_data", key="one_more", value=1)
        assert full["success"] is False
        assert "at most 50 keys" in full["error"]["message"]
        no_value = await viewer.command("frontend/set_user_data", key="x")
        assert no_value["success"] is False

    viewer_id = next(
        user.id for user in api.runtime.http.auth.data.users.values() if user.role is Role.VIEWER
    )
    await api.runtime.stop()  # the final write flushes the pending save
    stored = json.loads(storage_path(api.runtime.config_dir, "frontend.user_data").read_text())
    assert stored["data"]["users"][viewer_id]["logbook_hidden"] == hidden
