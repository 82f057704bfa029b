"""What an integration declares about itself (its Manifest) and how the runtime tracks it."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from .config import SectionValidator

_DOMAIN_RE = re.compile(r"^[a-z][a-z0-9_]*$")


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
class Manifest:
    """Who an integration is and what it needs.

    Attributes:
        domain: the integration's unique name, also its key in ``configuration.yaml``.
        name: a human-readable name.
        config_schema: validates the integration's section of the configuration; None when the
            integration takes no options (its key alone, empty, turns it on; any option under
            it is reported as an error).
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
    config_schema: SectionValidator | None = None
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
