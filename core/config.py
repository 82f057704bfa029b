"""The configuration of a whole site: ``configuration.yaml``, its core section and its packages.

:func:`load_site_config` loads the file, validates the ``edgewise:`` core section into a
:class:`CoreConfig`, merges packages into the root the way Home Assistant does, and validates each
integration's section with that integration's schema. Problems become :class:`ConfigIssue` items
that name the file, line and key; one broken integration never keeps the others from loading.
It does blocking file I/O, so the runtime calls it through its executor.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from pathlib import Path
from types import MappingProxyType
from zoneinfo import ZoneInfo

import voluptuous as vol

from core.errors import ConfigError
from core.validators import DeferredSchema, currency, empty_config, time_zone
from core.yaml_loader import (
    NodeDict,
    NodeList,
    Source,
    is_secret,
    load_yaml,
    source_of,
    source_of_item,
    source_of_key,
)

_LOGGER = logging.getLogger(__name__)

CONFIG_FILE = "configuration.yaml"
CORE_KEY = "edgewise"
CORE_KEY_ALIAS = "homeassistant"
"""Accepted in place of ``edgewise:`` so that Home Assistant configurations load unchanged."""

CONF_NAME = "name"
CONF_LATITUDE = "latitude"
CONF_LONGITUDE = "longitude"
CONF_ELEVATION = "elevation"
CONF_TIME_ZONE = "time_zone"
CONF_UNIT_SYSTEM = "unit_system"
CONF_CURRENCY = "currency"
CONF_PACKAGES = "packages"
CONF_EXTERNAL_URL = "external_url"
CONF_INTERNAL_URL = "internal_url"

DEFAULT_NAME = "Home"
DEFAULT_LATITUDE = 52.3731
DEFAULT_LONGITUDE = 4.8922
DEFAULT_ELEVATION = 0
DEFAULT_TIME_ZONE = "UTC"
DEFAULT_CURRENCY = "EUR"

SectionValidator = Callable[[object], object]
"""What validates one integration's section: a ``vol.Schema``, ``vol.All`` or any callable that
returns the validated value or raises ``vol.Invalid``."""


@dataclass(frozen=True, slots=True)
class PartialSection:
    """What a section validator returns when it keeps the valid items of a section.

    A section made of independent items (``input_number:`` with one item per id) is validated
    item by item: the valid ones are kept in ``value``, and each invalid one becomes a
    configuration issue (file, line, ``domain.item.key``) without failing the whole section.

    Attributes:
        value: the validated section, without the invalid items.
        errors: one ``vol.Invalid`` per problem, its path relative to the section.
    """

    value: object
    errors: tuple[vol.Invalid, ...] = ()


_MAX_VALUE_CHARS = 60
_MISSING = object()
_SECRET_PLACEHOLDER = "***"  # noqa: S105 - the mask shown in place of a secret, not one


class UnitSystem(StrEnum):
    """The unit systems a site can be configured in."""

    METRIC = "metric"
    US_CUSTOMARY = "us_customary"


CORE_CONFIG_SCHEMA = vol.Schema(
    {
        vol.Optional(CONF_NAME, default=DEFAULT_NAME): vol.Coerce(str),
        vol.Optional(CONF_LATITUDE, default=DEFAULT_LATITUDE): vol.All(
            vol.Coerce(float), vol.Range(min=-90, max=90)
        ),
        vol.Optional(CONF_LONGITUDE, default=DEFAULT_LONGITUDE): vol.All(
            vol.Coerce(float), vol.Range(min=-180, max=180)
        ),
        vol.Optional(CONF_ELEVATION, default=DEFAULT_ELEVATION): vol.Coerce(int),
        vol.Optional(CONF_TIME_ZONE, default=DEFAULT_TIME_ZONE): time_zone,
        vol.Optional(CONF_UNIT_SYSTEM, default=UnitSystem.METRIC.value): vol.In(
            [unit.value for unit in UnitSystem]
        ),
        vol.Optional(CONF_CURRENCY, default=DEFAULT_CURRENCY): currency,
        vol.Optional(CONF_PACKAGES, default={}): {str: vol.Any(dict, None)},
        vol.Optional(CONF_EXTERNAL_URL): str,
        vol.Optional(CONF_INTERNAL_URL): str,
    }
)
"""The ``edgewise:`` (or ``homeassistant:``) section of ``configuration.yaml``."""


@dataclass(frozen=True, slots=True)
class CoreConfig:
    """Where the site is and how it counts: the validated core section."""

    name: str = DEFAULT_NAME
    latitude: float = DEFAULT_LATITUDE
    longitude: float = DEFAULT_LONGITUDE
    elevation: int = DEFAULT_ELEVATION
    time_zone: str = DEFAULT_TIME_ZONE
    unit_system: UnitSystem = UnitSystem.METRIC
    currency: str = DEFAULT_CURRENCY
    external_url: str | None = None
    internal_url: str | None = None

    @property
    def tzinfo(self) -> ZoneInfo:
        """The site's time zone (ZoneInfo caches instances, so this is cheap)."""
        return ZoneInfo(self.time_zone)

    @classmethod
    def from_validated(cls, config: Mapping[str, object]) -> CoreConfig:
        """Build from a dict that ``CORE_CONFIG_SCHEMA`` returned."""

        def optional_str(key: str) -> str | None:
            value = config.get(key)
            return None if value is None else str(value)

        return cls(
            name=str(config[CONF_NAME]),
            latitude=float(config[CONF_LATITUDE]),  # type: ignore[arg-type]  # schema coerced
            longitude=float(config[CONF_LONGITUDE]),  # type: ignore[arg-type]  # schema coerced
            elevation=int(config[CONF_ELEVATION]),  # type: ignore[call-overload]  # schema coerced
            time_zone=str(config[CONF_TIME_ZONE]),
            unit_system=UnitSystem(str(config[CONF_UNIT_SYSTEM])),
            currency=str(config[CONF_CURRENCY]),
            external_url=optional_str(CONF_EXTERNAL_URL),
            internal_url=optional_str(CONF_INTERNAL_URL),
        )


