"""Template helpers that do not read states: numbers, time, regular expressions, JSON.

They follow Home Assistant's semantics, so templates users already have work unchanged. The
conversions (``float``, ``int``, ``bool``, ``round``, ``as_timestamp``...) take an optional
``default``: without one, a value that cannot be converted is an error that says which helper
failed on which input, rather than a silent 0.
"""

from __future__ import annotations

import json
import math
import re
import statistics
from collections.abc import Callable, Iterable
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from typing import Any

from jinja2.filters import do_max, do_min

from .render_info import current

#: Marks an argument that was not given (None is a valid default).
_MISSING: Any = object()

_TRUE = frozenset({"1", "true", "yes", "on", "enable"})
_FALSE = frozenset({"0", "false", "no", "off", "disable"})
_DATETIME_RE = re.compile(
    r"(?P<year>\d{4})-(?P<month>\d{1,2})-(?P<day>\d{1,2})"
    r"[T ](?P<hour>\d{1,2}):(?P<minute>\d{1,2})"
    r"(?::(?P<second>\d{1,2})(?:[.,](?P<micro>\d{1,6})\d*)?)?"
    r"\s*(?P<tz>Z|[+-]\d{2}(?::?\d{2})?)?$"
)


class NoDefaultError(ValueError):
    """A conversion helper got input it cannot convert, and no default to fall back to."""

    def __init__(self, helper: str, value: Any) -> None:
        super().__init__(f"{helper} got invalid input {value!r} but no default was specified")


def _fail(helper: str, value: Any, default: Any) -> Any:
    if default is _MISSING:
        raise NoDefaultError(helper, value)
    return default


# --- numbers ---------------------------------------------------------------------------------


def to_float(value: Any, default: Any = _MISSING) -> Any:
    """``float(value)``; ``default`` (or an error) when it is not a number."""
    try:
        return float(value)
    except (ValueError, TypeError):
        return _fail("float", value, default)


def to_int(value: Any, default: Any = _MISSING, base: int = 10) -> Any:
    """``int(value)``, also from ``"21.7"`` (21) and in another ``base`` for strings."""
    try:
        if isinstance(value, str):
            return int(value, base)
        return int(value)
    except (ValueError, TypeError, OverflowError):
        try:
            return int(float(value))
        except (ValueError, TypeError, OverflowError):
            return _fail("int", value, default)


def to_bool(value: Any, default: Any = _MISSING) -> Any:
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
    return _fail("bool", value, default)


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
    value: Any, precision: int = 0, method: str = "common", default: Any = _MISSING
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
        return _fail("round", value, default)
    except ValueError as err:
        if "round method" in str(err):
            raise
        return _fail("round", value, default)
    return int(number) if precision == 0 else number


def multiply(value: Any, amount: Any, default: Any = _MISSING) -> Any:
    """``float(value) * amount``."""
    try:
        return float(value) * amount
    except (ValueError, TypeError):
        return _fail("multiply", value, default)


def add(value: Any, amount: Any, default: Any = _MISSING) -> Any:
    """``float(value) + amount``."""
    try:
        return float(value) + amount
    except (ValueError, TypeError):
        return _fail("add", value, default)


def logarithm(value: Any, base: Any = math.e, default: Any = _MISSING) -> Any:
    """The logarithm of ``value`` in ``base`` (natural by default)."""
    try:
        return math.log(float(value), float(base))
    except (ValueError, TypeError, ZeroDivisionError):
        return _fail("log", value, default)


def _math(name: str, func: Callable[[float], float]) -> Callable[..., Any]:
    def apply(value: Any, default: Any = _MISSING) -> Any:
        try:
            return func(float(value))
        except (ValueError, TypeError):
            return _fail(name, value, default)

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
        return list(args[0])
    return list(args)


def minimum(*args: Any) -> Any:
    """The smallest of the arguments, or of one iterable argument."""
    if not args:
        raise TypeError("min expected at least 1 argument, got 0")
    values = _values(args)
    return do_min(current_environment(), values)


def maximum(*args: Any) -> Any:
    """The largest of the arguments, or of one iterable argument."""
    if not args:
        raise TypeError("max expected at least 1 argument, got 0")
    values = _values(args)
    return do_max(current_environment(), values)


