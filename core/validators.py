"""Voluptuous validators shared by the kernel and by integrations' schemas.

Each is pure: it returns the validated value or raises ``vol.Invalid`` with a message that says
what was expected. Integration schemas combine them; the configuration loader turns the error path
into the file, line and key.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable, Mapping
from datetime import timedelta
from typing import Any, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import voluptuous as vol

from .errors import TemplateError
from .state import valid_entity_id
from .template import Template, is_template_string

_T = TypeVar("_T")

_TRUE = frozenset({"1", "true", "yes", "on", "enable"})
_FALSE = frozenset({"0", "false", "no", "off", "disable"})
_TIME_PERIOD_RE = re.compile(r"^(?P<sign>-)?(?:(?P<h>\d+):)?(?P<m>\d+):(?P<s>\d+(?:\.\d+)?)$")
_SLUG_RE = re.compile(r"^[a-z0-9_]+$")


def boolean(value: object) -> bool:
    """Accept a bool or one of Home Assistant's words for it (yes/no, on/off, 1/0...)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value != 0
    if isinstance(value, str):
        lowered = value.strip().lower()
        if lowered in _TRUE:
            return True
        if lowered in _FALSE:
            return False
    raise vol.Invalid(f"expected a boolean (true/false, on/off, yes/no), got {value!r}")


def string(value: object) -> str:
    """Accept a string, or a number turned into one; refuse None, lists and mappings."""
    if isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    raise vol.Invalid(f"expected a string, got {type(value).__name__}")


def ensure_list(value: _T | list[_T] | None) -> list[_T]:
    """Wrap a single value in a list; None gives an empty list."""
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def entity_id(value: object) -> str:
    """Accept one entity id (``domain.object_id``), lower-cased."""
    text = string(value).strip().lower()
    if not valid_entity_id(text):
        raise vol.Invalid(f"invalid entity id {text!r}, expected 'domain.object_id'")
    return text


def entity_ids(value: object) -> list[str]:
    """Accept a list of entity ids, or a comma-separated string of them."""
    if isinstance(value, str):
        value = [part for part in (p.strip() for p in value.split(",")) if part]
    return [entity_id(item) for item in ensure_list(value)]


def entity_domain(domain: str) -> Callable[[object], str]:
    """An entity id validator that also requires the given domain."""

    def validate(value: object) -> str:
        result = entity_id(value)
        if not result.startswith(f"{domain}."):
            raise vol.Invalid(f"expected an entity of domain '{domain}', got {result!r}")
        return result

    return validate


def slug(value: object) -> str:
    """Accept a slug: lower-case letters, digits and underscores."""
    text = string(value)
    if not _SLUG_RE.match(text):
        raise vol.Invalid(f"invalid slug {text!r}, use lower-case letters, digits and '_'")
    return text


positive_int = vol.All(vol.Coerce(int), vol.Range(min=0))
positive_float = vol.All(vol.Coerce(float), vol.Range(min=0))
port = vol.All(vol.Coerce(int), vol.Range(min=1, max=65535))


def time_period(value: object) -> timedelta:
    """Accept a duration: seconds, ``HH:MM:SS``/``MM:SS``, or ``{hours:, minutes:, ...}``."""
    if isinstance(value, timedelta):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return timedelta(seconds=value)
    if isinstance(value, str):
        text = value.strip()
        try:
            return timedelta(seconds=float(text))
        except ValueError:
            pass
        match = _TIME_PERIOD_RE.match(text)
        if match:
            sign = -1 if match["sign"] else 1
            return sign * timedelta(
                hours=int(match["h"] or 0), minutes=int(match["m"]), seconds=float(match["s"])
            )
    if isinstance(value, dict):
        keys = {"days", "hours", "minutes", "seconds", "milliseconds"}
        if unknown := set(value) - keys:
            raise vol.Invalid(f"unknown time period key(s): {', '.join(map(str, unknown))}")
        try:
            return timedelta(**{str(k): float(v) for k, v in value.items()})
        except (TypeError, ValueError):
            raise vol.Invalid(f"expected numbers in a time period, got {value!r}") from None
    raise vol.Invalid(f"expected a time period (seconds, 'HH:MM:SS' or a mapping), got {value!r}")


