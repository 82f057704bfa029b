"""Alarms over the APIs (services with severity, acknowledge, clear, history) and per-user data.

Roles: viewers read the alarms and their history; operators raise, acknowledge and clear.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import integrations.persistent_notification
from core.auth import Role
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
