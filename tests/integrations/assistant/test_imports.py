"""The assistant's heavy libraries are paid only by a site that asks it something."""

from __future__ import annotations

import subprocess
import sys
import textwrap


def test_loading_every_integration_imports_neither_anthropic_nor_mcp() -> None:
    """Entry points loaded (the assistant's among them): no anthropic, no mcp."""
    code = textwrap.dedent(
        """\
        import sys
        from core.plugins import IntegrationLoader

        loader = IntegrationLoader()
        loader.load_entry_points()
        assert "assistant" in loader.integrations, sorted(loader.integrations)
        import integrations.assistant.api, integrations.assistant.mcp_server
        import integrations.assistant.asgi
        print("\\n".join(sorted(sys.modules)))
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    loaded = set(result.stdout.split())
    assert "integrations.assistant.api" in loaded
    heavy = {"anthropic", "mcp", "mcp_types", "httpx", "starlette", "sse_starlette"}
    assert {name for name in loaded if name.split(".")[0] in heavy} == set()
