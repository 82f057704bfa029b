"""Which services an operator may call: entity services and automations, not configuration."""

from __future__ import annotations

from core.auth import Permission, User
from core.errors import Unauthorized

#: Domains whose services change the configuration or the runtime itself: admins only.
ADMIN_ONLY_SERVICE_DOMAINS = frozenset(
    {"edgewise", "homeassistant", "recorder", "logger", "system_log", "auth", "timescale"}
)


def service_permission(domain: str, service: str) -> Permission:
    """What calling ``domain.service`` needs: ``ADMIN`` for configuration, else ``CONTROL``."""
    if domain.lower() in ADMIN_ONLY_SERVICE_DOMAINS or service.lower().startswith("reload"):
        return Permission.ADMIN
    return Permission.CONTROL


def check_service_allowed(user: User, domain: str, service: str) -> None:
    """Raise when ``user`` may not call ``domain.service``.

    Raises:
        Unauthorized: the user's role does not allow it.
    """
    needed = service_permission(domain, service)
    if not user.can(needed):
        raise Unauthorized(
            f"User {user.username} (role {user.role.value}) may not call {domain}.{service}",
            user_id=user.id,
        )
