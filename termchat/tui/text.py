"""Literal display of user input and model output.

Neither Rich markup (`[bold]`, `[link=x]`) nor terminal control sequences in
a message may change how the screen looks, so every message goes through
`visible_controls` and is wrapped in a `rich.text.Text`, never parsed as markup.
"""

from __future__ import annotations

from rich.text import Text


def _build_control_table() -> dict[int, str]:
    table: dict[int, str] = {}
    for code in range(0x20):
        if chr(code) not in "\n\t":
            # Caret notation, as terminals echo control keys: ESC (0x1b) becomes ^[.
            table[code] = "^" + chr(code + 0x40)
    table[0x7F] = "^?"
    for code in range(0x80, 0xA0):
        # C1 controls (CSI is 0x9b) have no caret form, so show their code point.
        table[code] = f"<U+{code:04X}>"
    return table


_CONTROL_TABLE = _build_control_table()


def visible_controls(text: str) -> str:
    """Return `text` with control characters replaced by visible stand-ins.

    Newlines and tabs stay; CRLF and lone CR become newlines first, because
    pasted text from Windows programs carries them.
    """
    normalized = text.replace("\r\n", "\n").replace("\r", "\n")
    return normalized.translate(_CONTROL_TABLE)


def literal(text: str, style: str = "") -> Text:
    """Return `text` as a Rich Text shown exactly as typed, control characters made visible."""
    return Text(visible_controls(text), style=style, end="")
