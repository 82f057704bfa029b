"""Tests for core/hookspecs.py: every hook is documented for plugin authors and tested.

A new hook without an ``Args``/``Returns`` section, an "Added in" line, or a test named for it
(``test_<hook>_<behaviour>``, not merely a test file that mentions it) fails here, the way
datasette's ``tests/test_docs.py`` keeps its plugin hooks honest.
"""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import pytest

from core import hookspecs

TESTS_ROOT = Path(__file__).resolve().parent.parent


def _hookspec_names() -> list[str]:
    marker = f"{hookspecs.PROJECT_NAME}_spec"
    return sorted(
        name
        for name, func in inspect.getmembers(hookspecs, inspect.isfunction)
        if hasattr(func, marker)
    )


HOOKSPECS = _hookspec_names()


def test_hookspec_module_defines_the_hooks_of_every_phase() -> None:
    assert {"edgewise_manifest", "edgewise_setup", "edgewise_started", "edgewise_stop"} <= set(
        HOOKSPECS
    )


@pytest.mark.parametrize("name", HOOKSPECS)
def test_every_hookspec_is_documented_with_args_or_returns_and_added_in(name: str) -> None:
    doc = inspect.getdoc(getattr(hookspecs, name))

    assert doc, f"hookspec {name} has no docstring"
    assert "Args:" in doc or "Returns:" in doc, f"hookspec {name} documents no Args/Returns"
    assert "Added in" in doc, f"hookspec {name} does not say in which version it was added"


def named_tests(root: Path) -> dict[str, Path]:
    """Every test function under ``root`` (its name, and the file it is in)."""
    found: dict[str, Path] = {}
    for path in root.rglob("test_*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        for node in ast.walk(tree):
            is_function = isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
            if is_function and node.name.startswith("test_"):
                found[node.name] = path
    return found


TEST_FUNCTIONS = named_tests(TESTS_ROOT)


@pytest.mark.parametrize("name", HOOKSPECS)
def test_every_hookspec_has_a_test_named_for_it(name: str) -> None:
    named = [test for test in TEST_FUNCTIONS if name in test]

    assert named, f"no test under {TESTS_ROOT} has {name} in its name (test_{name}_<behaviour>)"


def test_the_coverage_check_wants_the_name_not_a_mention(tmp_path: Path) -> None:
    (tmp_path / "test_example.py").write_text(
        "def test_setup_works():\n    hook = 'edgewise_stop'\n\n"
        "async def test_edgewise_setup_gets_its_config():\n    pass\n"
    )

    named = named_tests(tmp_path)

    assert set(named) == {"test_setup_works", "test_edgewise_setup_gets_its_config"}
    assert not [test for test in named if "edgewise_stop" in test]


@pytest.mark.parametrize("name", HOOKSPECS)
def test_every_hookspec_is_listed_in_the_modules_phase_overview(name: str) -> None:
    assert hookspecs.__doc__ is not None
    assert f"``{name}``" in hookspecs.__doc__
