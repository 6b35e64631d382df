"""`termchat` with root options only, which starts the chat app without Typer."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from termchat.cli import SUBCOMMANDS, _register_commands
from termchat.cli import app as cli_app
from termchat.cli.root import RESUME_LATEST, parse_chat_argv

FLAGS = {"trust_remote_code": False, "debug": False}


def test_subcommands_match_registered() -> None:
    _register_commands()
    registered = {command.name for command in cli_app.registered_commands}
    registered |= {group.name for group in cli_app.registered_groups}
    assert registered == set(SUBCOMMANDS)


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        ([], {}),
        (["--model", "gpt2"], {"model": "gpt2"}),
        (["-m", "gpt2", "--device=cpu"], {"model": "gpt2", "device": "cpu"}),
        (["--dtype", "float32", "--lang", "zh_CN"], {"dtype": "float32", "lang": "zh_CN"}),
        (["--resume"], {"resume": RESUME_LATEST}),
        (["-c", "ab12"], {"resume": "ab12"}),
        (["--resume", "--debug"], {"resume": RESUME_LATEST, "debug": True}),
        (["--data-dir", "/tmp/x", "--trust-remote-code"], {"data_dir": "/tmp/x", "trust_remote_code": True}),
    ],
)
def test_root_options_parsed(argv: list[str], expected: dict[str, object]) -> None:
    assert parse_chat_argv(argv, set(SUBCOMMANDS)) == {**FLAGS, **expected}


@pytest.mark.parametrize(
    "argv",
    [
        ["--help"],
        ["-h"],
        ["--version"],
        ["ask", "hello"],
        ["--model", "gpt2", "sessions"],
        ["--resume", "sessions"],
        ["--model"],
        ["--model", "--debug"],
        ["--model="],
        ["--model", "a", "--model", "b"],
        ["--unknown"],
        ["-mgpt2"],
        ["--", "--model"],
    ],
)
def test_other_argv_left_to_typer(argv: list[str]) -> None:
    assert parse_chat_argv(argv, set(SUBCOMMANDS)) is None


def test_fast_start_reports_config_error(tmp_path: Path) -> None:
    config_file = tmp_path / "config" / "config.toml"
    config_file.parent.mkdir(parents=True)
    config_file.write_text("[termchat]\ndevice = \"tpu\"\n", encoding="utf-8")
    code = (
        "import sys\n"
        f"sys.argv = ['termchat', '--data-dir', {str(tmp_path)!r}]\n"
        "from termchat.cli import main\n"
        "main()\n"
    )

    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=Path(__file__).parents[2]
    )

    assert result.returncode == 2
    assert str(config_file) in result.stderr
    assert "Traceback" not in result.stderr


def test_fast_start_skips_typer(tmp_path: Path) -> None:
    code = (
        "import sys\n"
        f"sys.argv = ['termchat', '--data-dir', {str(tmp_path)!r}, '--device', 'tpu']\n"
        "from termchat.cli import main\n"
        "try:\n    main()\nexcept SystemExit as exit:\n    print('EXIT', exit.code)\n"
        "print('TYPER', 'typer' in sys.modules)\n"
    )

    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=Path(__file__).parents[2]
    )

    assert "EXIT 2" in result.stdout
    assert "TYPER False" in result.stdout
    assert "--device" in result.stderr
