"""Template helpers that do not read states: numbers, statistics, regular expressions, JSON.

They follow Home Assistant's semantics, so templates users already have work unchanged. The
conversions (``float``, ``int``, ``bool``, ``round``, and those of ``time_helpers``) take an
optional ``default``: without one, a value that cannot be converted is an error that says which
helper failed on which input, rather than a silent 0.
"""

from __future__ import annotations

import json
import math
import statistics
from collections.abc import Callable, Iterable
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from typing import Any

from .guarded import guarded_max, guarded_min
from .limits import check_pattern, check_size, metered_iter, text_bound
from .render_info import CURRENT, DEFAULT_RENDER_TIME, MAX_VALUE_WEIGHT

#: Marks an argument that was not given (None is a valid default).
MISSING: Any = object()

_TRUE = frozenset({"1", "true", "yes", "on", "enable"})
_FALSE = frozenset({"0", "false", "no", "off", "disable"})


class NoDefaultError(ValueError):
    """A conversion helper got input it cannot convert, and no default to fall back to."""

    def __init__(self, helper: str, value: Any) -> None:
        super().__init__(f"{helper} got invalid input {value!r} but no default was specified")


def fail(helper: str, value: Any, default: Any) -> Any:
    """``default``, or NoDefaultError when there is none."""
    if default is MISSING:
        raise NoDefaultError(helper, value)
    return default


# --- numbers ---------------------------------------------------------------------------------


def to_float(value: Any, default: Any = MISSING) -> Any:
    """``float(value)``; ``default`` (or an error) when it is not a number."""
    try:
        return float(value)
    except (ValueError, TypeError):
        return fail("float", value, default)


def to_int(value: Any, default: Any = MISSING, base: int = 10) -> Any:
    """``int(value)``, also from ``"21.7"`` (21) and in another ``base`` for strings."""
    try:
        if isinstance(value, str):
            return int(value, base)
        return int(value)
    except (ValueError, TypeError, OverflowError):
        try:
            return int(float(value))
        except (ValueError, TypeError, OverflowError):
            return fail("int", value, default)


