"""The auth manager: users, passwords, grants and tokens, kept in ``.storage/auth``.

Flow, as in Home Assistant: a login (or the onboarding of the first user) yields a one-time
*authorisation code*; ``/auth/token`` exchanges it for a *refresh token* (a login session) and a
short-lived *access token*; the refresh token buys new access tokens until it is revoked. A
*long-lived access token* is a grant of its own whose token is used directly as a bearer.

Short-lived access tokens and authorisation codes live in memory only (a restart makes clients
refresh, as they do when a token expires); grants and users are stored, hashed. The ``edgewise
user``/``edgewise token`` commands edit the same file while the server may run: the manager
notices the file changed (checked at most once a second) and reloads it.
"""

from __future__ import annotations

import functools
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from core.errors import EdgewiseError
from core.storage import ExecutorJob, _read, _write_atomic

from .models import RefreshToken, Role, TokenType, User, hash_token, new_token

_LOGGER = logging.getLogger(__name__)

# Module-level so that tests can move time for the manager alone.
_now = time.time
_monotonic = time.monotonic

STORAGE_KEY = "auth"
STORAGE_VERSION = 1
#: Seconds an access token issued at login or refresh lasts (Home Assistant's 30 minutes).
ACCESS_TOKEN_EXPIRATION = 1800.0
#: Seconds an authorisation code may wait before it is exchanged.
AUTH_CODE_EXPIRATION = 600.0
#: Days a long-lived access token lasts unless told otherwise (Home Assistant's ten years).
LONG_LIVED_DAYS = 3650
#: Seconds between two checks of whether the file was changed by someone else.
RELOAD_CHECK_INTERVAL = 1.0

_HASHER = PasswordHasher()


@functools.cache
def _dummy_hash() -> str:
    """A hash of nothing, verified against when the user does not exist, so a wrong user name
    costs as long as a wrong password and does not tell names apart. Made on first use: hashing
    takes a fifth of a second on purpose, which start-up must not pay."""
    return _HASHER.hash("edgewise-no-such-user")


class AuthError(EdgewiseError):
    """A user or token operation cannot be done (duplicate user name, unknown id, ...)."""


def hash_password(password: str) -> str:
    """An argon2id hash of ``password`` (blocking: tens of milliseconds on purpose)."""
    return _HASHER.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    """Whether ``password`` matches ``password_hash`` (blocking, like ``hash_password``)."""
    try:
        return _HASHER.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


@dataclass(slots=True)
class _AccessToken:
    refresh_id: str
    expires_at: float


@dataclass(slots=True)
class _AuthCode:
    user_id: str
    client_id: str | None
    expires_at: float


