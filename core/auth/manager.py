"""The auth manager: users, passwords, grants and tokens, kept in ``.storage/auth``.

Flow, as in Home Assistant: a login (or the onboarding of the first user) yields a one-time
*authorisation code*; ``/auth/token`` exchanges it for a *refresh token* (a login session) and a
short-lived *access token*; the refresh token buys new access tokens until it is revoked. A
*long-lived access token* is a grant of its own whose token is used directly as a bearer.

Grants and users are stored, hashed, and survive restarts. A short-lived access token is
``<grant id>.<expiry>.<nonce>.<signature>``, signed with a key kept in its own file: it stays
valid across a restart (an open panel reconnects with it), it dies with its grant, and the
server can tell a token it issued (now stale) from a guess, so that only guesses count towards
a ban. Authorisation codes live in memory only.

The ``edgewise user``/``edgewise token`` commands edit the same file while the server may run:
the manager notices the file changed (its inode, size or mtime; checked at most once a second,
on every request and command, and by a periodic check) and reloads it. Every change that takes
rights away (a user removed, deactivated or demoted; a grant revoked), whoever made it, is told
to the ``on_user_change``/``on_revoke`` hooks, which close the WebSocket sessions concerned.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import logging
import os
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from core.clock import Clock, SystemClock
from core.storage import ExecutorJob

from .const import (
    ACCESS_TOKEN_EXPIRATION,
    AUTH_CODE_EXPIRATION,
    LONG_LIVED_DAYS,
    MAX_LONG_LIVED_PER_USER,
    MAX_PASSWORD_LENGTH,
    MIN_PASSWORD_LENGTH,
    RECOVERY_COMMAND,
    RELOAD_CHECK_INTERVAL,
    STORAGE_KEY,
    STORAGE_VERSION,
)
from .models import ROLE_PERMISSION, RefreshToken, Role, TokenType, User, hash_token, new_token
from .store import (
    AuthData,
    AuthError,
    CorruptAuthFile,
    load_token_key,
    mark_onboarded,
    read_auth_file,
    was_onboarded,
    write_auth_file,
)

__all__ = [
    "ACCESS_TOKEN_EXPIRATION",
    "LONG_LIVED_DAYS",
    "STORAGE_KEY",
    "STORAGE_VERSION",
    "AuthData",
    "AuthError",
    "AuthManager",
    "check_password_policy",
    "hash_password",
    "read_auth_file",
    "verify_password",
    "write_auth_file",
]

_LOGGER = logging.getLogger(__name__)

#: Checks a bearer token another issuer signed (an identity provider an integration trusts):
#: the user it stands for, or None when it is not that issuer's token or not valid. Awaited on
#: every request that carries a token this server did not issue, so it must be quick (cache
#: keys; fetch only what is missing).
TokenVerifier = Callable[[str], Awaitable[User | None]]
#: Whether a token (valid or not any more: expired, say) was issued by a verifier's issuer.
TokenIssuedCheck = Callable[[str], Awaitable[bool]]

if TYPE_CHECKING:
    from argon2 import PasswordHasher


@functools.cache
def _hasher() -> PasswordHasher:
    """argon2's hasher, imported with the first password hashed or checked (not at start-up)."""
    from argon2 import PasswordHasher  # noqa: PLC0415 - see above

    return PasswordHasher()


@functools.cache
def _dummy_hash() -> str:
    """A hash of nothing, verified against when the user does not exist, so a wrong user name
    costs as long as a wrong password and does not tell names apart. Made on first use: hashing
    takes a fifth of a second on purpose, which start-up must not pay."""
    return _hasher().hash("edgewise-no-such-user")


def check_password_policy(username: str, password: str) -> None:
    """Refuse a password that is too short or long, only blanks, or the user name itself.

    Raises:
        AuthError: naming the rule broken.
    """
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AuthError(f"A password needs at least {MIN_PASSWORD_LENGTH} characters")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise AuthError(f"A password may have at most {MAX_PASSWORD_LENGTH} characters")
    if not password.strip():
        raise AuthError("A password cannot be only spaces")
    if password.strip().casefold() == username.strip().casefold():
        raise AuthError("A password cannot be the user name")


def hash_password(password: str) -> str:
    """An argon2id hash of ``password`` (blocking: tens of milliseconds on purpose)."""
    return _hasher().hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    """Whether ``password`` matches ``password_hash`` (blocking, like ``hash_password``)."""
    from argon2.exceptions import InvalidHashError, VerificationError  # noqa: PLC0415 - see _hasher

    try:
        return _hasher().verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


