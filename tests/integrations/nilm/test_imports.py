"""onnxruntime and numpy are paid only by sites that configure ``nilm:``."""

from __future__ import annotations

import subprocess
import sys


def test_loading_every_integration_and_the_cli_parser_imports_neither_onnxruntime_nor_numpy() -> (
    None
):
    code = (
        "import sys\n"
        "from core.plugins import IntegrationLoader\n"
        "from core.cli import build_parser\n"
        "loader = IntegrationLoader()\n"
        "loader.load_entry_points()\n"
        "assert 'nilm' in loader.integrations, loader.load_errors\n"
        "build_parser()\n"
        "print(sorted(m for m in ('onnxruntime', 'numpy', 'onnx') if m in sys.modules))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.strip() == "[]", result.stderr


async def test_the_inference_process_imports_what_inference_needs_and_not_the_kernel() -> None:
    # The real child of a running integration, after it verified and loaded the shipped model.
    from integrations.nilm.const import BUNDLED_MODELS, DEFAULT_MODEL
    from integrations.nilm.registry import ModelRegistry
    from integrations.nilm.worker import InferenceClient

    registry = ModelRegistry([BUNDLED_MODELS])
    registry.scan()
    client = InferenceClient()
    try:
        await client.load(registry.entry(DEFAULT_MODEL))
        loaded = set(await client.process.modules())
    finally:
        client.stop()
    assert {"numpy", "onnxruntime", "integrations.nilm.model"} <= loaded
    kernel = {"aiohttp", "asyncio", "core.runtime", "core.http", "core.hookspecs", "pluggy"}
    assert not loaded & kernel
    assert not {m for m in loaded if m.startswith("integrations.nilm.")} - {
        "integrations.nilm.const",
        "integrations.nilm.manifest",
        "integrations.nilm.model",
        "integrations.nilm.registry",
        "integrations.nilm.worker",
    }
