"""The optimizer's services on a running Edgewise: REST with return_response, cache, table,
EMHASS-style sensors, plans applied through the equipment services."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from typing import Any

import pytest

from core.auth import Role
from core.hookspecs import hookimpl
from core.integration import Manifest
from core.runtime import Runtime
from core.services import ServiceCall
from integrations import optimizer
from tests.conftest import ConfigDirFactory
from tests.core.http.conftest import HTTP_CONFIG, Api, ApiTestIntegration, start_api


class Equipment:
    """Switch and climate services that record what they were asked."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.changed = asyncio.Event()

    @hookimpl
    def edgewise_manifest(self) -> Manifest:
        return Manifest(domain="equipment", name="Equipment", config_schema=None, default=True)

    @hookimpl
    def edgewise_setup(self, runtime: Runtime, config: object) -> None:
        def recorder(name: str) -> Any:
            async def handle(call: ServiceCall) -> None:
                self.calls.append(
                    (name, {**call.data, "entity_id": sorted(call.target.entity_ids)})
                )
                self.changed.set()

            return handle

        for domain, service in (
            ("switch", "turn_on"),
            ("switch", "turn_off"),
            ("climate", "set_temperature"),
            ("bacnet", "override"),
        ):
            runtime.services.register(domain, service, recorder(f"{domain}.{service}"))


PLAN = {
    "slot_minutes": 60,
    "import_price": [0.1, 0.3, 0.3, 0.2],
    "loads": [{"name": "dishwasher", "power": 2.0, "hours": 1}],
}


@pytest.fixture
async def site(config_dir: ConfigDirFactory) -> AsyncIterator[tuple[Api, Equipment]]:
    import aiohttp

    directory = config_dir(
        HTTP_CONFIG + "optimizer:\n  cache_validity: 600\n  solver_idle_timeout: 1\n"
    )
    equipment = Equipment()
    integration = ApiTestIntegration()
    runtime, tokens = await start_api(directory, integration, optimizer, equipment)
    assert runtime.http is not None
    session = aiohttp.ClientSession()
    api = Api(runtime, f"http://127.0.0.1:{runtime.http.port}", session, integration, tokens)
    yield api, equipment
    await session.close()
    await runtime.stop()


async def test_plan_over_rest_with_return_response_is_cached_and_kept(
    site: tuple[Api, Equipment],
) -> None:
    api, _ = site
    path = "/api/services/optimizer/plan_deferrable_loads?return_response"
    status, body = await api.request("POST", path, Role.OPERATOR, json=PLAN)

    assert status == 200, body
    first = body["service_response"]
    assert first["status"] == "optimal"
    assert first["loads"][0]["slots"] == [0]
    assert first["cached"] is False

    status, again = await api.request("POST", path, Role.OPERATOR, json=PLAN)
    assert again["service_response"]["cached"] is True
    assert again["service_response"]["result_id"] == first["result_id"]

    with sqlite3.connect(api.runtime.config_dir / "optimizer_results.db") as db:
        rows = db.execute("SELECT service, status, input FROM optimizer_results").fetchall()
    assert rows == [("plan_deferrable_loads", "optimal", rows[0][2])]
    assert '"import_price":[0.1,0.3,0.3,0.2]' in rows[0][2]


async def test_bad_input_over_rest_names_the_field(site: tuple[Api, Equipment]) -> None:
    api, _ = site
    bad = {**PLAN, "pv_forecast": [1.0, 2.0]}
    status, body = await api.request(
        "POST", "/api/services/optimizer/plan_deferrable_loads?return_response", json=bad
    )

    assert status == 400
    assert "pv_forecast: has 2 values, the horizon has 4 slots" in str(body)


@pytest.mark.parametrize(
    "start", ["9999-12-31T23:00:00+00:00", "9999-12-31T23:00:00", "0001-01-01T00:00:00+05:00"]
)
async def test_a_start_near_year_1_or_9999_is_refused_by_name_not_a_server_error(
    site: tuple[Api, Equipment], start: str
) -> None:
    # The plan's slot times could not be written: the solve ran, then failed with a 500.
    api, _ = site
    status, body = await api.request(
        "POST",
        "/api/services/optimizer/plan_deferrable_loads?return_response",
        json={**PLAN, "start": start},
    )

    assert status == 400, body
    assert "start: " in str(body)
    assert "too far in the past or the future" in str(body)


async def test_emhass_payload_over_rest_gives_the_native_plan(site: tuple[Api, Equipment]) -> None:
    api, _ = site
    emhass = {
        "optimization_time_step": 60,
        "load_cost_forecast": PLAN["import_price"],
        "nominal_power_of_deferrable_loads": [2000],
        "operating_hours_of_each_deferrable_load": [1],
    }
    status, body = await api.request(
        "POST", "/api/services/optimizer/plan_deferrable_loads?return_response", json=emhass
    )

    assert status == 200, body
    assert body["service_response"]["input_format"] == "emhass"
    assert body["service_response"]["loads"][0]["slots"] == [0]


