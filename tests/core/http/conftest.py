"""A real Runtime with its HTTP server on 127.0.0.1 (port 0), users of each role, and a client.

``api`` starts a Runtime whose only integration, ``apitest``, registers a few services (a light
that really changes its state, a service that only answers, a slow one, an admin-only one) and
gives every role a long-lived access token.
"""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import pytest_asyncio
import voluptuous as vol

from core.auth import Permission, Role
from core.auth.manager import hash_password
from core.const import CoreState
from core.hookspecs import hookimpl
from core.integration import Manifest
from core.plugins import IntegrationLoader
from core.runtime import Runtime
from core.services import ServiceCall, SupportsResponse
from tests._helpers import wait_for  # noqa: F401 - re-exported: API tests import it from here
from tests.conftest import ConfigDirFactory

HTTP_CONFIG = "http:\n  server_host: 127.0.0.1\n  server_port: 0\n"


class ApiTestIntegration:
    """Services the API tests call."""

    def __init__(self) -> None:
        self.calls: list[ServiceCall] = []

    @hookimpl
    def edgewise_manifest(self) -> Manifest:
        return Manifest(domain="apitest", name="API test", config_schema=None, default=True)

    @hookimpl
    def edgewise_setup(self, runtime: Runtime, config: object) -> None:
        async def light_turn_on(call: ServiceCall) -> None:
            self.calls.append(call)
            for entity_id in call.target.entity_ids:
                runtime.states.set(
                    entity_id,
                    "on",
                    {"brightness": call.data.get("brightness", 255)},
                    context=call.context,
                )

        async def answer(call: ServiceCall) -> dict[str, Any]:
            self.calls.append(call)
            return {"echo": dict(call.data)}

        async def reload(call: ServiceCall) -> None:
            self.calls.append(call)

        async def configure(call: ServiceCall) -> None:
            self.calls.append(call)

        runtime.services.register(
            "light",
            "turn_on",
            light_turn_on,
            vol.Schema({vol.Optional("brightness"): vol.All(int, vol.Range(0, 255))}),
        )
        runtime.services.register(
            "apitest", "answer", answer, supports_response=SupportsResponse.ONLY
        )
        runtime.services.register(
            "apitest", "maybe", answer, supports_response=SupportsResponse.OPTIONAL
        )
        # The role a service needs is declared here, not guessed from its name.
        runtime.services.register("apitest", "reload", reload, permission=Permission.ADMIN)
        runtime.services.register("apitest", "configure", configure, permission=Permission.ADMIN)
        runtime.states.set("light.kitchen", "off", {"friendly_name": "Kitchen"})
        runtime.states.set("sensor.temperature", "21.5", {"unit_of_measurement": "°C"})


@dataclass
class Api:
    """A running runtime, its base URL, a client session and a token per role."""

    runtime: Runtime
    url: str
    session: aiohttp.ClientSession
    integration: ApiTestIntegration
    tokens: dict[Role, str] = field(default_factory=dict)

    def headers(self, role: Role | None) -> dict[str, str]:
        """Authorization headers of a role (none for None)."""
        return {} if role is None else {"Authorization": f"Bearer {self.tokens[role]}"}

    async def request(
        self, method: str, path: str, role: Role | None = Role.ADMIN, **kwargs: Any
    ) -> tuple[int, Any]:
        """Send a request; the status and the body (JSON when it is JSON, else text)."""
        headers = {**self.headers(role), **kwargs.pop("headers", {})}
        async with self.session.request(
            method, self.url + path, headers=headers, **kwargs
        ) as response:
            text = await response.text()
            if response.content_type == "application/json":
                return response.status, await response.json()
            return response.status, text

    @property
    def ws_url(self) -> str:
        """The WebSocket API's URL."""
        return self.url.replace("http://", "ws://") + "/api/websocket"


async def start_api(
    config_dir: Path, integration: ApiTestIntegration, *extra: object
) -> tuple[Runtime, dict[Role, str]]:
    """Start a Runtime in ``config_dir``, create one user per role with a long-lived token."""
    loader = IntegrationLoader()
    loader.register(integration, source="test apitest")
    for module in extra:
        loader.register(module, source="test")
    runtime = Runtime(config_dir, loader=loader)
    await runtime.start()
    assert runtime.http is not None
    tokens: dict[Role, str] = {}
    auth = runtime.http.auth
    for role in Role:
        # Hashed once per test session: argon2 is slow on purpose.
        user = auth.data.add_user(f"{role.value}-user", password_hash(role), role=role)
        _, tokens[role] = await auth.create_long_lived_token(user, "tests")
    return runtime, tokens


@functools.cache
def password_hash(role: Role) -> str:
    """The argon2 hash of ``pw-<role>``."""
    return hash_password(f"pw-{role.value}")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def shared_api(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Api]:
    """One runtime for a whole module (its tests must run on the module's loop)."""
    site = tmp_path_factory.mktemp("shared")
    (site / "configuration.yaml").write_text(HTTP_CONFIG)
    integration = ApiTestIntegration()
    runtime, tokens = await start_api(site, integration)
    assert runtime.http is not None
    session = aiohttp.ClientSession()
    yield Api(runtime, f"http://127.0.0.1:{runtime.http.port}", session, integration, tokens)
    await session.close()
    await runtime.stop()


@pytest.fixture
async def api_factory(
    config_dir: ConfigDirFactory,
) -> AsyncIterator[Callable[..., Any]]:
    """Start an API runtime with extra configuration YAML and extra integrations."""
    started: list[Api] = []

    async def make(config: str = "", *extra: object, files: dict[str, str] | None = None) -> Api:
        site = config_dir(HTTP_CONFIG + config, **(files or {}))
        integration = ApiTestIntegration()
        runtime, tokens = await start_api(site, integration, *extra)
        assert runtime.http is not None
        session = aiohttp.ClientSession()
        api = Api(runtime, f"http://127.0.0.1:{runtime.http.port}", session, integration, tokens)
        started.append(api)
        return api

    yield make
    for api in started:
        await api.session.close()
        if api.runtime.state is not CoreState.NOT_RUNNING:
            await api.runtime.stop()


@pytest.fixture
async def api(api_factory: Callable[..., Any]) -> Api:
    """A running API with the default HTTP settings."""
    result: Api = await api_factory()
    return result
