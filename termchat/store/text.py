"""Text clean-up applied to everything the store writes, and conversation titles."""

from __future__ import annotations

import re
from typing import Any

TITLE_MAX_LENGTH = 60
"""Maximum characters in a title made from the first user message, ellipsis included."""

_SURROGATE = re.compile("[\ud800-\udfff]")
_WHITESPACE = re.compile(r"\s+")


def clean_text(text: str) -> str:
    """Return `text` with every lone UTF-16 surrogate replaced by U+FFFD.

    Some terminals and clipboards deliver text as UTF-16 code units, which can
    leave an unpaired surrogate (U+D800 to U+DFFF) in a Python string. SQLite
    stores UTF-8, which cannot encode such a code point, so the store replaces
    it with U+FFFD REPLACEMENT CHARACTER. A high surrogate followed by a low one
    is joined into the character that the pair encodes. Any other text,
    including NUL characters, is kept exactly.
    """
    if _SURROGATE.search(text) is None:
        return text
    # Encoding with surrogatepass keeps every code unit. Decoding then joins valid
    # pairs and replaces each lone surrogate with U+FFFD.
    return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")


def clean_value(value: Any) -> Any:
    """Apply `clean_text` to every string inside a JSON-like value (dict keys included)."""
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, dict):
        return {clean_value(key): clean_value(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [clean_value(item) for item in value]
    return value


def make_title(text: str, max_length: int = TITLE_MAX_LENGTH) -> str:
    """Shorten a user message into a one-line title, cut at a word boundary.

    Whitespace runs (line breaks included) become single spaces. A message
    longer than `max_length` is cut at the last space that fits and ends with
    "…". When no space falls in the second half of that range (a long word,
    or Chinese or Japanese text), the cut is at `max_length - 1` characters.
    """
    flat = _WHITESPACE.sub(" ", clean_text(text)).strip()
    if len(flat) <= max_length:
        return flat
    room = max_length - 1
    cut = flat.rfind(" ", 0, room + 1)
    head = flat[:cut] if cut > room // 2 else flat[:room]
    return head.rstrip() + "…"
