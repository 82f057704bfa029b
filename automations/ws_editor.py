"""WebSocket commands of the panel's automation pages: list, YAML editing, traces.

``edgewise/automation/list`` (every entry of ``automations.yaml`` with its entity and load
error), ``edgewise/automation/get`` (one entry as YAML text), ``edgewise/automation/save``
(YAML text in; when it does not parse or validate, nothing is written and the answer lists the
errors with the line of the text each is at), ``edgewise/automation/delete``,
``edgewise/automation/actions`` (the editor's form: the actions of YAML text as data, and the
text again with one action added or replaced), and Home Assistant's ``trace/list`` and
``trace/get``. Registered by the automation integration's setup (``register_editor_commands``)
and removed when it stops. All need an admin, as in Home
Assistant: configurations and traces hold secrets (webhook ids, the data a trigger carried).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from core.auth import Permission
from core.errors import ConfigError, EdgewiseError
from core.http import register_command
from core.http.ws_commands import field
from core.http.ws_messages import ERR_NOT_FOUND, error_message, result_message
from core.limits import check_data
from core.yaml_loader import dump_yaml, load_client_yaml_async, source_of, source_of_key

from .const import AUTOMATIONS_FILE, DOMAIN_AUTOMATION
from .manager import AutomationManager
from .validation import describe

if TYPE_CHECKING:
    from core.http.websocket import Connection
    from core.runtime import Runtime

#: The name the editor's text is given in error messages: the file it is saved in.
EDITOR_FILE = AUTOMATIONS_FILE
_LINE_RE = re.compile(rf"{re.escape(EDITOR_FILE)}, line (\d+)")
_UNKNOWN_ACTIONS_RE = re.compile(r"unknown action\(s\) (.+)$")
#: Keys whose values name entities, looked for in the editor's text to warn of unknown ones.
_ENTITY_KEYS = frozenset({"entity_id"})


def register_editor_commands(runtime: Runtime) -> None:
    """Add the automation editor's and the traces' commands (admins only)."""
    for command, handler in (
        ("edgewise/automation/list", automation_list),
        ("edgewise/automation/get", automation_get),
        ("edgewise/automation/save", automation_save),
        ("edgewise/automation/delete", automation_delete),
        ("edgewise/automation/actions", automation_actions),
        ("trace/list", trace_list),
        ("trace/get", trace_get),
    ):
        register_command(runtime, command, handler, Permission.ADMIN)


def line_errors(message: str, raw: object = None, label: str = "") -> list[dict[str, Any]]:
    """One error per ``; ``-separated problem of ``message``, with the line it names (or None).

    The item's own name (``label``, "Automation id 'x' ... is not loaded: ") is left out: the
    editor shows that automation. An unknown action is given the line of the action naming it
    in ``raw`` (the text as loaded).
    """
    prefix = f"{label} is not loaded: " if label else ""
    errors = []
    for problem in message.split("; "):
        part = problem[len(prefix) :] if prefix and problem.startswith(prefix) else problem
        match = _LINE_RE.search(part)
        line = int(match.group(1)) if match else None
        unknown = _UNKNOWN_ACTIONS_RE.search(part)
        if line is None and unknown is not None:
            names = unknown.group(1).split(", ")
            line = next((n for n in (_action_line(raw, name) for name in names) if n), None)
        errors.append({"line": line, "message": part})
    return errors


def _action_line(node: object, name: str) -> int | None:
    """The line of the first ``action:`` (or ``service:``) calling ``name`` in ``node``."""
    if isinstance(node, Mapping):
        for key in ("action", "service"):
            if node.get(key) == name:
                source = source_of_key(node, key) or source_of(node)
                return None if source is None else source.line
        children: Iterable[object] = node.values()
    elif isinstance(node, list):
        children = node
    else:
        return None
    for child in children:
        line = _action_line(child, name)
        if line is not None:
            return line
    return None


def entity_ids_in(node: object) -> set[str]:
    """Every literal entity id under an ``entity_id:`` key of ``node`` (templates left out)."""
    found: set[str] = set()
    if isinstance(node, Mapping):
        for key, value in node.items():
            if key in _ENTITY_KEYS:
                values = value if isinstance(value, list) else str(value).split(",")
                for item in values:
                    text = str(item).strip()
                    if text and "{" not in text and "." in text:
                        found.add(text)
            else:
                found |= entity_ids_in(value)
    elif isinstance(node, list):
        for item in node:
            found |= entity_ids_in(item)
    return found


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
    text = dump_yaml(config)
    conn.send(result_message(msg["id"], {"config": config, "yaml": text}))


async def automation_actions(conn: Connection, msg: dict[str, Any]) -> None:
    """The top-level actions of the YAML text ``yaml``; with ``action``, the text with it added.

    ``action`` (a mapping) replaces the action at ``index``, or is appended without one; the
    answer is then ``{"yaml": new text, "actions": [...]}`` (the text is written again, so its
    comments are not kept); without it, ``{"actions": [...]}``. Text that does not parse, or is
    not an automation, answers ``{"error": message, "line": n}``.
    """
    text = field(msg, "yaml", str)
    action = field(msg, "action", dict, None)
    index = field(msg, "index", int, None)
    try:
        raw = await load_client_yaml_async(text, EDITOR_FILE)
    except ConfigError as err:
        conn.send(result_message(msg["id"], {"error": str(err), "line": err.line}))
        return
    if not isinstance(raw, dict):
        conn.send(result_message(msg["id"], {"error": "An automation is a mapping of keys"}))
        return
    config: dict[str, Any] = json.loads(json.dumps(raw))
    key = "actions" if "actions" in config or "action" not in config else "action"
    actions = config.get(key)
    if actions is None:
        actions = []
    elif isinstance(actions, dict):
        actions = [actions]
    elif not isinstance(actions, list):
        conn.send(result_message(msg["id"], {"error": f"'{key}' is not a list of actions"}))
        return
    if action is None:
        conn.send(result_message(msg["id"], {"actions": actions}))
        return
    check_data(action, "action")
    if index is None:
        actions.append(action)
    elif 0 <= index < len(actions):
        actions[index] = action
    else:
        conn.send(result_message(msg["id"], {"error": f"There is no action {index}"}))
        return
    config[key] = actions
    new_text = dump_yaml(config)
    conn.send(result_message(msg["id"], {"yaml": new_text, "actions": actions}))


async def automation_save(conn: Connection, msg: dict[str, Any]) -> None:
    """Validate the YAML text ``yaml`` and save it as automation ``automation_id``, then reload.

    With ``create: true`` (the editor's "New automation") an id already in use is refused
    (``"field": "id"``) instead of replacing that automation; without it, the id is edited.
    Answers ``{"saved": true, "created": bool, "entity_id": ..., "warnings": [...]}`` (entity
    ids that do not exist are named in a warning), or ``{"saved": false, "errors": [{"line",
    "message"}]}`` with the line in the text of each problem.
    """
    from . import api  # noqa: PLC0415 - ruamel.yaml loads with the first request

    automation_id = field(msg, "automation_id", str)
    text = field(msg, "yaml", str)
    create = field(msg, "create", bool, False)
    if not automation_id.strip():
        conn.send(result_message(msg["id"], _unsaved("The automation needs an id", None)))
        return
    if create and await api.get_automation_config(conn.runtime, automation_id) is not None:
        message = (
            f"The id {automation_id!r} is already used by another automation: "
            "choose another id, or edit that automation"
        )
        conn.send(result_message(msg["id"], {**_unsaved(message, None), "field": "id"}))
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
    plain = json.loads(json.dumps(raw))
    # The loaded mapping itself (not a copy) keeps the line of each key for the messages.
    raw["id"] = automation_id
    label = describe(DOMAIN_AUTOMATION, raw, automation_id)
    runtime = conn.runtime
    manager = runtime.data.get(AutomationManager.KEY)
    try:
        # Check the loaded form first (validated and compiled as loading would): its errors
        # carry the lines of the text.
        if manager is not None:
            await manager.check_item(raw, automation_id)
        created = await api.save_automation_config(runtime, automation_id, plain)
    except EdgewiseError as err:
        errors = line_errors(str(err), raw, label)
        conn.send(result_message(msg["id"], {"saved": False, "errors": errors}))
        return
    unknown = sorted(e for e in entity_ids_in(plain) if runtime.states.get(e) is None)
    warnings = [f"Unknown entity id(s): {', '.join(unknown)}"] if unknown else []
    conn.send(
        result_message(
            msg["id"],
            {
                "saved": True,
                "created": created,
                "entity_id": api.automation_entity_id(runtime, automation_id),
                "warnings": warnings,
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
