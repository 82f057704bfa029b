"""The backtest's interfaces and limits: roles, the errors of saving for a bad automation, clear
messages for a bad period, partial reports at the limits, cancellation, the honesty section and
the difference against the current version."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from automations.backtest.engine import ReplayOptions
from automations.backtest.run import BacktestError, backtest
from automations.validation import InvalidConfig
from core.auth import Role
from core.const import HA_COMPAT_VERSION
from tests.automations.backtest.conftest import START, backtest_site, recorder_of
from tests.automations.backtest.test_replay import drive
from tests.automations.conftest import Site
from tests.core.http.conftest import password_hash

LIGHTS = """
automation:
  - id: lights
    alias: Lights follow motion
    triggers:
      - trigger: state
        entity_id: binary_sensor.motion
        to: "on"
      - trigger: webhook
        webhook_id: secret-hook
    conditions:
      - condition: template
        value_template: "{{ area_name('light.hall') is not none or true }}"
    actions:
      - action: light.turn_on
        target:
          entity_id: light.hall
"""

SCRIPT = {
    0: [("binary_sensor.motion", "off"), ("light.hall", "off")],
    5: [("binary_sensor.motion", "on"), ("light.hall", "on")],
    6: [("binary_sensor.motion", "off"), ("light.hall", "off")],
    9: [("binary_sensor.motion", "on")],
    10: [("binary_sensor.motion", "off")],
}

EDITED = {
    "alias": "Lights follow motion",
    "triggers": [{"trigger": "state", "entity_id": "binary_sensor.motion", "to": "off"}],
    "actions": [
        {"action": "light.turn_off", "target": {"entity_id": ["light.hall", "light.gone"]}}
    ],
}


async def tokens(site: Site) -> dict[Role, str]:
    """A long-lived token per role."""
    assert site.runtime.http is not None
    auth = site.runtime.http.auth
    found = {}
    for role in Role:
        user = auth.data.add_user(f"{role.value}-user", password_hash(role), role=role)
        _, found[role] = await auth.create_long_lived_token(user, "tests")
    return found


async def post(site: Site, token: str, body: Any) -> tuple[int, Any]:
    """POST the backtest route; the status and the JSON body."""
    assert site.runtime.http is not None
    url = f"http://127.0.0.1:{site.runtime.http.port}/api/config/automation/backtest"
    async with (
        aiohttp.ClientSession() as session,
        session.post(url, json=body, headers={"Authorization": f"Bearer {token}"}) as response,
    ):
        return response.status, await response.json(content_type=None)


async def test_rest_backtest_is_for_operators_and_admins_and_reports_the_edit(cfg: Path) -> None:
    async with backtest_site(cfg, LIGHTS) as site:
        await drive(site, SCRIPT, 12)
        await recorder_of(site).flush()
        token = await tokens(site)
        body = {
            "config": EDITED,
            "start": START.isoformat(),
            "end": site.clock.now().isoformat(),
            "automation_id": "lights",
        }
        status, _ = await post(site, token[Role.VIEWER], body)
        assert status == 403
        status, report = await post(site, token[Role.OPERATOR], body)
        assert status == 200, report
        assert report["summary"]["actions_by_service"] == {"light.turn_off": 3}
        difference = report["difference"]
        assert difference["actions"] == {"edited": 3, "current": 2}
        assert [a["service"] for a in difference["only_current"]] == ["light.turn_on"] * 2
        assert report["not_reproduced"]["entities_without_history"] == ["light.gone"]
        # A run's trace is in the live trace format.
        trace = report["runs"][0]["trace"]
        assert {"run_id", "timestamp", "trace", "config", "context"} <= trace.keys()
        assert trace["timestamp"]["start"].startswith(START.date().isoformat())

        status, answer = await post(site, token[Role.ADMIN], {**body, "config": {"actons": []}})
        assert status == 400
        assert answer["message"].startswith("Message malformed: Automation")
        status, answer = await post(site, token[Role.ADMIN], {**body, "days": 90, "start": None})
        assert status == 400
        assert "days" in answer["message"]
        early = (START - timedelta(days=3)).isoformat()
        status, answer = await post(
            site,
            token[Role.ADMIN],
            {**body, "start": early, "end": (START - timedelta(days=2)).isoformat()},
        )
        assert status == 400
        assert "no history between" in answer["message"]


async def test_the_current_version_webhooks_and_registry_templates_are_reported(cfg: Path) -> None:
    async with backtest_site(cfg, LIGHTS) as site:
        await drive(site, SCRIPT, 12)
        await recorder_of(site).flush()
        config = dict(site.manager.automations["lights"].raw_config)
        report = await backtest(site.runtime, config, start=START, end=site.clock.now())
        honest = report["not_reproduced"]
        assert honest["triggers_not_replayed"] == [
            {
                "index": 1,
                "trigger": "webhook",
                "reason": "the recorder does not keep what a webhook trigger receives",
            }
        ]
        assert honest["templates_reading_external_state"] == ["area_name"]
        assert report["summary"]["runs"] == 2
        assert [a["simulated"] for a in report["actions"]] == [
            [{"entity_id": "light.hall", "from": "off", "to": "on"}]
        ] * 2
        # The live runtime's state was never touched by the replay.
        hall = site.runtime.states.get("light.hall")
        assert hall is not None
        assert hall.state == "off"


async def test_websocket_backtest_sends_progress_and_can_be_cancelled(cfg: Path) -> None:
    async with backtest_site(cfg, LIGHTS) as site:
        await drive(site, SCRIPT, 12)
        await recorder_of(site).flush()
        token = await tokens(site)
        assert site.runtime.http is not None
        url = f"ws://127.0.0.1:{site.runtime.http.port}/api/websocket"
        async with aiohttp.ClientSession() as session, session.ws_connect(url) as ws:
            assert (await ws.receive_json())["type"] == "auth_required"
            await ws.send_json({"type": "auth", "access_token": token[Role.OPERATOR]})
            assert await ws.receive_json() == {"type": "auth_ok", "ha_version": HA_COMPAT_VERSION}
            await ws.send_json(
                {"id": 1, "type": "automation/backtest", "config": EDITED, "days": 1}
            )
            async with asyncio.timeout(30):
                answer = await ws.receive_json()
            assert answer["success"] is True, answer
            assert answer["result"]["summary"]["actions"] == 3
            await ws.send_json({"id": 2, "type": "automation/backtest/cancel", "backtest_id": 1})
            answer = await ws.receive_json()
            assert answer["success"] is False
            assert answer["error"]["code"] == "not_found"
            await ws.send_json({"id": 3, "type": "automation/backtest", "config": {"triggers": 1}})
            answer = await ws.receive_json()
            assert answer["success"] is False
            assert "Automation" in answer["error"]["message"]
        viewer = await tokens_for_viewer(site, token)
        async with aiohttp.ClientSession() as session, session.ws_connect(url) as ws:
            await ws.receive_json()
            await ws.send_json({"type": "auth", "access_token": viewer})
            await ws.receive_json()
            await ws.send_json({"id": 1, "type": "automation/backtest", "config": EDITED})
            answer = await ws.receive_json()
            assert answer["error"]["code"] == "unauthorized"


async def tokens_for_viewer(site: Site, token: dict[Role, str]) -> str:
    """The viewer's token (kept apart for readability)."""
    return token[Role.VIEWER]


