"""Help pages wrapped by terminal cells, with Click's own words translated."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from rich.cells import cell_len

from termchat.cli.help_format import (
    NO_BREAK_AFTER,
    NO_BREAK_BEFORE,
    wrap_cells,
    wrap_paragraphs,
)
from tests.cli.test_help_language import needs_catalogue, run_termchat

CHINESE = "继续已保存的对话：不给 ID 时继续最近的一个，给出 ID 时继续 ID 以它开头的那一个。默认：auto。"


@pytest.mark.parametrize("width", [10, 17, 24, 57])
def test_chinese_lines_fit_width(width: int) -> None:
    lines = wrap_cells(CHINESE, width)

    assert len(lines) > 1
    for line in lines:
        assert cell_len(line) <= width, line


@pytest.mark.parametrize("width", [10, 17, 24, 57])
def test_chinese_text_kept_whole(width: int) -> None:
    lines = wrap_cells(CHINESE, width)

    assert "".join(lines).replace(" ", "") == CHINESE.replace(" ", "")


@pytest.mark.parametrize("width", [9, 10, 11, 12, 13, 14])
def test_punctuation_stays_with_neighbour(width: int) -> None:
    lines = wrap_cells("把数据库放在这个文件夹下（设置 TERMCHAT_HOME）。默认：关闭，否则按区域设置。", width)

    for line in lines:
        assert line[0] not in NO_BREAK_BEFORE, lines
        assert line[-1] not in NO_BREAK_AFTER, lines


def test_english_words_not_split() -> None:
    text = "Hub id, local model folder or .gguf file to chat with. Default: the config file's model, else gpt2."

    lines = wrap_cells(text, 20)

    assert all(cell_len(line) <= 20 for line in lines)
    assert " ".join(lines) == text


def test_long_piece_cut_to_width() -> None:
    lines = wrap_cells("see /a/very/long/path/to/a/model/folder now", 10)

    assert lines == ["see", "/a/very/lo", "ng/path/to", "/a/model/f", "older now"]


def test_paragraphs_and_raw_blocks() -> None:
    text = "first paragraph\nwraps here\n\n\b\n  keep   this\n  as is\n\nlast"

    lines = wrap_paragraphs(text, 40)

    assert lines == ["first paragraph wraps here", "", "  keep   this", "  as is", "", "last"]


@needs_catalogue
@pytest.mark.parametrize(
    "args",
    [
        ("--lang", "zh_CN", "--help"),
        ("--lang", "zh_CN", "ask", "--help"),
        ("--lang", "zh_CN", "sessions", "search", "--help"),
    ],
)
def test_chinese_help_fits_80_columns(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, args: tuple[str, ...]) -> None:
    monkeypatch.setitem(os.environ, "COLUMNS", "80")

    result = run_termchat(tmp_path, *args)

    assert result.returncode == 0, result.stderr
    for line in result.stdout.splitlines():
        assert cell_len(line) <= 80, line


@needs_catalogue
def test_chinese_help_translates_click_words(tmp_path: Path) -> None:
    result = run_termchat(tmp_path, "--lang", "zh_CN", "ask", "--help")

    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("用法：")
    assert "\n参数：\n" in result.stdout
    assert "\n选项：\n" in result.stdout
    assert "显示此帮助信息并退出。" in result.stdout


def test_english_help_keeps_click_words(tmp_path: Path) -> None:
    result = run_termchat(tmp_path, "--help")

    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("Usage:")
    assert "\nOptions:\n" in result.stdout
    assert "\nCommands:\n" in result.stdout
    assert "Show this message and exit." in result.stdout


def test_english_command_summaries_whole(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(os.environ, "COLUMNS", "80")

    result = run_termchat(tmp_path, "--help")

    assert result.returncode == 0, result.stderr
    assert ",..." not in result.stdout
    assert "transformers versions, devices and paths." in " ".join(result.stdout.split())
    for line in result.stdout.splitlines():
        assert cell_len(line) <= 80, line
