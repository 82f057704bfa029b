"""The webhook trigger is an unauthenticated door: its JSON is held to core.limits (issue 25)."""

from __future__ import annotations

from pathlib import Path

from .conftest import site
from .test_webhook_trigger import _client

YAML = """\
automation:
  - id: hook
    triggers:
      - trigger: webhook
        webhook_id: garage-door-8f3a
    actions:
      - action: test.record
        data:
          json: "{{ trigger.json is defined }}"
          size: "{{ (trigger.data | default('')) | length }}"
"""


def deep_json(depth: int) -> str:
    return '{"a":' * depth + "1" + "}" * depth


async def test_a_webhook_body_nested_too_deeply_arrives_as_text_not_json(cfg: Path) -> None:
    async with site(cfg, YAML) as s:
        async for client in _client(s.runtime):
            for depth in (300, 5000):
                body = deep_json(depth)
                response = await client.post(
                    "/api/webhook/garage-door-8f3a",
                    data=body,
                    headers={"Content-Type": "application/json"},
                )
                assert response.status == 200
            await s.wait_for(lambda: len(s.calls) == 2)
            assert [call.data["json"] for call in s.calls] == [False, False]
            assert [call.data["size"] for call in s.calls] == [
                len(deep_json(300)),
                len(deep_json(5000)),
            ]
