"""Row filters in PostgREST/Realtime syntax (``column=op.value``), parsed and matched in Python.

Realtime evaluates one filter server-side; Edgewise evaluates every configured filter on each
change too, so a change the server let through for a wider filter never becomes a state. The
double's Realtime uses the same matcher. Operators: ``eq neq gt gte lt lte in is``.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any

OPERATORS = ("eq", "neq", "gt", "gte", "lt", "lte", "in", "is")
#: The operators Realtime accepts in a ``postgres_changes`` filter.
REALTIME_OPERATORS = ("eq", "neq", "gt", "gte", "lt", "lte", "in")


def split_list(text: str) -> list[str]:
    """The items of ``(a,b,"c,d")``: commas split, double quotes protect.

    Raises:
        ValueError: not a parenthesised list.
    """
    if not (text.startswith("(") and text.endswith(")")):
        raise ValueError(f"expected a parenthesised list, got {text!r}")
    items: list[str] = []
    current: list[str] = []
    quoted = False
    for char in text[1:-1]:
        if char == '"':
            quoted = not quoted
        elif char == "," and not quoted:
            items.append("".join(current))
            current = []
        else:
            current.append(char)
    if current or items:
        items.append("".join(current))
    return items


@dataclass(frozen=True, slots=True)
class RowFilter:
    """``column=op.value``."""

    column: str
    op: str
    value: str

    @classmethod
    def parse(cls, text: str) -> RowFilter:
        """Parse ``column=op.value``.

        Raises:
            ValueError: malformed, or an unknown operator.
        """
        column, eq, rest = text.partition("=")
        op, dot, value = rest.partition(".")
        if not (column and eq and dot):
            raise ValueError(f"expected column=op.value, got {text!r}")
        if op not in OPERATORS:
            raise ValueError(f"unknown operator {op!r} in {text!r}; use one of {OPERATORS}")
        if op == "in":
            split_list(value)
        if op == "is" and value.lower() not in ("null", "true", "false"):
            raise ValueError(f"is.{value}: expected null, true or false")
        return cls(column, op, value)

    def __str__(self) -> str:
        return f"{self.column}={self.op}.{self.value}"

    @property
    def query(self) -> tuple[str, str]:
        """The filter as a PostgREST query parameter."""
        return self.column, f"{self.op}.{self.value}"

    def matches(self, row: dict[str, Any]) -> bool:
        """Whether ``row`` passes (a row without the column does not)."""
        if self.column not in row:
            return False
        return compare(row[self.column], self.op, self.value)


def _coerce(actual: Any, text: str) -> Any:
    if isinstance(actual, bool):
        return text.lower() == "true"
    if isinstance(actual, int | float):
        return float(text)
    return text


def compare(actual: Any, op: str, wanted: str) -> bool:
    """Whether ``actual`` (a JSON value from a row) satisfies ``op.wanted``."""
    if op == "is":
        word = wanted.lower()
        return actual is None if word == "null" else actual is (word == "true")
    if actual is None:
        return False
    try:
        if op == "in":
            return any(actual == _coerce(actual, w) for w in split_list(wanted))
        value = _coerce(actual, wanted)
    except ValueError:
        return False
    if isinstance(actual, bool):
        pass
    elif isinstance(actual, int | float):
        with contextlib.suppress(OverflowError):  # an int past a float compares exactly as is
            actual = float(actual)
    else:
        actual = str(actual)
    if op == "eq":
        return bool(actual == value)
    if op == "neq":
        return bool(actual != value)
    try:
        if op == "gt":
            return bool(actual > value)
        if op == "gte":
            return bool(actual >= value)
        if op == "lt":
            return bool(actual < value)
        if op == "lte":
            return bool(actual <= value)
    except TypeError:
        return False
    return False
