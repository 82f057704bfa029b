"""Checking a site's configuration the way loading it does, for the CLI and the running runtime.

``edgewise check-config`` and the ``homeassistant.check_config`` service run the same checks:
each section against its integration's schema, then each configured integration's own
``edgewise_check_config`` hook (automations, scripts and the services they call).
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING

from .config import CoreConfig, LoadedConfig, SectionValidator, load_site_config
from .const import DOMAIN_HOMEASSISTANT
from .core_sections import CORE_SECTIONS
from .errors import ConfigError
from .plugins import IntegrationLoader

if TYPE_CHECKING:
    from .runtime import Runtime


def _known(loader: IntegrationLoader) -> dict[str, SectionValidator | None]:
    known: dict[str, SectionValidator | None] = dict(CORE_SECTIONS)
    known.update({d: i.manifest.config_schema for d, i in loader.integrations.items()})
    return known


async def load_config(config_dir: Path, loader: IntegrationLoader) -> LoadedConfig:
    """Read and validate ``configuration.yaml`` off the loop."""
    return await asyncio.to_thread(load_site_config, config_dir, _known(loader))


async def check_site_config(config_dir: Path, loader: IntegrationLoader) -> list[str]:
    """Every problem loading ``config_dir`` would report, one line each; nothing is set up."""
    from .runtime import Runtime  # noqa: PLC0415 - the runtime module imports this one

    loaded = await load_config(config_dir, loader)
    problems = [*loader.load_errors, *(str(issue) for issue in loaded.issues)]
    problems.extend(await Runtime(config_dir, loader=loader).check_config(loaded))
    return problems


async def load_core_config(config_dir: Path, loader: IntegrationLoader) -> CoreConfig:
    """The core section as it is now on disk.

    Raises:
        ConfigError: the core section has errors (the running one is kept).
    """
    loaded = await load_config(config_dir, loader)
    core_issues = [str(i) for i in loaded.issues if not i.integration]
    if core_issues:
        raise ConfigError("; ".join(core_issues))
    return loaded.core


def service_declared(runtime: Runtime, domain: str, service: str) -> bool:
    """Whether ``domain.service`` will exist once ``runtime``'s configuration is set up.

    What check-config (nothing set up) knows of the services: the kernel's ``homeassistant``
    services, and what the configured and default integrations declare in their manifests
    (``Manifest.services``); an integration that declares nothing provides any service of its
    own domain. An entity domain's services (``switch.turn_on``, registered when the first
    switch is added) are there when a configured integration declares it adds such entities
    (``Manifest.entity_domains``).
    """
    from .core_services import SERVICES  # noqa: PLC0415 - core_services imports this module

    domain, service = domain.lower(), service.lower()
    if domain == DOMAIN_HOMEASSISTANT:
        return service in SERVICES
    integrations = runtime.loader.integrations
    configured = set(runtime.config.integrations) & set(integrations)
    configured |= {d for d, loaded in integrations.items() if loaded.manifest.default}
    return any(integrations[d].manifest.provides(domain, service) for d in configured)
