"""Size guards that run before a template builds a value, and the meter of what a render built.

Two measures bound what a template can cost before anything is allocated:

* ``weight``: the items of containers plus the characters of strings (a list that holds the same
  list twice weighs it twice, because printing, comparing or flattening it walks it twice). No
  value a render builds may weigh more than ``MAX_VALUE_WEIGHT``, and all a render builds together
  at most ``MAX_RENDER_ALLOCATION`` (``RenderState.allocate``);
* ``text_bound``: an upper bound of the length of ``str(value)``, taken before anything turns a
  value into text (the output, ``~``, ``join``, ``format``, the string filters).

The walks stop as soon as a limit is passed, so measuring costs at most the limit, never the size
the attacker asked for.
"""

from __future__ import annotations

import json as _json
import re
from collections.abc import Iterable, Iterator, Mapping
from datetime import date, datetime, time, timedelta
from itertools import chain
from typing import Any

from jinja2 import Undefined
from jinja2.utils import Namespace

from .render_info import CURRENT, MAX_TEMPLATE_OUTPUT, MAX_VALUE_WEIGHT

#: The widest field a format specification or a padding method may ask for.
MAX_FIELD_WIDTH = 10_000
#: The most slices ``slice`` may cut a sequence into.
MAX_SLICES = 10_000
#: The heaviest value ``pprint`` formats (the pretty printer is slow pure Python).
MAX_PPRINT_WEIGHT = 10_000
#: The longest text the filters that work word by word or tag by tag in pure Python (``wordwrap``,
#: ``urlize``, ``striptags``, ``urlencode``) take: they cannot be stopped once they run.
MAX_SLOW_FILTER_TEXT = 16 * 1024
#: How much longer than its format ``strftime`` may make a text (``%c`` is 12 times longer).
STRFTIME_GROWTH = 32
#: The longest regular expression a template may use.
MAX_PATTERN_LENGTH = 4096
#: The most states a regular expression may compile to, counting repeats (``(a{1000}){1000}``
#: takes seconds to compile, before any timeout applies).
MAX_PATTERN_EXPANSION = 100_000

_ATOMS = frozenset({float, bool, type(None), complex, date, datetime, time, timedelta})
_SEQUENCES = (list, tuple, set, frozenset)
_FLAT = _ATOMS | {int}
_STR_ONLY = frozenset({str})
_FLAT_TEXT = _FLAT | {str}
_PERCENT_SPEC_RE = re.compile(r"%(?:\(([^)]*)\))?[#0\- +]*(\*|\d+)?(?:\.(\*|\d+))?([a-zA-Z%])?")
_SPEC_NUMBER_RE = re.compile(r"\d+")
_REPEAT_RE = re.compile(r"\{(\d*)(?:,(\d*))?\}")


def check_size(size: int, what: str, limit: int = MAX_TEMPLATE_OUTPUT) -> None:
    """Refuse an operation that would build ``size`` items or characters, past ``limit``.

    Raises:
        OverflowError: ``size`` is past the limit.
    """
    if size > limit:
        raise OverflowError(
            f"{what} would build a value of {size:,} items, more than the limit of {limit:,}"
        )


def check_width(width: int, what: str) -> None:
    """Refuse a field width past ``MAX_FIELD_WIDTH``.

    Raises:
        OverflowError: the width is past the limit.
    """
    if width > MAX_FIELD_WIDTH:
        raise OverflowError(f"{what} asks for a width of {width:,}, more than {MAX_FIELD_WIDTH:,}")


# --- measures ----------------------------------------------------------------------------------


def weight(value: Any, limit: int = MAX_VALUE_WEIGHT, what: str = "the template") -> int:
    """The weight of ``value`` (module doc), refusing once it passes ``limit``.

    A container held several times is walked once and counted each time. Iterators and
    generators weigh 1: they are measured as their items are built.

    Raises:
        OverflowError: ``value`` weighs more than ``limit``.
    """
    kind = type(value)
    if kind is str or kind is bytes:
        total = len(value) + 1
    elif kind in _ATOMS or kind is int:
        return 1
    else:
        total = _weigh(value, limit, {})
    if total > limit:
        raise OverflowError(f"{what} would build a value heavier than the limit of {limit:,}")
    return total


