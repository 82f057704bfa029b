"""The ``assistant`` integration: ask the site in plain language, act only as the asking user may.

The model (Anthropic's Messages API through the ``anthropic`` SDK, imported on the first
question) answers from tool calls that run as the user who asks: find entities, states,
statistics, automations and their traces, the appliance control log, automation drafts, the
optimizer and tariff previews, and service calls under the user's role and areas, equipment
writes confirmed by the user. The same tools are served over MCP at ``/api/mcp``.

Modules: ``schema`` (the ``assistant:`` section), ``store`` (sessions, messages and token use in
``assistant.db``), ``tools`` and ``actions`` (the tools), ``assistant`` (a turn with the model),
``api`` (WebSocket commands and REST), ``mcp_server`` (MCP), ``panel/`` (the chat drawer).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from core import Manifest, Runtime, RuntimeKey, hookimpl

from .const import DB_FILE, DOMAIN, NAME
from .schema import CONFIG_SCHEMA, AssistantConfig

if TYPE_CHECKING:
    from core.http.panels import Panel

#: Removes the routes (and the endpoint) at stop.
_REMOVE_API: RuntimeKey[Callable[[], None]] = RuntimeKey("assistant.remove_api")


@hookimpl
def edgewise_manifest() -> Manifest:
    """Who the integration is; configured with ``assistant:``."""
    return Manifest(domain=DOMAIN, name=NAME, config_schema=CONFIG_SCHEMA, version="0.1.0")


@hookimpl
async def edgewise_setup(runtime: Runtime, config: object) -> None:
    """Open the store and register the chat commands, routes and MCP endpoint."""
    from .api import register_api  # noqa: PLC0415 - only for sites that configure it
    from .assistant import Assistant  # noqa: PLC0415 - likewise
    from .store import ConversationStore  # noqa: PLC0415 - likewise

    assert isinstance(config, AssistantConfig)  # noqa: S101 - CONFIG_SCHEMA returns one
    assistant = Assistant(runtime, config, ConversationStore(runtime.config_dir / DB_FILE))
    runtime.data[_REMOVE_API] = register_api(runtime, assistant)


@hookimpl
def edgewise_panels(runtime: Runtime) -> list[Panel]:
    """The chat: a drawer on every page (``config.drawer``) and a page of its own."""
    from core.http.panels import Panel  # noqa: PLC0415 - loads with HTTP

    return [
        Panel(
            url_path="assistant",
            title="Assistant",
            icon="mdi:robot-outline",
            module="chat.js",
            static_dir=Path(__file__).parent / "panel",
            config={"drawer": True},
        )
    ]


@hookimpl
async def edgewise_stop(runtime: Runtime) -> None:
    """Close the client and the store; remove the routes."""
    from .api import ASSISTANT  # noqa: PLC0415 - set up already

    assistant = runtime.data.get(ASSISTANT)
    if (remove := runtime.data.get(_REMOVE_API)) is not None:
        remove()
        del runtime.data[_REMOVE_API]
    if assistant is not None:
        await assistant.close()