def time_zone(value: object) -> str:
    """Validate an IANA time zone name such as ``Europe/Amsterdam``."""
    if not isinstance(value, str):
        raise vol.Invalid("expected an IANA time zone name such as 'Europe/Amsterdam'")
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        # ValueError for malformed keys ('../x'), OSError for directories such as 'Europe'.
        raise vol.Invalid(
            "invalid time zone, expected an IANA name such as 'Europe/Amsterdam'"
        ) from None
    return str(value)


def currency(value: object) -> str:
    """Validate an ISO 4217 currency code: three upper-case letters."""
    if not (isinstance(value, str) and len(value) == 3 and value.isascii() and value.isupper()):
        raise vol.Invalid("expected an ISO 4217 currency code such as 'EUR'")
    return str(value)


def empty_config(value: Any) -> dict[str, Any]:
    """For integrations that take no options: accept nothing, None or an empty mapping.

    Raises:
        vol.MultipleInvalid: one error per key given, each with the key as its path.
        vol.Invalid: the value is neither empty nor a mapping.
    """
    if value is None or value == {}:
        return {}
    if isinstance(value, Mapping):
        raise vol.MultipleInvalid(
            [
                vol.Invalid(f"unknown option '{key}': this integration takes no options", [key])
                for key in value
            ]
        )
    raise vol.Invalid("expected nothing or an empty mapping: this integration takes no options")


def template(value: object) -> Template:
    """Accept a template string (numbers and booleans too, as text) and check its syntax.

    The Template has no runtime yet; whoever uses it sets ``template.runtime``.

    Raises:
        vol.Invalid: the value is not a string, or its syntax is invalid (with the line).
    """
    if value is None:
        raise vol.Invalid("expected a template, got nothing")
    if isinstance(value, Template):
        return value
    if isinstance(value, list | dict):
        raise vol.Invalid(f"expected a template string, got {type(value).__name__}")
    result = Template(str(value))
    try:
        result.ensure_valid()
    except TemplateError as err:
        raise vol.Invalid(f"invalid template: {err}") from None
    return result


def template_complex(value: object) -> object:
    """Accept nested dicts and lists whose strings may be templates (``data:`` of an action).

    Strings with template syntax become Templates; other values stay as they are.

    Raises:
        vol.Invalid: a template's syntax is invalid; the path leads to it.
    """
    if isinstance(value, list):
        result: list[object] = []
        for index, item in enumerate(value):
            try:
                result.append(template_complex(item))
            except vol.Invalid as err:
                err.prepend([index])
                raise
        return result
    if isinstance(value, dict):
        mapping: dict[object, object] = {}
        for key, item in value.items():
            try:
                mapping[template_complex(key)] = template_complex(item)
            except vol.Invalid as err:
                err.prepend([key])
                raise
        return mapping
    if isinstance(value, str) and is_template_string(value):
        return template(value)
    return value


class DeferredSchema:
    """A section validator that imports its schema's module the first time it is used."""

    __slots__ = ("attribute", "module")

    def __init__(self, module: str, attribute: str) -> None:
        self.module = module
        self.attribute = attribute

    def resolve(self) -> Callable[[object], object]:
        """The schema itself, importing its module if need be."""
        schema: Callable[[object], object] = getattr(
            importlib.import_module(self.module), self.attribute
        )
        return schema

    def __call__(self, value: object) -> object:
        return self.resolve()(value)

    def __repr__(self) -> str:
        return f"deferred({self.module}.{self.attribute})"


def deferred(module: str, attribute: str = "CONFIG_SCHEMA") -> DeferredSchema:
    """A section validator that imports ``module`` the first time a section is validated.

    An integration's manifest is read on every start, configured or not; a large voluptuous
    schema built at import costs tens of milliseconds. With ``config_schema=deferred(...)`` only
    the sites that configure the integration pay for it. Whoever needs the schema's shape (the
    configuration loader, to join labelled sections of a list schema) calls ``resolve()``.

    Args:
        module: the module that defines the schema, e.g. ``"integrations.modbus.schema"``.
        attribute: the schema's name in that module.
    """
    return DeferredSchema(module, attribute)
