"""Webhook ids are secrets: a viewer never sees one, and no log line carries one.

Anyone who knows a webhook id can trigger its automation without a token, so the id stays with
admins (the automation's configuration and traces are admin-only, see ``test_roles``): the
``automation_triggered`` event and the logbook say ``webhook``; the access log and the webhook
registry's own messages show only the id's first characters.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import pytest

import automations.integration
from core.auth import Role
from core.http.view import loggable_path, redacted_webhook_id
from tests.core.http.conftest import Api, wait_for
from tests.core.http.test_ws_panel import connect

SECRET = "k3y-3f9a0c6e1b7d4a2e8c5f"
AUTOMATIONS = f"""\
- id: door
  alias: Door
  triggers: [{{trigger: webhook, webhook_id: {SECRET}, local_only: true}}]
  actions: [{{action: light.turn_on, target: {{entity_id: light.kitchen}}}}]
"""


def test_redaction_keeps_only_the_first_characters() -> None:
    assert redacted_webhook_id(SECRET) == "k3y-…"
    assert redacted_webhook_id("short") == "…"
    assert loggable_path(f"/api/webhook/{SECRET}") == "/api/webhook/k3y-…"
    assert loggable_path("/api/states") == "/api/states"


async def test_a_webhook_run_reaches_viewers_and_logs_without_its_id(
    api_factory: Callable[..., Any], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    api: Api = await api_factory(
        "automation: !include automations.yaml\n",
        automations.integration,
        files={"automations.yaml": AUTOMATIONS},
    )
    viewer = await connect(api, Role.VIEWER)
    subscribed = await viewer.command(type="subscribe_events", event_type="automation_triggered")
    assert subscribed["success"] is True
    await wait_for(lambda: api.runtime.states.get("automation.door") is not None)

    status, _ = await api.request("POST", f"/api/webhook/{SECRET}", role=None, json={"x": 1})
    assert status == 200
    status, _ = await api.request("POST", f"/api/webhook/{SECRET}-wrong", role=None, json={})
    assert status == 200

    event = await viewer.ws.receive_json(timeout=20)
    assert event["event"]["data"]["source"] == "webhook"
    assert SECRET not in str(event)
    await wait_for(lambda: getattr(api.runtime.states.get("light.kitchen"), "state", "") == "on")
    assert SECRET not in caplog.text
    assert "/api/webhook/k3y-…" in caplog.text  # the access log line is there, redacted
    # Admins still see the id where they need it: in the automation's configuration.
    status, config = await api.request("GET", "/api/config/automation/config/door")
    assert status == 200
    assert config["triggers"][0]["webhook_id"] == SECRET
