"""Help pages that wrap by terminal cells and use termchat's translations.

Typer 0.29 formats plain help with the Click it vendors, which wraps text
by characters. A Chinese character takes two terminal cells, so Chinese
help lines came out up to twice as wide as the terminal. The formatter here
wraps by cells, breaks lines between Chinese, Japanese and Korean
characters as well as at spaces, and translates the words Click writes
itself ("Usage:", the section headings and the help option's text).

Every command and group of the `termchat` command line uses these classes,
through `TermchatGroup` and `TermchatCommand`. Click's notes after an
option's help ("[default: 20]", "[required]") and its error messages are
not translated.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import typer
from rich.cells import cell_len, get_character_cell_size
from typer.core import TyperCommand, TyperGroup

from termchat.i18n import N_, _

# Click writes these section headings. They are marked here so that the
# catalogue has them, and `CellHelpFormatter.write_heading` translates them.
SECTION_HEADINGS = (N_("Arguments"), N_("Options"), N_("Commands"))

SUMMARY_LIMIT = 500
"""Characters of a command's summary shown in its group's help; Click ends the summary at its first sentence."""

NO_BREAK_BEFORE = frozenset("，。、；：？！）」』》〉】〕…—,.;:?!)]}%")
"""Punctuation that must not start a line. It stays with the character before it."""
NO_BREAK_AFTER = frozenset("（「『《〈【〔([{")
"""Punctuation that must not end a line. It stays with the character after it."""


def _is_wide(char: str) -> bool:
    return get_character_cell_size(char) == 2


def _pieces(text: str) -> list[str]:
    """Split `text` into the pieces that a line may break between, with " " for each run of whitespace.

    A run of narrow characters (an English word, an option name) is one
    piece. Each wide character is a piece of its own, because Chinese,
    Japanese and Korean text may break between any two characters, except
    that punctuation in NO_BREAK_BEFORE and NO_BREAK_AFTER is kept with
    its neighbour.
    """
    pieces: list[str] = []
    glue_next = False
    for char in text:
        if char.isspace():
            if pieces and pieces[-1] != " ":
                pieces.append(" ")
            glue_next = False
            continue
        previous = pieces[-1] if pieces else " "
        joins_previous = previous != " " and (
            glue_next or char in NO_BREAK_BEFORE or not (_is_wide(char) or _is_wide(previous[-1]))
        )
        if joins_previous:
            pieces[-1] = previous + char
        else:
            pieces.append(char)
        glue_next = char in NO_BREAK_AFTER
    return pieces


def _split_to_width(piece: str, width: int) -> list[str]:
    """Cut a piece wider than `width` cells into parts of at most `width` cells."""
    parts: list[str] = []
    current = ""
    for char in piece:
        if current and cell_len(current + char) > width:
            carried = ""
            if char in NO_BREAK_BEFORE and len(current) > 1:
                # Move one character along, so the new part does not start with the punctuation.
                current, carried = current[:-1], current[-1]
            parts.append(current)
            current = carried
        current += char
    parts.append(current)
    return parts


def wrap_cells(text: str, width: int) -> list[str]:
    """Wrap one paragraph into lines of at most `width` terminal cells.

    Whitespace runs become one space, and lines neither start nor end with
    one. A piece wider than `width` on its own, such as a long path, is cut.
    """
    width = max(width, 2)
    lines: list[str] = []
    line = ""
    space = False
    for piece in _pieces(text):
        if piece == " ":
            space = bool(line)
            continue
        candidate = f"{line} {piece}" if space else line + piece
        if not line or cell_len(candidate) <= width:
            line = candidate
        else:
            lines.append(line)
            line = piece
        space = False
        if cell_len(line) > width:
            *full, line = _split_to_width(line, width)
            lines.extend(full)
    if line:
        lines.append(line)
    return lines


def wrap_paragraphs(text: str, width: int) -> list[str]:
    """Wrap `text` by paragraphs, as Click does: a blank line separates paragraphs.

    A paragraph whose first line is "\\b" is kept line by line, unwrapped.
    Paragraphs are separated by an empty line in the result.
    """
    lines: list[str] = []
    for paragraph in text.expandtabs().split("\n\n"):
        paragraph = paragraph.strip("\n")
        if not paragraph:
            continue
        if lines:
            lines.append("")
        paragraph_lines = paragraph.splitlines()
        if paragraph_lines[0].strip() == "\b":
            lines.extend(paragraph_lines[1:])
        else:
            lines.extend(wrap_cells(" ".join(line.strip() for line in paragraph_lines), width))
    return lines


class CellHelpFormatter(typer.Context.formatter_class):  # type: ignore[misc,name-defined]
    """Click's help formatter with cell-based wrapping and translated words.

    The base class is the formatter class of Typer's Context, which is the
    HelpFormatter of the Click that Typer vendors.
    """

    def write_usage(self, prog: str, args: str = "", prefix: str | None = None) -> None:
        if prefix is None:
            prefix = _("Usage:") + " "
        usage_prefix = f"{prefix:>{self.current_indent}}{prog} "
        text_width = self.width - self.current_indent
        if text_width >= cell_len(usage_prefix) + 20:
            # As in Click, the arguments go right of the prefix when 20 cells are left for them.
            indent = " " * cell_len(usage_prefix)
            lines = wrap_cells(args, text_width - cell_len(usage_prefix)) or [""]
            self.write(usage_prefix + lines[0] + "\n")
            lines = lines[1:]
        else:
            indent = " " * (max(self.current_indent, cell_len(prefix)) + 4)
            lines = wrap_cells(args, text_width - cell_len(indent))
            self.write(usage_prefix.rstrip() + "\n")
        for line in lines:
            self.write(indent + line + "\n")

    def write_heading(self, heading: str) -> None:
        self.write(" " * self.current_indent + _("{heading}:").format(heading=_(heading)) + "\n")

    def write_text(self, text: str) -> None:
        indent = " " * self.current_indent
        for line in wrap_paragraphs(text, self.width - self.current_indent):
            self.write(f"{indent}{line}\n" if line else "\n")

    def write_dl(self, rows: Sequence[tuple[str, str]], col_max: int = 30, col_spacing: int = 2) -> None:
        rows = list(rows)
        first_width = min(max((cell_len(first) for first, _second in rows), default=0), col_max)
        first_col = first_width + col_spacing
        text_width = max(self.width - first_col - 2, 10)
        indent = " " * (self.current_indent + first_col)
        for first, second in rows:
            self.write(" " * self.current_indent + first)
            lines = wrap_paragraphs(second, text_width)
            if not lines:
                self.write("\n")
                continue
            if cell_len(first) <= first_width:
                self.write(" " * (first_col - cell_len(first)))
            else:
                self.write("\n" + indent)
            self.write(lines[0] + "\n")
            for line in lines[1:]:
                self.write(f"{indent}{line}\n" if line else "\n")


class CellContext(typer.Context):
    formatter_class = CellHelpFormatter


class _CellHelp:
    """Mixin for a Typer command or group: `CellHelpFormatter` and a translated help option."""

    context_class = CellContext

    def get_help_option(self, ctx: Any) -> Any:
        option = super().get_help_option(ctx)  # type: ignore[misc]
        # Typer builds the -h/--help option with Click's English help text.
        if option is not None:
            option.help = _("Show this message and exit.")
        return option


class TermchatCommand(_CellHelp, TyperCommand):
    """A Typer command whose help page uses `CellHelpFormatter`."""


class TermchatGroup(_CellHelp, TyperGroup):
    """A Typer command group whose help page uses `CellHelpFormatter`."""

    def format_commands(self, ctx: Any, formatter: Any) -> None:
        # Typer cuts each summary to one line by characters, which ended English
        # summaries in "..." while Chinese ones fitted. The formatter wraps them instead.
        rows = []
        for name in self.list_commands(ctx):
            command = self.get_command(ctx, name)
            if command is not None and not command.hidden:
                rows.append((name, command.get_short_help_str(limit=SUMMARY_LIMIT)))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)
