"""The sandboxed Jinja2 environment templates compile and render in, and its resource limits.

Jinja2's ``ImmutableSandboxedEnvironment`` refuses attributes that start with ``_``, Python's
internal attributes (``mro``, ``__globals__``, frames and code objects), methods that change a
list or dict in place, and attribute escapes through ``str.format``. On top of it this module caps
what a runaway template can cost the event loop it renders on:

* time: every call, attribute, operator, filter and loop iteration is a checkpoint of the render's
  time budget (``RenderState.checkpoint``), so a render stops once its budget is spent; the
  operations that run in C (regular expressions, string building) are bounded in size beforehand
  or given the remaining budget as their timeout;
* memory: ``range()`` holds at most ``MAX_RANGE`` items (Jinja2's own sandbox limit, as in Home
  Assistant), and one render runs at most ``MAX_LOOP_ITERATIONS`` loop iterations in all;
  ``*``, ``+``, ``~``, ``**``, ``%``, ``str.format``, the string methods and the filters that can
  amplify (``guarded``) work out the size of what they would build and refuse before building
  it; every literal, call result and filter result is counted against the render's allocation
  budget (``limits``);
* the output of one render is at most ``MAX_TEMPLATE_OUTPUT`` characters, and a value is
  measured before it is printed.

A template that hits a limit fails with a ``TemplateError``, like any other render error.
"""

from __future__ import annotations

import logging
import math
import time as time_module
import types
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator
from datetime import date, time
from functools import update_wrapper
from typing import Any

from jinja2 import Undefined, nodes
from jinja2.exceptions import SecurityError
from jinja2.runtime import Context
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.visitor import NodeTransformer

from .guarded import (
    GUARDED_FILTERS,
    STRINGIFYING_FILTERS,
    check_output,
    metered,
    rendering_only,
)
from .limits import (
    STRFTIME_GROWTH,
    account,
    check_brace_format,
    check_percent_format,
    check_size,
    check_width,
    metered_iter,
    text_bound,
    weight,
)
from .render_info import CURRENT, MAX_VALUE_WEIGHT, current

_LOGGER = logging.getLogger(__name__)

#: The widest integer ``**`` may build.
MAX_INT_BITS = 100_000

_LOOP_GUARD = "edgewise_loop_guard"
_CONCAT_GUARD = "edgewise_concat"
_BUILT_GUARD = "edgewise_built"
#: Tests that can take long: Jinja2 must not run them on constants while compiling.
_COSTLY_TESTS = ("match", "search")
_PADDING_METHODS = frozenset({"center", "ljust", "rjust", "zfill"})
_TEXT_TYPES = (str, bytes, bytearray)
_BUILTIN_METHOD: type = types.BuiltinMethodType
#: Results that are no allocation worth counting.
_UNCOUNTED = frozenset({bool, int, float, type(None)})
_perf_counter = time_module.perf_counter


def _sized(value: object) -> int | None:
    if isinstance(value, str | list | tuple | bytes):
        return len(value)
    return None


def _loop_guard(iterable: Iterable[Any]) -> Iterator[Any]:
    """Wraps the iterable of every ``for`` loop: counts its iterations against the budget."""
    return current().count(iterable)


def _concat_guard(parts: list[Any]) -> str:
    """The ``~`` operator, refusing to build a string longer than ``MAX_TEMPLATE_OUTPUT``."""
    size = 0
    for part in parts:
        size += len(part) if type(part) is str else text_bound(part)
        check_size(size, "'~'")
    text = "".join([str(part) for part in parts])
    account(text)
    return text