@dataclass(frozen=True, slots=True)
class ConfigIssue:
    """One problem found in the configuration, located as precisely as the loader allows."""

    message: str
    path: str | None = None
    line: int | None = None
    key: str | None = None
    integration: str | None = None
    fatal: bool = False
    """True when nothing of the configuration could be used (malformed or missing file)."""

    def __str__(self) -> str:
        parts: list[str] = []
        if self.path is not None:
            parts.append(self.path if self.line is None else f"{self.path}, line {self.line}")
        if self.key:
            parts.append(self.key)
        parts.append(self.message)
        return ": ".join(parts)

    @classmethod
    def from_error(
        cls, error: ConfigError, *, integration: str | None = None, fatal: bool = False
    ) -> ConfigIssue:
        """Turn a :class:`ConfigError` into an issue with the same location."""
        return cls(
            error.message,
            path=error.path,
            line=error.line,
            key=error.key,
            integration=integration,
            fatal=fatal,
        )


@dataclass(frozen=True, slots=True)
class LoadedConfig:
    """Everything :func:`load_site_config` found.

    Attributes:
        core: the core section, or defaults where it was invalid.
        integrations: validated configuration per integration domain, valid sections only.
        raw: the root mapping as loaded, with packages merged in.
        issues: every problem found, in file order.
    """

    core: CoreConfig = field(default_factory=CoreConfig)
    integrations: Mapping[str, object] = field(default_factory=lambda: MappingProxyType({}))
    raw: Mapping[object, object] = field(default_factory=lambda: MappingProxyType({}))
    issues: tuple[ConfigIssue, ...] = ()


