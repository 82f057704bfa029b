"""integrations/recorder/api.py: history, logbook and statistics over HTTP and WebSocket.

The recorder registers these from its setup, like any plugin; the logbook shows the events
integrations described; times out of range (``0001-01-01``, ``9999-12-31``) answer 400 with a
message naming the range, never 500.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest
import pytest_asyncio

import automations.integration
import integrations.recorder
from core.auth import Role
from tests.conftest import ConfigDirFactory
from tests.core.http.conftest import HTTP_CONFIG, Api, ApiTestIntegration, start_api
from tests.core.http.test_ws_panel import connect

CONFIG = (
    HTTP_CONFIG
    + "recorder:\nautomation:\n  - id: go\n    alias: Go\n"
    + ("    triggers: [{trigger: event, event_type: go}]\n    actions: []\n")
)


@pytest_asyncio.fixture
async def recorded(config_dir: ConfigDirFactory) -> AsyncIterator[Api]:
    """The API with the recorder (SQLite) and one automation."""
    site = config_dir(CONFIG)
    integration = ApiTestIntegration()
    runtime, tokens = await start_api(
        site, integration, integrations.recorder, automations.integration
    )
    async with aiohttp.ClientSession() as session:
        yield Api(runtime, f"http://127.0.0.1:{runtime.http.port}", session, integration, tokens)
    await runtime.stop()


OUT_OF_RANGE = [
    "/api/history/period/0001-01-01?filter_entity_id=light.kitchen",
    "/api/history/period/9999-12-31?filter_entity_id=light.kitchen",
    "/api/history/period/0001-01-01T00:00:00+14:00?filter_entity_id=light.kitchen",
    "/api/history/period/2026-01-01?filter_entity_id=light.kitchen&end_time=9999-12-31",
    "/api/logbook/0001-01-01",
    "/api/logbook/9999-12-31T23:59:59",
    "/api/logbook/2026-01-01?end_time=0001-01-01",
]


@pytest.mark.parametrize("path", OUT_OF_RANGE)
async def test_history_and_logbook_answer_400_to_a_time_out_of_range(
    recorded: Api, path: str
) -> None:
    status, body = await recorded.request("GET", path, role=Role.VIEWER)

    assert status == 400, body
    assert "out of range" in body["message"]
    assert "1970-01-01 to 2200-01-01" in body["message"]


async def test_statistics_and_downsampled_history_refuse_a_time_out_of_range(
    recorded: Api,
) -> None:
    status, body = await recorded.request(
        "POST",
        "/api/services/recorder/get_statistics?return_response",
        role=Role.OPERATOR,
        json={"statistic_ids": ["sensor.x"], "start_time": "9999-12-31T00:00:00", "period": "hour"},
    )
    assert status == 400, body
    assert "out of range" in body["message"]
    client = await connect(recorded, Role.VIEWER)
    for message in (
        {
            "type": "recorder/statistics_during_period",
            "statistic_ids": ["sensor.x"],
            "start_time": "0001-01-01T00:00:00",
            "period": "hour",
        },
        {"type": "history/downsampled", "entity_ids": ["light.kitchen"], "end_time": "9999-12-31"},
    ):
        answer = await client.command(**message)
        assert answer["success"] is False, message
        assert "out of range" in answer["error"]["message"]


async def test_logbook_shows_the_events_integrations_described(recorded: Api) -> None:
    runtime = recorded.runtime
    runtime.bus.fire("go")
    runtime.bus.fire("not_described")

    entries: list[dict[str, object]] = []
    for _ in range(200):
        status, entries = await recorded.request("GET", "/api/logbook", role=Role.VIEWER)
        assert status == 200
        if any(e.get("domain") == "automation" for e in entries):
            break
    triggered = [e for e in entries if e.get("domain") == "automation"]
    assert triggered[0]["name"] == "Go"
    assert triggered[0]["message"] == "triggered by event 'go'"
    assert any(e.get("message") == "started" and e.get("name") == "Edgewise" for e in entries)

    await runtime.stop_integration("automation")

    # The automation integration no longer describes its events: its lines leave the logbook.
    status, entries = await recorded.request("GET", "/api/logbook", role=Role.VIEWER)
    assert status == 200
    assert not [e for e in entries if e.get("domain") == "automation"]


async def test_history_routes_go_when_the_recorder_stops(recorded: Api) -> None:
    path = "/api/history/period?filter_entity_id=light.kitchen"
    assert (await recorded.request("GET", path, role=Role.VIEWER))[0] == 200

    await recorded.runtime.stop_integration("recorder")

    assert (await recorded.request("GET", path, role=Role.VIEWER))[0] == 404
    client = await connect(recorded, Role.VIEWER)
    answer = await client.command(type="history/downsampled", entity_ids=["light.kitchen"])
    assert answer["error"]["code"] == "unknown_command"


async def test_logbook_shows_a_thermostats_set_point_changes_with_its_name(recorded: Api) -> None:
    runtime = recorded.runtime
    attributes = {"friendly_name": "Zone 1", "temperature": 17.0, "current_temperature": 19.2}
    runtime.states.set("climate.zone_1", "heat", attributes)
    runtime.states.set("climate.zone_1", "heat", {**attributes, "current_temperature": 19.3})
    runtime.states.set("climate.zone_1", "heat", {**attributes, "temperature": 21.5})

    def setpoints(entries: list[dict[str, object]]) -> list[object]:
        return [e["message"] for e in entries if "target temperature" in str(e.get("message"))]

    for path in ("/api/logbook", "/api/logbook?entity=climate.zone_1"):
        status, entries = await recorded.request("GET", path, role=Role.VIEWER)
        assert status == 200
        assert setpoints(entries) == ["changed its target temperature to 21.5 °C (was 17.0)"]
        [line] = [e for e in entries if "target temperature" in str(e.get("message"))]
        assert line["name"] == "Zone 1"
        assert line["entity_id"] == "climate.zone_1"
    status, entries = await recorded.request(
        "GET", "/api/logbook?entity=light.kitchen", role=Role.VIEWER
    )
    assert status == 200
    assert setpoints(entries) == []
