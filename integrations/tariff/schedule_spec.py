"""Appliance schedules as asked: validated requests, DST checks, next start times. Pure.

Kinds:

* ``once``: ``start`` (ISO date and time; without an offset it is local time, refused when it
  falls in a DST gap or in the repeated hour) and ``end`` or ``duration``;
* ``daily``: ``start`` (``HH:MM``, local) and ``end`` (``HH:MM``) or ``duration``;
* ``weekdays``: as daily, on the ``weekdays`` given (``mon``..``sun``);
* ``finish_by``: run ``duration`` in the cheapest slots (in up to ``blocks`` blocks) before
  ``deadline``, re-planned when prices arrive until the first block starts.

A recurring schedule's end is kept as the run's length (a DST night lengthens nothing).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any

import voluptuous as vol

from core import validators

from .const import DEFAULT_SCHEDULE_GRACE, MAX_BLOCKS
from .plan import WEEKDAYS

KINDS = ("once", "daily", "weekdays", "finish_by")
_HHMM = re.compile(r"^(\d{1,2}):(\d{2})$")
#: Furthest ahead a schedule may start.
MAX_AHEAD = timedelta(days=366)


def wall_time(value: Any, field: str = "start") -> str:
    """``HH:MM`` normalised to ``HH:MM:00``; an error's path names ``field``."""
    match = _HHMM.match(value) if isinstance(value, str) else None
    if match is None or int(match[1]) > 23 or int(match[2]) > 59:
        raise vol.Invalid(f"expected a local time HH:MM, got {value!r}", path=[field])
    return f"{int(match[1]):02d}:{match[2]}:00"


REQUEST_SCHEMA = vol.Schema(
    {
        vol.Required("appliance"): validators.entity_domain("appliance"),
        vol.Required("kind"): vol.In(KINDS),
        vol.Optional("name"): vol.All(str, vol.Length(min=1, max=100)),
        vol.Optional("start"): vol.All(str, vol.Length(max=64)),
        vol.Optional("end"): vol.All(str, vol.Length(max=64)),
        vol.Optional("duration"): vol.All(
            validators.time_period,
            vol.Range(min=timedelta(minutes=1), max=timedelta(hours=24)),
        ),
        vol.Optional("weekdays"): vol.All([vol.In(WEEKDAYS)], vol.Length(min=1, max=7)),
        vol.Optional("deadline"): vol.All(str, vol.Length(max=64)),
        vol.Optional("blocks", default=1): vol.All(
            vol.Coerce(int), vol.Range(min=1, max=MAX_BLOCKS)
        ),
        vol.Optional("grace", default=DEFAULT_SCHEDULE_GRACE): vol.All(
            vol.Coerce(float), vol.Range(min=0, max=86_400)
        ),
    }
)


def local_instant(value: str, tz: tzinfo, field: str) -> datetime:
    """An ISO date and time; without an offset, local time that must exist exactly once.

    Raises:
        vol.Invalid: malformed, in a DST gap, or in a repeated hour; the message names ``field``.
    """
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        raise vol.Invalid(
            f"expected an ISO 8601 date and time, got {value!r}", path=[field]
        ) from None
    if when.tzinfo is not None:
        return when.astimezone(UTC)
    first = when.replace(tzinfo=tz, fold=0)
    second = when.replace(tzinfo=tz, fold=1)
    if first.astimezone(UTC).astimezone(tz).replace(tzinfo=None) != when:
        raise vol.Invalid(
            f"{value} does not exist in {tz} (the clocks skip it); pick another time",
            path=[field],
        )
    if first.utcoffset() != second.utcoffset():
        raise vol.Invalid(
            f"{value} happens twice in {tz} (the clocks go back); give a UTC offset",
            path=[field],
        )
    return first.astimezone(UTC)


def _minutes(hhmmss: str) -> int:
    hour, minute, _ = (int(p) for p in hhmmss.split(":"))
    return hour * 60 + minute


def build_spec(
    request: dict[str, Any], tz: tzinfo, now: datetime, schedule_id: str, user: str | None
) -> dict[str, Any]:
    """The stored form of a validated request (``REQUEST_SCHEMA``'s output).

    Raises:
        vol.Invalid: a field is missing, in the past, or does not fit; the path names it.
    """
    kind = request["kind"]
    spec: dict[str, Any] = {
        "id": schedule_id,
        "appliance": request["appliance"],
        "kind": kind,
        "name": request.get("name") or f"{request['appliance']} {kind}",
        "grace": request["grace"],
        "created_at": now.isoformat(),
        "created_by": user,
    }
    duration: timedelta | None = request.get("duration")
    if kind == "finish_by":
        if "deadline" not in request or duration is None:
            raise vol.Invalid("finish_by needs duration and deadline", path=["deadline"])
        deadline = local_instant(request["deadline"], tz, "deadline")
        if deadline <= now:
            raise vol.Invalid(
                f"the deadline {deadline.isoformat()} is in the past", path=["deadline"]
            )
        if deadline - now < duration:
            raise vol.Invalid(
                f"the deadline {deadline.isoformat()} is less than {duration} away",
                path=["deadline"],
            )
        if deadline - now > timedelta(days=4):
            raise vol.Invalid("the deadline is more than 4 days away", path=["deadline"])
        spec.update(
            deadline=deadline.isoformat(),
            duration_s=duration.total_seconds(),
            blocks=request["blocks"],
        )
        return spec
    if "start" not in request:
        raise vol.Invalid(f"{kind} needs a start", path=["start"])
    if ("end" in request) == (duration is not None):
        raise vol.Invalid("give end or duration (one of them)", path=["end"])
    if kind == "once":
        start = local_instant(request["start"], tz, "start")
        if start <= now:
            raise vol.Invalid(f"the start {start.isoformat()} is in the past", path=["start"])
        if start - now > MAX_AHEAD:
            raise vol.Invalid("the start is more than a year ahead", path=["start"])
        end = start + duration if duration is not None else local_instant(request["end"], tz, "end")
        if end <= start:
            raise vol.Invalid("the end must be after the start", path=["end"])
        spec.update(start=start.isoformat(), end=end.isoformat())
        return spec
    start_wall = wall_time(request["start"])
    if duration is None:
        length = (_minutes(wall_time(request["end"], "end")) - _minutes(start_wall)) % (24 * 60)
        if length == 0:
            raise vol.Invalid("the end equals the start", path=["end"])
        duration = timedelta(minutes=length)
    spec.update(start=start_wall, duration_s=duration.total_seconds())
    if kind == "weekdays":
        if not request.get("weekdays"):
            raise vol.Invalid("weekdays needs the days", path=["weekdays"])
        spec["weekdays"] = [d for d in WEEKDAYS if d in request["weekdays"]]
    return spec


def start_trigger(spec: dict[str, Any]) -> dict[str, str]:
    """The kernel schedule trigger of a once/daily/weekdays schedule's start."""
    if spec["kind"] == "once":
        return {"at": spec["start"]}
    if spec["kind"] == "daily":
        return {"daily": spec["start"]}
    hour, minute, _ = spec["start"].split(":")
    return {"cron": f"{int(minute)} {int(hour)} * * {','.join(spec['weekdays'])}"}
