"""The ``sun:`` section of ``configuration.yaml``: it switches the integration on, nothing else.

Example::

    # configuration.yaml
    sun:

``sun: {}`` is the same. The observer's place is the site's (``edgewise:`` latitude, longitude,
elevation and time zone), so the section takes no options; any key under it is an error that
names the key and its line.
"""

from __future__ import annotations

from dataclasses import dataclass

import voluptuous as vol

from core import validators


@dataclass(frozen=True, slots=True)
class SunConfig:
    """The validated ``sun:`` section; empty, as the integration takes no options."""


CONFIG_SCHEMA = vol.All(validators.empty_config, lambda _: SunConfig())
"""Validates the value under ``sun:`` into a :class:`SunConfig`."""
