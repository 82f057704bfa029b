"""WebSocket commands of the panel's automation pages: list, YAML editing, traces.

``edgewise/automation/list`` (every entry of ``automations.yaml`` with its entity and load
error), ``edgewise/automation/get`` (one entry as YAML text), ``edgewise/automation/save``
(YAML text in; when it does not parse or validate, nothing is written and the answer lists the
errors with the line of the text each is at), ``edgewise/automation/delete``, and Home
Assistant's ``trace/list`` and ``trace/get``. The automation engine (``automations.api``) is
imported when a command comes, so a site without it pays nothing.
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any

import yaml

from core.auth import Permission
from core.errors import ConfigError, EdgewiseError
from core.yaml_loader import load_client_yaml_async

from .ws_commands import field, register_command
from .ws_messages import ERR_NOT_FOUND, error_message, result_message

if TYPE_CHECKING:
    from .websocket import Connection

#: The name the editor's text is given in error messages.
EDITOR_FILE = "automation.yaml"
_LINE_RE = re.compile(r"line (\d+)")
_NOT_SET_UP = "The automation integration is not set up"


def _set_up(conn: Connection) -> bool:
    return conn.runtime.services.has("automation", "reload")


def line_errors(message: str) -> list[dict[str, Any]]:
    """One error per ``; ``-separated problem of ``message``, with the line it names (or None)."""
    errors = []
    for part in message.split("; "):
        match = _LINE_RE.search(part)
        errors.append({"line": int(match.group(1)) if match else None, "message": part})
    return errors


@register_command("edgewise/automation/list", Permission.READ)
async def automation_list(conn: Connection, msg: dict[str, Any]) -> None:
    """Every automation of ``automations.yaml``: id, alias, entity id and load error."""
    if not _set_up(conn):
        conn.send(error_message(msg["id"], ERR_NOT_FOUND, _NOT_SET_UP))
        return
    from automations import api  # noqa: PLC0415 - only where automations run

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


@register_command("edgewise/automation/get", Permission.READ)
async def automation_get(conn: Connection, msg: dict[str, Any]) -> None:
    """One automation's configuration, as YAML text (``yaml``) and as data (``config``)."""
    automation_id = field(msg, "automation_id", str)
    if not _set_up(conn):
        conn.send(error_message(msg["id"], ERR_NOT_FOUND, _NOT_SET_UP))
        return
    from automations import api  # noqa: PLC0415 - only where automations run

    config = await api.get_automation_config(conn.runtime, automation_id)
    if config is None:
        conn.send(error_message(msg["id"], ERR_NOT_FOUND, f"No automation {automation_id!r}"))
        return
    text = yaml.safe_dump(config, sort_keys=False, allow_unicode=True)
    conn.send(result_message(msg["id"], {"config": config, "yaml": text}))


@register_command("edgewise/automation/save", Permission.ADMIN)
async def automation_save(conn: Connection, msg: dict[str, Any]) -> None:
    """Validate the YAML text ``yaml`` and save it as automation ``automation_id``, then reload.

    Answers ``{"saved": true, "created": bool, "entity_id": ...}``, or ``{"saved": false,
    "errors": [{"line", "message"}]}`` with the line in the text of each problem.
    """
    automation_id = field(msg, "automation_id", str)
    text = field(msg, "yaml", str)
    if not automation_id.strip():
        conn.send(result_message(msg["id"], _unsaved("The automation needs an id", None)))
        return
    if not _set_up(conn):
        conn.send(error_message(msg["id"], ERR_NOT_FOUND, _NOT_SET_UP))
        return
    from automations import api  # noqa: PLC0415 - only where automations run
    from automations.manager import AutomationManager  # noqa: PLC0415

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


@register_command("edgewise/automation/delete", Permission.ADMIN)
async def automation_delete(conn: Connection, msg: dict[str, Any]) -> None:
    """Remove an automation from ``automations.yaml`` and reload."""
    automation_id = field(msg, "automation_id", str)
    if not _set_up(conn):
        conn.send(error_message(msg["id"], ERR_NOT_FOUND, _NOT_SET_UP))
        return
    from automations import api  # noqa: PLC0415 - only where automations run

    if not await api.delete_automation_config(conn.runtime, automation_id):
        conn.send(error_message(msg["id"], ERR_NOT_FOUND, f"No automation {automation_id!r}"))
        return
    conn.send(result_message(msg["id"]))


@register_command("trace/list", Permission.READ)
def trace_list(conn: Connection, msg: dict[str, Any]) -> None:
    """Home Assistant's ``trace/list``: short traces of one item (or all), oldest first."""
    domain = field(msg, "domain", str, None)
    item_id = field(msg, "item_id", str, None)
    if not _set_up(conn):
        conn.send(result_message(msg["id"], []))
        return
    from automations import api  # noqa: PLC0415 - only where automations run

    conn.send(result_message(msg["id"], api.list_traces(conn.runtime, domain, item_id)))


@register_command("trace/get", Permission.READ)
def trace_get(conn: Connection, msg: dict[str, Any]) -> None:
    """Home Assistant's ``trace/get``: one run in full."""
    domain = field(msg, "domain", str)
    item_id = field(msg, "item_id", str)
    run_id = field(msg, "run_id", str)
    trace = None
    if _set_up(conn):
        from automations import api  # noqa: PLC0415 - only where automations run

        trace = api.get_trace(conn.runtime, domain, item_id, run_id)
    if trace is None:
        conn.send(error_message(msg["id"], ERR_NOT_FOUND, "The trace could not be found"))
        return
    conn.send(result_message(msg["id"], trace))
