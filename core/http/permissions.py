"""Who may call a service over the APIs: the role each service declared when it was registered.

A service says what it needs in ``runtime.services.register(..., permission=...)``: ``CONTROL``
(the default: operate equipment, run automations) or ``ADMIN`` (change the configuration:
reloads, purges, adding points). The HTTP layer knows no domain by name.
"""

from __future__ import annotations

from core.auth import Permission, User
from core.errors import Unauthorized
from core.services import ServiceRegistry


def service_permission(services: ServiceRegistry, domain: str, service: str) -> Permission:
    """What calling ``domain.service`` needs, as registered (``CONTROL`` for an unknown one).

    An unknown service needs ``CONTROL``, so a viewer learns nothing about which services exist.
    """
    if not services.has(domain, service):
        return Permission.CONTROL
    return services.get(domain, service).permission


def check_service_allowed(user: User, services: ServiceRegistry, domain: str, service: str) -> None:
    """Raise when ``user`` may not call ``domain.service``.

    Raises:
        Unauthorized: the user's role does not allow it.
    """
    needed = service_permission(services, domain, service)
    if not user.can(needed):
        raise Unauthorized(
            f"User {user.username} (role {user.role.value}) may not call {domain}.{service}: "
            f"it needs {needed.name.lower()}",
            user_id=user.id,
        )
