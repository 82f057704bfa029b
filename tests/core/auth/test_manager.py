"""core/auth/manager.py: tokens expire, revocation ends what a grant issued, codes are spent."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from core.auth import AuthError, AuthManager, Role, TokenType
from core.auth.manager import read_auth_file, write_auth_file
from core.auth.models import Permission
from core.clock import FakeClock


async def executor(func: Callable[..., Any], *args: Any) -> Any:
    return await asyncio.get_running_loop().run_in_executor(None, func, *args)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(datetime(2026, 1, 1, tzinfo=UTC))


@pytest.fixture
async def auth(tmp_path: Path, clock: FakeClock) -> AuthManager:
    manager = AuthManager(executor, tmp_path / ".storage" / "auth", clock=clock)
    await manager.load()
    return manager


def seconds(value: float) -> timedelta:
    return timedelta(seconds=value)


async def test_access_tokens_expire_and_die_with_their_grant(
    auth: AuthManager, clock: FakeClock
) -> None:
    user = await auth.create_user("ada", "pw", role=Role.OPERATOR)
    grant, refresh = await auth.create_refresh_token(user, "client")
    access = auth.create_access_token(grant)
    assert auth.validate_access_token(access) == (user, grant)
    clock.advance(seconds(1801))
    assert auth.validate_access_token(access) is None
    fresh = auth.create_access_token(grant)
    assert auth.refresh_grant(refresh) is grant
    await auth.revoke(grant.id)
    assert auth.validate_access_token(fresh) is None
    assert auth.refresh_grant(refresh) is None
    with pytest.raises(AuthError):
        await auth.revoke(grant.id)


async def test_long_lived_tokens_and_codes(auth: AuthManager, clock: FakeClock) -> None:
    user = await auth.create_user("bob", "pw", role=Role.VIEWER)
    grant, token = await auth.create_long_lived_token(user, "script", lifespan_days=1)
    assert grant.token_type is TokenType.LONG_LIVED
    assert auth.validate_access_token(token) == (user, grant)
    assert user.can(Permission.READ)
    assert not user.can(Permission.CONTROL)
    clock.advance(seconds(86_401))
    assert auth.validate_access_token(token) is None
    code = auth.create_auth_code(user, "client")
    assert auth.use_auth_code(code, "other-client") is None  # spent, and the wrong client
    code = auth.create_auth_code(user, "client")
    assert auth.use_auth_code(code, "client") is user
    assert auth.use_auth_code(code, "client") is None


async def test_passwords_and_bad_users(auth: AuthManager) -> None:
    await auth.create_user("carol", "right", role=Role.ADMIN)
    assert await auth.check_password("CAROL", "right") is not None
    assert await auth.check_password("carol", "wrong") is None
    assert await auth.check_password("nobody", "right") is None
    with pytest.raises(AuthError, match="taken"):
        await auth.create_user("Carol", "x")
    with pytest.raises(AuthError, match="empty"):
        await auth.create_user("dave", "")


async def test_changes_on_disk_are_picked_up(auth: AuthManager, clock: FakeClock) -> None:
    user = await auth.create_user("erin", "pw")
    grant, token = await auth.create_long_lived_token(user, "x")
    data = read_auth_file(auth.path)
    data.revoke(grant.id)
    write_auth_file(auth.path, data)
    clock.advance(seconds(2))
    assert auth.validate_access_token(token) is None
    assert not auth.data.tokens
