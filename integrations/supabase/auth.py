"""Supabase logins on Edgewise's API: bearer JWTs a Supabase project issued.

``SupabaseTokenVerifier`` is added to the auth manager (``AuthManager.add_token_verifier``).
A token is accepted when it is signed with the project's JWT secret (HS256) or with a key of
the project's JWKS (RS256/ES256, by ``kid``; the key set is cached and fetched again when an
unknown ``kid`` appears, at most once per ``JWKS_MIN_REFETCH`` seconds), and its ``iss``,
``aud``, ``exp`` and ``nbf`` hold. Its ``sub`` maps to an Edgewise user (``users:`` names one,
else ``supabase:<sub>``, created on first use when ``create_users`` allows); the role comes from
the configured claim (``app_metadata.role``), viewer when absent or unknown; with
``areas_claim`` the user is limited to the areas that claim lists (``core.auth.areas``). The
anon and service keys carry no ``sub`` and never log in.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import secrets
import time
from typing import Any, Final

import aiohttp
import jwt

from core.auth import AuthManager, Role
from core.auth.models import User

from .schema import AuthConfig

_LOGGER = logging.getLogger(__name__)

JWKS_MIN_REFETCH: Final = 30.0
JWKS_TIMEOUT: Final = 5.0
MAX_JWKS_BYTES: Final = 256 * 1024
MAX_TOKEN_LENGTH: Final = 16 * 1024
VERIFIED_KEPT: Final = 4096
_ASYMMETRIC: Final = ("RS256", "ES256")


def claim_at(claims: dict[str, Any], path: str) -> Any:
    """The value at a dotted ``path`` (``app_metadata.role``), or None."""
    value: Any = claims
    for part in path.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


class SupabaseTokenVerifier:
    """Verifies Supabase JWTs and maps them to Edgewise users. Runs on the event loop.

    Args:
        auth: the runtime's auth manager (users are looked up and created there).
        config: the ``supabase: auth:`` settings.
        session: for fetching the JWKS.
    """

    def __init__(
        self, auth: AuthManager, config: AuthConfig, session: aiohttp.ClientSession
    ) -> None:
        self._auth = auth
        self.config = config
        self._session = session
        self._keys: dict[str, jwt.PyJWK] = {}
        self._fetched_at = float("-inf")
        self._fetch_lock = asyncio.Lock()
        self._user_ids: dict[str, str] = {}
        #: Tokens verified before: their claims, ``exp`` and ``nbf`` (oldest first).
        self._verified: dict[str, tuple[dict[str, Any], float, float | None]] = {}
        #: How many times the JWKS was fetched (diagnostics and tests).
        self.jwks_fetches = 0
        #: Seconds between two fetches of the key set (a flood of made-up kids costs one).
        self.min_refetch = JWKS_MIN_REFETCH
        self._decoder = jwt.PyJWT(options={"require": ["exp", "sub", "iss", "aud"]})
        self._signature_only = jwt.PyJWT(
            options={"verify_exp": False, "verify_nbf": False, "verify_aud": False}
        )

    async def __call__(self, token: str) -> User | None:
        """The user ``token`` stands for, or None when it is not a valid token of the project."""
        claims = await self.verify(token)
        if claims is None:
            return None
        return await self._user(claims)

    async def verify(self, token: str) -> dict[str, Any] | None:
        """The token's claims when it is valid for this project, else None.

        A token verified once is remembered (the exact string, up to ``VERIFIED_KEPT`` of
        them) with its claims; later requests with it only check ``exp`` and ``nbf`` again. A
        browser sends the same access token for its whole hour, so the signature is checked
        once, not on every request.
        """
        kept = self._verified.get(token)
        if kept is not None:
            now = time.time()
            leeway = self.config.leeway
            if now > kept[1] + leeway:
                del self._verified[token]
                return None
            if kept[2] is not None and now < kept[2] - leeway:
                return None
            return kept[0]
        claims = await self.verify_uncached(token)
        if claims is not None:
            if len(self._verified) >= VERIFIED_KEPT:
                self._verified.pop(next(iter(self._verified)))
            nbf = claims.get("nbf")
            self._verified[token] = (
                claims,
                float(claims["exp"]),
                float(nbf) if isinstance(nbf, int | float) else None,
            )
        return claims

    async def _signing_key(self, token: str) -> tuple[str, Any] | None:
        """The algorithm and the project's key that would verify ``token``; None if none would
        (malformed, oversized, an algorithm or key id the project does not use)."""
        if len(token) > MAX_TOKEN_LENGTH or token.count(".") != 2:
            return None
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            return None
        alg = header.get("alg")
        if alg == "HS256" and self.config.jwt_secret is not None:
            return alg, self.config.jwt_secret
        if alg in _ASYMMETRIC and self.config.jwks_url is not None:
            found = await self._key(str(header.get("kid")))
            if found is None or found.algorithm_name != alg:
                return None
            return alg, found.key
        return None

    async def verify_uncached(self, token: str) -> dict[str, Any] | None:
        """``verify`` without the memory of tokens verified before."""
        signing = await self._signing_key(token)
        if signing is None:
            return None
        alg, key = signing
        try:
            claims: dict[str, Any] = self._decoder.decode(
                token,
                key,
                algorithms=[alg],
                audience=list(self.config.audience),
                issuer=self.config.issuer,
                leeway=self.config.leeway,
            )
        except jwt.PyJWTError as err:
            _LOGGER.debug("Supabase token refused: %s", err)
            return None
        return claims

    async def issued_by_project(self, token: str) -> bool:
        """Whether the project signed ``token``, valid or not (expired, not yet valid, for
        another audience): a client retrying such a token is not guessing and is never banned
        for it; a token the project's keys do not verify (a forgery) is a guess."""
        signing = await self._signing_key(token)
        if signing is None:
            return False
        alg, key = signing
        try:
            self._signature_only.decode(token, key, algorithms=[alg], issuer=self.config.issuer)
        except jwt.PyJWTError:
            return False
        return True

    async def _key(self, kid: str) -> jwt.PyJWK | None:
        key = self._keys.get(kid)
        if key is not None:
            return key
        async with self._fetch_lock:
            if kid in self._keys:
                return self._keys[kid]
            if time.monotonic() - self._fetched_at < self.min_refetch:
                return None
            self._fetched_at = time.monotonic()
            await self._fetch()
            # A key the project removed must stop working for tokens remembered as verified.
            self._verified.clear()
        return self._keys.get(kid)

    async def _fetch(self) -> None:
        assert self.config.jwks_url is not None  # noqa: S101 - only called with a JWKS URL
        self.jwks_fetches += 1
        try:
            async with self._session.get(
                self.config.jwks_url, timeout=aiohttp.ClientTimeout(total=JWKS_TIMEOUT)
            ) as response:
                body = await response.content.read(MAX_JWKS_BYTES + 1)
                if response.status != 200 or len(body) > MAX_JWKS_BYTES:
                    raise ValueError(f"HTTP {response.status}, {len(body)} bytes")
            keys = jwt.PyJWKSet.from_dict(json.loads(body))
        except (aiohttp.ClientError, TimeoutError, ValueError, jwt.PyJWTError) as err:
            _LOGGER.warning("Supabase JWKS %s could not be read: %s", self.config.jwks_url, err)
            return
        self._keys = {k.key_id: k for k in keys.keys if k.key_id}
        _LOGGER.info("Supabase JWKS: %d keys", len(self._keys))

    def areas_of(
        self, claims: dict[str, Any], stored: frozenset[str] | None
    ) -> frozenset[str] | None:
        """The areas the claims limit the user to.

        Without ``areas_claim`` the Edgewise user's own limit holds. With it, the claim's list
        of area ids is the limit; a missing or malformed claim limits to no area at all (fail
        closed: the token says nothing about where the user belongs).
        """
        if self.config.areas_claim is None:
            return stored
        value = claim_at(claims, self.config.areas_claim)
        if not isinstance(value, list):
            return frozenset()
        return frozenset(str(v) for v in value if isinstance(v, str | int))

    def role_of(self, claims: dict[str, Any]) -> Role:
        """The Edgewise role the claims grant (viewer when absent or unknown)."""
        value = claim_at(claims, self.config.role_claim)
        try:
            return Role(str(value)) if value is not None else Role.VIEWER
        except ValueError:
            return Role.VIEWER

    async def _user(self, claims: dict[str, Any]) -> User | None:
        sub = str(claims["sub"])
        user = None
        user_id = self._user_ids.get(sub)
        if user_id is not None:
            user = self._auth.get_user(user_id)
        if user is None:
            username = self.config.users.get(sub, f"supabase:{sub}")
            user = self._auth.data.user_by_username(username)
            if user is None and self.config.create_users and sub not in self.config.users:
                name = claims.get("email") if isinstance(claims.get("email"), str) else None
                # Nobody knows the password: this user logs in through Supabase only.
                user = await self._auth.create_user(
                    username, secrets.token_urlsafe(32), name=name, role=Role.VIEWER
                )
            if user is None:
                _LOGGER.info("Supabase user %s has no Edgewise user; refused", sub)
                return None
            self._user_ids[sub] = user.id
        return dataclasses.replace(
            user, role=self.role_of(claims), areas=self.areas_of(claims, user.areas)
        )
