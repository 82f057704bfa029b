"""The built-in web panel: the static files of ``frontend/`` served at ``/``.

The files need no token (they hold nothing secret); every API call they make does. Assets are
served under a versioned path, ``/frontend/<version>/<file>``, where the version is a hash of the
whole folder, so they are cached for a year (``immutable``); ``/`` (the page that names the
version) is ``no-cache`` and revalidated with its ETag. Every text file is gzipped once, in
memory, the first time the bundle is read, and sent compressed to clients that accept gzip.

Integrations contribute pages with the ``edgewise_panels`` hook; a panel's own files (its
``static_dir``) are served the same way under ``/panel-static/<url_path>/<version>/``.
"""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import logging
import mimetypes
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from aiohttp import hdrs, web

from core.auth import Permission

from .view import RUNTIME, requires

if TYPE_CHECKING:
    from core.runtime import Runtime

_LOGGER = logging.getLogger(__name__)

#: The panel's files: ``frontend/`` at the root of the source tree.
FRONTEND_DIR = Path(__file__).resolve().parents[2] / "frontend"
#: The placeholder in ``index.html`` replaced by the asset path prefix.
ASSET_PREFIX_MARK = "%ASSETS%"
CACHE_IMMUTABLE = "public, max-age=31536000, immutable"
CACHE_REVALIDATE = "no-cache"
#: Smaller files are sent as they are: gzip would not pay for its header.
MIN_GZIP_SIZE = 256
_TEXT_SUFFIXES = frozenset({".html", ".js", ".mjs", ".css", ".json", ".svg", ".txt", ".map"})
_CONTENT_TYPES = {
    ".js": "text/javascript",
    ".mjs": "text/javascript",
    ".css": "text/css",
    ".html": "text/html",
    ".svg": "image/svg+xml",
    ".json": "application/json",
    ".webmanifest": "application/manifest+json",
}
#: What the panel page may load: only itself (the API is same-origin; styles set by script).
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; "
    "form-action 'self'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


@dataclass(frozen=True, slots=True)
class Asset:
    """One file, ready to send: its bytes, gzipped bytes (when worth it) and ETag."""

    body: bytes
    gzipped: bytes | None
    etag: str
    content_type: str


def make_asset(path: str, body: bytes) -> Asset:
    """An ``Asset`` of ``body`` named ``path`` (the suffix picks the content type)."""
    suffix = Path(path).suffix.lower()
    content_type = _CONTENT_TYPES.get(suffix) or (
        mimetypes.guess_type(path)[0] or "application/octet-stream"
    )
    gzipped = None
    if suffix in _TEXT_SUFFIXES and len(body) >= MIN_GZIP_SIZE:
        # mtime=0: the same bytes every time, so the ETag of the gzipped form is stable.
        gzipped = gzip.compress(body, compresslevel=9, mtime=0)
    etag = '"' + hashlib.sha256(body).hexdigest()[:20] + '"'
    return Asset(body, gzipped, etag, content_type)


