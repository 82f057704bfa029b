"""Users, their roles, and the tokens they authenticate with.

Nothing secret is kept in clear: passwords are argon2 hashes, and every token (refresh token,
long-lived access token, short-lived access token, authorisation code) is kept as the SHA-256 of
its value, so a copy of ``.storage/auth`` lets nobody in.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass, field
from enum import IntEnum, StrEnum
from typing import Any, TypedDict

from ulid_transform import ulid_now


class Role(StrEnum):
    """What a user may do: each role includes everything of the roles below it."""

    VIEWER = "viewer"
    OPERATOR = "operator"
    ADMIN = "admin"


class Permission(IntEnum):
    """What a route or command needs, in increasing order.

    ``PUBLIC`` needs no authentication at all; ``READ`` any user; ``CONTROL`` an operator (call
    entity services, trigger automations); ``ADMIN`` an admin (configuration, users, raw state
    and event writes).
    """

    PUBLIC = 0
    READ = 1
    CONTROL = 2
    ADMIN = 3


#: The most a role may do.
ROLE_PERMISSION: dict[Role, Permission] = {
    Role.VIEWER: Permission.READ,
    Role.OPERATOR: Permission.CONTROL,
    Role.ADMIN: Permission.ADMIN,
}


class TokenType(StrEnum):
    """The kinds of refresh token, named as Home Assistant names them."""

    NORMAL = "normal"
    LONG_LIVED = "long_lived_access_token"


def hash_token(token: str) -> str:
    """The SHA-256 (hex) under which a token is stored and looked up."""
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> str:
    """A fresh random token (256 bits, URL-safe)."""
    return secrets.token_urlsafe(32)


class UserDict(TypedDict):
    """A user as stored and as the API shows it (without the password hash)."""

    id: str
    username: str
    name: str
    role: str
    is_owner: bool
    is_active: bool
    created_at: float
    areas: list[str] | None


@dataclass(slots=True)
class User:
    """A person (or program) that may log in."""

    username: str
    name: str
    role: Role
    password_hash: str
    id: str = field(default_factory=ulid_now)
    is_owner: bool = False
    is_active: bool = True
    created_at: float = 0.0
    #: The areas (area ids) the user is limited to; None: every area (see ``core.auth.areas``).
    areas: frozenset[str] | None = None

    @property
    def is_admin(self) -> bool:
        """Whether the user is an admin."""
        return self.role is Role.ADMIN

    def can(self, needed: Permission) -> bool:
        """Whether the user's role allows what ``needed`` asks."""
        return self.is_active and ROLE_PERMISSION[self.role] >= needed

    def as_dict(self) -> UserDict:
        """The public form (no password hash)."""
        return {
            "id": self.id,
            "username": self.username,
            "name": self.name,
            "role": self.role.value,
            "is_owner": self.is_owner,
            "is_active": self.is_active,
            "created_at": self.created_at,
            "areas": None if self.areas is None else sorted(self.areas),
        }

    def to_store(self) -> dict[str, Any]:
        """The stored form (with the password hash)."""
        return {**self.as_dict(), "password_hash": self.password_hash}

    @classmethod
    def from_store(cls, data: dict[str, Any]) -> User:
        """Rebuild from ``to_store``'s form."""
        return cls(
            username=str(data["username"]),
            name=str(data["name"]),
            role=Role(data["role"]),
            password_hash=str(data["password_hash"]),
            id=str(data["id"]),
            is_owner=bool(data.get("is_owner", False)),
            is_active=bool(data.get("is_active", True)),
            created_at=float(data.get("created_at", 0.0)),
            areas=None if data.get("areas") is None else frozenset(map(str, data["areas"])),
        )


@dataclass(slots=True)
class RefreshToken:
    """A grant a user holds: a login session (``normal``) or a long-lived access token.

    Only ``token_hash`` is kept. Revoking the grant also ends every short-lived access token
    issued from it.
    """

    user_id: str
    token_hash: str
    token_type: TokenType
    client_id: str | None = None
    client_name: str | None = None
    id: str = field(default_factory=ulid_now)
    created_at: float = 0.0
    last_used_at: float | None = None
    #: Seconds a short-lived access token issued from this grant lasts.
    access_token_expiration: float = 1800.0
    #: For long-lived tokens: when it stops working (POSIX seconds).
    expires_at: float | None = None

    def to_store(self) -> dict[str, Any]:
        """The stored form."""
        return {
            "id": self.id,
            "user_id": self.user_id,
            "token_hash": self.token_hash,
            "token_type": self.token_type.value,
            "client_id": self.client_id,
            "client_name": self.client_name,
            "created_at": self.created_at,
            "last_used_at": self.last_used_at,
            "access_token_expiration": self.access_token_expiration,
            "expires_at": self.expires_at,
        }

    def as_dict(self) -> dict[str, Any]:
        """The public form (no hash), as listed by the CLI and the API."""
        data = self.to_store()
        del data["token_hash"]
        return data

    @classmethod
    def from_store(cls, data: dict[str, Any]) -> RefreshToken:
        """Rebuild from ``to_store``'s form."""
        return cls(
            user_id=str(data["user_id"]),
            token_hash=str(data["token_hash"]),
            token_type=TokenType(data["token_type"]),
            client_id=data.get("client_id"),
            client_name=data.get("client_name"),
            id=str(data["id"]),
            created_at=float(data.get("created_at", 0.0)),
            last_used_at=data.get("last_used_at"),
            access_token_expiration=float(data.get("access_token_expiration", 1800.0)),
            expires_at=data.get("expires_at"),
        )
