"""Tests for core/hookspecs.py: every hook is documented for plugin authors and tested.

A new hook without an ``Args``/``Returns`` section, an "Added in" line, or a test that uses it
fails here, the way datasette's ``tests/test_docs.py`` keeps its plugin hooks honest.
"""

from __future__ import annotations

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


@pytest.mark.parametrize("name", HOOKSPECS)
def test_every_hookspec_is_named_by_a_test(name: str) -> None:
    test_files = [
        path
        for path in TESTS_ROOT.rglob("*.py")
        if (path.name.startswith("test_") or path.name == "conftest.py")
        and path.resolve() != Path(__file__).resolve()
    ]

    using = [path for path in test_files if name in path.read_text(encoding="utf-8")]

    assert using, f"hookspec {name} is used by no test under {TESTS_ROOT}"


@pytest.mark.parametrize("name", HOOKSPECS)
def test_every_hookspec_is_listed_in_the_modules_phase_overview(name: str) -> None:
    assert hookspecs.__doc__ is not None
    assert f"``{name}``" in hookspecs.__doc__
