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
