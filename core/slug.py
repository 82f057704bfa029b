"""Slugs: the lower-case ASCII identifiers entity object ids and area ids are made of.

As Home Assistant does, names are transliterated, not stripped: python-slugify with
text-unidecode (not the GPL ``unidecode``) turns "Straße" into ``strasse``, "Küche 1" into
``kuche_1`` and "客厅" into ``ke_ting``, so a site named in any language gets readable ids.
"""

from __future__ import annotations

from slugify import slugify as _transliterated_slug

#: What an empty or all-punctuation text becomes, so an id is never empty.
EMPTY_SLUG = "unnamed"


def slugify(text: str, *, separator: str = "_") -> str:
    """Turn ``text`` into ``lower_case_ascii_with_underscores`` ("Straße 1" -> "strasse_1").

    Words are joined by ``separator``; the result is never empty (``EMPTY_SLUG``).
    """
    return _transliterated_slug(text, separator=separator) or EMPTY_SLUG
