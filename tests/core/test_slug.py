"""Slugs transliterate non-ASCII names as Home Assistant does (python-slugify, text-unidecode)."""

from __future__ import annotations

import pytest

from core.slug import EMPTY_SLUG, slugify
from core.state import valid_entity_id


@pytest.mark.parametrize(
    ("text", "slug"),
    [
        ("Straße", "strasse"),
        ("客厅", "ke_ting"),
        ("温度 sensor", "wen_du_sensor"),
        ("Кухня", "kukhnia"),
        ("Küche 1", "kuche_1"),
        ("Salle à manger", "salle_a_manger"),
        ("Kuchyně", "kuchyne"),
        ("CO₂ level", "co2_level"),
        ("ﬁle", "file"),
        ("  Living -- Room!! ", "living_room"),
        ("it's", "it_s"),
        ("a__b", "a_b"),
    ],
)
def test_names_in_any_script_become_readable_ascii_slugs(text: str, slug: str) -> None:
    assert slugify(text) == slug
    assert valid_entity_id(f"sensor.{slug}")


@pytest.mark.parametrize("text", ["", "___", "  --  ", "!!!", "🙂"])
def test_a_text_with_nothing_to_keep_gives_the_empty_slug(text: str) -> None:
    assert slugify(text) == EMPTY_SLUG


def test_the_separator_joins_the_words() -> None:
    assert slugify("Straße 12 Nord", separator="-") == "strasse-12-nord"
