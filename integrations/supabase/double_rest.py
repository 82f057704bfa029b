"""PostgREST's query syntax over the real PostgreSQL, for the Supabase test double.

``parse_query`` turns a request's query string into a ``Query`` (the select list, the filters
``eq neq gt gte lt lte like ilike in is`` with ``not.`` and ``or=(…)``, the order, limit and
offset) and ``Query.sql`` renders it as one parameterised statement. Values are bound as text
and cast to each column's own type, so ``gt.10`` compares numbers on a numeric column and text on
a text column, as PostgREST does. Identifiers are checked against the table's real columns, so
nothing from the URL reaches the SQL unquoted.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

#: PostgREST operator -> SQL operator.
_OPS = {
    "eq": "=",
    "neq": "<>",
    "gt": ">",
    "gte": ">=",
    "lt": "<",
    "lte": "<=",
    "like": "LIKE",
    "ilike": "ILIKE",
}
_IS = {"null": "NULL", "true": "TRUE", "false": "FALSE", "unknown": "UNKNOWN"}
_RESERVED = frozenset({"select", "order", "limit", "offset", "or", "and", "on_conflict", "columns"})
IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")


class QueryError(ValueError):
    """A request PostgREST would refuse with 400 (``PGRST100``)."""

    def __init__(self, message: str, code: str = "PGRST100") -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True, slots=True)
class Condition:
    """One filter ``column=[not.]op.value``."""

    column: str
    op: str
    value: str
    negate: bool = False


@dataclass(frozen=True, slots=True)
class AnyOf:
    """An ``or=(…)`` group: any of its conditions."""

    conditions: tuple[Condition, ...]
    negate: bool = False


@dataclass(slots=True)
class Query:
    """A parsed PostgREST read."""

    table: str
    select: tuple[str, ...] = ("*",)
    where: list[Condition | AnyOf] = field(default_factory=list)
    order: list[tuple[str, bool, str | None]] = field(default_factory=list)
    limit: int | None = None
    offset: int = 0

    def _check(self, column: str, columns: dict[str, str]) -> str:
        if column not in columns:
            raise QueryError(f"column {self.table}.{column} does not exist", code="42703")
        return f'"{column}"'

    def _condition(self, cond: Condition, columns: dict[str, str], params: list[str]) -> str:
        col = self._check(cond.column, columns)
        kind = columns[cond.column]
        if cond.op == "is":
            value = _IS.get(cond.value.lower())
            if value is None:
                raise QueryError(f"is.{cond.value}: expected null, true, false or unknown")
            sql = f"{col} IS {value}"
        elif cond.op == "in":
            items = split_list(cond.value)
            if not items:
                sql = "FALSE"
            else:
                marks = []
                for item in items:
                    params.append(item)
                    marks.append(f"${len(params)}::text::{kind}")
                sql = f"{col} IN ({', '.join(marks)})"
        elif cond.op in _OPS:
            value = cond.value
            if cond.op in ("like", "ilike"):
                value = value.replace("*", "%")
                params.append(value)
                sql = f"{col}::text {_OPS[cond.op]} ${len(params)}"
            else:
                params.append(value)
                sql = f"{col} {_OPS[cond.op]} ${len(params)}::text::{kind}"
        else:
            raise QueryError(f"unknown operator {cond.op!r} on {cond.column}")
        return f"NOT ({sql})" if cond.negate else sql

    def where_sql(self, columns: dict[str, str], params: list[str]) -> str:
        """The WHERE clause (or an empty string), appending bound values to ``params``."""
        parts = []
        for item in self.where:
            if isinstance(item, AnyOf):
                inner = " OR ".join(
                    f"({self._condition(c, columns, params)})" for c in item.conditions
                )
                parts.append(f"NOT ({inner})" if item.negate else f"({inner})")
            else:
                parts.append(self._condition(item, columns, params))
        return f" WHERE {' AND '.join(parts)}" if parts else ""

    def sql(self, columns: dict[str, str]) -> tuple[str, str, list[str]]:
        """The rows statement (one JSON array), the count statement, and their parameters."""
        params: list[str] = []
        if self.select == ("*",):
            cols = "*"
        else:
            cols = ", ".join(self._check(c, columns) for c in self.select)
        where = self.where_sql(columns, params)
        order = ""
        if self.order:
            terms = []
            for column, descending, nulls in self.order:
                term = f"{self._check(column, columns)} {'DESC' if descending else 'ASC'}"
                if nulls is not None:
                    term += f" NULLS {nulls.upper()}"
                terms.append(term)
            order = f" ORDER BY {', '.join(terms)}"
        page = f" OFFSET {self.offset}"
        if self.limit is not None:
            page += f" LIMIT {self.limit}"
        rows = (
            f"SELECT coalesce(json_agg(t), '[]'::json)::text FROM "  # noqa: S608 - checked names
            f'(SELECT {cols} FROM public."{self.table}"{where}{order}{page}) t'
        )
        count = f'SELECT count(*) FROM public."{self.table}"{where}'  # noqa: S608 - checked names
        return rows, count, params


def split_list(text: str) -> list[str]:
    """The items of ``(a,b,"c,d")``: commas split, double quotes protect."""
    if not (text.startswith("(") and text.endswith(")")):
        raise QueryError(f"expected a parenthesised list, got {text!r}")
    items: list[str] = []
    current: list[str] = []
    quoted = False
    depth = 0
    for char in text[1:-1]:
        if char == '"':
            quoted = not quoted
        elif char == "(" and not quoted:
            depth += 1
            current.append(char)
        elif char == ")" and not quoted:
            depth -= 1
            current.append(char)
        elif char == "," and not quoted and depth == 0:
            items.append("".join(current))
            current = []
        else:
            current.append(char)
    if current or items:
        items.append("".join(current))
    return items


def parse_condition(column: str, text: str) -> Condition:
    """``[not.]op.value`` for ``column``."""
    negate = False
    if text.startswith("not."):
        negate, text = True, text[4:]
    op, dot, value = text.partition(".")
    if not dot:
        raise QueryError(f'"failed to parse filter ({text})" on {column}')
    if op not in _OPS and op not in ("in", "is"):
        raise QueryError(f"unknown operator {op!r} on {column}")
    return Condition(column, op, value, negate)


def _identifier(name: str) -> str:
    if not IDENT.match(name):
        raise QueryError(f"invalid column name {name!r}")
    return name


def parse_any_of(text: str, negate: bool = False) -> AnyOf:
    """``(a.eq.1,b.is.null)`` as an ``AnyOf``."""
    conditions = []
    for item in split_list(text):
        column, dot, rest = item.partition(".")
        if not dot:
            raise QueryError(f'"failed to parse logic tree ({text})"')
        conditions.append(parse_condition(_identifier(column), rest))
    return AnyOf(tuple(conditions), negate)


def parse_query(table: str, query: list[tuple[str, str]]) -> Query:
    """A ``Query`` from a request's query pairs (as ``MultiDict.items()`` gives them)."""
    parsed = Query(table=_identifier(table))
    for key, value in query:
        if key == "select":
            names = tuple(v.strip() for v in value.split(",") if v.strip())
            parsed.select = names if names != ("*",) else ("*",)
            if parsed.select != ("*",):
                for name in parsed.select:
                    _identifier(name)
        elif key in ("or", "not.or"):
            parsed.where.append(parse_any_of(value, negate=key == "not.or"))
        elif key == "order":
            for term in value.split(","):
                bits = term.strip().split(".")
                descending = "desc" in bits[1:]
                nulls = next((b[6:] for b in bits[1:] if b.startswith("nulls")), None)
                parsed.order.append((_identifier(bits[0]), descending, nulls))
        elif key in ("limit", "offset"):
            try:
                number = int(value)
            except ValueError as err:
                raise QueryError(f"{key}={value!r} is not a whole number") from err
            if number < 0:
                raise QueryError(f"{key} must not be negative")
            if key == "limit":
                parsed.limit = number
            else:
                parsed.offset = number
        elif key in _RESERVED:
            continue
        else:
            parsed.where.append(parse_condition(_identifier(key), value))
    return parsed
