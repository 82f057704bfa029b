"""One runtime's HTTP routes and WebSocket commands added at run time, each with its remover.

The kernel's own WebSocket commands (states, services, events, auth, registries, templates) are
declared in their modules with ``ws_commands.kernel_command`` and copied into each runtime's
registry when it is made; integrations add theirs with ``core.http.register_command`` and their
routes with ``core.http.register_route``, both from setup. What an integration adds is removed
when it stops (see ``core.registrations``).

A route path is exact (``/api/history/period``) or has ``{name}`` segments
(``/api/history/period/{timestamp}``), each matching one non-empty path segment; the handler
reads them from ``request.match_info``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from core.auth import Permission

from .view import Handler, requires

if TYPE_CHECKING:
    from core.registrations import Registrations

    from .websocket import Connection

CommandHandler = Callable[["Connection", dict[str, Any]], Coroutine[Any, Any, None] | None]
"""``handler(conn, msg)``: answers with ``conn.send(...)``; a coroutine runs as a task."""

_SEGMENT_RE = re.compile(r"^\{([a-z_][a-z0-9_]*)\}$")
_COMMAND_RE = re.compile(r"^[a-z0-9_]+(/[a-z0-9_]+)*$")
_PATH_RE = re.compile(r"^/api(/[A-Za-z0-9_.\-{}]+)+$")


@dataclass(frozen=True, slots=True)
class Command:
    """A WebSocket command: its handler and the permission a user needs to send it."""

    handler: CommandHandler
    permission: Permission


@dataclass(frozen=True, slots=True)
class _Pattern:
    method: str
    segments: tuple[str | None, ...]  # None: a {name} segment
    names: tuple[str, ...]
    handler: Handler

    def match(self, parts: list[str]) -> dict[str, str] | None:
        if len(parts) != len(self.segments):
            return None
        params: dict[str, str] = {}
        names = iter(self.names)
        for part, segment in zip(parts, self.segments, strict=True):
            if segment is None:
                if not part:
                    return None
                params[next(names)] = part
            elif part != segment:
                return None
        return params


class ApiRegistry:
    """The routes and WebSocket commands of one runtime."""

    def __init__(
        self, registrations: Registrations, kernel_commands: Mapping[str, Command] = {}
    ) -> None:
        self._registrations = registrations
        self._routes: dict[tuple[str, str], Handler] = {}
        self._patterns: list[_Pattern] = []
        #: type -> command; read by the WebSocket dispatcher.
        self.commands: dict[str, Command] = dict(kernel_commands)

    # --- routes --------------------------------------------------------------------------------

    def add_route(
        self, method: str, path: str, handler: Handler, permission: Permission
    ) -> Callable[[], None]:
        """Serve ``handler`` at ``method path``; see ``core.http.register_route``."""
        method = method.upper()
        if not _PATH_RE.match(path) or "//" in path:
            raise ValueError(f"A registered route must be a path under /api/: {path!r}")
        if permission is Permission.PUBLIC:
            raise ValueError(f"Route {method} {path}: a registered route needs a signed-in user")
        wrapped = requires(permission)(handler)
        segments = path.split("/")
        if any("{" in s or "}" in s for s in segments):
            return self._add_pattern(method, path, segments, wrapped)
        key = (method, path)
        if key in self._routes or self._match(method, path) is not None:
            raise ValueError(f"Route {method} {path} exists already")
        self._routes[key] = wrapped

        def remove() -> None:
            if self._routes.get(key) is wrapped:
                del self._routes[key]

        return self._registrations.track(remove)

    def _add_pattern(
        self, method: str, path: str, segments: list[str], handler: Handler
    ) -> Callable[[], None]:
        shape: list[str | None] = []
        names: list[str] = []
        for segment in segments:
            if (match := _SEGMENT_RE.match(segment)) is not None:
                shape.append(None)
                names.append(match.group(1))
            elif "{" in segment or "}" in segment:
                raise ValueError(f"Route {path!r}: a placeholder is a whole segment, {{name}}")
            else:
                shape.append(segment)
        if len(set(names)) != len(names):
            raise ValueError(f"Route {path!r} names a placeholder twice")
        pattern = _Pattern(method, tuple(shape), tuple(names), handler)
        if any(p.method == method and p.segments == pattern.segments for p in self._patterns):
            raise ValueError(f"Route {method} {path} exists already")
        self._patterns.append(pattern)

        def remove() -> None:
            if pattern in self._patterns:
                self._patterns.remove(pattern)

        return self._registrations.track(remove)

    def _match(self, method: str, path: str) -> tuple[Handler, dict[str, str]] | None:
        handler = self._routes.get((method, path))
        if handler is not None:
            return handler, {}
        if not self._patterns:
            return None
        parts = path.split("/")
        for pattern in self._patterns:
            if pattern.method == method and (params := pattern.match(parts)) is not None:
                return pattern.handler, params
        return None

    def resolve(self, method: str, path: str) -> tuple[Handler, dict[str, str]] | None:
        """The handler for ``method path`` and the values of its ``{name}`` segments, or None."""
        return self._match(method.upper(), path)

    def routes(self) -> list[tuple[str, str, Handler]]:
        """Every route: method, path (placeholders as ``{name}``) and handler."""
        found = [(m, p, h) for (m, p), h in self._routes.items()]
        for pattern in self._patterns:
            names = iter(pattern.names)
            path = "/".join(s if s is not None else f"{{{next(names)}}}" for s in pattern.segments)
            found.append((pattern.method, path, pattern.handler))
        return found

    def allowed_methods(self, path: str) -> set[str]:
        """The methods some route serves at ``path`` (for a 405's ``Allow``)."""
        methods = {m for (m, p) in self._routes if p == path}
        parts = path.split("/")
        methods.update(p.method for p in self._patterns if p.match(parts) is not None)
        return methods

    # --- WebSocket commands --------------------------------------------------------------------

    def add_command(
        self, command_type: str, handler: CommandHandler, permission: Permission
    ) -> Callable[[], None]:
        """Answer WebSocket messages of ``command_type``; see ``core.http.register_command``."""
        if not _COMMAND_RE.match(command_type):
            raise ValueError(
                f"Invalid WebSocket command type {command_type!r}: lower-case words joined by '/'"
            )
        if permission is Permission.PUBLIC:
            raise ValueError(f"WebSocket command {command_type}: commands need a signed-in user")
        if command_type in self.commands:
            raise ValueError(f"WebSocket command {command_type!r} is already registered")
        command = Command(handler, permission)
        self.commands[command_type] = command

        def remove() -> None:
            if self.commands.get(command_type) is command:
                del self.commands[command_type]

        return self._registrations.track(remove)
