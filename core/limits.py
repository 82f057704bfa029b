"""Bounds on data that comes from outside, checked at the door before anything touches it.

Every JSON body over REST, every WebSocket message (both parsed by :func:`core.json.json_loads`),
every MQTT payload parsed as JSON and every YAML text a client sends is held to the same limits:
at most :data:`MAX_DEPTH` levels of nested lists and mappings and at most :data:`MAX_ITEMS`
values in all. Deeper or larger data is refused with :class:`InputLimitError`, which names what
was refused and where, so that it never reaches the bus, the recorder's JSON encoder, orjson's
serialiser (which stops at 254 levels) or Python's recursion limit.

:func:`safe_repr` is for logging values that may be hostile: it never raises and never grows
past a few hundred characters.
"""

from __future__ import annotations

import json
import reprlib
from collections.abc import Mapping
from typing import Any, Final

from core.errors import EdgewiseError

#: The deepest nesting of lists and mappings accepted from outside. Automations nest a choose
#: in an if in a sequence a dozen levels at most; orjson cannot write more than 254.
MAX_DEPTH: Final = 64
#: The most values (scalars, lists and mappings, keys not counted) in one input.
MAX_ITEMS: Final = 100_000
#: The longest JSON text :func:`loads_json` parses (MQTT payloads; REST and WebSocket bodies
#: have the HTTP server's own limits).
MAX_BYTES: Final = 1024 * 1024
#: The most YAML nodes that aliases (``*anchor``) may add to a document, counted as expanded:
#: an anchor used twice adds its whole subtree twice. Real configurations reuse a few small
#: mappings; a "billion laughs" document adds billions.
MAX_YAML_ALIAS_NODES: Final = 10_000
#: The longest chain of ``!include`` files (a file including a file including ...).
MAX_INCLUDE_DEPTH: Final = 20
#: Seconds a client's YAML text may take to parse, off the event loop.
YAML_PARSE_TIMEOUT: Final = 5.0
#: The longest text :func:`safe_repr` returns.
MAX_REPR: Final = 300

_CONTAINERS = (Mapping, list, tuple)
#: Exact types that are settled without ``isinstance`` (a walk's hot path).
_SCALARS = frozenset({str, int, float, bool, type(None)})
_PLAIN = frozenset({dict, list, tuple})


class InputLimitError(EdgewiseError, ValueError):
    """Data from outside is nested too deeply or holds too many values; it was not used."""

    def __init__(self, message: str, *, what: str) -> None:
        super().__init__(f"{what}: {message}")
        self.what = what


def check_data(
    value: object, what: str, *, max_depth: int = MAX_DEPTH, max_items: int = MAX_ITEMS
) -> None:
    """Refuse ``value`` if it nests deeper than ``max_depth`` or holds over ``max_items`` values.

    Walks without recursion, so any depth is measured safely; a reference cycle counts as
    unbounded depth.

    Args:
        value: parsed data (dicts, lists, tuples, scalars).
        what: what the data is, for the error ("JSON body", "MQTT payload on topic x").

    Raises:
        InputLimitError: the data is too deep or too large; the message names the path
            where the limit was reached.
    """
    items = 1
    stack: list[tuple[Any, int]] = [(value, 1)] if isinstance(value, _CONTAINERS) else []
    while stack:
        node, depth = stack.pop()
        if depth > max_depth:
            raise InputLimitError(
                f"nested deeper than {max_depth} levels (at {_deep_path(value, max_depth)})",
                what=what,
            )
        children = node.values() if isinstance(node, Mapping) else node
        items += len(children)
        if items > max_items:
            raise InputLimitError(f"more than {max_items} values", what=what)
        for child in children:
            kind = type(child)
            if kind not in _SCALARS and (kind in _PLAIN or isinstance(child, _CONTAINERS)):
                stack.append((child, depth + 1))


def _deep_path(value: object, max_depth: int) -> str:
    """Where ``value`` first nests past ``max_depth`` (the error path only)."""
    stack: list[tuple[Any, tuple[object, ...]]] = [(value, ())]
    while stack:
        node, path = stack.pop()
        if len(path) >= max_depth:
            return _path_text(path[:8]) + ("..." if len(path) > 8 else "")
        pairs = node.items() if isinstance(node, Mapping) else enumerate(node)
        stack.extend(
            (child, (*path, key)) for key, child in pairs if isinstance(child, _CONTAINERS)
        )
    return "the top"


def loads_json(data: str | bytes | bytearray, what: str, *, max_bytes: int = MAX_BYTES) -> Any:
    """Parse JSON from outside (an MQTT payload, a device's answer) within the limits.

    Parsed by the standard library, which accepts what devices send (``NaN``, ``Infinity``),
    and checked with :func:`check_data`; a text nested past the interpreter's recursion limit
    is refused like any other too deep.

    Raises:
        ValueError: the text is not JSON.
        InputLimitError: (a ``ValueError`` too) longer than ``max_bytes``, too deep or too
            large.
    """
    if len(data) > max_bytes:
        raise InputLimitError(f"longer than {max_bytes} bytes", what=what)
    try:
        value = json.loads(data)
    except RecursionError:
        raise InputLimitError(f"nested deeper than {MAX_DEPTH} levels", what=what) from None
    check_data(value, what)
    return value


def _path_text(path: tuple[object, ...]) -> str:
    return "".join(f".{key}" if isinstance(key, str) else f"[{key!r}]" for key in path)


_REPR = reprlib.Repr()
_REPR.maxlevel = 4
_REPR.maxdict = 8
_REPR.maxlist = 8
_REPR.maxtuple = 8
_REPR.maxset = 8
_REPR.maxstring = 80
_REPR.maxother = 80


def safe_repr(value: object) -> str:
    """A short ``repr`` of ``value`` for a log line; never raises, whatever ``value`` holds.

    Nesting past four levels and long containers are elided, and a ``__repr__`` that fails
    gives way to the type's name.
    """
    try:
        if isinstance(value, Mapping) and not isinstance(value, dict):
            # reprlib elides dicts only; a read-only mapping would be written out whole.
            value = dict(value)
        text = _REPR.repr(value)
    except Exception:  # the point is that logging never fails
        try:
            text = f"<{type(value).__qualname__} (repr failed)>"
        except Exception:  # a hostile __class__
            text = "<object (repr failed)>"
    if len(text) > MAX_REPR:
        text = text[: MAX_REPR - 3] + "..."
    return text