class StaticBundle:
    """A folder of static files read once, versioned by the hash of its content."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.version = ""
        self.assets: dict[str, Asset] = {}

    @classmethod
    def read(cls, root: Path) -> StaticBundle:
        """Read and compress every file under ``root`` (blocking: run it in the executor).

        Hidden files are left out.
        """
        bundle = cls(root)
        digest = hashlib.sha256()
        for path in sorted(p for p in root.rglob("*") if p.is_file()):
            rel = path.relative_to(root).as_posix()
            if any(part.startswith(".") for part in rel.split("/")):
                continue
            body = path.read_bytes()
            digest.update(rel.encode() + b"\0" + body + b"\0")
            bundle.assets[rel] = make_asset(rel, body)
        bundle.version = digest.hexdigest()[:12]
        return bundle


def asset_response(
    request: web.Request, asset: Asset, cache_control: str, *, extra: dict[str, str] | None = None
) -> web.StreamResponse:
    """Answer ``asset``: 304 when the client has it, gzipped when the client accepts it."""
    use_gzip = asset.gzipped is not None and "gzip" in request.headers.get(hdrs.ACCEPT_ENCODING, "")
    etag = asset.etag[:-1] + '-gz"' if use_gzip else asset.etag
    headers = {
        hdrs.CACHE_CONTROL: cache_control,
        hdrs.ETAG: etag,
        hdrs.VARY: "Accept-Encoding",
        **(extra or {}),
    }
    if etag in request.headers.get(hdrs.IF_NONE_MATCH, ""):
        return web.Response(status=304, headers=headers)
    if use_gzip:
        headers[hdrs.CONTENT_ENCODING] = "gzip"
    body = asset.gzipped if use_gzip and asset.gzipped is not None else asset.body
    return web.Response(body=body, headers=headers, content_type=asset.content_type)


class Frontend:
    """Serves the panel's bundle and the bundles of integrations' panels."""

    def __init__(self, runtime: Runtime, root: Path = FRONTEND_DIR) -> None:
        self.runtime = runtime
        self.root = root
        self._bundle: StaticBundle | None = None
        self._loading: asyncio.Lock | None = None
        #: Bundles of integrations' panels, by the panel's ``url_path``.
        self.panel_bundles: dict[str, StaticBundle] = {}

    async def bundle(self) -> StaticBundle:
        """The panel's bundle, read on first use."""
        if self._bundle is None:
            if self._loading is None:
                self._loading = asyncio.Lock()
            async with self._loading:
                if self._bundle is None:
                    self._bundle = await self.runtime.run_in_executor(StaticBundle.read, self.root)
                    _LOGGER.debug(
                        "Panel bundle %s: %d files", self._bundle.version, len(self._bundle.assets)
                    )
        return self._bundle

    async def panel_bundle(self, url_path: str, static_dir: Path) -> StaticBundle:
        """The bundle of an integration's panel, read on first use."""
        bundle = self.panel_bundles.get(url_path)
        if bundle is None or bundle.root != static_dir:
            bundle = await self.runtime.run_in_executor(StaticBundle.read, static_dir)
            self.panel_bundles[url_path] = bundle
        return bundle

    async def index(self, request: web.Request) -> web.StreamResponse:
        """``/``: the page, naming the current asset version."""
        bundle = await self.bundle()
        page = bundle.assets.get("index.html")
        if page is None:
            raise web.HTTPNotFound(text="The panel is not installed (no frontend/index.html)")
        key = "index.html@" + bundle.version
        asset = bundle.assets.get(key)
        if asset is None:
            body = page.body.replace(
                ASSET_PREFIX_MARK.encode(), f"/frontend/{bundle.version}".encode()
            )
            asset = bundle.assets[key] = make_asset("index.html", body)
        return asset_response(request, asset, CACHE_REVALIDATE, extra=SECURITY_HEADERS)

    async def asset(self, request: web.Request) -> web.StreamResponse:
        """``/frontend/<version>/<path>``: one file of the current version, cached for good."""
        bundle = await self.bundle()
        if request.match_info["version"] != bundle.version:
            # An old page asking for old files: they are gone, it must reload.
            raise web.HTTPNotFound(text="Unknown panel version: reload the page")
        asset = bundle.assets.get(request.match_info["path"])
        if asset is None:
            raise web.HTTPNotFound
        return asset_response(request, asset, CACHE_IMMUTABLE)

    async def panel_asset(self, request: web.Request) -> web.StreamResponse:
        """``/panel-static/<url_path>/<version>/<path>``: a file of an integration's panel."""
        from .panels import panels_of  # noqa: PLC0415 - panels imports this module

        url_path = request.match_info["url_path"]
        panel = panels_of(self.runtime).get(url_path)
        if panel is None or panel.static_dir is None:
            raise web.HTTPNotFound
        bundle = await self.panel_bundle(url_path, panel.static_dir)
        if request.match_info["version"] != bundle.version:
            raise web.HTTPNotFound(text="Unknown panel version: reload the page")
        asset = bundle.assets.get(request.match_info["path"])
        if asset is None:
            raise web.HTTPNotFound
        return asset_response(request, asset, CACHE_IMMUTABLE)


FRONTEND: web.AppKey[Frontend] = web.AppKey("frontend")


@requires(Permission.PUBLIC)
async def index(request: web.Request) -> web.StreamResponse:
    """The panel's page."""
    return await request.app[FRONTEND].index(request)


@requires(Permission.PUBLIC)
async def asset(request: web.Request) -> web.StreamResponse:
    """A file of the panel."""
    return await request.app[FRONTEND].asset(request)


@requires(Permission.PUBLIC)
async def panel_asset(request: web.Request) -> web.StreamResponse:
    """A file of an integration's panel."""
    return await request.app[FRONTEND].panel_asset(request)


def add_routes(app: web.Application, root: Path = FRONTEND_DIR) -> Frontend:
    """Mount the panel at ``/`` and its files under ``/frontend/`` and ``/panel-static/``."""
    frontend = app[FRONTEND] = Frontend(app[RUNTIME], root)
    app.router.add_get("/", index)
    app.router.add_get("/index.html", index)
    app.router.add_get("/frontend/{version}/{path:.+}", asset)
    app.router.add_get("/panel-static/{url_path}/{version}/{path:.+}", panel_asset)
    return frontend
