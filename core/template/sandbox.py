"""The sandboxed Jinja2 environment templates compile and render in, and its resource limits.

Jinja2's ``ImmutableSandboxedEnvironment`` refuses attributes that start with ``_``, Python's
internal attributes (``mro``, ``__globals__``, frames and code objects), methods that change a
list or dict in place, and attribute escapes through ``str.format``. On top of it this module caps
what a runaway template can cost the event loop it renders on:

* ``range()`` holds at most ``MAX_RANGE`` items (Jinja2's own sandbox limit, as in Home
  Assistant), and one render runs at most ``MAX_LOOP_ITERATIONS`` loop iterations in all, so
  nested loops cannot multiply into billions;
* ``*``, ``+``, ``~``, ``**``, ``%``, ``str.format``, ``join``, ``replace`` and the padding
  filters and methods refuse to build a string or list longer than ``MAX_TEMPLATE_OUTPUT`` or an
  integer wider than ``MAX_INT_BITS``;
* the output of one render is at most ``MAX_TEMPLATE_OUTPUT`` characters.

A template that hits a limit fails with a ``TemplateError``, like any other render error.
"""

from __future__ import annotations

import logging
import math
import re
import string
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator
from functools import update_wrapper
from typing import Any

from jinja2 import Undefined, nodes, pass_eval_context
from jinja2.exceptions import SecurityError
from jinja2.filters import do_center, do_indent, do_replace, sync_do_join
from jinja2.nodes import EvalContext
from jinja2.runtime import Context
from jinja2.sandbox import ImmutableSandboxedEnvironment

from .render_info import CURRENT, MAX_TEMPLATE_OUTPUT, current

_LOGGER = logging.getLogger(__name__)

#: The widest integer ``**`` may build.
MAX_INT_BITS = 100_000
#: The widest field a format specification or a padding method may ask for.
MAX_FIELD_WIDTH = 10_000

_LOOP_GUARD = "edgewise_loop_guard"
_CONCAT_GUARD = "edgewise_concat"
_PERCENT_SPEC_RE = re.compile(r"%(?:\([^)]*\))?[#0\- +]*(\*|\d+)?(?:\.(\*|\d+))?")
_PADDING_METHODS = frozenset({"center", "ljust", "rjust", "zfill", "expandtabs"})


def _sized(value: object) -> int | None:
    if isinstance(value, str | list | tuple | bytes):
        return len(value)
    return None


def _check_size(size: int, what: str) -> None:
    if size > MAX_TEMPLATE_OUTPUT:
        raise OverflowError(
            f"{what} would build a value of {size:,} items, "
            f"more than the limit of {MAX_TEMPLATE_OUTPUT:,}"
        )


def _check_width(width: int, what: str) -> None:
    if width > MAX_FIELD_WIDTH:
        raise OverflowError(f"{what} asks for a width of {width:,}, more than {MAX_FIELD_WIDTH:,}")


def _check_percent_format(fmt: str) -> None:
    for match in _PERCENT_SPEC_RE.finditer(fmt):
        for part in match.groups():
            if part == "*":
                raise OverflowError("'%' formatting with '*' widths is not allowed in templates")
            if part is not None:
                _check_width(int(part), "'%' formatting")


def _check_brace_format(fmt: str, depth: int = 0) -> None:
    if depth > 2:
        raise OverflowError("format specification nested too deeply")
    for _, _, spec, _ in string.Formatter().parse(fmt):
        if spec:
            for number in re.findall(r"\d+", spec):
                _check_width(int(number), "format specification")
            if "{" in spec:
                _check_brace_format(spec, depth + 1)


def _guarded_format(value: Any, *args: Any, **kwargs: Any) -> str:
    """Jinja2's ``format`` filter (``'%s' | format(x)``), with bounded widths."""
    text = str(value)
    _check_percent_format(text)
    return text % (kwargs or args)


def _guarded_center(value: str, width: int = 80) -> str:
    _check_width(int(width), "center")
    return do_center(value, width)


def _guarded_indent(
    value: str, width: int | str = 4, first: bool = False, blank: bool = False
) -> str:
    if isinstance(width, int):
        _check_width(width, "indent")
    else:
        _check_size(len(width), "indent")
    return do_indent(value, width, first, blank)


