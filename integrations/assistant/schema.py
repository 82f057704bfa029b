"""The ``assistant:`` section of ``configuration.yaml``.

```yaml
assistant:
  api_key: !secret anthropic_api_key   # without it the assistant answers that it has no key
  model: claude-sonnet-4-5
  max_tokens: 1024                     # per model answer
  max_tool_calls_per_turn: 8
  max_tokens_per_user_per_day: 200000
  high_impact_services: [lock.unlock]  # always confirmed by the user (added to the defaults)
```

A user limited to areas (``edgewise user areas USERNAME AREA_ID...``, core's ``User.areas``)
sees and acts on only the entities there, in the chat and over MCP alike. The assistant's own
``user_areas`` key of earlier versions is refused with an error that says so.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import voluptuous as vol

from .const import (
    CONF_API_KEY,
    CONF_BASE_URL,
    CONF_HIGH_IMPACT,
    CONF_MAX_TOKENS,
    CONF_MAX_TOOL_CALLS,
    CONF_MODEL,
    CONF_PRICE,
    CONF_TIMEOUT,
    CONF_TOKENS_PER_DAY,
    CONF_USER_AREAS,
    DEFAULT_HIGH_IMPACT,
    DEFAULT_MAX_TOKENS,
    DEFAULT_MAX_TOOL_CALLS,
    DEFAULT_MODEL,
    DEFAULT_PRICE,
    DEFAULT_TIMEOUT,
    DEFAULT_TOKENS_PER_DAY,
)


@dataclass(frozen=True, slots=True)
class AssistantConfig:
    """The assistant's settings."""

    api_key: str | None = None
    model: str = DEFAULT_MODEL
    base_url: str | None = None
    max_tokens: int = DEFAULT_MAX_TOKENS
    max_tool_calls: int = DEFAULT_MAX_TOOL_CALLS
    tokens_per_day: int = DEFAULT_TOKENS_PER_DAY
    timeout: float = DEFAULT_TIMEOUT
    high_impact: frozenset[str] = frozenset(DEFAULT_HIGH_IMPACT)
    price: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_PRICE))


def _service_name(value: Any) -> str:
    text = str(value).strip().lower()
    if text.count(".") != 1:
        raise vol.Invalid(f"expected a service as domain.service, got {value!r}")
    return text


_PRICE = vol.Schema(
    {vol.Optional(key): vol.All(vol.Coerce(float), vol.Range(min=0)) for key in DEFAULT_PRICE}
)

_SCHEMA = vol.Schema(
    {
        vol.Optional(CONF_API_KEY): vol.All(str, vol.Length(min=1, max=500)),
        vol.Optional(CONF_MODEL, default=DEFAULT_MODEL): vol.All(str, vol.Length(min=1, max=200)),
        vol.Optional(CONF_BASE_URL): vol.All(str, vol.Match(r"^https?://")),
        vol.Optional(CONF_MAX_TOKENS, default=DEFAULT_MAX_TOKENS): vol.All(
            int, vol.Range(16, 64000)
        ),
        vol.Optional(CONF_MAX_TOOL_CALLS, default=DEFAULT_MAX_TOOL_CALLS): vol.All(
            int, vol.Range(1, 50)
        ),
        vol.Optional(CONF_TOKENS_PER_DAY, default=DEFAULT_TOKENS_PER_DAY): vol.All(
            int, vol.Range(min=1)
        ),
        vol.Optional(CONF_TIMEOUT, default=DEFAULT_TIMEOUT): vol.All(
            vol.Coerce(float), vol.Range(1, 600)
        ),
        vol.Optional(CONF_HIGH_IMPACT, default=list): [_service_name],
        vol.Optional(CONF_PRICE, default=dict): _PRICE,
    }
)


def _to_config(data: dict[str, Any]) -> AssistantConfig:
    return AssistantConfig(
        api_key=data.get(CONF_API_KEY),
        model=data[CONF_MODEL],
        base_url=data.get(CONF_BASE_URL),
        max_tokens=data[CONF_MAX_TOKENS],
        max_tool_calls=data[CONF_MAX_TOOL_CALLS],
        tokens_per_day=data[CONF_TOKENS_PER_DAY],
        timeout=data[CONF_TIMEOUT],
        high_impact=frozenset(DEFAULT_HIGH_IMPACT) | frozenset(data[CONF_HIGH_IMPACT]),
        price={**DEFAULT_PRICE, **data[CONF_PRICE]},
    )


def _no_user_areas(value: Any) -> Any:
    """Refuse the assistant's own ``user_areas`` of earlier versions: core's areas serve."""
    if isinstance(value, dict) and CONF_USER_AREAS in value:
        raise vol.Invalid(
            f"{CONF_USER_AREAS} is no longer read: limit a user to areas for the whole site "
            "(the assistant and MCP included) with `edgewise user areas USERNAME AREA_ID...`",
            path=[CONF_USER_AREAS],
        )
    return value


CONFIG_SCHEMA = vol.All(
    lambda value: {} if value is None else value, _no_user_areas, _SCHEMA, _to_config
)
