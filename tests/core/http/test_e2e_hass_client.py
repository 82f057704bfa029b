"""End to end: ``edgewise run`` in a subprocess, driven by Home Assistant's own WebSocket client
library from PyPI (``hass-client``, unmodified), plus history and logbook over REST.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import sys
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from hass_client import HomeAssistantClient
from hass_client.exceptions import AuthenticationFailed, FailedCommand

from core.cli import main
from tests.conftest import ConfigDirFactory, EdgewiseFactory


def make_token(site: Path) -> str:
    """Add an admin with ``edgewise user add`` and a token with ``edgewise token create``."""
    saved = sys.stdin
    sys.stdin = io.StringIO("secret-password\n")
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            assert main(["user", "add", "owner", "--password-stdin", "-c", str(site)]) == 0
    finally:
        sys.stdin = saved
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["token", "create", "owner", "--name", "e2e", "-c", str(site)]) == 0
    return out.getvalue().strip()


async def test_hass_client_drives_a_running_edgewise(
    config_dir: ConfigDirFactory, edgewise: EdgewiseFactory, unused_port: int
) -> None:
    site = config_dir(
        f"http:\n  server_host: 127.0.0.1\n  server_port: {unused_port}\n"
        "input_boolean:\n  porch:\n    name: Porch light\n"
    )
    token = make_token(site)
    process = edgewise("run", "-c", site, port=unused_port)
    await asyncio.to_thread(process.wait_ready, 30.0)
    url = f"http://127.0.0.1:{unused_port}"
    headers = {"Authorization": f"Bearer {token}"}
    async with aiohttp.ClientSession() as session:
        async with HomeAssistantClient(
            f"ws://127.0.0.1:{unused_port}/api/websocket", token, session
        ) as client:
            assert client.version
            config = await client.get_config()
            assert config["state"] == "RUNNING"
            services = await client.get_services()
            assert "purge" in services["recorder"]
            assert "turn_on" in services["input_boolean"]
            events: list[Any] = []
            changed = asyncio.Event()

            def on_event(event: Any) -> None:
                events.append(event)
                changed.set()

            unsubscribe = await client.subscribe_events(on_event, "state_changed")
            added = asyncio.Event()

            def on_entities(event: Any) -> None:
                if "sensor.e2e" in event.get("a", {}):
                    added.set()

            await client.subscribe_entities(on_entities, ["sensor.e2e"])
            async with session.post(
                f"{url}/api/states/sensor.e2e", json={"state": "on"}, headers=headers
            ) as response:
                assert response.status == 201
            async with asyncio.timeout(20):
                await changed.wait()
            assert events[0]["data"]["entity_id"] == "sensor.e2e"
            assert events[0]["data"]["new_state"]["state"] == "on"
            async with asyncio.timeout(20):
                await added.wait()
            unsubscribe()
            states = await client.get_states()
            assert "sensor.e2e" in {s["entity_id"] for s in states}
            result = await client.call_service(
                "input_boolean", "turn_on", target={"entity_id": "input_boolean.porch"}
            )
            assert "context" in result
            porch = next(
                s for s in await client.get_states() if s["entity_id"] == "input_boolean.porch"
            )
            assert porch["state"] == "on"
            with pytest.raises(FailedCommand, match="not found"):
                await client.call_service("input_boolean", "nope")
            for value in ("off", "on"):
                async with session.post(
                    f"{url}/api/states/sensor.e2e", json={"state": value}, headers=headers
                ) as response:
                    assert response.status == 200
        async with session.get(
            f"{url}/api/history/period?filter_entity_id=sensor.e2e&minimal_response",
            headers=headers,
        ) as response:
            assert response.status == 200
            history = await response.json()
        assert [item["state"] for item in history[0]] == ["on", "off", "on"]
        assert history[0][0]["entity_id"] == "sensor.e2e"
        assert set(history[0][1]) == {"state", "last_changed"}
        async with session.get(
            f"{url}/api/history/period?filter_entity_id=sensor.e2e,sensor.absent&no_attributes"
            "&significant_changes_only=0",
            headers=headers,
        ) as response:
            full = await response.json()
        assert len(full) == 1
        assert [item["attributes"] for item in full[0]] == [{}, {}, {}]
        async with session.get(
            f"{url}/api/history/period/2020-01-01T00:00:00+00:00?filter_entity_id=sensor.e2e"
            "&end_time=2020-01-02T00:00:00%2B00:00",
            headers=headers,
        ) as response:
            assert await response.json() == []
        async with session.get(
            f"{url}/api/history/period?filter_entity_id=Not-An-Id", headers=headers
        ) as response:
            assert response.status == 400
        async with session.get(f"{url}/api/logbook", headers=headers) as response:
            assert response.status == 200
            logbook = await response.json()
        assert [e["state"] for e in logbook if e.get("entity_id") == "sensor.e2e"] == [
            "on",
            "off",
            "on",
        ]
        assert any(e.get("message") == "started" for e in logbook)
        async with session.get(
            f"{url}/api/history/period/not-a-date?filter_entity_id=sensor.e2e", headers=headers
        ) as response:
            assert (response.status, await response.json()) == (
                400,
                {"message": "Invalid datetime"},
            )
        async with session.get(f"{url}/api/history/period", headers=headers) as response:
            assert response.status == 400
        async with session.get(f"{url}/metrics", headers=headers) as response:
            metrics = await response.text()
        assert "recorder_queue_depth " in metrics
        assert "recorder_commit_seconds_count " in metrics
        assert 'edgewise_integration_running{domain="recorder",status="running"} 1.0' in metrics
        bad = HomeAssistantClient(f"ws://127.0.0.1:{unused_port}/api/websocket", "wrong", session)
        with pytest.raises(AuthenticationFailed):
            await bad.connect()
    assert process.stop() == 0
