"""The NILM API: persisted predictions, idempotency, limits, roles, upload and reload."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp

from core import Runtime
from core.auth import Role
from core.auth.manager import hash_password
from integrations.nilm.const import INFER_RATE_PER_MINUTE, MAX_INFER_BODY
from tests.integrations._runtime import running

from .conftest import write_tiny_model

START = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)
WINDOW = [300.0] * 1200


def _yaml(models: Path) -> str:
    return (
        "http:\n  server_host: 127.0.0.1\n  server_port: 0\n"
        f"nilm:\n  models_dir: {models}\n  model: tiny\n"
    )


async def _headers(runtime: Runtime, role: Role, name: str = "") -> dict[str, str]:
    assert runtime.http is not None
    auth = runtime.http.auth
    user = auth.data.add_user(f"u-{role}{name}", hash_password("pw-secret-1"), role=role)
    _, token = await auth.create_long_lived_token(user, "tests")
    return {"Authorization": f"Bearer {token}"}


def _url(runtime: Runtime, path: str) -> str:
    assert runtime.http is not None
    return f"http://127.0.0.1:{runtime.http.port}{path}"


def _stored(runtime: Runtime) -> list[dict[str, Any]]:
    path = runtime.config_dir / ".storage" / "nilm_predictions.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()]


async def test_a_prediction_is_stored_before_the_response(tmp_path: Path, model_dir: Path) -> None:
    async with running(tmp_path, _yaml(model_dir), START) as runtime:
        headers = await _headers(runtime, Role.OPERATOR)
        async with aiohttp.ClientSession(headers=headers) as http:
            resp = await http.post(_url(runtime, "/api/nilm/infer"), json={"windows": [WINDOW]})
            assert resp.status == 200
            body = await resp.json()
        assert body["model"] == "tiny"
        assert set(body["predictions"][0]) >= {"kettle", "fridge", "heat_pump"}
        assert body["predictions"][0]["kettle"]["confidence"] >= 0.5
        assert [r["result"]["id"] for r in _stored(runtime)] == [body["id"]]


async def test_a_repeated_idempotency_key_answers_the_stored_result_and_409_on_another_body(
    tmp_path: Path, model_dir: Path
) -> None:
    async with running(tmp_path, _yaml(model_dir), START) as runtime:
        headers = {**await _headers(runtime, Role.OPERATOR), "Idempotency-Key": "k-1"}
        url = _url(runtime, "/api/nilm/infer")
        async with aiohttp.ClientSession(headers=headers) as http:
            first = await (await http.post(url, json={"windows": [WINDOW]})).json()
            again = await (await http.post(url, json={"windows": [WINDOW]})).json()
            other = await http.post(url, json={"windows": [[400.0] * 1200]})
            assert other.status == 409
        assert again == first
        assert len(_stored(runtime)) == 1


async def test_bad_windows_oversized_bodies_and_viewers_are_refused(
    tmp_path: Path, model_dir: Path
) -> None:
    async with running(tmp_path, _yaml(model_dir), START) as runtime:
        url = _url(runtime, "/api/nilm/infer")
        async with aiohttp.ClientSession(headers=await _headers(runtime, Role.OPERATOR)) as http:
            short = await http.post(url, json={"windows": [[1.0] * 10]})
            assert short.status == 400
            assert "windows[0]: expected 1200 readings" in (await short.json())["message"]
            nan = await http.post(url, data=b'{"windows": [[' + b"-1," * 1199 + b"-1]]}")
            assert nan.status == 400
            big = await http.post(url, data=b" " * (MAX_INFER_BODY + 1))
            assert big.status == 413
        async with aiohttp.ClientSession(headers=await _headers(runtime, Role.VIEWER)) as http:
            assert (await http.post(url, json={"windows": [WINDOW]})).status == 403
            assert (await http.get(_url(runtime, "/api/nilm/models"))).status == 200
        async with aiohttp.ClientSession() as http:
            assert (await http.get(_url(runtime, "/api/nilm/models"))).status == 401


async def test_a_user_over_the_rate_limit_gets_429(tmp_path: Path, model_dir: Path) -> None:
    async with running(tmp_path, _yaml(model_dir), START) as runtime:
        url = _url(runtime, "/api/nilm/infer")
        async with aiohttp.ClientSession(headers=await _headers(runtime, Role.OPERATOR)) as http:
            statuses = [
                (await http.post(url, data=b"{}")).status for _ in range(INFER_RATE_PER_MINUTE + 1)
            ]
        assert statuses[:-1] == [400] * INFER_RATE_PER_MINUTE
        assert statuses[-1] == 429


async def test_an_admin_uploads_a_model_that_is_verified_and_served_after_reload(
    tmp_path: Path, model_dir: Path
) -> None:
    source = tmp_path / "source"
    manifest = write_tiny_model(source, "second")
    data = (source / "second.onnx").read_bytes()
    upload = {
        "manifest": manifest,
        "model_base64": base64.b64encode(data).decode(),
        "sha256": manifest["sha256"],
    }
    async with running(tmp_path, _yaml(model_dir), START) as runtime:
        models = _url(runtime, "/api/nilm/models")
        async with aiohttp.ClientSession(headers=await _headers(runtime, Role.OPERATOR)) as http:
            assert (await http.post(models, json=upload)).status == 403
        async with aiohttp.ClientSession(headers=await _headers(runtime, Role.ADMIN)) as http:
            tampered = {**upload, "model_base64": base64.b64encode(data[:-1] + b"x").decode()}
            refused = await http.post(models, json=tampered)
            assert refused.status == 422
            assert "SHA-256" in (await refused.json())["message"]
            assert (await http.post(models, json=upload)).status == 201
            reload = await http.post(_url(runtime, "/api/nilm/reload"))
            assert {"second", "tiny"} <= set((await reload.json())["models"])
            listed = await (await http.get(models)).json()
            assert {m["id"] for m in listed["models"]} >= {"second", "tiny"}
            infer = await http.post(
                _url(runtime, "/api/nilm/infer"), json={"model": "second", "windows": [WINDOW]}
            )
            assert (await infer.json())["model"] == "second"


async def test_an_idempotency_key_is_remembered_across_a_restart_for_its_user_only(
    tmp_path: Path, model_dir: Path
) -> None:
    bodies = []
    headers: dict[str, str] = {}
    for _ in range(2):
        async with running(tmp_path, _yaml(model_dir), START) as runtime:
            if not headers:  # the token outlives the restart
                headers = {**await _headers(runtime, Role.OPERATOR), "Idempotency-Key": "again"}
            async with aiohttp.ClientSession(headers=headers) as http:
                resp = await http.post(_url(runtime, "/api/nilm/infer"), json={"windows": [WINDOW]})
                bodies.append(await resp.json())
            other = {
                **await _headers(runtime, Role.ADMIN, str(len(bodies))),
                "Idempotency-Key": "again",
            }
            async with aiohttp.ClientSession(headers=other) as http:
                resp = await http.post(_url(runtime, "/api/nilm/infer"), json={"windows": [WINDOW]})
                assert (await resp.json())["id"] != bodies[0]["id"]
    assert bodies[1] == bodies[0]