def _check_join(items: list[Any], separator: str) -> None:
    size = sum(len(item) if isinstance(item, str) else 1 for item in items)
    _check_size(size + len(separator) * max(len(items) - 1, 0), "join")


@pass_eval_context
def _guarded_join(
    eval_ctx: EvalContext, value: Iterable[Any], d: str = "", attribute: str | int | None = None
) -> str:
    """Jinja2's ``join`` filter, refusing to build a string longer than the limit."""
    items = list(value)
    if attribute is None:
        _check_join(items, str(d))
    result: str = sync_do_join(eval_ctx, items, d, attribute)
    _check_size(len(result), "join")
    return result


@pass_eval_context
def _guarded_replace(
    eval_ctx: EvalContext, s: str, old: str, new: str, count: int | None = None
) -> str:
    """Jinja2's ``replace`` filter, refusing to build a string longer than the limit."""
    text, old_text, new_text = str(s), str(old), str(new)
    matches = text.count(old_text) if old_text else len(text) + 1
    if count is not None:
        matches = min(matches, int(count))
    _check_size(len(text) + matches * len(new_text), "replace")
    result: str = do_replace(eval_ctx, s, old, new, count)
    return result


def _loop_guard(iterable: Iterable[Any]) -> Iterator[Any]:
    """Wraps the iterable of every ``for`` loop: counts its iterations against the budget."""
    return current().count(iterable)


def _concat_guard(parts: list[Any]) -> str:
    """The ``~`` operator, refusing to build a string longer than ``MAX_TEMPLATE_OUTPUT``."""
    texts = [str(part) for part in parts]
    _check_size(sum(map(len, texts)), "'~'")
    return "".join(texts)


def _guard_tree(tree: nodes.Template) -> nodes.Template:
    """Route every ``for`` loop and ``~`` of a parsed template through the guards above."""
    for loop in tree.find_all(nodes.For):
        loop.iter = nodes.Filter(loop.iter, _LOOP_GUARD, [], [], None, None, lineno=loop.lineno)
    for concat in list(tree.find_all(nodes.Concat)):
        # A Concat node cannot become a Filter in place; make it concatenate one guarded string.
        joined = nodes.List(list(concat.nodes), lineno=concat.lineno)
        concat.nodes = [nodes.Filter(joined, _CONCAT_GUARD, [], [], None, None)]
    return tree


#: How many (template, message) pairs are remembered so each undefined variable warns once.
_WARNED_SIZE = 1024
_warned: OrderedDict[tuple[str, str], None] = OrderedDict()


class WarningUndefined(Undefined):
    """An undefined value that renders as an empty string and logs a warning.

    Each template warns once per undefined name (then at debug level), so a value template run
    for every MQTT message does not fill the log. Arithmetic with it fails, as with Jinja2's
    default ``Undefined``. In a strict render (``Template.render(strict=True)``) printing,
    testing, iterating or comparing it fails too, as with Jinja2's ``StrictUndefined``.
    """

    __slots__ = ()

    def _strict(self) -> bool:
        state = CURRENT.get()
        return state is not None and state.strict

    def __str__(self) -> str:
        state = CURRENT.get()
        if state is None:
            return ""
        if state.strict:
            self._fail_with_undefined_error()
        key = (state.label, self._undefined_message)
        if key in _warned:
            _LOGGER.debug("Template variable warning: %s when rendering %s", *reversed(key))
            return ""
        _warned[key] = None
        if len(_warned) > _WARNED_SIZE:
            _warned.popitem(last=False)
        _LOGGER.warning("Template variable warning: %s when rendering %s", *reversed(key))
        return ""

    def __iter__(self) -> Iterator[Any]:
        if self._strict():
            self._fail_with_undefined_error()
        return iter(())

    def __bool__(self) -> bool:
        if self._strict():
            self._fail_with_undefined_error()
        return False

    def __len__(self) -> int:
        if self._strict():
            self._fail_with_undefined_error()
        return 0

    def __eq__(self, other: object) -> bool:
        if self._strict():
            self._fail_with_undefined_error()
        return type(self) is type(other)

    def __ne__(self, other: object) -> bool:
        return not self.__eq__(other)

    def __hash__(self) -> int:
        if self._strict():
            self._fail_with_undefined_error()
        return id(type(self))


