"""Jinja2's filters that can build more than they were given, with their sizes checked first.

Each guard works out the size of what the filter would build from its arguments and refuses
(``OverflowError``) before anything is allocated; ``metered`` wraps every other filter so it
counts against the render's time and allocation budgets (``limits``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sized
from functools import wraps
from itertools import chain
from types import GeneratorType
from typing import Any

from jinja2 import pass_environment, pass_eval_context
from jinja2.exceptions import FilterArgumentError
from jinja2.filters import (
    do_batch,
    do_center,
    do_indent,
    do_max,
    do_min,
    do_pprint,
    do_replace,
    do_striptags,
    do_tojson,
    do_urlencode,
    do_urlize,
    do_wordwrap,
    ignore_case,
    make_attrgetter,
    make_multi_attrgetter,
    sync_do_join,
    sync_do_slice,
    sync_do_sum,
)
from jinja2.nodes import EvalContext

from .limits import (
    MAX_FIELD_WIDTH,
    MAX_PPRINT_WEIGHT,
    MAX_SLICES,
    MAX_SLOW_FILTER_TEXT,
    account,
    check_percent_format,
    check_size,
    check_width,
    metered_iter,
    text_bound,
    weight,
)
from .render_info import CURRENT, MAX_TEMPLATE_OUTPUT, MAX_VALUE_WEIGHT

_perf_counter = time.perf_counter

#: Filters that turn their first argument into text: it is measured before it is.
STRINGIFYING_FILTERS = frozenset(
    {
        "capitalize",
        "e",
        "escape",
        "forceescape",
        "lower",
        "safe",
        "string",
        "striptags",
        "title",
        "trim",
        "truncate",
        "upper",
        "urlencode",
        "wordcount",
        "base64_encode",
        "slugify",
    }
)


def _text(value: Any) -> str:
    text_bound(value)
    return str(value)


def _slow_text(value: Any, what: str) -> str:
    text = _text(value)
    check_size(len(text), what, MAX_SLOW_FILTER_TEXT)
    return text


def guarded_format(value: Any, *args: Any, **kwargs: Any) -> str:
    """Jinja2's ``format`` filter (``'%s' | format(x)``), with its text bounded first."""
    text = _text(value)
    values: Any = kwargs or args
    check_percent_format(text, values)
    result: str = text % values
    return result


def guarded_center(value: Any, width: int = 80) -> str:
    """Jinja2's ``center``, with a bounded width."""
    check_width(int(width), "center")
    return do_center(_text(value), width)


def guarded_indent(
    value: Any, width: int | str = 4, first: bool = False, blank: bool = False
) -> str:
    """Jinja2's ``indent``: every line grows by the indentation, so lines times width count."""
    text = _text(value)
    prefix = width if isinstance(width, str) else None
    if prefix is None:
        check_width(int(width), "indent")
    size = int(width) if prefix is None else len(prefix)
    check_size(len(text) + (text.count("\n") + 1) * size, "indent")
    return do_indent(text, width, first, blank)


@pass_eval_context
def guarded_join(
    eval_ctx: EvalContext, value: Iterable[Any], d: str = "", attribute: str | int | None = None
) -> str:
    """Jinja2's ``join``: the items' text is measured before it is joined."""
    items = list(metered_iter(value, 1))
    if attribute is not None:
        getter = make_attrgetter(eval_ctx.environment, attribute)
        items = [getter(item) for item in items]
    size = len(str(d)) * max(len(items) - 1, 0)
    for item in items:
        size += text_bound(item)
        check_size(size, "join")
    result: str = sync_do_join(eval_ctx, items, d)
    return result


@pass_eval_context
def guarded_replace(
    eval_ctx: EvalContext, s: Any, old: str, new: str, count: int | None = None
) -> str:
    """Jinja2's ``replace``, refusing to build a string longer than the limit."""
    text, old_text, new_text = _text(s), str(old), str(new)
    matches = text.count(old_text) if old_text else len(text) + 1
    if count is not None:
        matches = min(matches, int(count))
    check_size(len(text) + matches * len(new_text), "replace")
    result: str = do_replace(eval_ctx, text, old_text, new_text, count)
    return result


def guarded_batch(value: Iterable[Any], linecount: int, fill_with: Any = None) -> Iterator[Any]:
    """Jinja2's ``batch``: the batch size (filled up with ``fill_with``) is bounded."""
    size = int(linecount)
    check_size(size, "batch", MAX_VALUE_WEIGHT)
    if fill_with is not None:
        check_size(size * weight(fill_with), "batch", MAX_VALUE_WEIGHT)
    return do_batch(metered_iter(value, 1), size, fill_with)