async def test_limits_stop_with_a_partial_report_and_cancel_stops_the_replay(cfg: Path) -> None:
    async with backtest_site(cfg, LIGHTS) as site:
        await drive(site, SCRIPT, 12)
        await recorder_of(site).flush()
        end = site.clock.now()
        partial = await backtest(
            site.runtime,
            EDITED,
            start=START,
            end=end,
            options=ReplayOptions(max_items=4, check_every=1),
        )
        assert partial["status"] == "stopped_at_item_limit"
        assert partial["replayed"]["items"] == 4
        assert partial["period"]["reached"] < end.isoformat()
        cancel = asyncio.Event()
        cancel.set()
        cancelled = await backtest(
            site.runtime,
            EDITED,
            start=START,
            end=end,
            options=ReplayOptions(check_every=1),
            cancel=cancel,
        )
        assert cancelled["status"] == "cancelled"
        progress: list[dict[str, Any]] = []
        await backtest(
            site.runtime,
            EDITED,
            start=START,
            end=end,
            options=ReplayOptions(check_every=1),
            progress=progress.append,
        )
        assert progress
        assert 0 <= progress[0]["fraction"] <= 1
        with pytest.raises(InvalidConfig, match="unknown action"):
            await backtest(
                site.runtime,
                {**EDITED, "actions": [{"action": "nothing.here"}]},
                start=START,
                end=end,
            )
        # One backtest at a time: a second one while the first runs is refused.
        slow = asyncio.ensure_future(
            backtest(
                site.runtime,
                EDITED,
                start=START,
                end=end,
                options=ReplayOptions(check_every=1, settle_ticks=200),
            )
        )
        await asyncio.sleep(0)
        with pytest.raises(BacktestError, match="Another backtest is running"):
            await backtest(site.runtime, EDITED, start=START, end=end)
        assert (await slow)["status"] == "complete"
        with pytest.raises(BacktestError, match="longer than 31 days"):
            await backtest(site.runtime, EDITED, start=end - timedelta(days=40), end=end)
        with pytest.raises(BacktestError, match="end must be after start"):
            await backtest(site.runtime, EDITED, start=end, end=START)
