"""The ``supabase:`` section's validation: clear errors for bad filters, URLs and columns."""

from __future__ import annotations

import pytest
import voluptuous as vol

from integrations.supabase.schema import CONFIG_SCHEMA, SupabaseConfig


def _section(**source: object) -> dict[str, object]:
    base = {"table": "latest_data", "id_columns": ["site_id", "metric"], "value_column": "value"}
    return {"url": "https://abc.supabase.co/", "anon_key": "k", "sources": [{**base, **source}]}


def test_a_valid_section_becomes_frozen_config() -> None:
    config = CONFIG_SCHEMA(_section(filter="site_id=eq.7", unit="kW", device_class="power"))
    assert isinstance(config, SupabaseConfig)
    assert config.url == "https://abc.supabase.co"
    assert config.heartbeat_interval == 25.0
    assert config.sources[0].realtime_filter == "site_id=eq.7"
    assert config.sources[0].id_columns == ("site_id", "metric")


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ({"filter": ["site_id"]}, "expected column=op.value"),
        ({"filter": ["site_id=between.1"]}, "unknown operator 'between'"),
        ({"filter": ["value=is.null"]}, "the first filter goes to Realtime"),
        ({"filter": ["metric=in.1,2"]}, "parenthesised list"),
        ({"value_column": "va lue"}, "not a PostgreSQL identifier"),
        ({"unit": "kW", "unit_column": "unit"}, "unit"),
    ],
)
def test_bad_sources_are_refused_with_the_reason(source: dict[str, object], message: str) -> None:
    with pytest.raises(vol.Invalid) as err:
        CONFIG_SCHEMA(_section(**source))
    assert message in str(err.value)


def test_a_url_that_is_not_http_is_refused() -> None:
    with pytest.raises(vol.Invalid, match="expected an http"):
        CONFIG_SCHEMA({"url": "ftp://x", "anon_key": "k"})
