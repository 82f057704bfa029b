"""The one template environment: the sandbox with every helper as a global, filter and test.

Helpers find the runtime of the render in progress through ``render_info.current()``, so one
environment (and one compiled template per source) serves every runtime in the process.
"""

from __future__ import annotations

import base64
import math
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

from jinja2 import Template as JinjaTemplate

from core.slug import slugify
from core.state import State

from . import helpers, states, time_helpers
from .guarded import guarded_zip
from .sandbox import TemplateEnvironment

#: Compiled templates kept by source; templates with the same source share one.
COMPILE_CACHE_SIZE = 2048


def _base64_encode(value: Any) -> str:
    return base64.b64encode(str(value).encode()).decode()


def _base64_decode(value: Any, encoding: str | None = "utf-8") -> Any:
    raw = base64.b64decode(str(value))
    return raw.decode(encoding) if encoding else raw


def _contains(seq: Any, value: Any) -> bool:
    return value in seq


def _bitwise_and(value: int, other: int) -> int:
    return int(value) & int(other)


def _bitwise_or(value: int, other: int) -> int:
    return int(value) | int(other)


def _bitwise_xor(value: int, other: int) -> int:
    return int(value) ^ int(other)


def _ord(value: str) -> int:
    return ord(value)


def _is_list(value: Any) -> bool:
    return isinstance(value, list)


def _is_set(value: Any) -> bool:
    return isinstance(value, set | frozenset)


def _is_tuple(value: Any) -> bool:
    return isinstance(value, tuple)


def _is_datetime(value: Any) -> bool:
    return isinstance(value, datetime)


def _is_string_like(value: Any) -> bool:
    return isinstance(value, str | bytes | bytearray)


def _is_boolean(value: Any) -> bool:
    return isinstance(value, bool)


def _is_state_object(value: Any) -> bool:
    return isinstance(value, State)


def _to_set(value: Iterable[Any]) -> frozenset[Any]:
    return frozenset(value)


def _to_list(value: Any) -> list[Any]:
    if isinstance(value, str):
        return [value]
    return list(value)


def _slugify(value: Any, separator: str = "_") -> str:
    return slugify(str(value)).replace("_", separator)


# Helpers available both as functions (``float(x, 0)``) and as filters (``x | float(0)``).
_BOTH: dict[str, Callable[..., Any]] = {
    "float": helpers.to_float,
    "int": helpers.to_int,
    "bool": helpers.to_bool,
    "round": helpers.forgiving_round,
    "multiply": helpers.multiply,
    "add": helpers.add,
    "log": helpers.logarithm,
    "average": helpers.average,
    "median": helpers.median,
    "statistical_mode": helpers.statistical_mode,
    "iif": helpers.iif,
    "is_number": helpers.is_number,
    "regex_match": helpers.regex_match,
    "regex_search": helpers.regex_search,
    "regex_replace": helpers.regex_replace,
    "regex_findall": helpers.regex_findall,
    "regex_findall_index": helpers.regex_findall_index,
    "to_json": helpers.to_json,
    "from_json": helpers.from_json,
    "as_datetime": time_helpers.as_datetime,
    "as_timestamp": time_helpers.as_timestamp,
    "as_local": time_helpers.as_local,
    "as_timedelta": time_helpers.as_timedelta,
    "strptime": time_helpers.strptime,
    "relative_time": time_helpers.relative_time,
    "time_since": time_helpers.time_since,
    "time_until": time_helpers.time_until,
    "timestamp_local": time_helpers.timestamp_local,
    "timestamp_utc": time_helpers.timestamp_utc,
    "timestamp_custom": time_helpers.timestamp_custom,
    "base64_encode": _base64_encode,
    "base64_decode": _base64_decode,
    "bitwise_and": _bitwise_and,
    "bitwise_or": _bitwise_or,
    "bitwise_xor": _bitwise_xor,
    "ord": _ord,
    "slugify": _slugify,
    "set": _to_set,
    "is_state": states.is_state,
    "state_attr": states.state_attr,
    "is_state_attr": states.is_state_attr,
    "has_value": states.has_value,
    "expand": states.expand,
    "area_id": states.area_id,
    "area_name": states.area_name,
    "area_entities": states.area_entities,
    "area_devices": states.area_devices,
    "device_id": states.device_id,
    "device_attr": states.device_attr,
    "is_device_attr": states.is_device_attr,
    "device_entities": states.device_entities,
    "integration_entities": states.integration_entities,
    **helpers.MATH_FUNCTIONS,
}

_GLOBALS_ONLY: dict[str, Any] = {
    "states": states.STATES,
    "now": time_helpers.now,
    "utcnow": time_helpers.utcnow,
    "today_at": time_helpers.today_at,
    "timedelta": timedelta,
    "zip": guarded_zip,
    "min": helpers.minimum,
    "max": helpers.maximum,
    "list": _to_list,
    "e": math.e,
    "pi": math.pi,
    "tau": math.tau,
    "inf": math.inf,
}

_FILTERS_ONLY: dict[str, Callable[..., Any]] = {
    "states": states.STATES,
    "today_at": time_helpers.today_at,
    "contains": _contains,
}

_TESTS: dict[str, Callable[..., Any]] = {
    "is_number": helpers.is_number,
    "match": helpers.regex_match,
    "search": helpers.regex_search,
    "contains": _contains,
    "list": _is_list,
    "set": _is_set,
    "tuple": _is_tuple,
    "datetime": _is_datetime,
    "string_like": _is_string_like,
    "boolean": _is_boolean,
    "state_object": _is_state_object,
    "is_state": states.is_state,
    "is_state_attr": states.is_state_attr,
    "has_value": states.has_value,
    "is_device_attr": states.is_device_attr,
}


#: Filters that return numbers, booleans or values that already exist: they skip the meter
#: (``sandbox.TemplateEnvironment.install_meters``), being in most automations' hot templates.
_UNMETERED = frozenset(
    {
        "float",
        "int",
        "bool",
        "round",
        "multiply",
        "add",
        "log",
        "iif",
        "is_number",
        "as_timestamp",
        "bitwise_and",
        "bitwise_or",
        "bitwise_xor",
        "ord",
        "is_state",
        "state_attr",
        "is_state_attr",
        "has_value",
        "contains",
        "states",
        "abs",
        "count",
        "length",
        "first",
        "last",
        "d",
        "default",
        *helpers.MATH_FUNCTIONS,
    }
)


def _build() -> TemplateEnvironment:
    env = TemplateEnvironment()
    env.globals.update(_BOTH)
    env.globals.update(_GLOBALS_ONLY)
    env.filters.update(_BOTH)
    env.filters.update(_FILTERS_ONLY)
    env.tests.update(_TESTS)
    env.install_meters(_UNMETERED)
    return env


ENVIRONMENT = _build()


@lru_cache(maxsize=COMPILE_CACHE_SIZE)
def compile_source(source: str) -> JinjaTemplate:
    """Compile ``source`` in the environment, once per distinct source.

    Raises:
        jinja2.TemplateSyntaxError: ``source`` is not a valid template.
    """
    compiled: JinjaTemplate = ENVIRONMENT.compile_guarded(source)
    # Jinja2 chains the template's globals to the environment's; every render copies them into
    # its context, and copying a flat dict is many times faster than walking a ChainMap.
    compiled.globals = dict(compiled.globals)
    return compiled


def globals_snapshot() -> Mapping[str, Any]:
    """The names a template can call (for the API's and the panel's help)."""
    return dict(ENVIRONMENT.globals)