def humanize_invalid(
    exc: vol.Invalid,
    config: object,
    *,
    domain: str,
    source: Source | None = None,
) -> list[ConfigIssue]:
    """Turn a voluptuous error into issues that name the file, line and key of each problem.

    Args:
        exc: the error (``vol.MultipleInvalid`` is split into its errors).
        config: the data that was validated, as loaded by :mod:`core.yaml_loader`.
        domain: the integration the data belongs to; keys are reported as ``domain.a.0.b``.
        source: where ``config`` itself is written, used when nothing deeper has a line.
    """
    errors = exc.errors if isinstance(exc, vol.MultipleInvalid) else [exc]
    secrets = _secret_strings(config)
    issues: list[ConfigIssue] = []
    for error in errors:
        located, found, value, hidden = _walk(config, list(error.path), source)
        message = _scrub(str(error.msg), secrets)
        shows_value = found and not isinstance(error, vol.RequiredFieldInvalid)
        if shows_value and error.msg != "extra keys not allowed":
            rendered = _SECRET_PLACEHOLDER if hidden else _render(value)
            message = f"{message}, got {_scrub(rendered, secrets)}"
        issues.append(
            ConfigIssue(
                message,
                path=None if located is None else located.path,
                line=None if located is None else located.line,
                key=".".join([domain, *(str(step) for step in error.path)]),
                integration=domain,
            )
        )
    return issues


def load_site_config(
    config_dir: Path, known_domains: Mapping[str, SectionValidator | None]
) -> LoadedConfig:
    """Load and validate ``configuration.yaml`` in ``config_dir``; blocking, run it in an executor.

    Args:
        config_dir: the configuration directory.
        known_domains: each integration that can be configured, with the schema its section is
            validated with (the value under its key, not the whole root), or ``None`` to take
            the section as it is.

    Returns:
        The core section, the valid integration sections and every issue found. A missing or
        malformed file gives a single fatal issue and nothing else.
    """
    config_file = config_dir / CONFIG_FILE
    if not config_file.is_file():
        missing = ConfigIssue(
            f"{CONFIG_FILE} not found in {config_dir}", path=CONFIG_FILE, fatal=True
        )
        return LoadedConfig(issues=(missing,))
    try:
        raw = load_yaml(config_file, config_dir=config_dir)
    except ConfigError as exc:
        return LoadedConfig(issues=(ConfigIssue.from_error(exc, fatal=True),))
    if not isinstance(raw, dict):
        issue = ConfigIssue(
            f"{CONFIG_FILE} must be a mapping of integrations to their configuration",
            path=CONFIG_FILE,
            line=1,
            fatal=True,
        )
        return LoadedConfig(issues=(issue,))

    issues: list[ConfigIssue] = []
    core, packages = _load_core(raw, issues)
    root = _merge_packages(raw, packages, issues)
    integrations = _validate_integrations(root, known_domains, issues)
    for issue in issues:
        _LOGGER.debug("Configuration issue: %s", issue)
    return LoadedConfig(
        core=core,
        integrations=MappingProxyType(integrations),
        raw=MappingProxyType(root),
        issues=tuple(issues),
    )


