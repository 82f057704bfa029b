"""``Template``: a Jinja2 template string bound to a runtime, rendered on the event loop.

Rendering returns Home Assistant's parsed result by default: ``"5"`` becomes 5, ``"[1, 2]"`` a
list, ``"True"`` a bool, while ``"07"``, ``"1e5"`` and plain words stay strings. Every error,
whether in the syntax or while rendering, is a ``TemplateError`` whose message names the
template (its ``name``, else the start of its source).
"""

from __future__ import annotations

import ast
import copy
import re
from collections.abc import Mapping
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from core.errors import TemplateError

from .render_info import (
    CURRENT,
    DEFAULT_RENDER_TIME,
    MAX_TEMPLATE_OUTPUT,
    RenderInfo,
    RenderState,
)

if TYPE_CHECKING:
    from jinja2 import Template as JinjaTemplate

    from core.runtime import Runtime

_TEMPLATE_RE = re.compile(r"\{%|\{\{|\{#")
_IS_NUMERIC = re.compile(r"^[+-]?(?!0\d)\d*(?:\.\d*)?$")
#: The first characters of a rendered text that ``ast.literal_eval`` might turn into a value.
_LITERAL_START = frozenset("0123456789+-.[({TFN")
_LABEL_LENGTH = 60
#: The longest text parsed into a value: ``ast.literal_eval`` cannot be stopped, and takes tens
#: of milliseconds for this much. Longer results stay text.
MAX_PARSED_LENGTH = 32 * 1024
_PARSE_CACHE_SIZE = 4096


class TemplateRenderError(TemplateError):
    """A template failed while rendering (not in its syntax).

    Attributes:
        render_info: what the render read before it failed, so a tracker can still follow it.
    """

    def __init__(self, message: str, *, template: str, render_info: RenderInfo) -> None:
        super().__init__(message, template=template)
        self.render_info = render_info


class TemplateTimeoutError(TemplateRenderError):
    """A render ran past its time budget and was stopped."""


def is_template_string(text: str) -> bool:
    """Whether ``text`` contains template syntax (``{{``, ``{%`` or ``{#``)."""
    return _TEMPLATE_RE.search(text) is not None


@lru_cache(maxsize=_PARSE_CACHE_SIZE)
def _parse_cached(text: str) -> Any:
    try:
        result = ast.literal_eval(text)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return text
    if isinstance(result, str | complex):
        # A quoted string keeps its quotes; complex numbers are not what anyone meant.
        return text
    if (
        isinstance(result, int | float)
        and not isinstance(result, bool)
        and _IS_NUMERIC.match(text) is None
    ):
        # 0x10, 1e5, 1_000: numbers to Python, but not how a number is written in a state.
        return text
    return result


def parse_result(text: str) -> Any:
    """Home Assistant's result parsing: a rendered text as the value it spells, if any.

    Numbers (``"21.5"``, ``"-3"``), ``True``/``False``/``None``, lists, dicts, sets and tuples
    become Python values; everything else, and numbers written unusually (``"07"``, ``"1e3"``,
    ``"0x10"``), stays the string it was; so does a text longer than ``MAX_PARSED_LENGTH``.
    """
    if not text or text[0] not in _LITERAL_START or len(text) > MAX_PARSED_LENGTH:
        return text
    result = _parse_cached(text)
    if isinstance(result, list | dict | set | tuple):
        # The cache shares one object between renders; callers may change theirs.
        return copy.deepcopy(result)
    return result


