"""Passwords and tokens over the WebSocket API (issue 28): the password policy on create, one's
own change with the current password, an admin's reset, and tokens an admin issues for another
user (a viewer's read-only token for a dashboard)."""

from __future__ import annotations

from core.auth import Role
from tests.core.http.conftest import Api
from tests.core.http.test_ws_panel import connect


def user_id(api: Api, username: str) -> str:
    assert api.runtime.http is not None
    user = api.runtime.http.auth.data.user_by_username(username)
    assert user is not None
    return user.id


async def test_a_one_character_password_is_refused_on_create(api: Api) -> None:
    admin = await connect(api, Role.ADMIN)
    answer = await admin.command(type="config/auth/create", username="olga", password="x")
    assert answer["error"] == {
        "code": "invalid_format",
        "message": "A password needs at least 8 characters",
    }
    assert api.runtime.http is not None
    assert api.runtime.http.auth.data.user_by_username("olga") is None


async def test_a_user_changes_their_own_password_given_the_current_one(api: Api) -> None:
    assert api.runtime.http is not None
    auth = api.runtime.http.auth
    viewer = await connect(api, Role.VIEWER)
    wrong = await viewer.command(
        type="auth/change_password", current_password="guess-again", new_password="brand-new-pw"
    )
    assert wrong["error"]["code"] == "invalid_current_password"
    short = await viewer.command(
        type="auth/change_password", current_password="pw-viewer", new_password="abc"
    )
    assert "at least 8" in short["error"]["message"]
    assert await auth.check_password("viewer-user", "pw-viewer") is not None

    done = await viewer.command(
        type="auth/change_password", current_password="pw-viewer", new_password="brand-new-pw"
    )
    assert done["success"] is True
    assert await auth.check_password("viewer-user", "pw-viewer") is None
    assert await auth.check_password("viewer-user", "brand-new-pw") is not None


async def test_only_an_admin_resets_another_users_password(api: Api) -> None:
    assert api.runtime.http is not None
    auth = api.runtime.http.auth
    target = user_id(api, "viewer-user")
    command = "config/auth_provider/homeassistant/admin_change_password"
    operator = await connect(api, Role.OPERATOR)
    denied = await operator.command(type=command, user_id=target, password="taken-over-pw")
    assert denied["error"]["code"] == "unauthorized"
    admin = await connect(api, Role.ADMIN)
    missing = await admin.command(type=command, user_id="nobody", password="reset-password")
    assert missing["error"]["code"] == "user_not_found"
    done = await admin.command(type=command, user_id=target, password="reset-password")
    assert done["success"] is True
    assert await auth.check_password("viewer-user", "reset-password") is not None
    assert await auth.check_password("viewer-user", "taken-over-pw") is None


async def test_an_admin_issues_a_read_only_token_for_a_viewer(api: Api) -> None:
    viewer_id = user_id(api, "viewer-user")
    admin = await connect(api, Role.ADMIN)
    issued = await admin.command(
        type="auth/long_lived_access_token",
        client_name="Lobby screen",
        lifespan=30,
        user_id=viewer_id,
    )
    token = issued["result"]
    assert api.runtime.http is not None
    found = api.runtime.http.auth.validate_access_token(token)
    assert found is not None
    assert found[0].username == "viewer-user"
    # The token reads but cannot control: it is the viewer's.
    status, _ = await api.request(
        "GET", "/api/states", role=None, headers={"Authorization": f"Bearer {token}"}
    )
    assert status == 200
    status, _ = await api.request(
        "POST",
        "/api/services/light/turn_on",
        role=None,
        headers={"Authorization": f"Bearer {token}"},
        json={"entity_id": "light.kitchen"},
    )
    assert status == 403
    listed = await admin.command(type="auth/refresh_tokens", user_id=viewer_id)
    [grant] = [g for g in listed["result"] if g["client_name"] == "Lobby screen"]
    assert grant["expires_at"] is not None
    assert grant["user_id"] == viewer_id


async def test_only_an_admin_issues_tokens_for_others(api: Api) -> None:
    admin_id = user_id(api, "admin-user")
    viewer = await connect(api, Role.VIEWER)
    denied = await viewer.command(
        type="auth/long_lived_access_token", client_name="sneaky", user_id=admin_id
    )
    assert denied["error"]["code"] == "unauthorized"
    listing = await viewer.command(type="auth/refresh_tokens", all_users=True)
    assert listing["error"]["code"] == "unauthorized"
    own = await viewer.command(type="auth/long_lived_access_token", client_name="mine")
    assert isinstance(own["result"], str)
