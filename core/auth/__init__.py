"""Users, roles and tokens: who may use the HTTP and WebSocket APIs, and for what."""

from __future__ import annotations

from .manager import AuthError, AuthManager
from .models import Permission, RefreshToken, Role, TokenType, User

__all__ = [
    "AuthError",
    "AuthManager",
    "Permission",
    "RefreshToken",
    "Role",
    "TokenType",
    "User",
]
