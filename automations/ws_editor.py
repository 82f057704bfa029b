"""WebSocket commands of the panel's automation pages: list, YAML editing, traces.

``edgewise/automation/list`` (every entry of ``automations.yaml`` with its entity and load
error), ``edgewise/automation/get`` (one entry as YAML text), ``edgewise/automation/save``
(YAML text in; when it does not parse or validate, nothing is written and the answer lists the
errors with the line of the text each is at), ``edgewise/automation/delete``, and Home
Assistant's ``trace/list`` and ``trace/get``. Registered by the automation integration's setup
(``register_editor_commands``) and removed when it stops. All need an admin, as in Home
Assistant: configurations and traces hold secrets (webhook ids, the data a trigger carried).
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any

import yaml

from core.auth import Permission
from core.errors import ConfigError, EdgewiseError
from core.http import register_command
from core.http.ws_commands import field
from core.http.ws_messages import ERR_NOT_FOUND, error_message, result_message
from core.yaml_loader import load_client_yaml_async

from .manager import AutomationManager

if TYPE_CHECKING:
    from core.http.websocket import Connection
    from core.runtime import Runtime

#: The name the editor's text is given in error messages.
EDITOR_FILE = "automation.yaml"
_LINE_RE = re.compile(r"line (\d+)")


def register_editor_commands(runtime: Runtime) -> None:
    """Add the automation editor's and the traces' commands (admins only)."""
    for command, handler in (
        ("edgewise/automation/list", automation_list),
        ("edgewise/automation/get", automation_get),
        ("edgewise/automation/save", automation_save),
        ("edgewise/automation/delete", automation_delete),
        ("trace/list", trace_list),
        ("trace/get", trace_get),
    ):
        register_command(runtime, command, handler, Permission.ADMIN)


def line_errors(message: str) -> list[dict[str, Any]]:
    """One error per ``; ``-separated problem of ``message``, with the line it names (or None)."""
    errors = []
    for part in message.split("; "):
        match = _LINE_RE.search(part)
        errors.append({"line": int(match.group(1)) if match else None, "message": part})
    return errors


async def automation_list(conn: Connection, msg: dict[str, Any]) -> None:
    """Every automation of ``automations.yaml``: id, alias, entity id and load error."""
    from . import api  # noqa: PLC0415 - ruamel.yaml loads with the first request

    configs = await api.list_automation_configs(conn.runtime)
    errors = api.automation_errors(conn.runtime)
    result = []
    for config in configs:
        item_id = str(config.get("id", ""))
        result.append(
            {
                "id": item_id,
                "alias": config.get("alias") or item_id,
                "entity_id": api.automation_entity_id(conn.runtime, item_id),
                "error": next((e for label, e in errors.items() if item_id in label), None),
            }
        )
    conn.send(result_message(msg["id"], result))


async def automation_get(conn: Connection, msg: dict[str, Any]) -> None:
    """One automation's configuration, as YAML text (``yaml``) and as data (``config``)."""
    from . import api  # noqa: PLC0415 - ruamel.yaml loads with the first request

    automation_id = field(msg, "automation_id", str)
    config = await api.get_automation_config(conn.runtime, automation_id)
    if config is None:
        conn.send(error_message(msg["id"], ERR_NOT_FOUND, f"No automation {automation_id!r}"))
        return
    text = yaml.safe_dump(config, sort_keys=False, allow_unicode=True)
    conn.send(result_message(msg["id"], {"config": config, "yaml": text}))


async def automation_save(conn: Connection, msg: dict[str, Any]) -> None:
    """Validate the YAML text ``yaml`` and save it as automation ``automation_id``, then reload.

    Answers ``{"saved": true, "created": bool, "entity_id": ...}``, or ``{"saved": false,
    "errors": [{"line", "message"}]}`` with the line in the text of each problem.
    """
    from . import api  # noqa: PLC0415 - ruamel.yaml loads with the first request

    automation_id = field(msg, "automation_id", str)
    text = field(msg, "yaml", str)
    if not automation_id.strip():
        conn.send(result_message(msg["id"], _unsaved("The automation needs an id", None)))
        return
    try:
        raw = await load_client_yaml_async(text, EDITOR_FILE)
    except ConfigError as err:
        conn.send(result_message(msg["id"], _unsaved(str(err), err.line)))
        return
    if not isinstance(raw, dict):
        conn.send(result_message(msg["id"], _unsaved("An automation is a mapping of keys", 1)))
        return
    raw.pop("id", None)
    runtime = conn.runtime
    manager = runtime.data.get(AutomationManager.KEY)
    try:
        # Validate the loaded form first: its errors carry the lines of the text.
        if manager is not None:
            await manager.validate_item({**raw, "id": automation_id}, automation_id)
        plain = json.loads(json.dumps(raw))
        created = await api.save_automation_config(runtime, automation_id, plain)
    except EdgewiseError as err:
        conn.send(result_message(msg["id"], {"saved": False, "errors": line_errors(str(err))}))
        return
    conn.send(
        result_message(
            msg["id"],
            {
                "saved": True,
                "created": created,
                "entity_id": api.automation_entity_id(runtime, automation_id),
            },
        )
    )


def _unsaved(message: str, line: int | None) -> dict[str, Any]:
    return {"saved": False, "errors": [{"line": line, "message": message}]}


async def automation_delete(conn: Connection, msg: dict[str, Any]) -> None:
    """Remove an automation from ``automations.yaml`` and reload."""
    from . import api  # noqa: PLC0415 - ruamel.yaml loads with the first request

    automation_id = field(msg, "automation_id", str)
    if not await api.delete_automation_config(conn.runtime, automation_id):
        conn.send(error_message(msg["id"], ERR_NOT_FOUND, f"No automation {automation_id!r}"))
        return
    conn.send(result_message(msg["id"]))


def trace_list(conn: Connection, msg: dict[str, Any]) -> None:
    """Home Assistant's ``trace/list``: short traces of one item (or all), oldest first."""
    from . import api  # noqa: PLC0415 - ruamel.yaml loads with the first request

    domain = field(msg, "domain", str, None)
    item_id = field(msg, "item_id", str, None)
    conn.send(result_message(msg["id"], api.list_traces(conn.runtime, domain, item_id)))


def trace_get(conn: Connection, msg: dict[str, Any]) -> None:
    """Home Assistant's ``trace/get``: one run in full."""
    from . import api  # noqa: PLC0415 - ruamel.yaml loads with the first request

    domain = field(msg, "domain", str)
    item_id = field(msg, "item_id", str)
    run_id = field(msg, "run_id", str)
    trace = api.get_trace(conn.runtime, domain, item_id, run_id)
    if trace is None:
        conn.send(error_message(msg["id"], ERR_NOT_FOUND, "The trace could not be found"))
        return
    conn.send(result_message(msg["id"], trace))
