"""The users and grants in memory, and the files that keep them (``.storage/auth`` and friends).

Shared by the server's ``AuthManager`` and the command line, which loads and saves the file
itself. Writing users also writes the onboarding marker (``.storage/onboarding``), so a lost or
corrupt auth file can never make the site look new.
"""

from __future__ import annotations

import logging
import os
import secrets
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from core.errors import EdgewiseError
from core.storage import _read, _write_atomic

from .const import (
    ACCESS_TOKEN_EXPIRATION,
    MAX_REVOKED_REMEMBERED,
    ONBOARDING_KEY,
    STORAGE_KEY,
    STORAGE_VERSION,
    TOKEN_KEY_FILE,
)
from .models import RefreshToken, Role, TokenType, User, hash_token, new_token

_LOGGER = logging.getLogger(__name__)


class AuthError(EdgewiseError):
    """A user or token operation cannot be done (duplicate user name, unknown id, ...)."""


class CorruptAuthFile(AuthError):
    """``.storage/auth`` cannot be read; it was moved aside."""

    def __init__(self, path: Path, moved_to: Path | None, reason: str) -> None:
        where = f"; it was moved to {moved_to}" if moved_to is not None else ""
        super().__init__(f"{path} is corrupt ({reason}){where}")
        self.moved_to = moved_to


class AuthData:
    """The users and grants, in memory, with the operations on them (no I/O).

    Args:
        now: POSIX seconds now (the runtime's clock in the server, ``time.time`` elsewhere).
    """

    def __init__(self, now: Callable[[], float] = time.time) -> None:
        self.now = now
        self.users: dict[str, User] = {}
        self.tokens: dict[str, RefreshToken] = {}
        #: Hashes of revoked grants' tokens → when revoked (newest last, bounded).
        self.revoked: dict[str, float] = {}
        self._by_hash: dict[str, RefreshToken] = {}

    def load(self, data: dict[str, Any] | None) -> None:
        """Replace the content with the stored ``data`` (None: empty).

        Raises:
            KeyError, ValueError, TypeError: the data is malformed.
        """
        data = data or {}
        self.users = {u.id: u for u in map(User.from_store, data.get("users", []))}
        tokens = [RefreshToken.from_store(t) for t in data.get("refresh_tokens", [])]
        self.tokens = {t.id: t for t in tokens if t.user_id in self.users}
        self._by_hash = {t.token_hash: t for t in self.tokens.values()}
        self.revoked = {str(k): float(v) for k, v in dict(data.get("revoked", {})).items()}

    def to_store(self) -> dict[str, Any]:
        """The stored form."""
        return {
            "users": [u.to_store() for u in self.users.values()],
            "refresh_tokens": [t.to_store() for t in self.tokens.values()],
            "revoked": self.revoked,
        }

    # --- users ---------------------------------------------------------------------------------

    def user_by_username(self, username: str) -> User | None:
        """The user with ``username`` (case-insensitive), or None."""
        wanted = username.casefold()
        return next((u for u in self.users.values() if u.username.casefold() == wanted), None)

    def find_user(self, id_or_username: str) -> User:
        """The user with this id or user name.

        Raises:
            AuthError: there is none.
        """
        user = self.users.get(id_or_username) or self.user_by_username(id_or_username)
        if user is None:
            raise AuthError(f"No user {id_or_username!r}")
        return user

    def add_user(
        self,
        username: str,
        password_hash: str,
        *,
        name: str | None = None,
        role: Role = Role.ADMIN,
        is_owner: bool = False,
    ) -> User:
        """Add a user whose password is already hashed.

        Raises:
            AuthError: the user name is empty or taken.
        """
        username = username.strip()
        if not username:
            raise AuthError("A user name cannot be empty")
        if self.user_by_username(username) is not None:
            raise AuthError(f"User name {username!r} is already taken")
        user = User(
            username=username,
            name=name or username,
            role=role,
            password_hash=password_hash,
            is_owner=is_owner,
            created_at=self.now(),
        )
        self.users[user.id] = user
        return user

    def remove_user(self, user_id: str) -> None:
        """Remove a user and every grant it holds.

        Raises:
            AuthError: there is no such user.
        """
        if self.users.pop(user_id, None) is None:
            raise AuthError(f"No user with id {user_id!r}")
        for token in [t for t in self.tokens.values() if t.user_id == user_id]:
            self.revoke(token.id)

    # --- grants --------------------------------------------------------------------------------

    def add_grant(
        self,
        user: User,
        token_type: TokenType,
        *,
        client_id: str | None = None,
        client_name: str | None = None,
        lifespan_days: float | None = None,
    ) -> tuple[RefreshToken, str]:
        """Make a grant for ``user``; return it and its token (shown once, never stored)."""
        token = new_token()
        now = self.now()
        grant = RefreshToken(
            user_id=user.id,
            token_hash=hash_token(token),
            token_type=token_type,
            client_id=client_id,
            client_name=client_name,
            created_at=now,
            access_token_expiration=ACCESS_TOKEN_EXPIRATION,
            expires_at=None if lifespan_days is None else now + lifespan_days * 86400,
        )
        self.tokens[grant.id] = grant
        self._by_hash[grant.token_hash] = grant
        return grant, token

    def grant_by_token(self, token: str) -> RefreshToken | None:
        """The grant whose token is ``token``, or None (also when it has expired)."""
        grant = self._by_hash.get(hash_token(token))
        if grant is None or (grant.expires_at is not None and grant.expires_at < self.now()):
            return None
        return grant

    def was_granted(self, token: str) -> bool:
        """Whether ``token`` is (or was) a grant's token: current, expired or revoked."""
        token_hash = hash_token(token)
        return token_hash in self._by_hash or token_hash in self.revoked

    def revoke(self, token_id: str) -> RefreshToken:
        """Revoke a grant by id (its hash is remembered as revoked).

        Raises:
            AuthError: there is no such grant.
        """
        grant = self.tokens.pop(token_id, None)
        if grant is None:
            raise AuthError(f"No token with id {token_id!r}")
        self._by_hash.pop(grant.token_hash, None)
        self.revoked[grant.token_hash] = self.now()
        while len(self.revoked) > MAX_REVOKED_REMEMBERED:
            del self.revoked[next(iter(self.revoked))]
        return grant