@dataclass(slots=True)
class _AuthCode:
    user_id: str
    client_id: str | None
    expires_at: float


@dataclass(frozen=True, slots=True)
class _Signed:
    """What a well-signed access token says."""

    grant_id: str
    expires_at: float


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


class AuthManager:
    """The runtime's users and tokens. Must be used from the event loop.

    Args:
        executor: runs password hashing and file I/O off the loop.
        path: the store file (``<config_dir>/.storage/auth``).
        clock: where the time is read (the runtime's; a ``FakeClock`` in tests).
    """

    def __init__(self, executor: ExecutorJob, path: Path, *, clock: Clock | None = None) -> None:
        self.path = path
        self._executor = executor
        self._clock: Clock = clock if clock is not None else SystemClock()
        self.data = AuthData(self._now)
        self._codes: dict[str, _AuthCode] = {}
        self._key = b""
        self._file_id: tuple[int, int, int] | None = None
        self._next_check = 0.0
        self._onboarded = False
        #: Rights (rank, active) of each user and the grant ids, as the hooks were last told.
        self._rights: dict[str, tuple[int, bool, frozenset[str] | None]] = {}
        self._grants: set[str] = set()
        #: Called with a grant's id when it is revoked (the WebSocket API closes its sessions).
        self.on_revoke: list[Callable[[str], None]] = []
        #: Called with a user's id when it is removed, deactivated, demoted or limited to fewer
        #: areas.
        self.on_user_change: list[Callable[[str], None]] = []
        self._verifiers: list[TokenVerifier] = []
        self._issued_checks: list[TokenIssuedCheck] = []

    def _now(self) -> float:
        return self._clock.now().timestamp()

    async def load(self) -> None:
        """Read the store file, the onboarding marker and the token key.

        A corrupt store is moved aside and the server starts with no user, but onboarding stays
        closed: the error says how to add an admin again.
        """
        storage = self.path.parent
        try:
            data = await self._executor(read_auth_file, self.path)
        except CorruptAuthFile as err:
            _LOGGER.error(
                "%s. Nobody can log in until an admin is added with `%s`; onboarding stays closed",
                err,
                RECOVERY_COMMAND,
            )
            await self._executor(mark_onboarded, storage)
            data = AuthData()
        data.now = self._now
        self.data = data
        self._key = await self._executor(load_token_key, storage)
        if self.data.users:
            await self._executor(mark_onboarded, storage)
        self._onboarded = await self._executor(was_onboarded, storage)
        if self._onboarded and not self.data.users:
            _LOGGER.error(
                "This site was onboarded but has no user (the auth store %s was lost); add an "
                "admin with `%s`",
                self.path,
                RECOVERY_COMMAND,
            )
        self._file_id = await self._executor(self._stat)
        self._next_check = self._clock.monotonic() + RELOAD_CHECK_INTERVAL
        self._remember()

    def _stat(self) -> tuple[int, int, int] | None:
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return None
        return (st.st_ino, st.st_size, st.st_mtime_ns)

    def reload_if_changed(self, *, force: bool = False) -> None:
        """Reload the file when someone else (the command line) changed it; cheap to call.

        Stats the file at most once per ``RELOAD_CHECK_INTERVAL`` (unless ``force``); on the
        loop, a stat of a local file costs microseconds.
        """
        now = self._clock.monotonic()
        if now < self._next_check and not force:
            return
        self._next_check = now + RELOAD_CHECK_INTERVAL
        file_id = self._stat()
        if file_id == self._file_id:
            return
        _LOGGER.info("Users and tokens changed on disk; reloading %s", self.path)
        try:
            fresh = read_auth_file(self.path)
        except AuthError:
            _LOGGER.exception("Cannot reload %s", self.path)
            self._file_id = self._stat()
            return
        fresh.now = self._now
        self.data = fresh
        self._file_id = file_id
        self._notify()

    async def save(self) -> None:
        """Write the store file now, then tell the hooks what lost its rights.

        Changes made on disk meanwhile are overwritten: callers that change the data reload
        first (``reload_if_changed(force=True)``).
        """
        await self._executor(write_auth_file, self.path, self.data)
        self._file_id = await self._executor(self._stat)
        self._onboarded = self._onboarded or bool(self.data.users)
        self._notify()

    def _remember(self) -> None:
        self._rights = {
            u.id: (int(ROLE_PERMISSION[u.role]), u.is_active, u.areas)
            for u in self.data.users.values()
        }
        self._grants = set(self.data.tokens)

    def _notify(self) -> None:
        """Call the hooks for every grant gone and every user whose rights shrank since last."""
        before_rights, before_grants = self._rights, self._grants
        self._remember()
        for grant_id in before_grants - self._grants:
            self._forget_grant(grant_id)
        for user_id, (rank, active, areas) in before_rights.items():
            now = self._rights.get(user_id)
            if (
                now is None
                or now[0] < rank
                or (active and not now[1])
                or (now[2] is not None and (areas is None or not now[2] >= areas))
            ):
                for hook in self.on_user_change:
                    hook(user_id)

    # --- users ---------------------------------------------------------------------------------

    @property
    def has_users(self) -> bool:
        """Whether anyone may log in yet."""
        self.reload_if_changed()
        return bool(self.data.users)

    @property
    def onboarded(self) -> bool:
        """Whether the owner was ever created here: onboarding is closed for good."""
        return self._onboarded or self.has_users

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
            AuthError: the user name is empty or taken, or the password breaks the policy
                (:func:`check_password_policy`).
        """
        self.reload_if_changed(force=True)
        check_password_policy(username, password)
        password_hash = await self._executor(hash_password, password)
        user = self.data.add_user(username, password_hash, name=name, role=role, is_owner=is_owner)
        await self.save()
        _LOGGER.info("Created user %s (%s)", user.username, user.role.value)
        return user

    async def remove_user(self, user_id: str) -> None:
        """Remove a user and its grants; its sessions are closed.

        Raises:
            AuthError: there is no such user.
        """
        self.reload_if_changed(force=True)
        self.data.remove_user(user_id)
        await self.save()

    async def check_password(self, username: str, password: str) -> User | None:
        """The active user whose name and password these are, or None."""
        self.reload_if_changed()
        user = self.data.user_by_username(username)
        stored = user.password_hash if user is not None else await self._executor(_dummy_hash)
        ok = await self._executor(verify_password, stored, password)
        if not ok or user is None or not user.is_active:
            return None
        return user

    async def set_password(self, user: User, password: str) -> None:
        """Give ``user`` a new password (an admin's reset, or after ``change_password``).

        Raises:
            AuthError: the password breaks the policy.
        """
        check_password_policy(user.username, password)
        password_hash = await self._executor(hash_password, password)
        self.reload_if_changed(force=True)
        current = self.data.users.get(user.id)
        if current is None:
            raise AuthError("User not found")
        current.password_hash = password_hash
        await self.save()
        _LOGGER.info("Password of %s changed", current.username)

    async def change_password(self, user: User, current: str, new: str) -> bool:
        """Change ``user``'s own password; False (nothing changed) when ``current`` is wrong.

        Raises:
            AuthError: the new password breaks the policy.
        """
        check_password_policy(user.username, new)
        if not await self._executor(verify_password, user.password_hash, current):
            return False
        await self.set_password(user, new)
        return True

    # --- codes and tokens ----------------------------------------------------------------------

    def create_auth_code(self, user: User, client_id: str | None) -> str:
        """A one-time code that ``/auth/token`` exchanges for tokens within ten minutes."""
        code = new_token()
        now = self._clock.monotonic()
        for key in [k for k, v in self._codes.items() if v.expires_at < now]:
            del self._codes[key]
        self._codes[hash_token(code)] = _AuthCode(user.id, client_id, now + AUTH_CODE_EXPIRATION)
        return code

    def use_auth_code(self, code: str, client_id: str | None) -> User | None:
        """The user a valid code was issued to (the code is spent), or None."""
        entry = self._codes.pop(hash_token(code), None)
        if (
            entry is None
            or entry.expires_at < self._clock.monotonic()
            or entry.client_id != client_id
        ):
            return None
        return self.get_user(entry.user_id)

    async def create_refresh_token(
        self, user: User, client_id: str | None, *, client_name: str | None = None
    ) -> tuple[RefreshToken, str]:
        """A login session for ``user``: the stored grant and its token."""
        self.reload_if_changed(force=True)
        grant, token = self.data.add_grant(
            user, TokenType.NORMAL, client_id=client_id, client_name=client_name
        )
        await self.save()
        return grant, token

    async def create_long_lived_token(
        self, user: User, client_name: str, lifespan_days: float = LONG_LIVED_DAYS
    ) -> tuple[RefreshToken, str]:
        """A long-lived access token for ``user``: the stored grant and the token itself.

        Raises:
            AuthError: the user holds ``MAX_LONG_LIVED_PER_USER`` already, or the lifespan is
                not between 1 and ``LONG_LIVED_DAYS`` days.
        """
        self.reload_if_changed(force=True)
        if not 1 <= lifespan_days <= LONG_LIVED_DAYS:
            raise AuthError(f"A token's lifespan must be 1 to {LONG_LIVED_DAYS} days")
        held = sum(
            1
            for t in self.data.tokens.values()
            if t.user_id == user.id and t.token_type is TokenType.LONG_LIVED
        )
        if held >= MAX_LONG_LIVED_PER_USER:
            raise AuthError(
                f"{user.username} already holds {held} long-lived tokens (the most one user "
                "may hold); revoke one first"
            )
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
        """A short-lived access token issued from a login session (signed; survives restarts)."""
        expires = int(self._now() + grant.access_token_expiration)
        body = f"{grant.id}.{expires:x}.{secrets.token_urlsafe(6)}"
        grant.last_used_at = self._now()
        return f"{body}.{self._sign(body)}"

    def _sign(self, body: str) -> str:
        return _b64(hmac.new(self._key, body.encode(), hashlib.sha256).digest())

    def _verify(self, token: str) -> _Signed | None:
        """What a token this server signed says, or None when it did not sign it."""
        body, _, signature = token.rpartition(".")
        parts = body.split(".")
        if len(parts) != 3 or not self._key:
            return None
        if not hmac.compare_digest(signature.encode(), self._sign(body).encode()):
            return None
        try:
            return _Signed(parts[0], float(int(parts[1], 16)))
        except ValueError:
            return None

    def validate_access_token(self, token: str) -> tuple[User, RefreshToken] | None:
        """The user and grant behind a bearer token (short- or long-lived), or None."""
        self.reload_if_changed()
        grant: RefreshToken | None
        signed = self._verify(token)
        if signed is not None:
            if signed.expires_at < self._now():
                return None
            grant = self.data.tokens.get(signed.grant_id)
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

    def add_token_verifier(
        self, verifier: TokenVerifier, *, issued: TokenIssuedCheck | None = None
    ) -> Callable[[], None]:
        """Also accept bearer tokens that ``verifier`` vouches for; answer its remover.

        ``authenticate`` asks the verifiers, in the order added, about a token this server did
        not issue; the first user one returns (if active) is served, with the role (and any
        other rights) of that ``User``. ``issued`` tells a token its issuer really signed but
        that is no longer valid (expired) from a forgery, so that a client retrying an expired
        token is not banned (``issued_anywhere``).
        """
        self._verifiers.append(verifier)
        if issued is not None:
            self._issued_checks.append(issued)

        def remove() -> None:
            if verifier in self._verifiers:
                self._verifiers.remove(verifier)
            if issued is not None and issued in self._issued_checks:
                self._issued_checks.remove(issued)

        return remove

    async def authenticate(self, token: str) -> tuple[User, RefreshToken] | None:
        """The user and grant behind a bearer token: one this server issued, or one an added
        verifier vouches for (its grant is made up for the request, never stored)."""
        found = self.validate_access_token(token)
        if found is not None or not self._verifiers or self.was_issued(token):
            return found
        for verifier in list(self._verifiers):
            user = await verifier(token)
            if user is not None and user.is_active:
                digest = hash_token(token)
                grant = RefreshToken(
                    user_id=user.id,
                    token_hash=digest,
                    token_type=TokenType.NORMAL,
                    client_name="external",
                    id=f"external-{digest[:26]}",
                )
                return user, grant
        return None

    def was_issued(self, token: str) -> bool:
        """Whether this server issued ``token`` (valid or not any more): an access token it
        signed, or a refresh or long-lived token it granted, even if since revoked.

        A client retrying such a token (an open tab after a restart) is not guessing, and must
        not be banned for it; any other token is a guess.
        """
        return self._verify(token) is not None or self.data.was_granted(token)

    async def issued_anywhere(self, token: str) -> bool:
        """``was_issued``, or an added verifier's issuer signed ``token`` (an expired one).

        Only a token nobody issued is a guess and counts towards a ban.
        """
        if self.was_issued(token):
            return True
        for issued in list(self._issued_checks):
            if await issued(token):
                return True
        return False

    async def revoke(self, token_id: str) -> None:
        """Revoke a grant and every access token issued from it.

        Raises:
            AuthError: there is no such grant.
        """
        self.reload_if_changed(force=True)
        self.data.revoke(token_id)
        await self.save()

    def _forget_grant(self, token_id: str) -> None:
        for hook in self.on_revoke:
            hook(token_id)
