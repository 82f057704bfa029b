"""The kernel knows no plugin: nothing under ``core/`` imports ``integrations`` or ``automations``.

Checked on the syntax tree of every module, so an import hidden inside a function (a "lazy"
import) counts as much as one at the top; history, logbook, traces and configuration editing
belong to the integrations that own them and reach the kernel through its registries. Nor does
the kernel look a plugin's services up by its domain, or name the events a plugin fires.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

CORE = Path(__file__).resolve().parents[2] / "core"
PLUGIN_PACKAGES = ("integrations", "automations")
#: Names only a plugin may use: its domain (to look its services up) or the events it fires.
PLUGIN_NAMES = frozenset(
    {"recorder", "automation", "script", "automation_triggered", "script_started", "logbook_entry"}
)


def plugin_imports(source: str, filename: str) -> list[str]:
    """The imports in ``source`` that name a plugin package, as ``line: module``."""
    found = []
    for node in ast.walk(ast.parse(source, filename)):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        else:
            continue
        for name in names:
            if name.split(".")[0] in PLUGIN_PACKAGES:
                found.append(f"{node.lineno}: {name}")
    return found


def test_the_check_sees_top_level_lazy_and_type_checking_imports() -> None:
    source = (
        "import integrations.recorder\n"
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n"
        "    from automations.manager import AutomationManager\n"
        "def later():\n"
        "    from integrations.recorder.core import RECORDER\n"
        "    import automations\n"
        "from core.http import register_route\n"
        "from .integration import Manifest\n"
    )

    assert plugin_imports(source, "example.py") == [
        "1: integrations.recorder",
        "4: automations.manager",
        "6: integrations.recorder.core",
        "7: automations",
    ]


@pytest.mark.parametrize(
    "path", sorted(CORE.rglob("*.py")), ids=lambda p: str(p.relative_to(CORE.parent))
)
def test_core_module_imports_no_integration_or_automation(path: Path) -> None:
    found = plugin_imports(path.read_text(encoding="utf-8"), str(path))

    assert found == [], f"{path.relative_to(CORE.parent)} imports a plugin package: {found}"


def plugin_names(source: str, filename: str) -> list[str]:
    """String constants in ``source`` (docstrings aside) that name a plugin or its events."""
    tree = ast.parse(source, filename)
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    return [
        f"{node.lineno}: {node.value}"
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and node.value in PLUGIN_NAMES
        and id(node) not in docstrings
    ]


def test_the_name_check_ignores_docstrings_only() -> None:
    source = (
        '"""The recorder describes logbook_entry."""\n'
        "def f(runtime):\n"
        '    """Ask the recorder."""\n'
        '    return runtime.services.has("recorder", "purge"), "automation_triggered"\n'
    )

    assert sorted(plugin_names(source, "example.py")) == ["4: automation_triggered", "4: recorder"]


@pytest.mark.parametrize(
    "path", sorted(CORE.rglob("*.py")), ids=lambda p: str(p.relative_to(CORE.parent))
)
def test_core_module_names_no_plugin_domain_or_event(path: Path) -> None:
    found = plugin_names(path.read_text(encoding="utf-8"), str(path))

    assert found == [], f"{path.relative_to(CORE.parent)} names a plugin's domain or event: {found}"
