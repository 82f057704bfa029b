"""The NILM HTTP API: models, inference with persisted predictions, upload and reload.

- ``GET /api/nilm/models`` (any user): every model's manifest, and the refused ones' reasons.
- ``POST /api/nilm/infer`` (operator): ``{"model": ID (optional), "windows": [[W, ...], ...]}``,
  each window ``window_length`` readings in W at the model's period. The prediction is
  appended to ``.storage/nilm_predictions.jsonl`` (and flushed to disk) before the response.
  With an ``Idempotency-Key`` header a repeated request answers the stored result; the same key
  with a different body answers 409 (keys are per user, and survive a restart). Bodies over
  ``MAX_INFER_BODY`` answer 413, more than ``INFER_RATE_PER_MINUTE`` calls a minute by one
  user answer 429.
- ``POST /api/nilm/models`` (admin): ``{"manifest": {...}, "model_base64": "...", "sha256":
  HEX}``; the model is verified (hash, shapes, one inference) before it is written.
- ``POST /api/nilm/reload`` (admin): rescan the models and restart the meters, no restart.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import hashlib
import math
import os
from array import array
from collections import OrderedDict, deque
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson
from aiohttp import web
from ulid_transform import ulid_now

from core.auth import Permission
from core.auth.areas import area_aware
from core.http import register_route
from core.http.view import current_user, json_response
from core.isolated import WorkerDied, WorkerUnavailable

from .const import (
    INFER_RATE_PER_MINUTE,
    MAX_IDEMPOTENCY_KEY_LEN,
    MAX_IDEMPOTENCY_KEYS,
    MAX_INFER_BODY,
    MAX_INFER_WINDOWS,
    MAX_MODEL_BYTES,
)
from .manifest import ModelRefused
from .registry import ModelEntry

if TYPE_CHECKING:
    from core import Runtime

    from .integration import NilmRunning

PREDICTIONS_FILE = "nilm_predictions.jsonl"


class _BadRequest(Exception):
    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


class PredictionStore:
    """The predictions, one JSON line each, and the idempotency keys they answered."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.keys: OrderedDict[str, tuple[str, dict[str, Any]]] = OrderedDict()
        self.lock = asyncio.Lock()

    def load(self) -> None:
        """Read the keys of the stored predictions (a malformed line is skipped)."""
        if not self.path.exists():
            return
        with self.path.open("rb") as handle:
            for line in handle:
                try:
                    record = orjson.loads(line)
                    key = record.get("key")
                    if key:
                        self._remember(key, record["body_sha256"], record["result"])
                except (orjson.JSONDecodeError, KeyError, AttributeError):
                    continue

    def _remember(self, key: str, digest: str, result: dict[str, Any]) -> None:
        self.keys[key] = (digest, result)
        self.keys.move_to_end(key)
        while len(self.keys) > MAX_IDEMPOTENCY_KEYS:
            self.keys.popitem(last=False)

    def append(self, record: dict[str, Any]) -> None:
        """Write one prediction and flush it to disk (blocking; run in the executor)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("ab") as handle:
            handle.write(orjson.dumps(record) + b"\n")
            handle.flush()
            os.fsync(handle.fileno())
        if record.get("key"):
            self._remember(record["key"], record["body_sha256"], record["result"])


class RateLimiter:
    """At most ``limit`` calls per user in any ``window`` seconds."""

    def __init__(self, limit: int, window: float, clock: Callable[[], float]) -> None:
        self.limit = limit
        self.window = window
        self.clock = clock
        self.calls: dict[str, deque[float]] = {}

    def allow(self, user_id: str) -> bool:
        """Count a call; False when the user is over the limit."""
        now = self.clock()
        calls = self.calls.setdefault(user_id, deque())
        while calls and calls[0] <= now - self.window:
            calls.popleft()
        if len(calls) >= self.limit:
            return False
        calls.append(now)
        return True


async def _read_body(request: web.Request, limit: int) -> bytes:
    if request.content_length is not None and request.content_length > limit:
        raise _BadRequest(f"body larger than {limit} bytes", 413)
    body = await request.content.read(limit + 1)
    if len(body) > limit:
        raise _BadRequest(f"body larger than {limit} bytes", 413)
    return body


def _parse_windows(doc: dict[str, Any], model: ModelEntry) -> list[array[float]]:
    windows = doc.get("windows")
    length = model.manifest.window_length
    if not isinstance(windows, list) or not windows:
        raise _BadRequest("windows: expected a non-empty list of windows")
    if len(windows) > MAX_INFER_WINDOWS:
        raise _BadRequest(f"windows: at most {MAX_INFER_WINDOWS} per request")
    parsed = []
    for index, window in enumerate(windows):
        if not isinstance(window, list) or len(window) != length:
            raise _BadRequest(f"windows[{index}]: expected {length} readings (W)")
        if not all(type(v) in (int, float) for v in window):
            raise _BadRequest("windows: every reading must be a number (W)")
        try:
            values = array("f", window)
        except OverflowError:
            raise _BadRequest("windows: readings must be finite and not negative") from None
        if not all(math.isfinite(v) and v >= 0 for v in values):
            raise _BadRequest("windows: readings must be finite and not negative")
        parsed.append(values)
    return parsed


class NilmApi:
    """The handlers, bound to the running integration."""

    def __init__(self, runtime: Runtime, running: NilmRunning) -> None:
        self.runtime = runtime
        self.running = running
        self.store = PredictionStore(runtime.config_dir / ".storage" / PREDICTIONS_FILE)
        self.limiter = RateLimiter(INFER_RATE_PER_MINUTE, 60.0, runtime.clock.monotonic)

    async def models_view(self, request: web.Request) -> web.Response:
        """Every model and every refused one."""
        registry = self.running.registry
        return json_response({"models": registry.describe(), "refused": registry.problems})

    def _model(self, model_id: str) -> ModelEntry:
        try:
            return self.running.registry.entry(model_id)
        except ModelRefused as err:
            raise _BadRequest(str(err), 404) from err

    async def infer_view(self, request: web.Request) -> web.Response:
        """Disaggregate the posted windows; persist the prediction before answering."""
        try:
            return await self._infer(request)
        except _BadRequest as err:
            return json_response({"message": str(err)}, err.status)

    async def _infer(self, request: web.Request) -> web.Response:
        user = current_user(request)
        key = request.headers.get("Idempotency-Key")
        if key is not None and not 0 < len(key) <= MAX_IDEMPOTENCY_KEY_LEN:
            raise _BadRequest(f"Idempotency-Key: 1 to {MAX_IDEMPOTENCY_KEY_LEN} characters")
        if not self.limiter.allow(user.id):
            raise _BadRequest(f"more than {INFER_RATE_PER_MINUTE} inferences a minute", 429)
        body = await _read_body(request, MAX_INFER_BODY)
        digest = hashlib.sha256(body).hexdigest()
        if key is not None:
            key = f"{user.id}:{key}"  # a key is the user's own: no answer to another user
        async with self.store.lock:
            if key is not None and key in self.store.keys:
                stored_digest, result = self.store.keys[key]
                if stored_digest != digest:
                    raise _BadRequest("Idempotency-Key reused with a different body", 409)
                return json_response(result)
            try:
                doc = orjson.loads(body)
            except orjson.JSONDecodeError as err:
                raise _BadRequest(f"body: not valid JSON ({err})") from None
            if not isinstance(doc, dict):
                raise _BadRequest("body: expected a JSON object")
            model_id = doc.get("model", self.running.config.model)
            if not isinstance(model_id, str):
                raise _BadRequest("model: expected a model id")
            model = self._model(model_id)
            windows = _parse_windows(doc, model)
            try:
                power, prob = await self.running.client.predict(model, windows)
            except ModelRefused as err:
                raise _BadRequest(str(err), 422) from err
            except (WorkerUnavailable, WorkerDied) as err:
                raise _BadRequest(f"inference unavailable: {err}", 503) from err
            names = model.manifest.appliance_names
            gates = model.manifest.on_probabilities()
            result = {
                "id": ulid_now(),
                "model": model.manifest.id,
                "version": model.manifest.version,
                "output_index": model.manifest.output_index,
                "predictions": [
                    {
                        name: {
                            "power": round(power[row][i], 1),
                            "on": prob[row][i] > gates[name],
                            "confidence": round(
                                prob[row][i] if prob[row][i] > gates[name] else 1 - prob[row][i],
                                3,
                            ),
                        }
                        for i, name in enumerate(names)
                    }
                    for row in range(len(windows))
                ],
            }
            record = {
                "at": self.runtime.clock.now().isoformat(),
                "user": user.id,
                "key": key,
                "body_sha256": digest,
                "result": result,
            }
            await self.runtime.run_in_executor(self.store.append, record)
        return json_response(result)

    async def upload_view(self, request: web.Request) -> web.Response:
        """Verify and add an uploaded model (admins)."""
        try:
            body = await _read_body(request, MAX_MODEL_BYTES * 4 // 3 + 300_000)
            try:
                doc = orjson.loads(body)
            except orjson.JSONDecodeError as err:
                raise _BadRequest(f"body: not valid JSON ({err})") from None
            if not isinstance(doc, dict):
                raise _BadRequest("body: expected a JSON object")
            sha = doc.get("sha256")
            encoded = doc.get("model_base64")
            if not isinstance(sha, str) or not isinstance(encoded, str):
                raise _BadRequest("sha256 and model_base64: expected strings")
            try:
                data = base64.b64decode(encoded, validate=True)
            except (binascii.Error, ValueError):
                raise _BadRequest("model_base64: not valid base64") from None
            try:
                manifest = self.running.registry.check_upload(doc.get("manifest"), data, sha)
                await self.running.client.verify(manifest.as_dict(), data)
            except ModelRefused as err:
                raise _BadRequest(str(err), 422) from err
            except (WorkerUnavailable, WorkerDied) as err:
                raise _BadRequest(f"cannot verify the model now: {err}", 503) from err
            await self.runtime.run_in_executor(self.running.registry.write, manifest, data)
        except _BadRequest as err:
            return json_response({"message": str(err)}, err.status)
        return json_response({"model": manifest.as_dict()}, 201)

    async def reload_view(self, request: web.Request) -> web.Response:
        """Rescan the models and restart the meters (admins)."""
        from .integration import start_meters, stop_meters  # noqa: PLC0415 - imports this module

        await stop_meters(self.runtime, self.running)
        with contextlib.suppress(WorkerUnavailable, WorkerDied):
            await self.running.client.forget()  # else a new process loads them afresh anyway
        await start_meters(self.runtime, self.running)
        return json_response(
            {"models": sorted(self.running.registry.entries), "meters": len(self.running.meters)}
        )


def register_api(runtime: Runtime, running: NilmRunning) -> list[Callable[[], None]]:
    """Serve the routes; answer the functions that remove them."""
    api = NilmApi(runtime, running)
    api.store.load()

    def plain(
        view: Callable[[web.Request], Awaitable[web.Response]], *, of_no_area: bool = False
    ) -> Callable[[web.Request], Awaitable[web.Response]]:
        # The route table marks its handlers with their permission: a function, not a method.
        async def handler(request: web.Request) -> web.Response:
            return await view(request)

        # The models, and inference on the windows the caller posts, read nothing of any area:
        # an area-limited user is served them (``core.auth.areas``); the admin routes are not.
        return area_aware(handler) if of_no_area else handler

    return [
        register_route(
            runtime,
            "GET",
            "/api/nilm/models",
            plain(api.models_view, of_no_area=True),
            Permission.READ,
        ),
        register_route(
            runtime,
            "POST",
            "/api/nilm/infer",
            plain(api.infer_view, of_no_area=True),
            Permission.CONTROL,
        ),
        register_route(
            runtime, "POST", "/api/nilm/models", plain(api.upload_view), Permission.ADMIN
        ),
        register_route(
            runtime, "POST", "/api/nilm/reload", plain(api.reload_view), Permission.ADMIN
        ),
    ]
