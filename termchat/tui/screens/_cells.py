"""Stored text made safe for a table cell or a label one row high, and cut to a width in terminal cells."""

from __future__ import annotations

import re

from rich.cells import get_character_cell_size
from rich.text import Text

from termchat.tui.text import literal

ELLIPSIS = "…"

_LINE_BREAKS = re.compile(r"[\r\n]+")


def one_line(text: str) -> str:
    """Join the lines of `text` with single spaces."""
    return _LINE_BREAKS.sub(" ", text).strip()


def cell(text: str) -> Text:
    """Return `text` on one line, with markup shown as typed and control characters made visible."""
    return literal(one_line(text))


def _characters_within(text: str, width: int) -> int:
    """Return how many characters from the start of `text` fit in `width` terminal cells."""
    used = 0
    for index, character in enumerate(text):
        used += get_character_cell_size(character)
        if used > width:
            return index
    return len(text)


def _characters_within_from_end(text: str, width: int) -> int:
    """Return how many characters from the end of `text` fit in `width` terminal cells."""
    used = 0
    for count, character in enumerate(reversed(text)):
        used += get_character_cell_size(character)
        if used > width:
            return count
    return len(text)


def cut_to_width(text: Text, width: int) -> Text:
    """Return `text` cut to at most `width` terminal cells, ending with "…" when it was cut.

    The cut falls between characters, so a wide (CJK or emoji) character is
    either kept whole or dropped. Rich's `Text.truncate` pads a split wide
    character with a space instead, which showed as a gap before the ellipsis.
    The result can be one cell narrower than `width` for that reason.
    """
    if text.cell_len <= width:
        return text
    if width < 1:
        return Text("", end="")
    head = text[: _characters_within(text.plain, width - 1)]
    head.rstrip()
    head.append(ELLIPSIS)
    head.end = ""
    return head


def cut_around(text: Text, start: int, width: int, lead: int) -> Text:
    """Return `text` cut to at most `width` terminal cells with the character at index `start` in view.

    When the text before `start` is wider than `lead` cells, its beginning is
    replaced by "…" so that about `lead` cells of it remain, and the end is cut
    as by `cut_to_width`. A search snippet uses this to keep its match visible.
    """
    if text.cell_len <= width:
        return text
    before = text.plain[:start]
    if Text(before).cell_len > lead:
        # One cell of the lead goes to the ellipsis that replaces the dropped start.
        kept_before = _characters_within_from_end(before, max(lead - 1, 0))
        rest = text[start - kept_before :]
        if not rest.plain.startswith(ELLIPSIS):
            rest = Text(ELLIPSIS, end="") + rest
        text = rest
    text = cut_to_width(text, width)
    text.end = ""
    return text