async def test_published_plan_uses_emhass_sensor_names(site: tuple[Api, Equipment]) -> None:
    api, _ = site
    runtime = api.runtime
    await runtime.services.call("optimizer", "plan_deferrable_loads", PLAN, return_response=True)
    response = await runtime.services.call("optimizer", "publish_plan", {}, return_response=True)

    assert response is not None
    assert "sensor.p_deferrable0" in response["entity_ids"]
    state = runtime.states.get("sensor.p_deferrable0")
    assert state is not None
    assert state.state == "2000"
    first = state.attributes["deferrables_schedule"][0]
    assert first["date"] is None
    assert first["p_deferrable0"] == 2000
    assert "lowest of 4" in first["reason"]
    status = runtime.states.get("sensor.optim_status")
    assert status is not None
    assert status.state == "Optimal"


async def test_applied_plan_switches_the_load_now(site: tuple[Api, Equipment]) -> None:
    api, equipment = site
    runtime = api.runtime
    await runtime.services.call("optimizer", "plan_deferrable_loads", PLAN, return_response=True)
    response = await runtime.services.call(
        "optimizer", "apply_plan",
        {"plan": "deferrable", "switches": {"dishwasher": "switch.dishwasher"}},
        return_response=True,
    )  # fmt: skip

    assert response is not None
    assert response["commands"] == 4
    async with asyncio.timeout(10):
        await equipment.changed.wait()
    assert equipment.calls[0] == ("switch.turn_on", {"entity_id": ["switch.dishwasher"]})


async def test_apply_plan_refuses_unknown_load_names(site: tuple[Api, Equipment]) -> None:
    api, _ = site
    runtime = api.runtime
    await runtime.services.call("optimizer", "plan_deferrable_loads", PLAN, return_response=True)
    status, body = await api.request(
        "POST", "/api/services/optimizer/apply_plan",
        json={"plan": "deferrable", "switches": {"washer": "switch.washer"}},
    )  # fmt: skip

    assert status == 400
    assert "unknown: washer" in str(body)


async def test_solver_process_ends_when_idle(site: tuple[Api, Equipment]) -> None:
    api, _ = site
    runtime = api.runtime
    state = runtime.data.get(optimizer.STATE)
    assert state is not None
    await runtime.services.call("optimizer", "plan_deferrable_loads", PLAN, return_response=True)
    assert state.runner.process_alive

    async with asyncio.timeout(20):
        while state.runner.process_alive:  # noqa: ASYNC110 - a timer ends it, no event
            await asyncio.sleep(0.05)


ZONE = {
    "slot_minutes": 15, "temperature": 21.5, "outdoor": [5.0] * 8, "price": 0.2,
    "comfort_low": [21.0, 21.0], "comfort_high": [24.0, 24.0],
    "zone": {"resistance": 4.0, "capacitance": 8000.0}, "heating_capacity": 10.0,
}  # fmt: skip


async def test_setpoint_plan_goes_to_a_climate_entity(site: tuple[Api, Equipment]) -> None:
    api, equipment = site
    runtime = api.runtime
    plan = await runtime.services.call(
        "optimizer", "optimize_setpoints", ZONE, return_response=True
    )
    assert plan is not None
    assert plan["status"] == "optimal"
    await runtime.services.call(
        "optimizer", "apply_plan", {"plan": "setpoints", "climate_entity_id": "climate.zone_1"}
    )

    async with asyncio.timeout(10):
        await equipment.changed.wait()
    name, data = equipment.calls[0]
    assert name == "climate.set_temperature"
    assert data == {"temperature": plan["slots"][0]["setpoint"], "entity_id": ["climate.zone_1"]}


async def test_setpoint_plan_as_timed_bacnet_overrides(site: tuple[Api, Equipment]) -> None:
    api, equipment = site
    runtime = api.runtime
    plan = await runtime.services.call(
        "optimizer", "optimize_setpoints", ZONE, return_response=True
    )
    assert plan is not None
    response = await runtime.services.call(
        "optimizer", "apply_plan",
        {"plan": "setpoints", "bacnet_overrides": {"setpoint": "number.zone_1_setpoint"}},
        return_response=True,
    )  # fmt: skip

    assert response is not None
    assert response["commands"] == 8
    async with asyncio.timeout(10):
        await equipment.changed.wait()
    name, data = equipment.calls[0]
    assert name == "bacnet.override"
    assert data["value"] == plan["slots"][0]["setpoint"]
    assert data["duration"] == {"seconds": 900}
    assert data["requested_by"] == "optimizer.apply_plan"