def _load_core(
    raw: Mapping[object, object], issues: list[ConfigIssue]
) -> tuple[CoreConfig, Mapping[object, object]]:
    """Validate the core section; invalid keys fall back to their defaults. Returns the packages."""
    key = CORE_KEY if CORE_KEY in raw else CORE_KEY_ALIAS
    if CORE_KEY in raw and CORE_KEY_ALIAS in raw:
        issues.append(
            _key_issue(
                raw,
                CORE_KEY_ALIAS,
                f"both '{CORE_KEY}' and '{CORE_KEY_ALIAS}' are present; '{CORE_KEY}' is used",
            )
        )
    section = raw.get(key)
    if section is None:
        section = {}
    if not isinstance(section, dict):
        issues.append(_key_issue(raw, key, "expected a mapping", integration=CORE_KEY))
        section = {}
    # Invalid keys are dropped and the rest validated again, so a bad time zone does not also
    # throw away the packages; a round that drops nothing falls back to all defaults.
    candidate: dict[object, object] = dict(section)
    while True:
        try:
            validated = CORE_CONFIG_SCHEMA(candidate)
            break
        except vol.Invalid as exc:
            errors = exc.errors if isinstance(exc, vol.MultipleInvalid) else [exc]
            issues.extend(
                humanize_invalid(exc, section, domain=key, source=source_of_key(raw, key))
            )
            dropped = [_drop_invalid(candidate, list(error.path)) for error in errors]
            if not any(dropped):
                validated = CORE_CONFIG_SCHEMA({})
                break
    packages = validated[CONF_PACKAGES]
    # The validated dict is a copy; the loaded mappings keep the lines packages are reported with.
    loaded_packages = section.get(CONF_PACKAGES)
    if isinstance(loaded_packages, dict):
        packages = {name: loaded_packages[name] for name in packages}
    return CoreConfig.from_validated(validated), packages


def _drop_invalid(candidate: dict[object, object], path: list[object]) -> bool:
    """Remove what an error points at, one package or one core key; tell whether it did."""
    if not path:
        return False
    if path[0] == CONF_PACKAGES and len(path) > 1:
        packages = candidate.get(CONF_PACKAGES)
        if isinstance(packages, dict) and path[1] in packages:
            # A copy, because the loaded packages mapping is still read for its lines.
            candidate[CONF_PACKAGES] = {k: v for k, v in packages.items() if k != path[1]}
            return True
    return candidate.pop(path[0], _MISSING) is not _MISSING


def _merge_packages(
    raw: Mapping[object, object],
    packages: Mapping[object, object],
    issues: list[ConfigIssue],
) -> NodeDict:
    """Merge each package's integrations into a copy of the root, as Home Assistant does.

    Lists concatenate and mappings merge recursively; the same leaf key in both places, or a
    list meeting a mapping, is an issue naming the package, and that integration keeps its
    configuration from before that package. Other integrations and packages still merge.
    """
    root = NodeDict(raw)
    root.source = source_of(raw)
    root.key_sources.update(raw.key_sources if isinstance(raw, NodeDict) else {})
    for package_name, package in packages.items():
        if not isinstance(package, dict):
            continue  # empty: CORE_CONFIG_SCHEMA lets only mappings and None through
        for domain, package_conf in package.items():
            if domain in (CORE_KEY, CORE_KEY_ALIAS):
                issues.append(
                    _key_issue(
                        package,
                        domain,
                        f"package '{package_name}': the core section cannot be set in a package",
                    )
                )
                continue
            if domain not in root or root[domain] is None:
                root[domain] = package_conf
                key_source = source_of_key(package, domain)
                if key_source is not None:
                    root.key_sources[domain] = key_source
                continue
            conflicts: list[_Conflict] = []
            where = (
                source_of_key(root, domain),
                source_of_key(package, domain) or source_of(package_conf),
            )
            merged = _merge(root[domain], package_conf, str(domain), where, conflicts)
            for conflict in conflicts:
                issues.append(
                    ConfigIssue(
                        f"package '{package_name}' sets {conflict.reason}; its '{domain}' "
                        "section is left out",
                        path=None if conflict.where is None else conflict.where.path,
                        line=None if conflict.where is None else conflict.where.line,
                        key=conflict.key_path,
                        integration=str(domain).partition(" ")[0],
                    )
                )
            if conflicts:
                continue
            root[domain] = merged
    return root


