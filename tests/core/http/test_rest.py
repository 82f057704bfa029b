"""The REST API: Home Assistant's shapes, status codes and error bodies, and bad input."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from core.auth import Role
from tests.core.http.conftest import Api


async def test_states_list_and_single_state_in_home_assistant_form(api: Api) -> None:
    status, states = await api.request("GET", "/api/states", role=Role.VIEWER)
    assert status == 200
    kitchen = next(s for s in states if s["entity_id"] == "light.kitchen")
    assert set(kitchen) == {
        "entity_id",
        "state",
        "attributes",
        "last_changed",
        "last_updated",
        "last_reported",
        "context",
    }
    assert kitchen["attributes"] == {"friendly_name": "Kitchen"}
    status, single = await api.request("GET", "/api/states/light.kitchen", role=Role.VIEWER)
    assert (status, single) == (200, kitchen)
    status, missing = await api.request("GET", "/api/states/light.nowhere")
    assert (status, missing) == (404, {"message": "Entity not found."})


async def test_setting_and_removing_states(api: Api) -> None:
    status, body = await api.request(
        "POST", "/api/states/sensor.outside", json={"state": "12", "attributes": {"unit": "C"}}
    )
    assert status == 201
    assert body["state"] == "12"
    assert api.runtime.states.get("sensor.outside") is not None
    async with api.session.post(
        f"{api.url}/api/states/sensor.outside",
        json={"state": "13"},
        headers=api.headers(Role.ADMIN),
    ) as response:
        assert response.status == 200
        assert response.headers["Location"] == "/api/states/sensor.outside"
    admin = api.runtime.states.get("sensor.outside")
    assert admin is not None
    assert admin.context.user_id is not None
    assert await api.request("DELETE", "/api/states/sensor.outside") == (
        200,
        {"message": "Entity removed."},
    )
    assert await api.request("DELETE", "/api/states/sensor.outside") == (
        404,
        {"message": "Entity not found."},
    )


async def test_bad_state_writes_get_home_assistant_messages(api: Api) -> None:
    assert await api.request("POST", "/api/states/sensor.x", json={"attributes": {}}) == (
        400,
        {"message": "No state specified."},
    )
    assert await api.request("POST", "/api/states/Not%20An%20Id", json={"state": "1"}) == (
        400,
        {"message": "Invalid entity ID specified."},
    )
    assert await api.request(
        "POST",
        "/api/states/sensor.x",
        data=b"{not json",
        headers={"Content-Type": "application/json"},
    ) == (400, {"message": "Invalid JSON specified."})
    assert await api.request("POST", "/api/states/sensor.x", json={"state": "x" * 300}) == (
        400,
        {"message": "Invalid state specified."},
    )


async def test_service_call_returns_the_states_it_changed(api: Api) -> None:
    status, changed = await api.request(
        "POST",
        "/api/services/light/turn_on",
        role=Role.OPERATOR,
        json={"entity_id": "light.kitchen", "brightness": 100},
    )
    assert status == 200
    assert [s["entity_id"] for s in changed] == ["light.kitchen"]
    assert changed[0]["attributes"] == {"brightness": 100}
    call = api.integration.calls[-1]
    operator = api.runtime.http.auth.data.user_by_username("operator-user")  # type: ignore[union-attr]
    assert operator is not None
    assert call.context.user_id == operator.id


async def test_service_errors_are_home_assistants(api: Api) -> None:
    # An unknown service: aiohttp's bare 400, as Home Assistant answers.
    assert await api.request("POST", "/api/services/light/explode", json={}) == (
        400,
        "400: Bad Request",
    )
    status, body = await api.request(
        "POST",
        "/api/services/light/turn_on",
        json={"entity_id": "light.kitchen", "brightness": 999},
    )
    assert status == 400
    assert "brightness" in body["message"]
    assert await api.request(
        "POST",
        "/api/services/light/turn_on",
        data=b"[1,",
        headers={"Content-Type": "application/json"},
    ) == (400, {"message": "Data should be valid JSON."})
    # A viewer may not call services at all; an operator may not call configuration services.
    status, body = await api.request(
        "POST", "/api/services/light/turn_on", role=Role.VIEWER, json={}
    )
    assert status == 403
    status, body = await api.request("POST", "/api/services/apitest/reload", role=Role.OPERATOR)
    assert status == 403
    assert "apitest.reload" in body["message"]
    assert not [c for c in api.integration.calls if c.service == "reload"]


async def test_return_response(api: Api) -> None:
    status, body = await api.request(
        "POST", "/api/services/apitest/answer?return_response", json={"x": 1}
    )
    assert (status, body) == (200, {"changed_states": [], "service_response": {"echo": {"x": 1}}})
    assert await api.request("POST", "/api/services/apitest/answer", json={}) == (
        400,
        {
            "message": "Service call requires responses but caller did not ask for responses. "
            "Add ?return_response to query parameters."
        },
    )
    assert await api.request("POST", "/api/services/light/turn_on?return_response", json={}) == (
        400,
        {"message": "Service does not support responses. Remove return_response from request."},
    )


async def test_services_events_config_components(api: Api) -> None:
    status, services = await api.request("GET", "/api/services")
    assert status == 200
    by_domain = {s["domain"]: s["services"] for s in services}
    assert by_domain["apitest"]["answer"]["response"] == {"optional": False}
    assert "turn_on" in by_domain["light"]
    status, config = await api.request("GET", "/api/config")
    assert config["version"]
    assert config["unit_system"]["temperature"] == "°C"
    assert config["state"] == "RUNNING"
    status, components = await api.request("GET", "/api/components")
    assert {"apitest", "api", "websocket_api"} <= set(components)
    assert await api.request("GET", "/api/") == (200, {"message": "API running."})


async def test_firing_events(api: Api) -> None:
    seen: list[Any] = []
    from core.bus import callback

    api.runtime.bus.listen("door_bell", callback(seen.append))
    assert await api.request("POST", "/api/events/door_bell", json={"floor": 2}) == (
        200,
        {"message": "Event door_bell fired."},
    )
    assert seen[0].data == {"floor": 2}
    assert seen[0].origin.value == "REMOTE"
    _, events = await api.request("GET", "/api/events")
    assert {"event": "door_bell", "listener_count": 1} in events
    assert await api.request(
        "POST", "/api/events/door_bell", data=b"nope", headers={"Content-Type": "application/json"}
    ) == (400, {"message": "Event data should be valid JSON."})
    assert await api.request("POST", "/api/events/door_bell", json=[1]) == (
        400,
        {"message": "Event data should be a JSON object"},
    )


async def test_oversized_bodies_get_413(api_factory: Callable[..., Any]) -> None:
    api: Api = await api_factory()
    big = {"state": "x", "attributes": {"blob": "y" * (300 * 1024)}}
    status, body = await api.request("POST", "/api/states/sensor.big", json=big)
    assert status == 413
    assert "262144" in body["message"]
    small: Api = await api_factory("  max_request_body: 2048\n")
    status, _ = await small.request(
        "POST", "/api/states/sensor.big", json={"state": "x" * 100, "attributes": {"a": "b" * 3000}}
    )
    assert status == 413

    # A chunked body (no Content-Length) is cut off while it is read.
    async def chunks() -> Any:
        for _ in range(10):
            yield b"a" * 1024

    status, _ = await small.request(
        "POST", "/api/events/big", data=chunks(), headers={"Content-Type": "application/json"}
    )
    assert status == 413
    assert small.runtime.states.get("sensor.big") is None


async def test_cors_is_off_by_default_and_on_for_listed_origins(
    api_factory: Callable[..., Any],
) -> None:
    api: Api = await api_factory()
    async with api.session.get(
        f"{api.url}/api/", headers={"Origin": "http://evil.example", **api.headers(Role.ADMIN)}
    ) as response:
        assert "Access-Control-Allow-Origin" not in response.headers
    cors: Api = await api_factory("  cors_allowed_origins: ['http://panel.example']\n")
    async with cors.session.options(
        f"{cors.url}/api/states",
        headers={"Origin": "http://panel.example", "Access-Control-Request-Method": "GET"},
    ) as response:
        assert response.status == 200
        assert response.headers["Access-Control-Allow-Origin"] == "http://panel.example"
        assert "Authorization" in response.headers["Access-Control-Allow-Headers"]
    async with cors.session.get(
        f"{cors.url}/api/", headers={"Origin": "http://panel.example", **cors.headers(Role.ADMIN)}
    ) as response:
        assert response.headers["Access-Control-Allow-Origin"] == "http://panel.example"
    async with cors.session.get(
        f"{cors.url}/api/", headers={"Origin": "http://other.example", **cors.headers(Role.ADMIN)}
    ) as response:
        assert "Access-Control-Allow-Origin" not in response.headers


async def test_requests_carry_an_id_and_are_logged(api: Api, caplog: Any) -> None:
    caplog.set_level(logging.DEBUG, logger="core.http.access")
    async with api.session.get(
        f"{api.url}/api/states", headers={"X-Request-ID": "abc-123", **api.headers(Role.VIEWER)}
    ) as response:
        assert response.headers["X-Request-ID"] == "abc-123"
    async with api.session.get(f"{api.url}/api/") as response:
        assert response.status == 401
        assert len(response.headers["X-Request-ID"]) == 26
    line = next(r.getMessage() for r in caplog.records if "abc-123" in r.getMessage())
    assert "route=/api/states" in line
    assert "status=200" in line
    assert "user=viewer-user" in line


async def test_check_config_error_log_and_metrics(api: Api) -> None:
    assert await api.request("POST", "/api/config/core/check_config") == (
        200,
        {"result": "valid", "errors": None, "warnings": None},
    )
    (api.runtime.config_dir / "configuration.yaml").write_text("http:\n  server_port: nope\n")
    status, body = await api.request("POST", "/api/config/core/check_config")
    assert body["result"] == "invalid"
    assert "server_port" in body["errors"]
    logging.getLogger("tests.api").warning("Something to see in the error log")
    status, text = await api.request("GET", "/api/error_log")
    assert status == 200
    assert "Something to see in the error log" in text
    await api.request("GET", "/api/states")
    status, metrics = await api.request("GET", "/metrics", role=Role.VIEWER)
    assert status == 200
    assert 'edgewise_http_requests_total{method="GET",route="/api/states",status="200"}' in metrics
    assert "edgewise_state_changes_total" in metrics
    assert "edgewise_websocket_clients 0.0" in metrics
    assert 'edgewise_integration_running{domain="apitest",status="running"} 1.0' in metrics


async def test_integrations_add_authenticated_routes(api: Api) -> None:
    from aiohttp import web

    from core.auth import Permission
    from core.http import register_route
    from core.http.view import current_user, json_response

    async def report(request: web.Request) -> web.StreamResponse:
        return json_response({"user": current_user(request).username, "q": request.query.get("q")})

    remove = register_route(api.runtime, "GET", "/api/apitest/report", report, Permission.CONTROL)
    assert await api.request("GET", "/api/apitest/report?q=1", role=Role.OPERATOR) == (
        200,
        {"user": "operator-user", "q": "1"},
    )
    status, _ = await api.request("GET", "/api/apitest/report", role=Role.VIEWER)
    assert status == 403
    status, text = await api.request("GET", "/api/apitest/report", role=None)
    assert (status, text) == (401, "401: Unauthorized")
    remove()
    status, _ = await api.request("GET", "/api/apitest/report")
    assert status == 404
    status, _ = await api.request("GET", "/api/no/such/route")
    assert status == 404
