"""The ``!input`` tag of blueprints in core/yaml_loader.py."""

from __future__ import annotations

from pathlib import Path

from core.yaml_loader import Input, load_yaml


def test_input_tag_loads_as_a_placeholder_anywhere(tmp_path: Path) -> None:
    path = tmp_path / "bp.yaml"
    path.write_text(
        "blueprint: {name: x, domain: automation}\n"
        "triggers:\n  - trigger: state\n    entity_id: !input motion\n"
        "actions: !input actions\n"
    )
    data = load_yaml(path, config_dir=tmp_path)
    assert isinstance(data, dict)
    trigger = data["triggers"][0]
    assert trigger["entity_id"] == Input("motion")
    assert isinstance(data["actions"], Input)
    assert data["actions"].name == "actions"
    assert data["actions"].source is not None
    assert data["actions"].source.line == 5
    assert repr(data["actions"]) == "!input actions"
    assert len({Input("a"), Input("a"), Input("b")}) == 2
