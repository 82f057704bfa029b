"""Reading a request's JSON: numbers, series and times, each refused with the key it came from.

Pure Python (no NumPy), so a request is validated before any solver is imported.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any

from .const import MAX_SLOTS
from .errors import OptimizerInputError


def number(
    value: object,
    field: str,
    *,
    minimum: float | None = None,
    maximum: float | None = None,
    strict_min: bool = False,
) -> float:
    """A finite number within bounds.

    Raises:
        OptimizerInputError: not a number, NaN or infinite, or out of bounds.
    """
    if isinstance(value, bool) or not isinstance(value, int | float):
        try:
            value = float(value)  # type: ignore[arg-type]  # strings like "0.25" from templates
        except (TypeError, ValueError):
            raise OptimizerInputError(f"expected a number, got {value!r}", field=field) from None
    result = float(value)
    if not math.isfinite(result):
        raise OptimizerInputError(f"expected a finite number, got {result}", field=field)
    if minimum is not None and (result <= minimum if strict_min else result < minimum):
        relation = "above" if strict_min else "at least"
        raise OptimizerInputError(f"must be {relation} {minimum:g}, got {result:g}", field=field)
    if maximum is not None and result > maximum:
        raise OptimizerInputError(f"must be at most {maximum:g}, got {result:g}", field=field)
    return result


def integer(value: object, field: str, *, minimum: int | None = None) -> int:
    """A whole number (``4`` or ``4.0``) at least ``minimum``."""
    result = number(value, field, minimum=minimum)
    if result != int(result):
        raise OptimizerInputError(f"expected a whole number, got {result:g}", field=field)
    return int(result)


def boolean(value: object, field: str) -> bool:
    """A boolean (``true``/``false``; the strings ``"true"``/``"false"`` from templates too)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise OptimizerInputError(f"expected true or false, got {value!r}", field=field)


def series(
    value: object,
    field: str,
    length: int | None,
    *,
    minimum: float | None = None,
    scale: float = 1.0,
) -> list[float]:
    """A list of finite numbers (a single number is repeated) of ``length`` items.

    Raises:
        OptimizerInputError: wrong length, NaN, a non-number, or below ``minimum``.
    """
    if isinstance(value, int | float) and not isinstance(value, bool):
        if length is None:
            raise OptimizerInputError("expected a list of numbers", field=field)
        return [number(value, field, minimum=minimum) * scale] * length
    if not isinstance(value, list | tuple):
        raise OptimizerInputError(
            f"expected a list of numbers, got {type(value).__name__}", field=field
        )
    if len(value) > MAX_SLOTS:
        raise OptimizerInputError(
            f"has {len(value)} values; at most {MAX_SLOTS} are accepted", field=field
        )
    if length is not None and len(value) != length:
        raise OptimizerInputError(
            f"has {len(value)} values, the horizon has {length} slots", field=field
        )
    return [number(v, f"{field}.{i}", minimum=minimum) * scale for i, v in enumerate(value)]


def mapping(value: object, field: str) -> Mapping[str, Any]:
    """A JSON object."""
    if not isinstance(value, Mapping):
        raise OptimizerInputError(f"expected an object, got {type(value).__name__}", field=field)
    return value


def unknown_keys(data: Mapping[str, Any], known: frozenset[str], field: str) -> None:
    """Refuse keys a request does not know (a typo would otherwise be ignored silently)."""
    extra = sorted(set(data) - known)
    if extra:
        where = f"{field}." if field else ""
        raise OptimizerInputError(
            f"unknown key(s) {', '.join(extra)}; known: {', '.join(sorted(known))}",
            field=f"{where}{extra[0]}",
        )


def moment(value: object, field: str, tz: tzinfo) -> datetime:
    """An ISO 8601 time; one without an offset is read in ``tz``.

    Raises:
        OptimizerInputError: not a time, or one so near year 1 or 9999 that a horizon from it
            (``MAX_SLOTS`` hours at most) cannot be labelled in UTC and ``tz``.
    """
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            raise OptimizerInputError(
                f"expected an ISO 8601 time, got {value!r}", field=field
            ) from None
    else:
        raise OptimizerInputError(f"expected an ISO 8601 time, got {value!r}", field=field)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=tz)
    try:
        # What ``slot_label`` and ``slot_of`` compute: else the solve runs, then its labels fail.
        (parsed.astimezone(UTC) + timedelta(hours=MAX_SLOTS)).astimezone(tz)
        parsed.astimezone(UTC).astimezone(tz)
    except OverflowError:
        raise OptimizerInputError(
            f"{value!r} is too far in the past or the future", field=field
        ) from None
    return parsed


def slot_of(when: datetime, start: datetime, slot: timedelta, field: str) -> int:
    """The index of the slot boundary at ``when`` (absolute time, so DST days count right).

    Raises:
        OptimizerInputError: ``when`` is not on a slot boundary.
    """
    # Aware datetimes of one zone subtract as wall clocks; in UTC they subtract as time.
    offset = when.astimezone(UTC) - start.astimezone(UTC)
    index = offset / slot
    if abs(index - round(index)) > 1e-9:
        raise OptimizerInputError(
            f"{when.isoformat()} is not on a slot boundary ({slot} slots from {start.isoformat()})",
            field=field,
        )
    return round(index)


def slot_label(start: datetime | None, slot: timedelta, index: int, tz: tzinfo) -> str | None:
    """The local ISO time a slot starts at, or None when the request gave no start."""
    if start is None:
        return None
    return (start.astimezone(UTC) + slot * index).astimezone(tz).isoformat()


def span(start: int, end: int) -> str:
    """Slots ``start``..``end - 1`` in words: ``slot 4`` or ``slots 4-7``."""
    if end - start <= 1:
        return f"slot {start}"
    return f"slots {start}-{end - 1}"


def runs(indices: list[int]) -> str:
    """Sorted slot indices as runs: ``slots 3-5, 9``."""
    if not indices:
        return "no slots"
    parts: list[str] = []
    first = prev = indices[0]
    for i in [*indices[1:], None]:
        if i is not None and i == prev + 1:
            prev = i
            continue
        parts.append(str(first) if first == prev else f"{first}-{prev}")
        if i is not None:
            first = prev = i
    word = "slot" if len(indices) == 1 else "slots"
    return f"{word} {', '.join(parts)}"
