"""What each integration registered, so that stopping it removes all of it.

Everything an integration adds to the kernel (HTTP routes and WebSocket commands through
``core.http``, services through ``runtime.services``, logbook descriptions, webhooks...) returns a
remover. The registry that hands out the remover also records it here under the integration
that is *current* at that moment: the runtime makes an integration current while its
``edgewise_setup`` (and every task that setup starts) runs, through a context variable, so an
author never passes their domain around. ``Runtime.stop_integration`` then calls the removers of
that integration, newest first, each failure isolated.

Code that registers on an integration's behalf outside its setup (a reload service handler, a
callback) makes it current explicitly with ``runtime.registrations.owner(domain)``. What is
registered while no integration is current belongs to the kernel and lives as long as the
runtime.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from contextvars import ContextVar

_LOGGER = logging.getLogger(__name__)

Remove = Callable[[], None]
"""Removes what was registered; calling it twice is harmless."""

#: (id of the Registrations, domain) of the integration whose code runs now.
_CURRENT: ContextVar[tuple[int, str] | None] = ContextVar("edgewise_integration", default=None)


class Registrations:
    """The removers of what each integration registered, by domain, for one runtime."""

    def __init__(self) -> None:
        self._removers: dict[str, list[Remove]] = {}

    @contextmanager
    def owner(self, domain: str) -> Iterator[None]:
        """Make ``domain`` the integration that owns what is registered inside the block.

        Tasks created inside the block inherit it (asyncio copies the context).
        """
        token = _CURRENT.set((id(self), domain))
        try:
            yield
        finally:
            _CURRENT.reset(token)

    def current_owner(self) -> str | None:
        """The integration that owns what is registered now, or None (the kernel)."""
        current = _CURRENT.get()
        if current is None or current[0] != id(self):
            return None
        return current[1]

    def track(self, remove: Remove) -> Remove:
        """Record ``remove`` under the current integration; return a remover to hand out.

        The returned remover runs ``remove`` once and forgets it, so an integration may remove
        early what it registered and its stop does not remove it twice. Under no integration
        (kernel code), ``remove`` is still made safe to call twice but nobody tracks it.
        """
        domain = self.current_owner()
        done = False

        def remover() -> None:
            nonlocal done
            if done:
                return
            done = True
            if domain is not None and (owned := self._removers.get(domain)) is not None:
                with suppress(ValueError):
                    owned.remove(remover)
            remove()

        if domain is not None:
            self._removers.setdefault(domain, []).append(remover)
        return remover

    def owned(self, domain: str) -> int:
        """How many registrations of ``domain`` are still in place."""
        return len(self._removers.get(domain, ()))

    def teardown(self, domain: str) -> int:
        """Remove everything ``domain`` registered, newest first; return how many.

        A remover that raises is logged with the domain; the others still run.
        """
        owned = self._removers.pop(domain, [])
        for remover in reversed(owned):
            try:
                remover()
            except Exception:  # an isolation boundary: one registration of one integration
                _LOGGER.exception("Error removing a registration of %s", domain)
        return len(owned)