def to_bool(value: Any, default: Any = MISSING) -> Any:
    """A bool from a bool, a number (non-zero) or a word (on/off, yes/no, true/false, 1/0)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return value != 0
    if isinstance(value, str):
        word = value.strip().lower()
        if word in _TRUE:
            return True
        if word in _FALSE:
            return False
    return fail("bool", value, default)


def is_number(value: Any) -> bool:
    """Whether ``value`` is a finite number or a string that parses as one."""
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return True
    try:
        number = float(value)
    except (ValueError, TypeError):
        return False
    return math.isfinite(number)


def forgiving_round(
    value: Any, precision: int = 0, method: str = "common", default: Any = MISSING
) -> Any:
    """Round ``value`` to ``precision`` decimals by ``method``.

    Methods: ``common`` (Python's ``round``), ``ceil``, ``floor``, ``half`` (to the nearest 0.5).
    With ``precision`` 0 the result is an int.
    """
    try:
        number = float(value)
        multiplier = 10.0**precision
        if method == "ceil":
            number = math.ceil(number * multiplier) / multiplier
        elif method == "floor":
            number = math.floor(number * multiplier) / multiplier
        elif method == "half":
            number = round(number * 2) / 2
        elif method == "common":
            number = round(number, precision)
        else:
            raise ValueError(f"round method must be common, ceil, floor or half, got {method!r}")
    except (TypeError, OverflowError):
        return fail("round", value, default)
    except ValueError as err:
        if "round method" in str(err):
            raise
        return fail("round", value, default)
    return int(number) if precision == 0 else number


def multiply(value: Any, amount: Any, default: Any = MISSING) -> Any:
    """``float(value) * amount``."""
    try:
        return float(value) * amount
    except (ValueError, TypeError):
        return fail("multiply", value, default)


def add(value: Any, amount: Any, default: Any = MISSING) -> Any:
    """``float(value) + amount``."""
    try:
        return float(value) + amount
    except (ValueError, TypeError):
        return fail("add", value, default)


def logarithm(value: Any, base: Any = math.e, default: Any = MISSING) -> Any:
    """The logarithm of ``value`` in ``base`` (natural by default)."""
    try:
        return math.log(float(value), float(base))
    except (ValueError, TypeError, ZeroDivisionError):
        return fail("log", value, default)


def _math(name: str, func: Callable[[float], float]) -> Callable[..., Any]:
    def apply(value: Any, default: Any = MISSING) -> Any:
        try:
            return func(float(value))
        except (ValueError, TypeError):
            return fail(name, value, default)

    apply.__name__ = name
    apply.__doc__ = f"``math.{name}`` of ``value``; ``default`` when it is not a number."
    return apply


MATH_FUNCTIONS: dict[str, Callable[..., Any]] = {
    name: _math(name, getattr(math, name))
    for name in ("sin", "cos", "tan", "asin", "acos", "atan", "sqrt")
}


def _values(args: tuple[Any, ...]) -> list[Any]:
    """One iterable argument, or the arguments themselves."""
    if len(args) == 1 and isinstance(args[0], Iterable) and not isinstance(args[0], str):
        return list(metered_iter(args[0], 1))
    return list(args)


def minimum(*args: Any) -> Any:
    """The smallest of the arguments, or of one iterable argument."""
    if not args:
        raise TypeError("min expected at least 1 argument, got 0")
    values = _values(args)
    return guarded_min(current_environment(), values)


def maximum(*args: Any) -> Any:
    """The largest of the arguments, or of one iterable argument."""
    if not args:
        raise TypeError("max expected at least 1 argument, got 0")
    values = _values(args)
    return guarded_max(current_environment(), values)


def average(*args: Any, default: Any = MISSING) -> Any:
    """The arithmetic mean of the arguments, or of one iterable argument."""
    if not args:
        raise TypeError("average expected at least 1 argument, got 0")
    values = _values(args)
    try:
        return statistics.fmean(float(v) for v in metered_iter(values, 0))
    except (ValueError, TypeError, statistics.StatisticsError):
        return fail("average", values, default)


def median(*args: Any, default: Any = MISSING) -> Any:
    """The median of the arguments, or of one iterable argument."""
    if not args:
        raise TypeError("median expected at least 1 argument, got 0")
    values = _values(args)
    try:
        return statistics.median(values)
    except (ValueError, TypeError, statistics.StatisticsError):
        return fail("median", values, default)


def statistical_mode(*args: Any, default: Any = MISSING) -> Any:
    """The most common of the arguments, or of one iterable argument."""
    if not args:
        raise TypeError("statistical_mode expected at least 1 argument, got 0")
    values = _values(args)
    try:
        return statistics.mode(values)
    except (ValueError, TypeError, statistics.StatisticsError):
        return fail("statistical_mode", values, default)


def iif(value: Any, if_true: Any = True, if_false: Any = False, if_none: Any = MISSING) -> Any:
    """Immediate if: ``if_true`` when ``value`` is truthy, else ``if_false`` (or ``if_none``)."""
    if value is None and if_none is not MISSING:
        return if_none
    return if_true if bool(value) else if_false


# --- regular expressions ---------------------------------------------------------------------
#
# The ``regex`` package, not ``re``: it takes a timeout that interrupts a backtracking match
# inside its C engine (``re`` cannot be stopped once it runs), and it reads the patterns Home
# Assistant users write (lookarounds and backreferences included, which RE2 refuses). Each match
# gets a quarter of what is left of the render's time budget: ``regex`` counts its timeout in the
# process's CPU time, which runs several times slower than the wall clock on a busy machine, and
# the budget is wall time. A pattern whose repeats would take long to compile is refused before
# compiling (``limits.check_pattern``). ``regex`` is imported by the first pattern, not with the
# template environment: most sites never use a regular expression (about 1.3 MiB resident).


#: How many times slower than the wall clock the process's CPU time may run (see above).
_CPU_SHARE_ASSUMED = 4


@lru_cache(maxsize=512)
def _regex(pattern: str, flags: int) -> Any:
    import regex  # noqa: PLC0415 - on the first pattern, see above

    check_pattern(pattern)
    return regex.compile(pattern, flags | regex.VERSION0)


#: ``regex.IGNORECASE`` (as in ``re``), spelt out so the flag needs no import of ``regex``.
_IGNORECASE = 2


def _flags(ignorecase: bool) -> int:
    return _IGNORECASE if ignorecase else 0


def _timeout() -> float:
    state = CURRENT.get()
    return (state.remaining() if state is not None else DEFAULT_RENDER_TIME) / _CPU_SHARE_ASSUMED


def regex_match(value: Any, find: str = "", ignorecase: bool = False) -> bool:
    """Whether ``find`` matches at the start of ``value``."""
    text = _text(value)
    return bool(_regex(str(find), _flags(ignorecase)).match(text, timeout=_timeout()))


def regex_search(value: Any, find: str = "", ignorecase: bool = False) -> bool:
    """Whether ``find`` matches anywhere in ``value``."""
    text = _text(value)
    return bool(_regex(str(find), _flags(ignorecase)).search(text, timeout=_timeout()))


def regex_replace(
    value: Any = "", find: str = "", replace: str = "", ignorecase: bool = False
) -> str:
    """``value`` with every match of ``find`` replaced by ``replace`` (``\\1`` groups allowed).

    Every replacement is measured as it is made: the result may not pass the output limit.
    """
    text = _text(value)
    template = str(replace)
    size = len(text)

    def expand(match: Any) -> str:
        nonlocal size
        piece: str = match.expand(template)
        size += len(piece) - (match.end() - match.start())
        check_size(size, "regex_replace")
        return piece

    result: str = _regex(str(find), _flags(ignorecase)).sub(expand, text, timeout=_timeout())
    return result


def regex_findall(value: Any, find: str = "", ignorecase: bool = False) -> list[Any]:
    """Every match of ``find`` in ``value`` (groups as tuples, as ``re.findall``).

    The matches are measured as they are found: all of them together may not pass the limit.
    """
    text = _text(value)
    pattern = _regex(str(find), _flags(ignorecase))
    found: list[Any] = []
    size = 0
    for match in pattern.finditer(text, timeout=_timeout()):
        groups = match.groups()
        if not groups:
            item: Any = match.group(0)
            size += len(item) + 1
        elif len(groups) == 1:
            item = groups[0] or ""
            size += len(item) + 1
        else:
            item = tuple(group or "" for group in groups)
            size += sum(map(len, item)) + len(item) + 1
        check_size(size, "regex_findall", MAX_VALUE_WEIGHT)
        found.append(item)
    return found


def regex_findall_index(
    value: Any, find: str = "", index: int = 0, ignorecase: bool = False
) -> Any:
    """The ``index``-th match of ``find`` in ``value``."""
    return regex_findall(value, find, ignorecase)[index]


def _text(value: Any) -> str:
    if type(value) is not str:
        text_bound(value)
    return str(value)


# --- JSON ------------------------------------------------------------------------------------


def to_json(
    value: Any, ensure_ascii: bool = False, pretty_print: bool = False, sort_keys: bool = False
) -> str:
    """``value`` as JSON; datetimes as ISO 8601 strings (the text is bounded first)."""
    text_bound(value, json=True)
    return json.dumps(
        value,
        ensure_ascii=ensure_ascii,
        indent=2 if pretty_print else None,
        sort_keys=sort_keys,
        default=_json_default,
    )


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    if hasattr(value, "as_dict"):  # a State
        return value.as_dict()
    if hasattr(value, "keys") and hasattr(value, "__getitem__"):  # a read-only mapping
        return {key: value[key] for key in value.keys()}  # noqa: SIM118 - no __iter__ promised
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def from_json(value: Any, default: Any = MISSING) -> Any:
    """Parse the JSON text ``value``."""
    try:
        return json.loads(value)
    except (ValueError, TypeError):
        return fail("from_json", value, default)


def current_environment() -> Any:
    """The template environment (for Jinja2's own filters that need one)."""
    from .environment import ENVIRONMENT  # noqa: PLC0415 - the environment imports this module

    return ENVIRONMENT
