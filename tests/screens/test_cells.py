"""Cutting table cell text to a width in terminal cells."""

from __future__ import annotations

import pytest
from rich.cells import cell_len
from rich.text import Text

from termchat.tui.screens._cells import cut_around, cut_to_width
from termchat.tui.screens.sessions import model_cell


@pytest.mark.parametrize(
    ("text", "width", "expected"),
    [
        ("short", 10, "short"),
        ("exactly ten", 11, "exactly ten"),
        ("a title cut in a word", 10, "a title c…"),
        ("a title cut at a space", 9, "a title…"),
        ("中文标题中文标题", 9, "中文标题…"),
        ("中文标题中文标题", 8, "中文标…"),
        ("日本語のタイトル", 7, "日本語…"),
        ("🍞🥖🥐🎉", 6, "🍞🥖…"),
        ("中文 标题中文", 7, "中文…"),
        ("anything", 0, ""),
    ],
)
def test_cut_to_width_cases(text: str, width: int, expected: str) -> None:
    cut = cut_to_width(Text(text), width)

    assert cut.plain == expected
    assert cell_len(cut.plain) <= width


def test_cut_to_width_keeps_styles() -> None:
    text = Text("plain ")
    text.append("bold part", style="bold")

    cut = cut_to_width(text, 10)

    assert cut.plain == "plain bol…"
    assert [(span.start, span.end, span.style) for span in cut.spans] == [(6, 9, "bold")]


def test_cut_around_keeps_match_in_view() -> None:
    text = Text("前" * 20)
    start = len(text)
    text.append("匹配", style="bold reverse")
    text.append("后" * 20)

    cut = cut_around(text, start, 20, 7)

    assert cut.plain == "…前前前匹配后后后后…"
    assert cell_len(cut.plain) <= 20
    [span] = cut.spans
    assert cut.plain[span.start : span.end] == "匹配"


def test_cut_around_short_lead_cuts_end_only() -> None:
    text = Text("ab")
    text.append("match", style="bold")
    text.append(" and a long tail after it")

    cut = cut_around(text, 2, 12, 5)

    assert cut.plain == "abmatch and…"


def test_cut_around_no_double_ellipsis() -> None:
    text = Text("…" + "x" * 20 + "match" + "y" * 20)

    cut = cut_around(text, 21, 16, 4)

    assert cut.plain == "…xxxmatchyyyyyy…"


@pytest.mark.parametrize(
    ("model", "expected"),
    [
        ("gpt2", "gpt2"),
        ("HuggingFaceTB/SmolLM2-135M-Instruct", "HuggingFace…35M-Instruct"),
        ("/home/me/models/SmolLM2-135M-Instruct.Q4_1.gguf", "SmolLM2-135…ct.Q4_1.gguf"),
        ("/home/me/models/tiny", "tiny"),
    ],
)
def test_model_cell_shows_local_file_name(model: str, expected: str) -> None:
    assert model_cell(model).plain == expected
