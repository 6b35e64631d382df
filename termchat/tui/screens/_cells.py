"""Stored text made safe for a table cell or a label one row high."""

from __future__ import annotations

import re

from rich.text import Text

from termchat.tui.text import literal

_LINE_BREAKS = re.compile(r"[\r\n]+")


def one_line(text: str) -> str:
    """Join the lines of `text` with single spaces."""
    return _LINE_BREAKS.sub(" ", text).strip()


def cell(text: str) -> Text:
    """Return `text` on one line, with markup shown as typed and control characters made visible."""
    return literal(one_line(text))
