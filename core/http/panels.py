"""Pages that integrations add to the web panel (the ``edgewise_panels`` hook).

An integration returns ``Panel`` descriptors from ``edgewise_panels(runtime)``. A panel with a
``static_dir`` has its files served (no token needed, like the panel's own) under
``/panel-static/<url_path>/<version>/``; the panel imports ``module`` from there and calls its
default export ``render(element, api)`` (see ``frontend/js/pages/custom.js``), where ``api`` is
the panel's authenticated WebSocket connection. WebSocket ``get_panels`` lists the panels a user
may open.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from core.runtime import Runtime

_LOGGER = logging.getLogger(__name__)

_URL_PATH_RE = re.compile(r"^[a-z][a-z0-9_-]*$")
#: url_paths the panel uses for its own pages.
RESERVED_URL_PATHS = frozenset(
    {"overview", "entity", "logbook", "integrations", "settings", "automations", "login", "panel"}
)


@dataclass(frozen=True, slots=True)
class Panel:
    """A page an integration adds to the web panel.

    Attributes:
        url_path: the page's address in the panel (``#/panel/<url_path>``); lower-case letters,
            digits, ``-`` and ``_``.
        title: the name in the navigation.
        icon: an icon name (``mdi:...``), shown where the panel can.
        module: the ES module, relative to ``static_dir``, whose default export renders the page.
        static_dir: the folder holding ``module`` and whatever it imports.
        require_admin: only admins see and may open the page.
        config: anything the module needs, passed as ``api.panel.config``.
        domain: the integration that added it (filled in by the runtime).
    """

    url_path: str
    title: str
    icon: str | None = None
    module: str | None = None
    static_dir: Path | None = None
    require_admin: bool = False
    config: Mapping[str, Any] | None = None
    domain: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        if not _URL_PATH_RE.match(self.url_path) or self.url_path in RESERVED_URL_PATHS:
            raise ValueError(f"Invalid or reserved panel url_path {self.url_path!r}")
        if (self.module is None) != (self.static_dir is None):
            raise ValueError(f"Panel {self.url_path!r}: give both module and static_dir, or none")


def panels_of(runtime: Runtime) -> dict[str, Panel]:
    """The panels of every running integration, by ``url_path``.

    A bad descriptor, a duplicate ``url_path`` or a hook that raises is logged with the
    integration's domain and left out; the other panels are listed.
    """
    panels: dict[str, Panel] = {}
    for domain, found in runtime.loader.call_each_sync("edgewise_panels", runtime=runtime).results:
        for panel in found:
            if not isinstance(panel, Panel):
                _LOGGER.error("edgewise_panels of %s returned %r, not a Panel", domain, panel)
                continue
            if panel.url_path in panels:
                _LOGGER.error(
                    "Panel %s of %s: url_path taken by %s",
                    panel.url_path,
                    domain,
                    panels[panel.url_path].domain,
                )
                continue
            panels[panel.url_path] = Panel(
                url_path=panel.url_path,
                title=panel.title,
                icon=panel.icon,
                module=panel.module,
                static_dir=panel.static_dir,
                require_admin=panel.require_admin,
                config=panel.config,
                domain=domain,
            )
    return panels


def panel_json(panel: Panel, version: str | None) -> dict[str, Any]:
    """A panel in Home Assistant's ``get_panels`` shape, plus the URL of its module."""
    module_url = None
    if panel.module is not None and version is not None:
        module_url = f"/panel-static/{panel.url_path}/{version}/{panel.module}"
    return {
        "component_name": panel.domain,
        "icon": panel.icon,
        "title": panel.title,
        "config": dict(panel.config) if panel.config is not None else None,
        "url_path": panel.url_path,
        "require_admin": panel.require_admin,
        "config_panel_domain": None,
        "module_url": module_url,
    }