def _weigh(item: Any, limit: int, seen: dict[int, int]) -> int:
    """The weight of a container; more than ``limit`` once past it (the walk stops there)."""
    known = seen.get(id(item))
    if known is not None:
        return known
    if isinstance(item, dict):
        total = 1 + len(item)
        children: Iterable[Any] = chain(item.keys(), item.values())
    elif isinstance(item, _SEQUENCES):
        total = 1 + len(item)
        if total > limit:
            return total
        # Most lists hold numbers or strings only: measure those at C speed.
        kinds = set(map(type, item))
        if kinds <= _FLAT:
            seen[id(item)] = total
            return total
        if kinds == _STR_ONLY:
            total += sum(map(len, item))
            seen[id(item)] = total
            return total
        children = item
    elif type(item) is Namespace:
        total = 1
        children = (object.__getattribute__(item, "_Namespace__attrs"),)
    elif isinstance(item, str | bytes | bytearray):
        return len(item) + 1
    else:
        return 1
    if total > limit:
        return total
    state = CURRENT.get()
    if state is not None:
        state.checkpoint()
    for child in children:
        kind = type(child)
        if kind is str:
            total += len(child)
        elif kind not in _ATOMS and kind is not int:
            total += _weigh(child, limit - total, seen) - 1
            if total > limit:
                return total
    seen[id(item)] = total
    return total


def _quoted_length(text: str, json: bool) -> int:
    if text.isascii() and text.isprintable():
        return len(text) + 2 + text.count("\\") + text.count('"' if json else "'")
    return len(text) * (12 if json else 10) + 2


def _atom_length(value: Any, json: bool) -> int:
    kind = type(value)
    if kind is int:
        return int(value.bit_length()) // 3 + 2
    if kind is float or kind is bool or value is None:
        return 24
    if json and kind in _ATOMS:
        return 40  # datetimes as ISO 8601, timedeltas as seconds
    return len(str(value) if json else repr(value))


def text_bound(value: Any, limit: int = MAX_TEMPLATE_OUTPUT, *, json: bool = False) -> int:
    """An upper bound of ``len(str(value))`` (of the JSON text with ``json``), up to ``limit``.

    Raises:
        OverflowError: the text would be longer than ``limit``.
    """
    kind = type(value)
    if kind is str and not json:
        total = len(value)
    elif kind is str or kind in _ATOMS or kind is int:
        total = _quoted_length(value, json) if kind is str else _atom_length(value, json)
    else:
        total = _container_text(value, limit, json)
    if total > limit:
        raise OverflowError(
            f"the template would make a text of more than {limit:,} characters from a value"
        )
    return total


def _container_text(value: Any, limit: int, json: bool, seen: dict[int, int] | None = None) -> int:
    """An upper bound of a container's text; more than ``limit`` once past it."""
    seen = {} if seen is None else seen
    known = seen.get(id(value))
    if known is not None:
        return known
    # Every item costs its own text plus a separator and, for pretty JSON, an indented new line.
    per_item = 16 if json else 2
    if isinstance(value, dict):
        total = 2 + len(value) * (per_item + 2)
        children: Iterable[Any] = chain(value.keys(), value.values())
    elif isinstance(value, _SEQUENCES):
        total = 12 + len(value) * per_item
        if total > limit:
            return total
        if set(map(type, value)) <= _FLAT_TEXT:
            # Numbers and strings only: Python's own text of it, at C speed. Its weight is
            # bounded, so the text is at most a few megabytes.
            text = _json.dumps(list(value), default=str) if json else repr(value)
            seen[id(value)] = len(text)
            return len(text)
        children = value
    elif type(value) is Namespace:
        total = 12
        children = (object.__getattribute__(value, "_Namespace__attrs"),)
    elif isinstance(value, Undefined):
        return 0  # prints as nothing (or fails, in a strict render) when it is printed
    else:
        return len(str(value)) + 2
    state = CURRENT.get()
    if state is not None:
        state.checkpoint()
    for child in children:
        if total > limit:
            return total
        kind = type(child)
        if kind is str:
            total += _quoted_length(child, json)
        elif kind in _ATOMS or kind is int:
            total += _atom_length(child, json)
        else:
            total += _container_text(child, limit - total, json, seen)
    seen[id(value)] = total
    return total


# --- the meter ---------------------------------------------------------------------------------


def account(result: Any) -> Any:
    """Count ``result`` against the render's allocation budget; return it.

    Raises:
        OverflowError: the result, or all the render built, is past its limit.
    """
    state = CURRENT.get()
    if state is None:
        return result
    kind = type(result)
    if kind is str:
        state.allocate(len(result))
    elif kind in _ATOMS or kind is int:
        pass
    elif isinstance(result, dict | list | tuple | set | frozenset | bytes):
        state.allocate(weight(result))
    return result


