"""JSON for the APIs: orjson, with the kernel's own types (State, Event, Context) understood."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, time
from enum import Enum
from typing import Any

import orjson

_OPTIONS = orjson.OPT_NON_STR_KEYS


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


def json_bytes(value: object) -> bytes:
    """``value`` as compact UTF-8 JSON."""
    return orjson.dumps(value, default=_default, option=_OPTIONS)


def json_text(value: object) -> str:
    """``value`` as compact JSON text."""
    return json_bytes(value).decode()


def json_loads(data: str | bytes) -> Any:
    """Parse JSON.

    Raises:
        ValueError: (``orjson.JSONDecodeError``) the text is not JSON.
    """
    return orjson.loads(data)
