"""Slugs: the lower-case ASCII identifiers entity object ids and area ids are made of."""

from __future__ import annotations

import re
import unicodedata

_NON_ALNUM = re.compile(r"[^a-z0-9]+")

#: What an empty or all-punctuation text becomes, so an id is never empty.
EMPTY_SLUG = "unnamed"


def slugify(text: str) -> str:
    """Turn ``text`` into ``lower_case_ascii_with_underscores`` ("Küche 1" -> "kuche_1")."""
    # NFKD splits accented letters into letter + combining mark; dropping non-ASCII then keeps
    # the letter, and compatibility forms ("ﬁ", "²") become their plain equivalents.
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    slug = _NON_ALNUM.sub("_", ascii_text.lower()).strip("_")
    return slug or EMPTY_SLUG
