"""What an integration declares about itself (its Manifest) and how the runtime tracks it."""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Generic, cast

from typing_extensions import TypeVar

from .errors import IntegrationError

_DOMAIN_RE = re.compile(r"^[a-z][a-z0-9_]*$")
_TYPE_PATH_RE = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")

#: The type of an integration's validated configuration (what its ``config_schema`` returns).
#: A bare ``Manifest`` is ``Manifest[object]``: its configuration is not checked.
ConfigT = TypeVar("ConfigT", default=object)


class IntegrationStatus(StrEnum):
    """Where an integration is in its life."""

    LOADED = "loaded"
    NOT_CONFIGURED = "not_configured"
    CONFIG_ERROR = "config_error"
    SETTING_UP = "setting_up"
    SETUP_ERROR = "setup_error"
    DEPENDENCY_FAILED = "dependency_failed"
    RUNNING = "running"
    #: Set up, then failed for good in the background (``Runtime.integration_failed``).
    FAILED = "failed"
    STOPPED = "stopped"


@dataclass(frozen=True, slots=True)
class Manifest(Generic[ConfigT]):
    """Who an integration is and what it needs; generic in its validated configuration's type.

    ``Manifest[MeterConfig](..., config_schema=SCHEMA, config_type=MeterConfig)`` promises that
    ``edgewise_setup(runtime, config)`` receives a ``MeterConfig`` (or None when the site has no
    section for a ``default`` integration): the runtime checks what the schema returned before
    it calls setup, and reports a mismatch as the integration's setup error, so setup does not
    check again.

    Attributes:
        domain: the integration's unique name, also its key in ``configuration.yaml``.
        name: a human-readable name.
        config_schema: validates the integration's section of the configuration and returns a
            ``ConfigT``; None when the integration takes no options (its key alone, empty,
            turns it on; any option under it is reported as an error).
        config_type: the class the schema returns, or its ``"module:Class"`` path (imported only
            when the integration is set up, for schemas that are ``validators.deferred``). None:
            not checked.
        dependencies: domains that must be set up, successfully, before this one.
        after_dependencies: domains to set up first when they are configured, not required.
        default: set up even when the configuration does not name the domain.
        setup_timeout: seconds ``edgewise_setup`` may take.
        stop_timeout: seconds ``edgewise_stop`` may take.
        version: the integration's version, shown in diagnostics.
        documentation: where its documentation lives.
    """

    domain: str
    name: str
    config_schema: Callable[[object], object] | None = None
    config_type: type[ConfigT] | str | None = None
    dependencies: tuple[str, ...] = ()
    after_dependencies: tuple[str, ...] = ()
    default: bool = False
    setup_timeout: float = 60.0
    stop_timeout: float = 10.0
    version: str = "0.0.0"
    documentation: str = ""

    def __post_init__(self) -> None:
        if not _DOMAIN_RE.match(self.domain):
            raise ValueError(
                f"Invalid integration domain {self.domain!r}: lower-case letters, digits, '_'"
            )
        if self.config_schema is not None and not callable(self.config_schema):
            raise ValueError(f"Integration {self.domain}: config_schema is not callable")
        if self.config_type is not None:
            if self.config_schema is None:
                raise ValueError(
                    f"Integration {self.domain}: config_type without a config_schema to make it"
                )
            if isinstance(self.config_type, str):
                if not _TYPE_PATH_RE.match(self.config_type):
                    raise ValueError(
                        f"Integration {self.domain}: config_type {self.config_type!r} is not "
                        "a class or a 'module:Class' path"
                    )
            elif not isinstance(self.config_type, type):
                raise ValueError(f"Integration {self.domain}: config_type is not a class")

    def checked_config(self, config: object) -> ConfigT | None:
        """``config`` (the schema's result), checked to be a ``config_type`` (or None).

        Raises:
            IntegrationError: it is of another type, or the type cannot be imported.
        """
        expected = self.config_type
        if config is None or expected is None:
            return cast(ConfigT | None, config)  # unchecked, by the manifest's choice
        if isinstance(expected, str):
            module_name, _, class_name = expected.partition(":")
            try:
                expected = getattr(importlib.import_module(module_name), class_name)
            except (ImportError, AttributeError) as err:
                raise IntegrationError(
                    f"config_type {self.config_type} cannot be imported: {err}",
                    integration=self.domain,
                ) from err
            if not isinstance(expected, type):
                raise IntegrationError(
                    f"config_type {self.config_type} is not a class", integration=self.domain
                )
        if not isinstance(config, expected):
            raise IntegrationError(
                f"the configuration schema returned a {type(config).__name__}, not the "
                f"{expected.__name__} the manifest declares",
                integration=self.domain,
            )
        return config


#: What ``IntegrationLoader`` accepts from ``edgewise_manifest``.
AnyManifest = Manifest[object]