def average(*args: Any, default: Any = _MISSING) -> Any:
    """The arithmetic mean of the arguments, or of one iterable argument."""
    if not args:
        raise TypeError("average expected at least 1 argument, got 0")
    values = _values(args)
    try:
        return statistics.fmean(float(v) for v in values)
    except (ValueError, TypeError, statistics.StatisticsError):
        return _fail("average", values, default)


def median(*args: Any, default: Any = _MISSING) -> Any:
    """The median of the arguments, or of one iterable argument."""
    if not args:
        raise TypeError("median expected at least 1 argument, got 0")
    values = _values(args)
    try:
        return statistics.median(values)
    except (ValueError, TypeError, statistics.StatisticsError):
        return _fail("median", values, default)


def statistical_mode(*args: Any, default: Any = _MISSING) -> Any:
    """The most common of the arguments, or of one iterable argument."""
    if not args:
        raise TypeError("statistical_mode expected at least 1 argument, got 0")
    values = _values(args)
    try:
        return statistics.mode(values)
    except (ValueError, TypeError, statistics.StatisticsError):
        return _fail("statistical_mode", values, default)


def iif(value: Any, if_true: Any = True, if_false: Any = False, if_none: Any = _MISSING) -> Any:
    """Immediate if: ``if_true`` when ``value`` is truthy, else ``if_false`` (or ``if_none``)."""
    if value is None and if_none is not _MISSING:
        return if_none
    return if_true if bool(value) else if_false


# --- regular expressions ---------------------------------------------------------------------


@lru_cache(maxsize=512)
def _regex(pattern: str, flags: int) -> re.Pattern[str]:
    return re.compile(pattern, flags)


def _flags(ignorecase: bool) -> int:
    return re.IGNORECASE if ignorecase else 0


def regex_match(value: Any, find: str = "", ignorecase: bool = False) -> bool:
    """Whether ``find`` matches at the start of ``value``."""
    return bool(_regex(find, _flags(ignorecase)).match(str(value)))


def regex_search(value: Any, find: str = "", ignorecase: bool = False) -> bool:
    """Whether ``find`` matches anywhere in ``value``."""
    return bool(_regex(find, _flags(ignorecase)).search(str(value)))


def regex_replace(
    value: Any = "", find: str = "", replace: str = "", ignorecase: bool = False
) -> str:
    """``value`` with every match of ``find`` replaced by ``replace`` (``\\1`` groups allowed)."""
    return _regex(find, _flags(ignorecase)).sub(replace, str(value))


def regex_findall(value: Any, find: str = "", ignorecase: bool = False) -> list[Any]:
    """Every match of ``find`` in ``value`` (groups as tuples, as ``re.findall``)."""
    return _regex(find, _flags(ignorecase)).findall(str(value))


def regex_findall_index(
    value: Any, find: str = "", index: int = 0, ignorecase: bool = False
) -> Any:
    """The ``index``-th match of ``find`` in ``value``."""
    return regex_findall(value, find, ignorecase)[index]


# --- JSON ------------------------------------------------------------------------------------


def to_json(
    value: Any, ensure_ascii: bool = False, pretty_print: bool = False, sort_keys: bool = False
) -> str:
    """``value`` as JSON; datetimes as ISO 8601 strings."""
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


def from_json(value: Any, default: Any = _MISSING) -> Any:
    """Parse the JSON text ``value``."""
    try:
        return json.loads(value)
    except (ValueError, TypeError):
        return _fail("from_json", value, default)


# --- time ------------------------------------------------------------------------------------


def _local_now() -> datetime:
    state = current()
    state.uses_now = True
    return state.clock.now().astimezone(state.tz)


def now() -> datetime:
    """The current time in the site's time zone; the template then re-renders every minute."""
    return _local_now()


def utcnow() -> datetime:
    """The current time in UTC; the template then re-renders every minute."""
    state = current()
    state.uses_now = True
    return state.clock.now().astimezone(UTC)


def parse_datetime(text: str) -> datetime | None:
    """An ISO 8601 date and time (``T`` or space, optional seconds and offset), or None.

    Without an offset the result is naive: local time, as everywhere in templates.
    """
    match = _DATETIME_RE.match(text.strip())
    if match is None:
        return None
    parts = match.groupdict()
    tz_text = parts.pop("tz")
    micro = parts.pop("micro")
    try:
        value = datetime(
            int(parts["year"]),
            int(parts["month"]),
            int(parts["day"]),
            int(parts["hour"]),
            int(parts["minute"]),
            int(parts["second"] or 0),
            int((micro or "0").ljust(6, "0")),
        )
    except ValueError:
        return None
    if tz_text is None:
        return value
    offset = "+00:00" if tz_text == "Z" else tz_text
    return datetime.fromisoformat(value.isoformat() + (offset if ":" in offset else offset[:3]))