# --- files ---------------------------------------------------------------------------------------


def read_auth_file(path: Path) -> AuthData:
    """Read ``.storage/auth`` (empty data when there is no file).

    Raises:
        CorruptAuthFile: the file is not a valid auth store (it was moved aside).
    """
    content, moved_to = _read(path)
    if moved_to is not None:
        raise CorruptAuthFile(path, moved_to, "not JSON")
    data = AuthData()
    try:
        data.load(None if content is None else content["data"])
    except (KeyError, ValueError, TypeError, AttributeError) as err:
        raise CorruptAuthFile(path, _move_aside_safely(path), f"bad entry: {err!r}") from None
    return data


def _move_aside_safely(path: Path) -> Path | None:
    from core.storage import _move_aside  # noqa: PLC0415 - private helper, used only here

    try:
        return _move_aside(path)
    except OSError:
        return None


def write_auth_file(path: Path, data: AuthData) -> None:
    """Write ``.storage/auth`` atomically; with users, also the onboarding marker."""
    _write_atomic(
        path,
        {
            "version": STORAGE_VERSION,
            "minor_version": 1,
            "key": STORAGE_KEY,
            "data": data.to_store(),
        },
    )
    if data.users:
        mark_onboarded(path.parent)


def onboarding_marker(storage_dir: Path) -> Path:
    """Where the onboarding marker lives."""
    return storage_dir / ONBOARDING_KEY


def was_onboarded(storage_dir: Path) -> bool:
    """Whether this site ever had its owner created (or had an auth store, now lost).

    A corrupt auth store moved aside (``auth.corrupt-*``) counts: it held users.
    """
    if onboarding_marker(storage_dir).exists():
        return True
    return any(storage_dir.glob(f"{STORAGE_KEY}.corrupt-*"))


def mark_onboarded(storage_dir: Path) -> None:
    """Write the onboarding marker (Home Assistant's form) unless it exists."""
    marker = onboarding_marker(storage_dir)
    if marker.exists():
        return
    _write_atomic(
        marker,
        {
            "version": 4,
            "minor_version": 1,
            "key": ONBOARDING_KEY,
            "data": {"done": ["user"]},
        },
    )


def load_token_key(storage_dir: Path) -> bytes:
    """The key that signs access tokens, made (random, mode 0600) on first use."""
    path = storage_dir / TOKEN_KEY_FILE
    try:
        key = bytes.fromhex(path.read_text(encoding="ascii").strip())
    except FileNotFoundError:
        key = b""
    except (OSError, ValueError):
        _LOGGER.warning("%s is unreadable; making a new key (open sessions refresh)", path)
        key = b""
    if len(key) >= 32:
        return key
    key = secrets.token_bytes(32)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as file:
        file.write(key.hex())
        file.flush()
        os.fsync(file.fileno())
    os.replace(tmp, path)
    return key
