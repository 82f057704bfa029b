"""Templates over the APIs: ``POST /api/template`` and the ``render_template`` command."""

from __future__ import annotations

from core.auth import Role
from tests.core.http.conftest import Api
from tests.core.http.test_websocket import connect


async def test_rest_template_renders_text(api: Api) -> None:
    status, text = await api.request(
        "POST",
        "/api/template",
        role=Role.ADMIN,
        json={"template": "{{ states('light.kitchen') }} {{ x + 1 }}", "variables": {"x": 1}},
    )
    assert (status, text) == (200, "off 2")
    status, body = await api.request("POST", "/api/template", json={"template": "{{ 1 / }}"})
    assert status == 400
    assert body["message"].startswith("Error rendering template:")
    status, body = await api.request("POST", "/api/template", json={"nothing": 1})
    assert status == 400


async def test_render_template_follows_the_states_it_reads(api: Api) -> None:
    async with connect(api, Role.ADMIN) as client:
        result = await client.command("render_template", template="{{ states('light.kitchen') }}")
        assert result["success"] is True
        first = await client.receive()
        assert first["id"] == result["id"]
        assert first["event"]["result"] == "off"
        assert first["event"]["listeners"]["entities"] == ["light.kitchen"]
        assert first["event"]["listeners"]["all"] is False
        api.runtime.states.set("light.kitchen", "on")
        again = await client.receive()
        assert again["event"]["result"] == "on"
        broken = await client.command("render_template", template="{{ 1 / }}")
        assert broken["error"]["code"] == "template_error"
        done = await client.command("unsubscribe_events", subscription=result["id"])
        assert done["success"] is True
