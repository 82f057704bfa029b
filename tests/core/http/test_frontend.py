"""The panel's static files at ``/``: no token, versioned long-cached assets, gzip, ETags."""

from __future__ import annotations

import re
from pathlib import Path

from core.auth import Role
from core.http.frontend import CACHE_IMMUTABLE, FRONTEND_DIR, StaticBundle
from tests.core.http.conftest import Api


async def test_index_needs_no_token_is_revalidated_and_names_the_asset_version(api: Api) -> None:
    async with api.session.get(api.url + "/") as response:
        body = await response.text()
        assert response.status == 200
        assert response.headers["Cache-Control"] == "no-cache"
        assert "default-src 'self'" in response.headers["Content-Security-Policy"]
        etag = response.headers["ETag"]
    version = re.search(r"/frontend/([0-9a-f]{12})/js/app\.js", body)
    assert version is not None
    assert "%ASSETS%" not in body

    async with api.session.get(api.url + "/", headers={"If-None-Match": etag}) as again:
        assert again.status == 304


async def test_assets_are_immutable_gzipped_and_only_of_the_current_version(api: Api) -> None:
    async with api.session.get(api.url + "/") as response:
        version = re.search(r"/frontend/([0-9a-f]{12})/", await response.text())
    assert version is not None
    url = f"{api.url}/frontend/{version.group(1)}/js/app.js"

    async with api.session.get(url, headers={"Accept-Encoding": "gzip"}) as response:
        assert response.status == 200
        assert response.headers["Cache-Control"] == CACHE_IMMUTABLE
        assert response.headers["Content-Encoding"] == "gzip"
        assert response.headers["Content-Type"].startswith("text/javascript")
        assert "import" in await response.text()  # aiohttp un-gzips it
    async with api.session.get(url, headers={"Accept-Encoding": "identity"}) as plain:
        assert "Content-Encoding" not in plain.headers

    async with api.session.get(f"{api.url}/frontend/000000000000/js/app.js") as old:
        assert old.status == 404
    async with api.session.get(f"{api.url}/frontend/{version.group(1)}/js/nope.js") as missing:
        assert missing.status == 404
    async with api.session.get(f"{api.url}/frontend/{version.group(1)}/../pyproject.toml") as up:
        assert up.status == 404


async def test_the_api_still_needs_a_token_while_the_panel_does_not(api: Api) -> None:
    status, _ = await api.request("GET", "/api/states", role=None)
    assert status == 401
    status, _ = await api.request("GET", "/api/states", role=Role.VIEWER)
    assert status == 200


def test_bundle_version_changes_with_any_file(tmp_path: Path) -> None:
    (tmp_path / "index.html").write_text("<p>one</p>")
    (tmp_path / ".hidden").write_text("left out")
    first = StaticBundle.read(tmp_path)
    assert set(first.assets) == {"index.html"}
    assert first.version == StaticBundle.read(tmp_path).version
    (tmp_path / "index.html").write_text("<p>two</p>")
    assert StaticBundle.read(tmp_path).version != first.version
    assert "vendor/uplot/LICENSE" in StaticBundle.read(FRONTEND_DIR).assets