def guarded_slice(value: Iterable[Any], slices: int, fill_with: Any = None) -> Iterator[Any]:
    """Jinja2's ``slice``: at most ``MAX_SLICES`` slices."""
    count = int(slices)
    check_size(count, "slice", MAX_SLICES)
    if fill_with is not None:
        check_size(count * weight(fill_with), "slice", MAX_VALUE_WEIGHT)
    cut: Iterator[Any] = sync_do_slice(list(metered_iter(value, 1)), count, fill_with)
    return cut


@pass_environment
def guarded_sum(
    environment: Any, iterable: Iterable[Any], attribute: str | int | None = None, start: Any = 0
) -> Any:
    """Jinja2's ``sum``; lists and tuples are concatenated once, after they are measured.

    Python's ``sum`` copies the partial result at every step: summing lists is quadratic.
    """
    if not isinstance(start, list | tuple):
        return sync_do_sum(environment, iterable, attribute, start)
    items = list(metered_iter(iterable, 1))
    if attribute is not None:
        getter = make_attrgetter(environment, attribute)
        items = [getter(item) for item in items]
    total = weight(start)
    for item in items:
        if not isinstance(item, type(start)):
            raise TypeError(
                f"can only concatenate {type(start).__name__} (not {type(item).__name__})"
            )
        total += weight(item)
        check_size(total, "sum", MAX_VALUE_WEIGHT)
    return type(start)(chain(start, *items))


@pass_environment
def guarded_wordwrap(  # noqa: PLR0917 - Jinja2's filter signature
    environment: Any,
    s: Any,
    width: int = 79,
    break_long_words: bool = True,
    wrapstring: str | None = None,
    break_on_hyphens: bool = True,
) -> str:
    """Jinja2's ``wordwrap``: every new line adds ``wrapstring``; lines times it are bounded."""
    text = _slow_text(s, "wordwrap")
    wrap = environment.newline_sequence if wrapstring is None else str(wrapstring)
    lines = 2 * len(text) // max(int(width), 1) + text.count("\n") + 1
    check_size(len(text) + lines * len(wrap), "wordwrap")
    result: str = do_wordwrap(environment, text, width, break_long_words, wrap, break_on_hyphens)
    return result


def guarded_pprint(value: Any) -> str:
    """Jinja2's ``pprint``, for values up to ``MAX_PPRINT_WEIGHT`` (it is slow pure Python)."""
    check_size(weight(value), "pprint", MAX_PPRINT_WEIGHT)
    return do_pprint(value)


@pass_eval_context
def guarded_tojson(eval_ctx: EvalContext, value: Any, indent: int | None = None) -> Any:
    """Jinja2's ``tojson``, with its text bounded first."""
    if indent is not None:
        check_width(int(indent), "tojson")
    text_bound(value, json=True)
    return do_tojson(eval_ctx, value, indent)


@pass_eval_context
def guarded_urlize(  # noqa: PLR0917 - Jinja2's filter signature
    eval_ctx: EvalContext,
    value: Any,
    trim_url_limit: int | None = None,
    nofollow: bool = False,
    target: str | None = None,
    rel: str | None = None,
    extra_schemes: Iterable[str] | None = None,
) -> str:
    """Jinja2's ``urlize``: the attributes added to every link are bounded."""
    for extra in (target, rel):
        if extra is not None:
            check_width(len(str(extra)), "urlize")
    result: str = do_urlize(
        eval_ctx, _slow_text(value, "urlize"), trim_url_limit, nofollow, target, rel, extra_schemes
    )
    return result


def guarded_striptags(value: Any) -> str:
    """Jinja2's ``striptags``, for texts up to ``MAX_SLOW_FILTER_TEXT``."""
    return do_striptags(_slow_text(value, "striptags"))


def guarded_urlencode(value: Any) -> str:
    """Jinja2's ``urlencode``, for values up to ``MAX_SLOW_FILTER_TEXT`` characters of text."""
    if not isinstance(value, str):
        check_size(text_bound(value), "urlencode", MAX_SLOW_FILTER_TEXT)
        return do_urlencode(value)
    return do_urlencode(_slow_text(value, "urlencode"))


