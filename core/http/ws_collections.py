"""``<domain>/list|create|update|delete``: the WebSocket commands of helper collections.

As Home Assistant's: ``input_number/list`` answers every item; ``create`` takes the options and
answers the item; ``update`` takes ``<domain>_id`` and the changes; ``delete`` takes
``<domain>_id``. Listing needs any user; changing needs an admin (it is configuration).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from core.auth import Permission
from core.collection import (
    ItemInvalidError,
    ItemNotFoundError,
    ItemReadOnlyError,
    get_collection,
)

from .ws_messages import (
    ERR_INVALID_FORMAT,
    ERR_NOT_FOUND,
    ERR_UNAUTHORIZED,
    error_message,
    result_message,
)

if TYPE_CHECKING:
    from .websocket import Connection

_COMMAND_RE = re.compile(r"^([a-z0-9_]+)/(list|create|update|delete)$")


def handle_collection_command(conn: Connection, msg: dict[str, Any]) -> bool:
    """Run ``msg`` when it is a collection command of a set-up collection; whether it was."""
    match = _COMMAND_RE.match(msg["type"])
    if match is None:
        return False
    domain, action = match.groups()
    collection = get_collection(conn.runtime, domain)
    if collection is None:
        return False
    msg_id: int = msg["id"]
    needed = Permission.READ if action == "list" else Permission.ADMIN
    if not conn.user.can(needed):
        conn.send(error_message(msg_id, ERR_UNAUTHORIZED, "Unauthorized"))
        return True
    if action == "list":
        conn.send(result_message(msg_id, [item.as_dict() for item in collection.items()]))
        return True
    fields = {k: v for k, v in msg.items() if k not in ("id", "type")}
    id_key = f"{domain}_id"

    async def change() -> None:
        item_id: object = None
        try:
            if action == "create":
                item = await collection.create(fields)
                conn.send(result_message(msg_id, item.as_dict()))
                return
            item_id = fields.pop(id_key, None)
            if not isinstance(item_id, str):
                conn.send(
                    error_message(
                        msg_id, ERR_INVALID_FORMAT, f"required key not provided @ data['{id_key}']"
                    )
                )
                return
            if action == "update":
                item = await collection.update(item_id, fields)
                conn.send(result_message(msg_id, item.as_dict()))
            else:
                await collection.delete(item_id)
                conn.send(result_message(msg_id))
        except ItemNotFoundError:
            conn.send(error_message(msg_id, ERR_NOT_FOUND, f"Unable to find {id_key} {item_id}"))
        except (ItemInvalidError, ItemReadOnlyError) as err:
            conn.send(error_message(msg_id, ERR_INVALID_FORMAT, str(err)))

    conn.track_command(change(), msg["type"])
    return True