def _merge(
    base: object,
    extra: object,
    key_path: str,
    where: tuple[Source | None, Source | None],
    conflicts: list[_Conflict],
) -> object:
    """Return ``base`` and ``extra`` merged without changing either; conflicts are appended."""
    if extra is None:
        return base
    if base is None:
        return extra
    if isinstance(base, list) and isinstance(extra, list):
        merged_list = NodeList([*base, *extra])
        merged_list.source = source_of(base)
        merged_list.item_sources.extend(
            [source_of_item(base, i) for i in range(len(base))]
            + [source_of_item(extra, i) for i in range(len(extra))]
        )
        return merged_list
    if isinstance(base, dict) and isinstance(extra, dict):
        merged = NodeDict(base)
        merged.source = source_of(base)
        if isinstance(base, NodeDict):
            merged.key_sources.update(base.key_sources)
        for key, value in extra.items():
            key_source = source_of_key(extra, key) or source_of(value) or where[1]
            base_source = source_of_key(base, key) or where[0]
            merged[key] = _merge(
                base.get(key), value, f"{key_path}.{key}", (base_source, key_source), conflicts
            )
            if key not in base and key_source is not None:
                merged.key_sources[key] = key_source
        return merged
    if isinstance(base, (dict, list)) or isinstance(extra, (dict, list)):
        reason = f"'{key_path}' to a {_kind(extra)} where the configuration has a {_kind(base)}"
    else:
        reason = f"'{key_path}', which is already defined"
    if where[0] is not None:
        reason = f"{reason} ({where[0]})"
    conflicts.append(_Conflict(key_path, where[1], reason))
    return base


@dataclass(frozen=True, slots=True)
class _Conflict:
    """A place where a package collides with the configuration it is merged into."""

    key_path: str
    where: Source | None
    reason: str


def _kind(value: object) -> str:
    """Name the YAML shape of ``value`` for a message."""
    if isinstance(value, dict):
        return "mapping"
    if isinstance(value, list):
        return "list"
    return "single value"


def _validate_integrations(
    root: NodeDict,
    known_domains: Mapping[str, SectionValidator | None],
    issues: list[ConfigIssue],
) -> dict[str, object]:
    """Validate each integration section; invalid or unknown ones are left out with an issue."""
    sections: dict[str, list[tuple[object, object]]] = {}
    for key, value in root.items():
        if key in (CORE_KEY, CORE_KEY_ALIAS):
            continue
        if not isinstance(key, str):
            issues.append(_key_issue(root, key, f"'{key}' is not an integration name"))
            continue
        domain, _, label = key.partition(" ")
        if domain not in known_domains:
            issues.append(
                _key_issue(root, key, f"unknown integration '{domain}'", integration=domain)
            )
            continue
        if label and not _is_list_schema(known_domains[domain]):
            issues.append(
                _key_issue(
                    root,
                    key,
                    f"'{key}': integration '{domain}' takes a single section, so it cannot be "
                    "repeated with a label",
                    integration=domain,
                )
            )
            continue
        sections.setdefault(domain, []).append((key, value))

    integrations: dict[str, object] = {}
    for domain, parts in sections.items():
        schema = known_domains[domain]
        key, value = parts[0]
        if len(parts) > 1:
            # "sensor 2:" style keys: their lists are validated as one list under the domain.
            value = _concat_sections(parts)
        try:
            # An integration without a schema takes no options: its key alone turns it on.
            validated = (schema if schema is not None else empty_config)(value)
            if isinstance(validated, PartialSection):
                if validated.errors:
                    # The section itself is used, so the issues do not mark it as failed.
                    item_issues = humanize_invalid(
                        vol.MultipleInvalid(list(validated.errors)),
                        value,
                        domain=domain,
                        source=source_of_key(root, key),
                    )
                    issues.extend(replace(issue, integration=None) for issue in item_issues)
                validated = validated.value
            integrations[domain] = validated
        except vol.Invalid as exc:
            issues.extend(
                humanize_invalid(exc, value, domain=domain, source=source_of_key(root, key))
            )
        except Exception as exc:  # an integration's validator is foreign code: isolate it
            _LOGGER.exception("Schema of integration %s raised instead of vol.Invalid", domain)
            issues.append(
                _key_issue(
                    root,
                    key,
                    f"validation failed unexpectedly: {type(exc).__name__}",
                    integration=domain,
                )
            )
    return integrations


