"""Constants of the ``assistant`` integration."""

from __future__ import annotations

from typing import Final

DOMAIN: Final = "assistant"
NAME: Final = "Assistant"

CONF_API_KEY: Final = "api_key"
CONF_MODEL: Final = "model"
CONF_BASE_URL: Final = "base_url"
CONF_MAX_TOKENS: Final = "max_tokens"
CONF_MAX_TOOL_CALLS: Final = "max_tool_calls_per_turn"
CONF_TOKENS_PER_DAY: Final = "max_tokens_per_user_per_day"
CONF_TIMEOUT: Final = "timeout"
#: No longer read: core's ``User.areas`` serves (``edgewise user areas``); refused when given.
CONF_USER_AREAS: Final = "user_areas"
CONF_HIGH_IMPACT: Final = "high_impact_services"
CONF_PRICE: Final = "price_per_million_tokens"

DEFAULT_MODEL: Final = "claude-sonnet-4-5"
DEFAULT_MAX_TOKENS: Final = 1024
DEFAULT_MAX_TOOL_CALLS: Final = 8
DEFAULT_TOKENS_PER_DAY: Final = 200_000
DEFAULT_TIMEOUT: Final = 60.0
#: US dollars per million tokens: input, output, cache write, cache read.
DEFAULT_PRICE: Final = {"input": 3.0, "output": 15.0, "cache_write": 3.75, "cache_read": 0.30}
#: Services that always need the user's confirmation, whatever entity they act on.
DEFAULT_HIGH_IMPACT: Final = (
    "lock.unlock",
    "lock.open",
    "alarm_control_panel.alarm_disarm",
    "cover.open_cover",
    "optimizer.apply_plan",
)
#: Entity domains that are not equipment: calling their services needs no confirmation.
HELPER_DOMAINS: Final = frozenset(
    {
        "input_boolean",
        "input_number",
        "input_select",
        "input_text",
        "input_datetime",
        "input_button",
        "counter",
        "timer",
        "schedule",
        "notify",
        "persistent_notification",
    }
)

#: The integration's own database of sessions, messages and token use (in the config folder).
DB_FILE: Final = "assistant.db"

#: A user message is at most this long (characters); a session keeps at most this many messages.
MAX_PROMPT_CHARS: Final = 4000
MAX_SESSION_MESSAGES: Final = 200
#: A tool result sent to the model is cut to this many characters.
MAX_TOOL_RESULT_CHARS: Final = 6000
#: find_entities answers at most this many entities per page.
MAX_PAGE: Final = 50
DEFAULT_PAGE: Final = 20
#: Seconds a pending confirmation stays valid.
CONFIRMATION_TTL: Final = 600.0
#: Confirmations and drafts kept waiting (all users), the oldest dropped first.
MAX_WAITING: Final = 200
#: Sessions kept per user, the least recently used deleted first.
MAX_SESSIONS_PER_USER: Final = 100

#: Fired for every tool the assistant runs (user, tool, input, outcome), with the user's context.
EVENT_TOOL_CALL: Final = "assistant_tool_call"