def _checkpointed(key: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """``key``, with a checkpoint of the render's time budget at every call."""
    state = CURRENT.get()
    if state is None:
        return key

    def checked(item: Any) -> Any:
        if _perf_counter() > state.deadline:
            state.checkpoint()
        return key(item)

    return checked


@pass_environment
def guarded_sort(
    environment: Any,
    value: Iterable[Any],
    reverse: bool = False,
    case_sensitive: bool = False,
    attribute: str | int | None = None,
) -> list[Any]:
    """Jinja2's ``sort``, with a checkpoint at every item and every key it computes."""
    key = make_multi_attrgetter(
        environment, attribute, postprocess=None if case_sensitive else ignore_case
    )
    return sorted(metered_iter(value, 1), key=_checkpointed(key), reverse=reverse)


def guarded_dictsort(
    value: Mapping[Any, Any],
    case_sensitive: bool = False,
    by: str = "key",
    reverse: bool = False,
) -> list[tuple[Any, Any]]:
    """Jinja2's ``dictsort``, with a checkpoint at every key it computes."""
    if by not in ("key", "value"):
        raise FilterArgumentError('You can only sort by either "key" or "value"')
    position = 0 if by == "key" else 1

    def sort_key(item: tuple[Any, Any]) -> Any:
        chosen = item[position]
        return chosen if case_sensitive else ignore_case(chosen)

    return sorted(value.items(), key=_checkpointed(sort_key), reverse=reverse)


@pass_environment
def guarded_min(
    environment: Any,
    value: Iterable[Any],
    case_sensitive: bool = False,
    attribute: str | int | None = None,
) -> Any:
    """Jinja2's ``min``, with a checkpoint at every item."""
    return do_min(environment, metered_iter(value, 0), case_sensitive, attribute)


@pass_environment
def guarded_max(
    environment: Any,
    value: Iterable[Any],
    case_sensitive: bool = False,
    attribute: str | int | None = None,
) -> Any:
    """Jinja2's ``max``, with a checkpoint at every item."""
    return do_max(environment, metered_iter(value, 0), case_sensitive, attribute)


def guarded_zip(*iterables: Iterable[Any]) -> Iterator[tuple[Any, ...]]:
    """``zip``, counting every tuple it builds against the render's budgets."""
    check_size(len(iterables), "zip", MAX_FIELD_WIDTH)
    if iterables and all(isinstance(item, Sized) for item in iterables):
        shortest = min(len(item) for item in iterables)  # type: ignore[arg-type]
        check_size(shortest * (len(iterables) + 1), "zip", MAX_VALUE_WEIGHT)
    return metered_iter(zip(*iterables, strict=False), len(iterables) + 1)


GUARDED_FILTERS: dict[str, Callable[..., Any]] = {
    "format": guarded_format,
    "center": guarded_center,
    "indent": guarded_indent,
    "join": guarded_join,
    "replace": guarded_replace,
    "batch": guarded_batch,
    "slice": guarded_slice,
    "sum": guarded_sum,
    "wordwrap": guarded_wordwrap,
    "pprint": guarded_pprint,
    "tojson": guarded_tojson,
    "urlize": guarded_urlize,
    "striptags": guarded_striptags,
    "urlencode": guarded_urlencode,
    "sort": guarded_sort,
    "dictsort": guarded_dictsort,
    "min": guarded_min,
    "max": guarded_max,
}


class NotRendering(RuntimeError):
    """A metered filter or test was called outside a render.

    Jinja2 evaluates filters of constants while it compiles (``'x' | batch(100000) | list``
    would be built then, outside every budget, and written into the compiled code): refusing
    makes it leave them to the render.
    """

    def __init__(self) -> None:
        super().__init__("template filters run only while a template renders")


def metered(func: Callable[..., Any], *, stringifies: bool) -> Callable[..., Any]:
    """Wrap a filter: a time checkpoint before, its result counted after.

    With ``stringifies`` its value argument is measured as text first. Outside a render it
    refuses to run (``NotRendering``).
    """
    offset = 1 if getattr(func, "jinja_pass_arg", None) is not None else 0

    @wraps(func)
    def run(*args: Any, **kwargs: Any) -> Any:
        state = CURRENT.get()
        if state is None:
            raise NotRendering
        if _perf_counter() > state.deadline:
            state.checkpoint()
        if stringifies and len(args) > offset and type(args[offset]) is not str:
            text_bound(args[offset])
        result = func(*args, **kwargs)
        if type(result) is GeneratorType:
            # A lazy filter (map, select, unique...) runs its Python code as it is consumed.
            return metered_iter(result, 0)
        return account(result)

    return run


def rendering_only(func: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap a test so that Jinja2 cannot run it while compiling (see ``NotRendering``)."""

    @wraps(func)
    def run(*args: Any, **kwargs: Any) -> Any:
        if CURRENT.get() is None:
            raise NotRendering
        return func(*args, **kwargs)

    return run


def check_output(value: Any) -> Any:
    """The environment's ``finalize``: measure a printed value before it becomes text."""
    kind = type(value)
    if kind is not str and kind is not int and kind is not float and kind is not bool:
        text_bound(value, MAX_TEMPLATE_OUTPUT)
    return value