class _Guards(NodeTransformer):
    """Route every literal, ``for`` loop and ``~`` of a parsed template through the guards."""

    def _built(self, node: nodes.Expr) -> nodes.Expr:
        self.generic_visit(node)
        return nodes.Filter(node, _BUILT_GUARD, [], [], None, None, lineno=node.lineno)

    def visit_List(self, node: nodes.List) -> nodes.Expr:
        return self._built(node)

    def visit_Dict(self, node: nodes.Dict) -> nodes.Expr:
        return self._built(node)

    def visit_Tuple(self, node: nodes.Tuple) -> nodes.Expr:
        if node.ctx != "load":
            self.generic_visit(node)
            return node
        return self._built(node)

    def visit_For(self, node: nodes.For) -> nodes.Node:
        self.generic_visit(node)
        node.iter = nodes.Filter(node.iter, _LOOP_GUARD, [], [], None, None, lineno=node.lineno)
        return node

    def visit_Concat(self, node: nodes.Concat) -> nodes.Node:
        self.generic_visit(node)
        # A Concat node cannot become a Filter in place; make it concatenate one guarded string.
        joined = nodes.List(list(node.nodes), lineno=node.lineno)
        node.nodes = [nodes.Filter(joined, _CONCAT_GUARD, [], [], None, None)]
        return node


def _guard_tree(tree: nodes.Template) -> nodes.Template:
    """Route every literal, ``for`` loop and ``~`` of a parsed template through the guards."""
    guarded: nodes.Template = _Guards().visit(tree)
    return guarded


