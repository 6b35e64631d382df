"""`--help` follows the language of the command line: `--lang`, else the config file, else the locale."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from termchat.cli import SUBCOMMANDS
from termchat.cli.root import RESUME_LATEST, root_option_values
from termchat.i18n import LOCALE_DIR

REPOSITORY = Path(__file__).resolve().parents[2]
LOCALE_VARIABLES = ("LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG")

ROOT_ENGLISH = "Chat with GPT-2 and other local causal language models in the terminal."
ROOT_CHINESE = "在终端里与 GPT-2 等本地因果语言模型聊天。"
ASK_ENGLISH = "Sampling temperature"
ASK_CHINESE = "采样温度"
SESSIONS_ENGLISH = "List saved conversations, most recent activity first."
SESSIONS_CHINESE = "列出已保存的对话，最近活动的在前。"

needs_catalogue = pytest.mark.skipif(
    not (LOCALE_DIR / "zh_CN" / "LC_MESSAGES" / "termchat.mo").exists(),
    reason="the zh_CN catalogue is not compiled",
)


def run_termchat(home: Path, *args: str, locale: str = "C") -> subprocess.CompletedProcess[str]:
    """Run `termchat ARGS` in a fresh interpreter, the way the console script does."""
    env = {name: value for name, value in os.environ.items() if name not in LOCALE_VARIABLES}
    env["LANG"] = locale
    env["TERMCHAT_HOME"] = str(home)
    env["PYTHONPATH"] = str(REPOSITORY) + os.pathsep + env.get("PYTHONPATH", "")
    env["PYTHONIOENCODING"] = "utf-8"
    return subprocess.run(
        [sys.executable, "-m", "termchat", *args],
        capture_output=True,
        text=True,
        encoding="utf-8",
        env=env,
        cwd=REPOSITORY,
        timeout=120,
    )


def write_config_language(folder: Path, language: str) -> None:
    config_file = folder / "config" / "config.toml"
    config_file.parent.mkdir(parents=True)
    config_file.write_text(f'[termchat]\nlang = "{language}"\n', encoding="utf-8")


def test_help_english_by_default(tmp_path: Path) -> None:
    result = run_termchat(tmp_path, "--help")

    assert result.returncode == 0, result.stderr
    assert ROOT_ENGLISH in result.stdout
    assert ROOT_CHINESE not in result.stdout


@needs_catalogue
def test_help_chinese_with_lang_option(tmp_path: Path) -> None:
    result = run_termchat(tmp_path, "--lang", "zh_CN", "--help")

    assert result.returncode == 0, result.stderr
    assert ROOT_CHINESE in result.stdout
    assert ROOT_ENGLISH not in result.stdout
    assert "运行模型的设备" in result.stdout


@needs_catalogue
def test_help_chinese_with_locale(tmp_path: Path) -> None:
    result = run_termchat(tmp_path, "--help", locale="zh_CN.UTF-8")

    assert result.returncode == 0, result.stderr
    assert ROOT_CHINESE in result.stdout


@needs_catalogue
def test_lang_option_beats_locale(tmp_path: Path) -> None:
    result = run_termchat(tmp_path, "--lang", "en", "--help", locale="zh_CN.UTF-8")

    assert result.returncode == 0, result.stderr
    assert ROOT_ENGLISH in result.stdout


@needs_catalogue
def test_ask_help_chinese(tmp_path: Path) -> None:
    result = run_termchat(tmp_path, "--lang", "zh_CN", "ask", "--help")

    assert result.returncode == 0, result.stderr
    assert ASK_CHINESE in result.stdout
    assert ASK_ENGLISH not in result.stdout


def test_ask_help_english(tmp_path: Path) -> None:
    result = run_termchat(tmp_path, "ask", "--help")

    assert result.returncode == 0, result.stderr
    assert ASK_ENGLISH in result.stdout


@needs_catalogue
@pytest.mark.parametrize(
    "args",
    [
        ("--lang=zh_CN", "sessions", "--help"),
        ("--debug", "--lang", "zh_CN", "sessions", "list", "--help"),
        ("--resume", "--lang", "zh_CN", "sessions", "--help"),
    ],
)
def test_sessions_help_chinese(tmp_path: Path, args: tuple[str, ...]) -> None:
    result = run_termchat(tmp_path, *args)

    assert result.returncode == 0, result.stderr
    assert "已保存的对话" in result.stdout
    assert "saved conversations" not in result.stdout


@needs_catalogue
def test_help_follows_config_in_data_dir(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    write_config_language(data_dir, "zh_CN")

    result = run_termchat(tmp_path / "unused", "--data-dir", str(data_dir), "sessions", "--help")

    assert result.returncode == 0, result.stderr
    assert SESSIONS_CHINESE in result.stdout


@needs_catalogue
def test_help_follows_config_in_home(tmp_path: Path) -> None:
    write_config_language(tmp_path, "zh_CN")

    result = run_termchat(tmp_path, "ask", "--help")

    assert result.returncode == 0, result.stderr
    assert ASK_CHINESE in result.stdout


def test_help_ignores_broken_config(tmp_path: Path) -> None:
    config_file = tmp_path / "config" / "config.toml"
    config_file.parent.mkdir(parents=True)
    config_file.write_text("[termchat\n", encoding="utf-8")

    result = run_termchat(tmp_path, "--help")

    assert result.returncode == 0, result.stderr
    assert ROOT_ENGLISH in result.stdout


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ([], {}),
        (["--lang", "zh_CN", "ask"], {"lang": "zh_CN"}),
        (["--lang=zh_CN", "--data-dir=/tmp/x"], {"lang": "zh_CN", "data_dir": "/tmp/x"}),
        (["--lang", "en", "--lang", "zh_CN"], {"lang": "zh_CN"}),
        (["--model", "--lang", "sessions"], {"model": "--lang"}),
        (["--resume", "--lang", "zh_CN"], {"resume": RESUME_LATEST, "lang": "zh_CN"}),
        (["-c", "ab12", "--lang", "zh_CN"], {"resume": "ab12", "lang": "zh_CN"}),
        (["ask", "--lang", "zh_CN"], {}),
        (["--", "--lang", "zh_CN"], {}),
        (["--debug", "--unknown", "--lang", "zh_CN"], {"lang": "zh_CN"}),
        (["--lang"], {}),
    ],
)
def test_root_option_values(args: list[str], expected: dict[str, str]) -> None:
    assert root_option_values(args, set(SUBCOMMANDS)) == expected


@needs_catalogue
def test_chinese_help_imports_no_heavy_module(tmp_path: Path) -> None:
    code = (
        "import sys\n"
        "sys.argv = ['termchat', '--lang', 'zh_CN', '--help']\n"
        "from termchat.cli import main\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "heavy = [name for name in ('textual', 'torch', 'transformers') if name in sys.modules]\n"
        "print('HEAVY', heavy)\n"
    )
    env = {**os.environ, "TERMCHAT_HOME": str(tmp_path), "PYTHONIOENCODING": "utf-8"}
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, encoding="utf-8", env=env, cwd=REPOSITORY, timeout=120
    )

    assert result.returncode == 0, result.stderr
    assert ROOT_CHINESE in result.stdout
    assert "HEAVY []" in result.stdout
