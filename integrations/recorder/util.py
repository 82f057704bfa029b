"""Small pure helpers of the recorder: context ids as bytes, JSON, and attribute hashes."""

from __future__ import annotations

import enum
import hashlib
import json
from collections.abc import Mapping, Set
from datetime import date, datetime, time, timedelta
from typing import Any

from ulid_transform import bytes_to_ulid, ulid_to_bytes

from core.json import jsonable
from .const import QUERY_TIME_MAX, QUERY_TIME_MIN

#: The first byte of a stored context id that is not a ULID (its UTF-8 bytes follow).
NON_ULID_PREFIX = b"\xff"
_ULID_LENGTH = 26


def context_id_to_bytes(context_id: str | None) -> bytes | None:
    """Store a context id in as few bytes as possible.

    A ULID becomes its 16 bytes; any other string (an API client may send one) becomes
    ``0xff`` followed by its UTF-8 bytes. No ULID of this millennium starts with ``0xff``
    (that would be a timestamp after the year 10000), so the two never clash.
    """
    if context_id is None:
        return None
    if len(context_id) == _ULID_LENGTH:
        try:
            raw = ulid_to_bytes(context_id)
        except ValueError:
            pass
        else:
            # Crockford decoding is lenient (lower case, I/L/O): keep only exact round trips.
            if raw[:1] != NON_ULID_PREFIX and bytes_to_ulid(raw) == context_id:
                return raw
    return NON_ULID_PREFIX + context_id.encode()


def bytes_to_context_id(raw: bytes | None) -> str | None:
    """The context id stored by :func:`context_id_to_bytes`."""
    if raw is None:
        return None
    if raw[:1] == NON_ULID_PREFIX:
        return raw[1:].decode(errors="replace")
    return str(bytes_to_ulid(raw))


def _default(obj: object) -> Any:
    if isinstance(obj, datetime | date | time):
        return obj.isoformat()
    if isinstance(obj, timedelta):
        return obj.total_seconds()
    if isinstance(obj, enum.Enum):
        return obj.value
    if isinstance(obj, Mapping):
        return dict(obj)
    if isinstance(obj, Set | tuple):
        return list(obj)
    if isinstance(obj, bytes):
        return obj.hex()
    # Whatever else an integration put in an attribute is recorded as its text rather than
    # making the whole batch fail.
    return str(obj)


def json_dumps(obj: object) -> str:
    """Compact JSON in insertion order; datetimes as ISO 8601, unknown objects as text.

    Data the encoder cannot write (nested past the recursion limit, a reference cycle) is
    written with the parts past ``core.json.CLIP_DEPTH`` levels replaced by a short text, so
    that one such item is recorded rather than failing its batch.
    """
    try:
        return json.dumps(obj, separators=(",", ":"), ensure_ascii=False, default=_default)
    except (RecursionError, ValueError):
        clipped = jsonable(obj)
        return json.dumps(clipped, separators=(",", ":"), ensure_ascii=False, default=_default)


def json_loads(text: str | bytes) -> Any:
    """Parse JSON written by :func:`json_dumps`."""
    return json.loads(text)


def attrs_hash(json_text: str) -> int:
    """A stable, non-negative 63-bit hash of a JSON text (fits a signed BIGINT)."""
    digest = hashlib.blake2b(json_text.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") >> 1


def query_time_error(when: datetime, what: str) -> str | None:
    """Why ``when`` (aware) cannot bound a history query, or None when it can.

    Times before 1970 or from 2200 on are refused with a message naming ``what`` and the range,
    so that ``0001-01-01`` or ``9999-12-31`` answer 400 instead of overflowing further on.
    """
    try:
        in_range = QUERY_TIME_MIN <= when < QUERY_TIME_MAX
    except OverflowError:  # an offset that pushes it past datetime's own range
        in_range = False
    if in_range:
        return None
    return (
        f"{what} {when.isoformat()} is out of range: history covers "
        f"{QUERY_TIME_MIN.date().isoformat()} to {QUERY_TIME_MAX.date().isoformat()}"
    )
