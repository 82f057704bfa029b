"""Template helpers for dates and times: the runtime's clock, in the site's time zone.

Naive datetimes mean local time, as in Home Assistant. Helpers that read the current time mark
the render (``uses_now``), so a tracked template renders again every minute.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from .helpers import MISSING, fail
from .limits import STRFTIME_GROWTH, check_size
from .render_info import current

_DATETIME_RE = re.compile(
    r"(?P<year>\d{4})-(?P<month>\d{1,2})-(?P<day>\d{1,2})"
    r"[T ](?P<hour>\d{1,2}):(?P<minute>\d{1,2})"
    r"(?::(?P<second>\d{1,2})(?:[.,](?P<micro>\d{1,6})\d*)?)?"
    r"\s*(?P<tz>Z|[+-]\d{2}(?::?\d{2})?)?$"
)


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


def as_datetime(value: Any, default: Any = MISSING) -> Any:
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
    return fail("as_datetime", value, default)


def as_timestamp(value: Any, default: Any = MISSING) -> Any:
    """The POSIX timestamp of a datetime or an ISO 8601 string (naive means local time)."""
    if isinstance(value, datetime):
        return _aware(value).timestamp()
    if isinstance(value, str):
        parsed = parse_datetime(value)
        if parsed is not None:
            return _aware(parsed).timestamp()
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return fail("as_timestamp", value, default)


def as_local(value: Any) -> Any:
    """A datetime (or ISO string, or timestamp) in the site's time zone; naive means local."""
    if not isinstance(value, datetime):
        value = as_datetime(value)
    return _aware(value).astimezone(current().tz)


def strptime(value: Any, fmt: str, default: Any = MISSING) -> Any:
    """``datetime.strptime(value, fmt)``; aware only if ``fmt`` has ``%z``."""
    try:
        return datetime.strptime(str(value), fmt)
    except (ValueError, TypeError):
        return fail("strptime", value, default)


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


def timestamp_local(value: Any, default: Any = MISSING) -> Any:
    """A POSIX timestamp as an ISO 8601 string in the site's time zone."""
    try:
        return datetime.fromtimestamp(float(value), current().tz).isoformat()
    except (ValueError, TypeError, OverflowError, OSError):
        return fail("timestamp_local", value, default)


def timestamp_utc(value: Any, default: Any = MISSING) -> Any:
    """A POSIX timestamp as an ISO 8601 string in UTC."""
    try:
        return datetime.fromtimestamp(float(value), UTC).isoformat()
    except (ValueError, TypeError, OverflowError, OSError):
        return fail("timestamp_utc", value, default)


def timestamp_custom(
    value: Any,
    format_string: str = "%Y-%m-%d %H:%M:%S",
    local: bool = True,
    default: Any = MISSING,
) -> Any:
    """A POSIX timestamp formatted with ``strftime``, in local time or UTC."""
    check_size(len(str(format_string)) * STRFTIME_GROWTH, "timestamp_custom")
    try:
        tz = current().tz if local else UTC
        return datetime.fromtimestamp(float(value), tz).strftime(format_string)
    except (ValueError, TypeError, OverflowError, OSError):
        return fail("timestamp_custom", value, default)
