"""JSON for the APIs: orjson, with the kernel's own types (State, Event, Context) understood.

:func:`json_loads` parses what comes in from outside (REST bodies, WebSocket messages) and
holds it to :mod:`core.limits`. :func:`json_bytes` never fails because of one value: data orjson
cannot write (nested past its 254 levels, a reference cycle, an integer past 64 bits) is
written with the offending parts replaced by a short text, so one bad state never breaks
``GET /api/states`` or an event subscription for everyone.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from datetime import date, datetime, time
from enum import Enum
from typing import Any, Final

import orjson

from core.limits import check_data, safe_repr

_LOGGER = logging.getLogger(__name__)

_OPTIONS = orjson.OPT_NON_STR_KEYS

#: Where :func:`json_bytes` cuts data orjson refused; well below orjson's own 254.
CLIP_DEPTH: Final = 200
#: What a clipped part is written as.
CLIPPED: Final = "<nested too deeply>"
_INT_RANGE = (-(2**63), 2**64 - 1)


def _default(value: Any) -> Any:
    as_dict = getattr(value, "as_dict", None)
    if callable(as_dict):
        return as_dict()
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, bytes):
        return value.decode(errors="replace")
    # Anything else an integration put in an attribute: its text, never a failed response.
    return str(value)


def jsonable(value: object, depth: int = CLIP_DEPTH) -> object:
    """``value`` as plain JSON types, with parts nested past ``depth`` levels cut.

    Cut parts (and reference cycles, which nest forever) become :data:`CLIPPED`; integers
    orjson cannot hold become their text. Recursion stops at ``depth``, whatever the input.
    """
    if isinstance(value, str | float | bool) or value is None:
        return value
    if isinstance(value, int):
        return value if _INT_RANGE[0] <= value <= _INT_RANGE[1] else str(value)
    if depth <= 0:
        return CLIPPED
    if isinstance(value, list | tuple | set | frozenset):
        return [jsonable(item, depth - 1) for item in value]
    if isinstance(value, Mapping):
        return {
            key if isinstance(key, str | int | float | bool) else str(key): jsonable(
                item, depth - 1
            )
            for key, item in value.items()
        }
    try:
        converted = _default(value)
    except Exception:  # an integration's as_dict failing must not fail the rest
        return str(type(value).__name__)
    if isinstance(converted, str):
        return converted
    return jsonable(converted, depth - 1)


def postgres_safe(value: object) -> object:
    """``value`` with what PostgreSQL's text, json and jsonb cannot hold replaced.

    NaN and infinities (no JSON has them) become None, NUL characters (no PostgreSQL text holds
    one) U+FFFD, in mapping keys too, through mappings, lists and tuples. One such value would
    otherwise make every write of the rows around it fail, again and again.
    """
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, str):
        return value.replace("\x00", "\ufffd")
    if isinstance(value, Mapping):
        return {postgres_safe(key): postgres_safe(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [postgres_safe(item) for item in value]
    return value


def json_bytes(value: object) -> bytes:
    """``value`` as compact UTF-8 JSON; parts orjson cannot write are clipped, not fatal."""
    try:
        return orjson.dumps(value, default=_default, option=_OPTIONS)
    except (orjson.JSONEncodeError, RecursionError) as err:
        _LOGGER.warning("Writing JSON with parts clipped (%s): %s", err, safe_repr(value))
        return orjson.dumps(jsonable(value), option=_OPTIONS)


def json_text(value: object) -> str:
    """``value`` as compact JSON text."""
    return json_bytes(value).decode()


def json_loads(data: str | bytes, what: str = "JSON message") -> Any:
    """Parse JSON that came from outside, held to :mod:`core.limits` (depth and size).

    Raises:
        ValueError: (``orjson.JSONDecodeError``) the text is not JSON, or
            (``core.limits.InputLimitError``) it nests too deeply or holds too many values.
    """
    value = orjson.loads(data)
    check_data(value, what)
    return value