def _concat_sections(parts: list[tuple[object, object]]) -> NodeList:
    """Concatenate ``domain`` and ``domain label`` sections into one list."""
    combined = NodeList()
    first = parts[0][1]
    combined.source = source_of(first)
    for _key, value in parts:
        if value is None:
            continue
        if isinstance(value, list):
            for index, item in enumerate(value):
                combined.append(item)
                combined.item_sources.append(source_of_item(value, index))
        else:
            combined.append(value)
            combined.item_sources.append(source_of(value))
    return combined


def _is_list_schema(schema: object) -> bool:
    """Tell whether a schema takes a list, so that labelled sections can be concatenated."""
    if isinstance(schema, list):
        return True
    if isinstance(schema, DeferredSchema):
        return _is_list_schema(schema.resolve())
    if isinstance(schema, vol.Schema):
        return _is_list_schema(schema.schema)
    if isinstance(schema, vol.All):
        return any(_is_list_schema(validator) for validator in schema.validators)
    return False


def _key_issue(
    mapping: object, key: object, message: str, *, integration: str | None = None
) -> ConfigIssue:
    """Build an issue located at ``key`` inside ``mapping``."""
    where = source_of_key(mapping, key) or source_of(mapping)
    return ConfigIssue(
        message,
        path=None if where is None else where.path,
        line=None if where is None else where.line,
        key=str(key),
        integration=integration,
    )


def _walk(
    config: object, path: list[object], fallback: Source | None
) -> tuple[Source | None, bool, object, bool]:
    """Follow ``path`` into ``config``.

    Returns the deepest known location, whether the whole path exists, the value at its end and
    whether a secret lies on the way.
    """
    located = source_of(config) or fallback
    hidden = is_secret(config)
    node = config
    for step in path:
        if isinstance(node, dict) and _hashable(step) and step in node:
            where = source_of_key(node, step)
            node = node[step]
        elif isinstance(node, list) and isinstance(step, int) and 0 <= step < len(node):
            where = source_of_item(node, step)
            node = node[step]
        else:
            return located, False, None, hidden
        located = where or source_of(node) or located
        hidden = hidden or is_secret(node)
    return located, True, node, hidden


def _hashable(value: object) -> bool:
    """Tell whether ``value`` can be looked up in a dict."""
    try:
        hash(value)
    except TypeError:
        return False
    return True


def _redact(value: object) -> object:
    """Return a plain copy of ``value`` with every secret replaced by the placeholder."""
    if is_secret(value):
        return _SECRET_PLACEHOLDER
    if isinstance(value, dict):
        return {_redact(key): _redact(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_redact(item) for item in value]
    if isinstance(value, str):
        return str(value)
    return value


def _render(value: object) -> str:
    """Show a value briefly, secrets hidden."""
    text = repr(_redact(value))
    if len(text) > _MAX_VALUE_CHARS:
        text = text[: _MAX_VALUE_CHARS - 3] + "..."
    return text


def _secret_strings(value: object) -> set[str]:
    """Collect the text of every secret inside ``value``, to scrub them from messages."""
    if is_secret(value):
        return {text for leaf in _leaves(value) if (text := str(leaf))}
    if isinstance(value, dict):
        return {text for item in value.values() for text in _secret_strings(item)}
    if isinstance(value, list):
        return {text for item in value for text in _secret_strings(item)}
    return set()


def _leaves(value: object) -> list[object]:
    """Return every scalar inside ``value``."""
    if isinstance(value, dict):
        return [leaf for item in value.values() for leaf in _leaves(item)]
    if isinstance(value, list):
        return [leaf for item in value for leaf in _leaves(item)]
    return [value]


def _scrub(text: str, secrets: set[str]) -> str:
    """Replace every secret in ``text`` by the placeholder, longest first."""
    for secret in sorted(secrets, key=len, reverse=True):
        text = text.replace(secret, _SECRET_PLACEHOLDER)
    return text
