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
    user = await auth.create_user("ada", "pw-long-enough", role=Role.OPERATOR)
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
    user = await auth.create_user("bob", "pw-long-enough", role=Role.VIEWER)
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
    await auth.create_user("carol", "right-password", role=Role.ADMIN)
    assert await auth.check_password("CAROL", "right-password") is not None
    assert await auth.check_password("carol", "wrong") is None
    assert await auth.check_password("nobody", "right-password") is None
    with pytest.raises(AuthError, match="taken"):
        await auth.create_user("Carol", "x-long-enough")
    with pytest.raises(AuthError, match="at least 8 characters"):
        await auth.create_user("dave", "")
    with pytest.raises(AuthError, match="at least 8 characters"):
        await auth.create_user("dave", "x")
    with pytest.raises(AuthError, match="at most 256"):
        await auth.create_user("dave", "x" * 257)
    with pytest.raises(AuthError, match="only spaces"):
        await auth.create_user("dave", " " * 9)
    with pytest.raises(AuthError, match="the user name"):
        await auth.create_user("davidsons", "DavidSons")
    assert "dave" not in {u.username for u in auth.data.users.values()}


async def test_a_password_is_changed_with_the_current_one_or_reset(auth: AuthManager) -> None:
    user = await auth.create_user("erin", "first-password")
    assert not await auth.change_password(user, "wrong-password", "second-password")
    assert await auth.check_password("erin", "first-password") is not None
    with pytest.raises(AuthError, match="at least 8"):
        await auth.change_password(user, "first-password", "short")
    assert await auth.change_password(user, "first-password", "second-password")
    assert await auth.check_password("erin", "first-password") is None
    assert await auth.check_password("erin", "second-password") is not None
    await auth.set_password(user, "third-password")
    assert await auth.check_password("erin", "third-password") is not None


async def test_changes_on_disk_are_picked_up(auth: AuthManager, clock: FakeClock) -> None:
    user = await auth.create_user("erin", "pw-long-enough")
    grant, token = await auth.create_long_lived_token(user, "x")
    data = read_auth_file(auth.path)
    data.revoke(grant.id)
    write_auth_file(auth.path, data)
    clock.advance(seconds(2))
    assert auth.validate_access_token(token) is None
    assert not auth.data.tokens


async def test_a_restarted_manager_accepts_the_tokens_it_issued(
    auth: AuthManager, clock: FakeClock, tmp_path: Path
) -> None:
    user = await auth.create_user("fay", "pw-long-enough")
    grant, refresh = await auth.create_refresh_token(user, "client")
    access = auth.create_access_token(grant)
    restarted = AuthManager(executor, auth.path, clock=clock)
    await restarted.load()
    found = restarted.validate_access_token(access)
    assert found is not None
    assert found[1].id == grant.id
    assert restarted.refresh_grant(refresh) is not None
    # The signing key is not in .storage/auth: a copy of that file alone lets nobody in.
    copy = tmp_path / "copy" / ".storage" / "auth"
    copy.parent.mkdir(parents=True)
    copy.write_bytes(auth.path.read_bytes())
    thief = AuthManager(executor, copy, clock=clock)
    await thief.load()
    assert thief.validate_access_token(access) is None
    assert not thief.was_issued(access)


async def test_stale_tokens_are_known_as_issued_and_guesses_are_not(
    auth: AuthManager, clock: FakeClock
) -> None:
    user = await auth.create_user("gus", "pw-long-enough")
    grant, refresh = await auth.create_refresh_token(user, "client")
    access = auth.create_access_token(grant)
    _, long_lived = await auth.create_long_lived_token(user, "dashboard", lifespan_days=1)
    clock.advance(seconds(1801))
    assert auth.validate_access_token(access) is None  # expired...
    assert auth.was_issued(access)  # ...but genuine
    await auth.revoke(grant.id)
    assert auth.refresh_grant(refresh) is None
    assert auth.was_issued(refresh)
    assert auth.was_issued(long_lived)
    assert not auth.was_issued("guess")
    assert not auth.was_issued(access[:-2] + "xx")
    body, _, _ = access.rpartition(".")
    forged_expiry = body.split(".")[0] + ".ffffffff." + body.split(".")[2]
    assert not auth.was_issued(f"{forged_expiry}.{access.rpartition('.')[2]}")


async def test_every_loss_of_rights_is_told_to_the_hooks(auth: AuthManager) -> None:
    changed: list[str] = []
    revoked: list[str] = []
    auth.on_user_change.append(changed.append)
    auth.on_revoke.append(revoked.append)
    ann = await auth.create_user("ann", "pw-long-enough", role=Role.ADMIN)
    bob = await auth.create_user("bob", "pw-long-enough", role=Role.VIEWER)
    grant, _ = await auth.create_refresh_token(bob, None)
    ann.role = Role.OPERATOR  # demoted in place (as config/auth/update does)
    await auth.save()
    assert changed == [ann.id]
    bob.role = Role.ADMIN  # promoted: nothing to close
    await auth.save()
    assert changed == [ann.id]
    # Removed by another process (the command line) writing the file.
    data = read_auth_file(auth.path)
    data.remove_user(bob.id)
    write_auth_file(auth.path, data)
    auth.reload_if_changed(force=True)
    assert changed == [ann.id, bob.id]
    assert revoked == [grant.id]


async def test_long_lived_tokens_are_limited_per_user(auth: AuthManager) -> None:
    from core.auth.const import MAX_LONG_LIVED_PER_USER

    user = await auth.create_user("hal", "pw-long-enough", role=Role.VIEWER)
    for i in range(MAX_LONG_LIVED_PER_USER):
        await auth.create_long_lived_token(user, f"t{i}", lifespan_days=1)
    with pytest.raises(AuthError, match="revoke one first"):
        await auth.create_long_lived_token(user, "one more", lifespan_days=1)
    with pytest.raises(AuthError, match="lifespan"):
        await auth.create_long_lived_token(user, "forever", lifespan_days=10**9)


async def test_onboarding_stays_closed_once_done(tmp_path: Path, clock: FakeClock) -> None:
    path = tmp_path / ".storage" / "auth"
    first = AuthManager(executor, path, clock=clock)
    await first.load()
    assert not first.onboarded
    await first.create_user("owner", "pw-long-enough", is_owner=True)
    assert first.onboarded
    path.unlink()
    lost = AuthManager(executor, path, clock=clock)
    await lost.load()
    assert not lost.has_users
    assert lost.onboarded


async def test_a_store_with_a_malformed_entry_is_moved_aside_and_onboarding_stays_closed(
    tmp_path: Path, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / ".storage" / "auth"
    path.parent.mkdir(parents=True)
    path.write_text('{"version": 1, "key": "auth", "data": {"users": [{"username": "x"}]}}')
    auth = AuthManager(executor, path, clock=clock)
    await auth.load()
    assert not auth.has_users
    assert auth.onboarded
    assert not path.exists()
    assert list(path.parent.glob("auth.corrupt-*"))
    assert "edgewise user add NAME --role admin" in caplog.text
