"""Services described from their schemas, as Home Assistant's services.yaml describes them."""

from __future__ import annotations

import voluptuous as vol

from core import validators as cv
from core.service_description import Field, describe_fields, entity_target


def test_fields_come_from_the_schema_with_required_and_a_selector_per_validator() -> None:
    schema = vol.Schema(
        {
            vol.Required("message"): cv.string,
            vol.Optional("enabled"): cv.boolean,
            vol.Optional("level"): vol.All(vol.Coerce(float), vol.Range(min=0, max=100)),
            vol.Optional("count"): vol.Coerce(int),
            vol.Optional("mode"): vol.In(["heat", "cool"]),
            vol.Optional("target"): cv.entity_id,
            vol.Optional("extra"): dict,
        }
    )
    fields = describe_fields(schema)
    assert fields["message"] == {"name": "Message", "required": True, "selector": {"text": {}}}
    assert fields["enabled"]["selector"] == {"boolean": {}}
    assert fields["enabled"]["required"] is False
    assert fields["level"]["selector"] == {"number": {"mode": "box", "min": 0, "max": 100}}
    assert fields["count"]["selector"] == {"number": {"mode": "box"}}
    assert fields["mode"]["selector"] == {"select": {"options": ["heat", "cool"]}}
    assert fields["target"]["selector"] == {"entity": {"multiple": False}}
    assert fields["extra"]["selector"] == {"object": {}}


def test_declared_details_are_merged_over_what_the_schema_says() -> None:
    schema = vol.Schema({vol.Required("address"): vol.Coerce(int)})
    fields = describe_fields(
        schema,
        {
            "address": Field(name="Address", description="Holding register", example=40001),
            "unit": Field(description="Taken by the handler itself", selector={"text": {}}),
        },
    )
    assert fields["address"] == {
        "name": "Address",
        "description": "Holding register",
        "example": 40001,
        "required": True,
        "selector": {"number": {"mode": "box"}},
    }
    assert fields["unit"]["required"] is False


def test_a_schemaless_service_has_no_fields_and_an_entity_target_names_its_domain() -> None:
    assert describe_fields(None) == {}
    assert entity_target("switch") == {"entity": [{"domain": ["switch"]}]}