_ISO_DURATION_RE = re.compile(
    r"^(?P<sign>[-+]?)P(?:(?P<weeks>\d+(?:[.,]\d+)?)W)?(?:(?P<days>\d+(?:[.,]\d+)?)D)?"
    r"(?:T(?:(?P<hours>\d+(?:[.,]\d+)?)H)?(?:(?P<minutes>\d+(?:[.,]\d+)?)M)?"
    r"(?:(?P<seconds>\d+(?:[.,]\d+)?)S)?)?$"
)
_DAYS_DURATION_RE = re.compile(r"^(?P<days>-?\d+) days?(?:, (?P<rest>.+))?$")
_CLOCK_DURATION_RE = re.compile(r"^(?P<sign>-?)(?:(?P<h>\d+):)?(?P<m>\d+):(?P<s>\d+(?:\.\d+)?)$")


def as_timedelta(value: Any) -> timedelta | None:
    """A duration from ``HH:MM:SS``, ``3 days, 4:00:00`` (``str(timedelta)``) or ISO 8601
    (``P1DT2H``); None when ``value`` is none of them."""
    if isinstance(value, timedelta):
        return value
    text = str(value).strip()
    if (iso := _ISO_DURATION_RE.match(text)) is not None and text not in ("P", "-P", "+P", "PT"):
        parts = {
            key: float(number.replace(",", "."))
            for key, number in iso.groupdict().items()
            if key != "sign" and number is not None
        }
        result = timedelta(**parts)
        return -result if iso["sign"] == "-" else result
    days = timedelta(0)
    if (with_days := _DAYS_DURATION_RE.match(text)) is not None:
        days = timedelta(days=int(with_days["days"]))
        if with_days["rest"] is None:
            return days
        text = with_days["rest"]
    if (clock := _CLOCK_DURATION_RE.match(text)) is not None:
        result = timedelta(
            hours=int(clock["h"] or 0), minutes=int(clock["m"]), seconds=float(clock["s"])
        )
        return days + (-result if clock["sign"] else result)
    return None


def _aware(value: datetime) -> datetime:
    """Naive datetimes are local time."""
    if value.tzinfo is None:
        return value.replace(tzinfo=current().tz)
    return value


def as_datetime(value: Any, default: Any = _MISSING) -> Any:
    """A datetime from a datetime, a date, a POSIX timestamp or an ISO 8601 string."""
    if isinstance(value, datetime):
        return value
    if isinstance(value, date):
        return datetime.combine(value, time())
    if not isinstance(value, bool):
        try:
            return datetime.fromtimestamp(float(value), UTC)
        except (ValueError, TypeError, OverflowError, OSError):
            pass
    if isinstance(value, str):
        parsed = parse_datetime(value)
        if parsed is None:
            try:
                parsed = datetime.combine(date.fromisoformat(value.strip()), time())
            except ValueError:
                parsed = None
        if parsed is not None:
            return parsed
    return _fail("as_datetime", value, default)


def as_timestamp(value: Any, default: Any = _MISSING) -> Any:
    """The POSIX timestamp of a datetime or an ISO 8601 string (naive means local time)."""
    if isinstance(value, datetime):
        return _aware(value).timestamp()
    if isinstance(value, str):
        parsed = parse_datetime(value)
        if parsed is not None:
            return _aware(parsed).timestamp()
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return _fail("as_timestamp", value, default)


def as_local(value: Any) -> Any:
    """A datetime (or ISO string, or timestamp) in the site's time zone; naive means local."""
    if not isinstance(value, datetime):
        value = as_datetime(value)
    return _aware(value).astimezone(current().tz)


def strptime(value: Any, fmt: str, default: Any = _MISSING) -> Any:
    """``datetime.strptime(value, fmt)``; aware only if ``fmt`` has ``%z``."""
    try:
        return datetime.strptime(str(value), fmt)
    except (ValueError, TypeError):
        return _fail("strptime", value, default)


