"""``core``'s names for integration authors load on first use, so ``import core`` is cheap.

A spawned child that needs only ``core.isolated`` imports ``core/__init__.py`` with it; that
must not load the kernel (runtime, HTTP, aiohttp). Checked in a fresh interpreter.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

import core

INIT = Path(core.__file__)


def test_importing_core_or_a_submodule_loads_none_of_the_kernel() -> None:
    code = (
        "import json, sys\n"
        "import core, core.isolated\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.startswith(('core', 'aiohttp')))))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert json.loads(result.stdout) == ["core", "core.isolated"], result.stderr


def test_every_exported_name_resolves_to_what_the_type_checker_is_told() -> None:
    # The TYPE_CHECKING block (what mypy and readers see) and the lazy table must agree.
    told: dict[str, str] = {}
    for node in ast.walk(ast.parse(INIT.read_text(), str(INIT))):
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            for alias in node.names:
                told[alias.name] = f"core.{node.module}" if node.module else f"core.{alias.name}"
    assert sorted(told) == sorted(core.__all__)
    for name, module_name in told.items():
        module = sys.modules.get(module_name) or __import__(module_name, fromlist=["_"])
        expected = module if module_name == f"core.{name}" else getattr(module, name)
        assert getattr(core, name) is expected, name
    assert set(core.__all__) <= set(dir(core))


def test_an_unknown_name_is_an_attribute_error_naming_it() -> None:
    with pytest.raises(AttributeError, match="'core' has no attribute 'Runtme'"):
        _ = core.Runtme
    with pytest.raises(ImportError, match="Runtme"):
        exec("from core import Runtme", {})  # noqa: S102 - the import statement itself