class TemplateEnvironment(ImmutableSandboxedEnvironment):
    """Jinja2's immutable sandbox with Edgewise's helpers and resource limits (module doc)."""

    intercepted_binops = frozenset({"*", "**", "+", "%"})

    def __init__(self) -> None:
        super().__init__(undefined=WarningUndefined, autoescape=False, keep_trailing_newline=False)
        # lipsum() builds as many paragraphs as asked for; nobody needs it in an automation.
        self.globals.pop("lipsum", None)
        self.filters["format"] = _guarded_format
        self.filters["center"] = _guarded_center
        self.filters["indent"] = _guarded_indent
        self.filters["join"] = _guarded_join
        self.filters["replace"] = _guarded_replace
        self.filters[_LOOP_GUARD] = _loop_guard
        self.filters[_CONCAT_GUARD] = _concat_guard

    def compile_guarded(self, source: str) -> Any:
        """Parse ``source``, guard its loops and concatenations, and compile it.

        Raises:
            jinja2.TemplateSyntaxError: ``source`` is not a valid template.
        """
        return self.from_string(_guard_tree(self.parse(source)))

    def unsafe_undefined(self, obj: Any, attribute: str) -> Undefined:
        """Refuse an unsafe attribute at once, instead of rendering it as an empty string.

        Raises:
            SecurityError: always.
        """
        raise SecurityError(
            f"access to attribute {attribute!r} of {type(obj).__name__!r} object is not allowed"
        )

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        """Apply ``operator``, refusing results past the limits in the module doc."""
        if operator == "*":
            if isinstance(left, int) and isinstance(right, int):
                width = abs(left).bit_length() + abs(right).bit_length()
                if width > MAX_INT_BITS:
                    raise OverflowError(f"'*' would build a number of about {width:,} bits")
            for seq, times in ((left, right), (right, left)):
                size = _sized(seq)
                if size is not None and isinstance(times, int):
                    _check_size(size * times, "'*'")
        elif operator == "+":
            left_size, right_size = _sized(left), _sized(right)
            if left_size is not None and right_size is not None:
                _check_size(left_size + right_size, "'+'")
        elif operator == "**":
            if isinstance(left, int) and isinstance(right, int) and abs(left) > 1 and right > 0:
                bits = right * math.log2(abs(left))
                if bits > MAX_INT_BITS:
                    raise OverflowError(f"'**' would build a number of about {bits:,.0f} bits")
        elif operator == "%" and isinstance(left, str):
            _check_percent_format(left)
        return super().call_binop(context, operator, left, right)

    def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
        """Sandbox ``str.format`` as Jinja2 does, and bound the widths it may ask for."""
        wrapped = super().wrap_str_format(value)
        if wrapped is None:
            return None
        fmt = value.__self__

        def checked(*args: Any, **kwargs: Any) -> str:
            _check_brace_format(fmt)
            return wrapped(*args, **kwargs)

        return update_wrapper(checked, value)

    def call(
        __self,  # Jinja2's own signature: the names must not clash with kwargs
        __context: Context,
        __obj: Any,
        *args: Any,
        **kwargs: Any,
    ) -> Any:
        """Call ``__obj`` from template code; bound the padding and ``replace`` methods of str."""
        owner = getattr(__obj, "__self__", None)
        if isinstance(owner, str):
            name = getattr(__obj, "__name__", "")
            if name in _PADDING_METHODS:
                for arg in args:
                    if isinstance(arg, int):
                        _check_width(arg, f"str.{name}")
            elif name == "replace" and len(args) >= 2:
                old, new = str(args[0]), str(args[1])
                count = owner.count(old) if old else len(owner) + 1
                _check_size(len(owner) + count * len(new), "str.replace")
            elif name == "join" and args:
                items = args[0]
                if isinstance(items, list | tuple):
                    _check_join(list(items), owner)
        return super().call(__context, __obj, *args, **kwargs)