def _check_str_method(
    owner: str | bytes | bytearray, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """Refuse a call of a string method that would build more than the limit.

    Returns:
        The arguments to call it with (an iterable to ``join`` is made a list first).
    """
    if name in _PADDING_METHODS:
        for arg in args:
            if isinstance(arg, int):
                check_width(arg, f"str.{name}")
    elif name == "expandtabs":
        tabsize = args[0] if args else kwargs.get("tabsize", 8)
        if isinstance(tabsize, int):
            check_width(tabsize, "str.expandtabs")
            tabs = owner.count("\t") if isinstance(owner, str) else owner.count(b"\t")
            check_size(len(owner) + tabs * max(tabsize, 0), "str.expandtabs")
    elif name == "replace" and len(args) >= 2:
        old, new = args[0], args[1]
        if isinstance(old, _TEXT_TYPES) and isinstance(new, _TEXT_TYPES):
            count = owner.count(old) if old else len(owner) + 1  # type: ignore[arg-type]
            if len(args) > 2 and isinstance(args[2], int) and args[2] >= 0:
                count = min(count, args[2])
            check_size(len(owner) + count * len(new), "str.replace")
    elif name == "join" and args:
        items = list(metered_iter(args[0], 1))
        size = len(owner) * max(len(items) - 1, 0)
        for item in items:
            size += len(item) if isinstance(item, _TEXT_TYPES) else 1
            check_size(size, "join")
        args = (items, *args[1:])
    elif name == "translate" and args and isinstance(args[0], dict):
        longest = max(
            (len(value) for value in args[0].values() if isinstance(value, _TEXT_TYPES)),
            default=1,
        )
        check_size(len(owner) * max(longest, 1), "str.translate")
    return args, kwargs


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
        super().__init__(
            undefined=WarningUndefined,
            autoescape=False,
            keep_trailing_newline=False,
            finalize=check_output,
        )
        # lipsum() builds as many paragraphs as asked for; nobody needs it in an automation.
        self.globals.pop("lipsum", None)
        self.filters.update(GUARDED_FILTERS)
        self.filters[_LOOP_GUARD] = _loop_guard
        self.filters[_CONCAT_GUARD] = _concat_guard
        self.filters[_BUILT_GUARD] = account

    def install_meters(self, unmetered: Iterable[str]) -> None:
        """Wrap every filter except ``unmetered`` (and the guards) in ``guarded.metered``.

        The unmetered ones return numbers, booleans or values that already exist, and run in
        hot templates: they skip the wrapper's cost.
        """
        skip = {*unmetered, _LOOP_GUARD, _CONCAT_GUARD, _BUILT_GUARD}
        for name, func in list(self.filters.items()):
            if name not in skip:
                self.filters[name] = metered(func, stringifies=name in STRINGIFYING_FILTERS)
        for name in _COSTLY_TESTS:
            test: Any = self.tests[name]
            self.tests[name] = rendering_only(test)

    def compile_guarded(self, source: str) -> Any:
        """Parse ``source``, guard its literals, loops and concatenations, and compile it.

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

    def getattr(self, obj: Any, attribute: str) -> Any:
        """Jinja2's sandboxed attribute access, a checkpoint of the time budget."""
        state = CURRENT.get()
        if state is not None and _perf_counter() > state.deadline:
            state.checkpoint()
        return super().getattr(obj, attribute)

    def getitem(self, obj: Any, argument: Any) -> Any:
        """Jinja2's sandboxed item access, a checkpoint of the time budget."""
        state = CURRENT.get()
        if state is not None and _perf_counter() > state.deadline:
            state.checkpoint()
        return super().getitem(obj, argument)

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        """Apply ``operator``, refusing results past the limits in the module doc."""
        state = CURRENT.get()
        if state is not None:
            state.checkpoint()
        if operator == "*":
            if isinstance(left, int) and isinstance(right, int):
                width = abs(left).bit_length() + abs(right).bit_length()
                if width > MAX_INT_BITS:
                    raise OverflowError(f"'*' would build a number of about {width:,} bits")
            for seq, times in ((left, right), (right, left)):
                if isinstance(times, int) and _sized(seq) is not None:
                    if isinstance(seq, str | bytes):
                        check_size(len(seq) * times, "'*'")
                    else:
                        check_size(weight(seq) * times, "'*'", MAX_VALUE_WEIGHT)
        elif operator == "+":
            left_size, right_size = _sized(left), _sized(right)
            if left_size is not None and right_size is not None:
                if isinstance(left, str | bytes):
                    check_size(left_size + right_size, "'+'")
                else:
                    check_size(weight(left) + weight(right), "'+'", MAX_VALUE_WEIGHT)
        elif operator == "**":
            if isinstance(left, int) and isinstance(right, int) and abs(left) > 1 and right > 0:
                bits = right * math.log2(abs(left))
                if bits > MAX_INT_BITS:
                    raise OverflowError(f"'**' would build a number of about {bits:,.0f} bits")
        elif operator == "%" and isinstance(left, str):
            check_percent_format(left, right)
        return account(super().call_binop(context, operator, left, right))

    def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
        """Sandbox ``str.format`` as Jinja2 does, and bound the text it may build."""
        wrapped = super().wrap_str_format(value)
        if wrapped is None:
            return None
        fmt = value.__self__
        is_map = value.__name__ == "format_map"

        def checked(*args: Any, **kwargs: Any) -> str:
            if is_map:
                check_brace_format(fmt, (), dict(args[0]) if args else {})
            else:
                check_brace_format(fmt, args, kwargs)
            return wrapped(*args, **kwargs)

        return update_wrapper(checked, value)

    def call(
        __self,  # Jinja2's own signature: the names must not clash with kwargs
        __context: Context,
        __obj: Any,
        *args: Any,
        **kwargs: Any,
    ) -> Any:
        """Call ``__obj`` from template code: a checkpoint; string methods bounded first."""
        state = CURRENT.get()
        if state is not None and _perf_counter() > state.deadline:
            state.checkpoint()
        if type(__obj) is _BUILTIN_METHOD:
            method: Any = __obj
            owner = method.__self__
            if isinstance(owner, _TEXT_TYPES):
                args, kwargs = _check_str_method(owner, method.__name__, args, kwargs)
            elif isinstance(owner, date | time) and method.__name__ == "strftime":
                fmt = args[0] if args else kwargs.get("format", "")
                if isinstance(fmt, str):
                    check_size(len(fmt) * STRFTIME_GROWTH, "strftime")
            elif isinstance(owner, int) and method.__name__ == "to_bytes":
                length = args[0] if args else kwargs.get("length", 1)
                if isinstance(length, int):
                    check_size(length, "int.to_bytes")
        result = super().call(__context, __obj, *args, **kwargs)
        if state is not None:
            kind = type(result)
            if kind is str:
                state.allocate(len(result))
            elif kind not in _UNCOUNTED:
                account(result)
        return result