def metered_iter(iterable: Iterable[Any], width: int) -> Iterator[Any]:
    """Iterate ``iterable``, counting ``width`` units and a checkpoint per item."""
    state = CURRENT.get()
    for item in iterable:
        if state is not None:
            state.checkpoint()
            state.allocate(width)
        yield item


# --- formats -----------------------------------------------------------------------------------


def check_percent_format(fmt: str, args: Any) -> None:
    """Refuse ``fmt % args`` when its text would be longer than the output limit.

    Raises:
        OverflowError: a width is too large, ``*`` widths are used, or the text is too long.
    """
    total = len(fmt)
    position = 0
    for match in _PERCENT_SPEC_RE.finditer(fmt):
        key, width, precision, conversion = match.groups()
        if conversion == "%":
            continue
        for part in (width, precision):
            if part == "*":
                raise OverflowError("'%' formatting with '*' widths is not allowed in templates")
            if part is not None:
                check_width(int(part), "'%' formatting")
                total += int(part)
        if key is not None and isinstance(args, Mapping):
            arg = args.get(key, "")
        elif isinstance(args, tuple):
            arg = args[position] if position < len(args) else ""
            position += 1
        else:
            arg = args
        total += text_bound(arg, json=conversion in ("r", "a"))
        check_size(total, "'%' formatting")


def check_brace_format(fmt: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    """Refuse ``fmt.format(*args, **kwargs)`` when its text would be longer than the limit.

    Nested replacement fields in a specification (``'{0:{1}}'``) are refused: their width is only
    known while Python formats, too late to refuse it.

    Raises:
        OverflowError: a width is too large, a field is nested, or the text is too long.
    """
    import string  # noqa: PLC0415 - only format() in a template needs it

    total = 0
    auto = 0
    for literal, name, spec, conversion in string.Formatter().parse(fmt):
        total += len(literal)
        if name is None:
            continue
        if spec and "{" in spec:
            raise OverflowError("nested fields in a format specification are not allowed")
        for number in _SPEC_NUMBER_RE.findall(spec or ""):
            check_width(int(number), "format specification")
            total += int(number)
        base = re.split(r"[.\[]", name, maxsplit=1)[0]
        if base == "":
            arg = args[auto] if auto < len(args) else ""
            auto += 1
        elif base.isdigit():
            arg = args[int(base)] if int(base) < len(args) else ""
        else:
            arg = kwargs.get(base, "")
        total += text_bound(arg, json=conversion in ("r", "a"))
        check_size(total, "format")


# --- regular expressions -------------------------------------------------------------------------


def check_pattern(pattern: str) -> None:
    """Refuse a regular expression that is too long, or whose repeats expand too far.

    The expansion is the pattern's size with every counted repeat (``{n}``, ``{m,n}``) written
    out, nested repeats multiplying: the regex engine compiles them that way, in time that no
    timeout interrupts.

    Raises:
        OverflowError: the pattern is too long or expands too far.
    """
    if len(pattern) > MAX_PATTERN_LENGTH:
        raise OverflowError(
            f"the regular expression is {len(pattern):,} characters long, "
            f"more than {MAX_PATTERN_LENGTH:,}"
        )
    if "{" not in pattern:
        return
    # One running size per open group; an atom's size is multiplied by the repeat after it.
    sizes = [0]
    last = 0
    index = 0
    while index < len(pattern):
        char = pattern[index]
        if char == "\\":
            last = 1
            index += 2
            continue
        if char == "[":
            end = index + 1
            if end < len(pattern) and pattern[end] == "^":
                end += 1
            if end < len(pattern) and pattern[end] == "]":
                end += 1
            while end < len(pattern) and pattern[end] != "]":
                end += 2 if pattern[end] == "\\" else 1
            last = 1
            sizes[-1] += 1
            index = end + 1
            continue
        if char == "(":
            sizes.append(0)
            last = 0
        elif char == ")":
            last = max(sizes.pop(), 1) if len(sizes) > 1 else 1
            sizes[-1] += last
        elif char == "{" and (repeat := _REPEAT_RE.match(pattern, index)):
            low, high = repeat.groups()
            count = int(high or low or 0) if repeat.group(0) != "{}" else 1
            sizes[-1] += last * (max(count, 1) - 1)
            if sizes[-1] > MAX_PATTERN_EXPANSION:
                raise OverflowError(
                    "the regular expression repeats too much "
                    f"(more than {MAX_PATTERN_EXPANSION:,} states written out)"
                )
            index = repeat.end()
            continue
        elif char not in "*+?|":
            last = 1
            sizes[-1] += 1
        index += 1