class Template:
    """A template string, compiled on first use and rendered in the sandbox.

    Attributes:
        source: the template text.
        runtime: the runtime whose states and clock the template reads; may be set after
            construction (validators build templates without one).
        name: how errors and logs name the template (an entity id, ``automation.x trigger 0``).
    """

    __slots__ = ("_compiled", "is_static", "name", "runtime", "source")

    def __init__(self, source: str, runtime: Runtime | None = None, *, name: str | None = None):
        """Wrap ``source``; nothing is compiled until ``ensure_valid`` or the first render.

        Raises:
            TypeError: ``source`` is not a string.
        """
        if not isinstance(source, str):
            raise TypeError(f"a template must be a string, got {type(source).__name__}")
        self.source = source
        self.runtime = runtime
        self.name = name
        #: Whether the text has no template syntax: it renders as itself.
        self.is_static = not is_template_string(source)
        self._compiled: JinjaTemplate | None = None

    @property
    def label(self) -> str:
        """How messages name the template: its name, else the start of its source, quoted."""
        if self.name:
            return f"'{self.name}'"
        text = self.source if len(self.source) <= _LABEL_LENGTH else self.source[:57] + "..."
        return repr(text)

    def ensure_valid(self) -> None:
        """Compile the template now.

        Raises:
            TemplateError: the syntax is invalid; the message names the template and the line.
        """
        if self._compiled is not None or self.is_static:
            return
        # Jinja2 and the environment are imported by the first compile, not with this module:
        # a site whose templates are all compiled after start-up does not wait for them.
        from jinja2 import TemplateSyntaxError  # noqa: PLC0415 - on first compile, see above

        from .environment import compile_source  # noqa: PLC0415 - same

        try:
            self._compiled = compile_source(self.source)
        except TemplateSyntaxError as err:
            raise TemplateError(
                f"Invalid template {self.label}: {err.message} (line {err.lineno})",
                template=self.name or self.source,
            ) from err
        except (RecursionError, MemoryError, SyntaxError) as err:
            # Jinja2's parser and Python's compiler recurse once per nesting level.
            raise TemplateError(
                f"Invalid template {self.label}: it is nested too deeply to compile",
                template=self.name or self.source,
            ) from err

    def render(
        self,
        variables: Mapping[str, Any] | None = None,
        *,
        parse_result: bool = True,
        strict: bool = False,
        time_budget: float = DEFAULT_RENDER_TIME,
    ) -> Any:
        """Render with ``variables``; must run on the event loop.

        Args:
            variables: names the template can use besides the helpers (``this``, ``trigger``,
                ``value``, ``value_json``...).
            parse_result: turn the text into the value it spells (see ``parse_result``);
                when false the stripped text is returned.
            strict: make any use of an undefined variable an error (Home Assistant's strict
                mode), instead of an empty string and a warning.
            time_budget: the seconds the render may take; past them it is stopped and fails
                with a ``TemplateTimeoutError``.

        Returns:
            The parsed result, or the text.

        Raises:
            TemplateError: the template is invalid or failed to render.
        """
        if self.is_static:
            return _parse(self.source) if parse_result else self.source
        state = RenderState(self.runtime, self.label, strict=strict, budget=time_budget)
        text = self._render_text(state, variables)
        return _parse(text) if parse_result else text

    def render_with_info(
        self,
        variables: Mapping[str, Any] | None = None,
        *,
        parse_result: bool = True,
        strict: bool = False,
        time_budget: float = DEFAULT_RENDER_TIME,
    ) -> tuple[Any, RenderInfo]:
        """Render like ``render`` and also say what the render read.

        Raises:
            TemplateError: the template is invalid or failed to render. Its ``render_info``
                attribute holds what was read before the failure.
        """
        if self.is_static:
            return (_parse(self.source) if parse_result else self.source), RenderInfo()
        state = RenderState(self.runtime, self.label, strict=strict, budget=time_budget)
        text = self._render_text(state, variables)
        return (_parse(text) if parse_result else text), state.freeze()

    def _render_text(self, state: RenderState, variables: Mapping[str, Any] | None) -> str:
        self.ensure_valid()
        compiled = self._compiled
        assert compiled is not None  # noqa: S101 - set by ensure_valid for a non-static template
        state.start()  # the budget is the render's, not the first compile's
        token = CURRENT.set(state)
        try:
            context = compiled.new_context(dict(variables) if variables else None)
            parts: list[str] = []
            size = 0
            for part in compiled.root_render_func(context):
                size += len(part)
                if size > MAX_TEMPLATE_OUTPUT:
                    raise OverflowError(
                        f"the output is longer than the limit of {MAX_TEMPLATE_OUTPUT:,} characters"
                    )
                parts.append(part)
        except Exception as err:
            from .helpers import NoDefaultError  # noqa: PLC0415 - loaded by the compile already

            # A helper's own message says what went wrong; Python's needs its type to make sense.
            reason = str(err) if isinstance(err, NoDefaultError) else f"{type(err).__name__}: {err}"
            error: type[TemplateRenderError] = TemplateRenderError
            if isinstance(err, TimeoutError):
                # A regular expression's timeout is the render's: either way the budget is spent.
                error = TemplateTimeoutError
                reason = f"TimeoutError: the template ran past its budget of {state.budget:g} s"
            raise error(
                f"Error rendering template {self.label}: {reason}",
                template=self.name or self.source,
                render_info=state.freeze(),
            ) from err
        finally:
            CURRENT.reset(token)
        return "".join(parts).strip()

    def __repr__(self) -> str:
        return f"Template<{self.label}>"

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, Template)
            and self.source == other.source
            and self.runtime is other.runtime
        )

    def __hash__(self) -> int:
        return hash(self.source)


def _parse(text: str) -> Any:
    return parse_result(text)


def attach(value: Any, runtime: Runtime) -> None:
    """Set ``runtime`` on every Template inside ``value`` (nested dicts and lists)."""
    if isinstance(value, Template):
        value.runtime = runtime
    elif isinstance(value, Mapping):
        for key, item in value.items():
            attach(key, runtime)
            attach(item, runtime)
    elif isinstance(value, list | tuple):
        for item in value:
            attach(item, runtime)


def render_complex(
    value: Any,
    variables: Mapping[str, Any] | None = None,
    *,
    parse_result: bool = True,
    runtime: Runtime | None = None,
) -> Any:
    """Render every Template (and template string) in nested dicts and lists.

    Args:
        value: a Template, a string, or dicts/lists of them; other values come back as they are.
        variables: the variables every template renders with.
        parse_result: parse each rendered result (see ``parse_result``).
        runtime: the runtime for plain strings and for Templates that have none.

    Raises:
        TemplateError: one of the templates failed.
    """
    if isinstance(value, Template):
        if value.runtime is None and runtime is not None:
            value.runtime = runtime
        return value.render(variables, parse_result=parse_result)
    if isinstance(value, str):
        if not is_template_string(value):
            return value
        return Template(value, runtime).render(variables, parse_result=parse_result)
    if isinstance(value, Mapping):
        return {
            render_complex(key, variables, parse_result=parse_result, runtime=runtime): (
                render_complex(item, variables, parse_result=parse_result, runtime=runtime)
            )
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [
            render_complex(item, variables, parse_result=parse_result, runtime=runtime)
            for item in value
        ]
    return value