class AuthData:
    """The users and grants, in memory, with the operations on them (no I/O).

    Shared by the server's ``AuthManager`` and the command line, which loads and saves the file
    itself.
    """

    def __init__(self) -> None:
        self.users: dict[str, User] = {}
        self.tokens: dict[str, RefreshToken] = {}
        self._by_hash: dict[str, RefreshToken] = {}

    def load(self, data: dict[str, Any] | None) -> None:
        """Replace the content with the stored ``data`` (None: empty)."""
        data = data or {}
        self.users = {u.id: u for u in map(User.from_store, data.get("users", []))}
        tokens = [RefreshToken.from_store(t) for t in data.get("refresh_tokens", [])]
        self.tokens = {t.id: t for t in tokens if t.user_id in self.users}
        self._by_hash = {t.token_hash: t for t in self.tokens.values()}

    def to_store(self) -> dict[str, Any]:
        """The stored form."""
        return {
            "users": [u.to_store() for u in self.users.values()],
            "refresh_tokens": [t.to_store() for t in self.tokens.values()],
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
            created_at=_now(),
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
        now = _now()
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
        if grant is None or (grant.expires_at is not None and grant.expires_at < _now()):
            return None
        return grant

    def revoke(self, token_id: str) -> RefreshToken:
        """Revoke a grant by id.

        Raises:
            AuthError: there is no such grant.
        """
        grant = self.tokens.pop(token_id, None)
        if grant is None:
            raise AuthError(f"No token with id {token_id!r}")
        self._by_hash.pop(grant.token_hash, None)
        return grant


def read_auth_file(path: Path) -> AuthData:
    """Read ``.storage/auth`` for the command line (empty data when there is no file)."""
    content, moved_to = _read(path)
    if moved_to is not None:
        raise AuthError(f"{path} is corrupt; it was moved to {moved_to}")
    data = AuthData()
    data.load(None if content is None else content["data"])
    return data


def write_auth_file(path: Path, data: AuthData) -> None:
    """Write ``.storage/auth`` atomically (command line)."""
    _write_atomic(
        path,
        {
            "version": STORAGE_VERSION,
            "minor_version": 1,
            "key": STORAGE_KEY,
            "data": data.to_store(),
        },
    )


class AuthManager:
    """The runtime's users and tokens. Must be used from the event loop.

    Args:
        executor: runs password hashing and file I/O off the loop.
        path: the store file (``<config_dir>/.storage/auth``).
    """

    def __init__(self, executor: ExecutorJob, path: Path) -> None:
        self.path = path
        self._executor = executor
        self.data = AuthData()
        self._access: dict[str, _AccessToken] = {}
        self._codes: dict[str, _AuthCode] = {}
        self._mtime_ns: int | None = None
        self._next_check = 0.0
        #: Called with a grant's id when it is revoked (the WebSocket API closes its sessions).
        self.on_revoke: list[Callable[[str], None]] = []

    async def load(self) -> None:
        """Read the store file."""
        self.data = await self._executor(read_auth_file, self.path)
        self._mtime_ns = await self._executor(self._stat)
        self._next_check = _monotonic() + RELOAD_CHECK_INTERVAL

    def _stat(self) -> int | None:
        try:
            return os.stat(self.path).st_mtime_ns
        except FileNotFoundError:
            return None

    def reload_if_changed(self) -> None:
        """Reload the file when someone else (the command line) changed it; cheap to call.

        Stats the file at most once per ``RELOAD_CHECK_INTERVAL``; on the loop, a stat of a local
        file costs microseconds.
        """
        now = _monotonic()
        if now < self._next_check:
            return
        self._next_check = now + RELOAD_CHECK_INTERVAL
        mtime = self._stat()
        if mtime == self._mtime_ns:
            return
        _LOGGER.info("Users and tokens changed on disk; reloading %s", self.path)
        try:
            fresh = read_auth_file(self.path)
        except AuthError:
            _LOGGER.exception("Cannot reload %s", self.path)
            return
        known = set(self.data.tokens)
        self.data = fresh
        self._mtime_ns = mtime
        for revoked in known - set(fresh.tokens):
            self._forget_grant(revoked)

    async def save(self) -> None:
        """Write the store file now."""
        self.reload_if_changed()
        await self._executor(write_auth_file, self.path, self.data)
        self._mtime_ns = await self._executor(self._stat)

    # --- users ---------------------------------------------------------------------------------

    @property
    def has_users(self) -> bool:
        """Whether anyone may log in yet (onboarding is over)."""
        self.reload_if_changed()
        return bool(self.data.users)

    def get_user(self, user_id: str) -> User | None:
        """The user with this id, or None."""
        return self.data.users.get(user_id)

    async def create_user(
        self,
        username: str,
        password: str,
        *,
        name: str | None = None,
        role: Role = Role.ADMIN,
        is_owner: bool = False,
    ) -> User:
        """Create and store a user.

        Raises:
            AuthError: the user name is empty or taken, or the password is empty.
        """
        if not password:
            raise AuthError("A password cannot be empty")
        password_hash = await self._executor(hash_password, password)
        user = self.data.add_user(username, password_hash, name=name, role=role, is_owner=is_owner)
        await self.save()
        _LOGGER.info("Created user %s (%s)", user.username, user.role.value)
        return user

    async def check_password(self, username: str, password: str) -> User | None:
        """The active user whose name and password these are, or None."""
        self.reload_if_changed()
        user = self.data.user_by_username(username)
        stored = user.password_hash if user is not None else await self._executor(_dummy_hash)
        ok = await self._executor(verify_password, stored, password)
        if not ok or user is None or not user.is_active:
            return None
        return user

    # --- codes and tokens ----------------------------------------------------------------------

    def create_auth_code(self, user: User, client_id: str | None) -> str:
        """A one-time code that ``/auth/token`` exchanges for tokens within ten minutes."""
        code = new_token()
        self._codes[hash_token(code)] = _AuthCode(
            user.id, client_id, _monotonic() + AUTH_CODE_EXPIRATION
        )
        return code

    def use_auth_code(self, code: str, client_id: str | None) -> User | None:
        """The user a valid code was issued to (the code is spent), or None."""
        entry = self._codes.pop(hash_token(code), None)
        if entry is None or entry.expires_at < _monotonic() or entry.client_id != client_id:
            return None
        return self.get_user(entry.user_id)

    async def create_refresh_token(
        self, user: User, client_id: str | None, *, client_name: str | None = None
    ) -> tuple[RefreshToken, str]:
        """A login session for ``user``: the stored grant and its token."""
        grant, token = self.data.add_grant(
            user, TokenType.NORMAL, client_id=client_id, client_name=client_name
        )
        await self.save()
        return grant, token

    async def create_long_lived_token(
        self, user: User, client_name: str, lifespan_days: float = LONG_LIVED_DAYS
    ) -> tuple[RefreshToken, str]:
        """A long-lived access token for ``user``: the stored grant and the token itself."""
        grant, token = self.data.add_grant(
            user, TokenType.LONG_LIVED, client_name=client_name, lifespan_days=lifespan_days
        )
        await self.save()
        _LOGGER.info("Created long-lived token %s for %s", client_name, user.username)
        return grant, token

    def refresh_grant(self, token: str) -> RefreshToken | None:
        """The login session whose refresh token is ``token``, or None."""
        self.reload_if_changed()
        grant = self.data.grant_by_token(token)
        if grant is None or grant.token_type is not TokenType.NORMAL:
            return None
        return grant

    def create_access_token(self, grant: RefreshToken) -> str:
        """A short-lived access token issued from a login session."""
        token = new_token()
        self._access[hash_token(token)] = _AccessToken(
            grant.id, _now() + grant.access_token_expiration
        )
        grant.last_used_at = _now()
        if len(self._access) > 4096:
            self._expire_access_tokens()
        return token

    def _expire_access_tokens(self) -> None:
        now = _now()
        for key in [k for k, v in self._access.items() if v.expires_at < now]:
            del self._access[key]

    def validate_access_token(self, token: str) -> tuple[User, RefreshToken] | None:
        """The user and grant behind a bearer token (short- or long-lived), or None."""
        self.reload_if_changed()
        key = hash_token(token)
        grant: RefreshToken | None
        access = self._access.get(key)
        if access is not None:
            if access.expires_at < _now():
                del self._access[key]
                return None
            grant = self.data.tokens.get(access.refresh_id)
        else:
            grant = self.data.grant_by_token(token)
            if grant is not None and grant.token_type is not TokenType.LONG_LIVED:
                # A refresh token is not a bearer token.
                return None
        if grant is None:
            return None
        user = self.data.users.get(grant.user_id)
        if user is None or not user.is_active:
            return None
        return user, grant

    async def revoke(self, token_id: str) -> None:
        """Revoke a grant and every access token issued from it.

        Raises:
            AuthError: there is no such grant.
        """
        self.data.revoke(token_id)
        self._forget_grant(token_id)
        await self.save()

    def _forget_grant(self, token_id: str) -> None:
        for key in [k for k, v in self._access.items() if v.refresh_id == token_id]:
            del self._access[key]
        for hook in self.on_revoke:
            hook(token_id)