def _parse_time(text: str) -> time | None:
    try:
        return time.fromisoformat(text.strip())
    except ValueError:
        pass
    parts = text.strip().split(":")
    if len(parts) not in (2, 3) or not all(p.isdigit() for p in parts):
        return None
    try:
        numbers = [int(p) for p in parts]
        return time(numbers[0], numbers[1], numbers[2] if len(numbers) == 3 else 0)
    except ValueError:
        return None


def today_at(value: str = "00:00") -> datetime:
    """Today (in the site's time zone) at the local wall time ``value`` (``HH:MM[:SS]``).

    A wall time that does not exist today (the hour skipped in spring) is shifted forward by the
    length of the gap, like the scheduler's daily jobs; a repeated one is its first occurrence.

    Raises:
        ValueError: ``value`` is not a time of day.
    """
    local_now = _local_now()
    at = _parse_time(str(value)) if value else time()
    if at is None:
        raise ValueError(f"today_at: could not convert {value!r} to a time of day")
    tz = local_now.tzinfo
    wall = datetime.combine(local_now.date(), at, tz)
    # Round-tripping through UTC turns a non-existent wall time into the real instant after it.
    return wall.astimezone(UTC).astimezone(tz)


def _age_text(seconds: float, precision: int) -> str:
    """A duration as Home Assistant words it: ``2 hours``, ``1 day 3 hours`` (``precision`` 2)."""
    units = (
        ("year", 365 * 86400),
        ("month", 30 * 86400),
        ("day", 86400),
        ("hour", 3600),
        ("minute", 60),
        ("second", 1),
    )
    if seconds < 1:
        return "0 seconds"
    words: list[str] = []
    for unit, size in units:
        if seconds < size:
            continue
        if len(words) + 1 >= precision:
            count = round(seconds / size)
            words.append(f"{count} {unit}" + ("" if count == 1 else "s"))
            return " ".join(words)
        count = int(seconds // size)
        words.append(f"{count} {unit}" + ("" if count == 1 else "s"))
        seconds -= count * size
    return " ".join(words)


def relative_time(value: Any) -> Any:
    """How long ago ``value`` was, in words (``2 hours``); other values come back unchanged."""
    if not isinstance(value, datetime):
        return value
    now_utc = _local_now()
    value = _aware(value)
    if value > now_utc:
        return value
    return _age_text((now_utc - value).total_seconds(), 1)


def time_since(value: Any, precision: int = 1) -> Any:
    """How long ago ``value`` was, with ``precision`` units (0: all of them)."""
    if not isinstance(value, datetime):
        return value
    now_utc = _local_now()
    value = _aware(value)
    if value > now_utc:
        return value
    return _age_text((now_utc - value).total_seconds(), precision or 6)


def time_until(value: Any, precision: int = 1) -> Any:
    """How long until ``value``, with ``precision`` units (0: all of them)."""
    if not isinstance(value, datetime):
        return value
    now_utc = _local_now()
    value = _aware(value)
    if value < now_utc:
        return value
    return _age_text((value - now_utc).total_seconds(), precision or 6)


def timestamp_local(value: Any, default: Any = _MISSING) -> Any:
    """A POSIX timestamp as an ISO 8601 string in the site's time zone."""
    try:
        return datetime.fromtimestamp(float(value), current().tz).isoformat()
    except (ValueError, TypeError, OverflowError, OSError):
        return _fail("timestamp_local", value, default)


def timestamp_utc(value: Any, default: Any = _MISSING) -> Any:
    """A POSIX timestamp as an ISO 8601 string in UTC."""
    try:
        return datetime.fromtimestamp(float(value), UTC).isoformat()
    except (ValueError, TypeError, OverflowError, OSError):
        return _fail("timestamp_utc", value, default)


def timestamp_custom(
    value: Any,
    format_string: str = "%Y-%m-%d %H:%M:%S",
    local: bool = True,
    default: Any = _MISSING,
) -> Any:
    """A POSIX timestamp formatted with ``strftime``, in local time or UTC."""
    try:
        tz = current().tz if local else UTC
        return datetime.fromtimestamp(float(value), tz).strftime(format_string)
    except (ValueError, TypeError, OverflowError, OSError):
        return _fail("timestamp_custom", value, default)


def current_environment() -> Any:
    """The template environment (for Jinja2's own filters that need one)."""
    from .environment import ENVIRONMENT  # noqa: PLC0415 - the environment imports this module

    return ENVIRONMENT
