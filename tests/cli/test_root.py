"""The root `termchat` command: options, resume resolution and start-up errors."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from termchat.cli import _register_commands
from termchat.cli import app as cli_app
from termchat.cli.root import RESUME_LATEST, normalize_resume_argv
from termchat.store import open_store

_register_commands()
runner = CliRunner()
SUBCOMMANDS = {"ask", "info", "sessions"}


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["--resume"], [f"--resume={RESUME_LATEST}"]),
        (["-c"], [f"--resume={RESUME_LATEST}"]),
        (["--resume", "--debug"], [f"--resume={RESUME_LATEST}", "--debug"]),
        (["--resume", "ab12"], ["--resume", "ab12"]),
        (["-c", "ab12"], ["-c", "ab12"]),
        (["--resume=ab12"], ["--resume=ab12"]),
        (["--resume", "sessions"], [f"--resume={RESUME_LATEST}", "sessions"]),
        (["--model", "gpt2"], ["--model", "gpt2"]),
        (["--", "--resume"], ["--", "--resume"]),
        # A missing model value: click reports "--resume" as the model, which the user typed.
        (["--model", "--resume"], ["--model", "--resume"]),
        (["--data-dir", "-c", "--resume"], ["--data-dir", "-c", f"--resume={RESUME_LATEST}"]),
    ],
)
def test_resume_argv_normalized(argv: list[str], expected: list[str]) -> None:
    assert normalize_resume_argv(argv, SUBCOMMANDS) == expected


class CapturedApp:
    """The apps whose `run` was called, in place of running them."""

    def __init__(self) -> None:
        self.apps: list[Any] = []


@pytest.fixture
def captured(monkeypatch: pytest.MonkeyPatch) -> CapturedApp:
    from termchat.tui.app import TermchatApp

    capture = CapturedApp()

    def run(app: Any, *args: Any, **kwargs: Any) -> None:
        capture.apps.append(app)

    monkeypatch.setattr(TermchatApp, "run", run)
    return capture


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    # --data-dir sets TERMCHAT_HOME; setting it here makes monkeypatch restore it afterwards.
    monkeypatch.setenv("TERMCHAT_HOME", str(tmp_path / "unused"))
    return tmp_path / "home"


def invoke(*args: str) -> Any:
    return runner.invoke(cli_app, list(args))


def test_version_printed() -> None:
    result = invoke("--version")
    assert result.exit_code == 0
    assert result.output.startswith("termchat ")


def test_resume_without_conversations_fails(home: Path) -> None:
    result = invoke("--data-dir", str(home), "--resume")
    assert result.exit_code == 2
    assert "no saved conversation" in result.output


def test_resume_unknown_id_fails(home: Path) -> None:
    result = invoke("--data-dir", str(home), "--resume", "abcdef")
    assert result.exit_code == 2
    assert "abcdef" in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_malformed_config_fails(home: Path) -> None:
    config_file = home / "config" / "config.toml"
    config_file.parent.mkdir(parents=True)
    config_file.write_text("[termchat]\ndevice = \"tpu\"\n", encoding="utf-8")
    result = invoke("--data-dir", str(home))
    assert result.exit_code == 2
    assert str(config_file) in result.output
    assert "device" in result.output


def test_invalid_device_fails(home: Path) -> None:
    result = invoke("--data-dir", str(home), "--device", "tpu")
    assert result.exit_code == 2
    assert "--device" in result.output


def test_options_reach_the_app(home: Path, captured: CapturedApp) -> None:
    result = invoke("--data-dir", str(home), "--model", "distilgpt2", "--device", "cpu", "--trust-remote-code")
    assert result.exit_code == 0, result.output
    (app,) = captured.apps
    assert app.spec.model == "distilgpt2"
    assert app.spec.device == "cpu"
    assert app.spec.dtype == "auto"
    assert app.spec.trust_remote_code is True


def test_resume_latest_uses_saved_model(home: Path, captured: CapturedApp) -> None:
    store = open_store(home / "termchat.db")
    store.create_conversation("old-model", {}, title="first")
    latest = store.create_conversation("saved-model", {}, title="second")
    store.add_message(latest.id, "user", "hello")
    store.close()

    result = invoke("--data-dir", str(home), "--resume")

    assert result.exit_code == 0, result.output
    (app,) = captured.apps
    assert app.chat.initial_conversation_id == latest.id
    assert app.spec.model == "saved-model"


def test_resume_prefix_with_model_override(home: Path, captured: CapturedApp) -> None:
    store = open_store(home / "termchat.db")
    conversation = store.create_conversation("saved-model", {})
    store.close()

    result = invoke("--data-dir", str(home), "-c", conversation.id[:6], "--model", "other")

    assert result.exit_code == 0, result.output
    (app,) = captured.apps
    assert app.chat.initial_conversation_id == conversation.id
    assert app.spec.model == "other"


def test_help_imports_no_heavy_modules() -> None:
    code = (
        "import sys\n"
        "sys.argv = ['termchat', '--help']\n"
        "from termchat.cli import main\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "heavy = [name for name in ('textual', 'torch', 'transformers') if name in sys.modules]\n"
        "print('HEAVY', heavy)\n"
    )
    output = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=Path(__file__).parents[2]
    ).stdout
    assert "--resume" in output
    assert "HEAVY []" in output


@pytest.mark.parametrize("source", ["locale", "config"])
def test_subcommand_follows_language(home: Path, monkeypatch: pytest.MonkeyPatch, source: str) -> None:
    from termchat import i18n

    if source == "locale":
        monkeypatch.setenv("LANG", "zh_CN.UTF-8")
        monkeypatch.delenv("LANGUAGE", raising=False)
        monkeypatch.delenv("LC_ALL", raising=False)
        monkeypatch.delenv("LC_MESSAGES", raising=False)
    else:
        monkeypatch.setenv("LANG", "C")
        config_file = home / "config" / "config.toml"
        config_file.parent.mkdir(parents=True)
        config_file.write_text('[termchat]\nlang = "zh_CN"\n', encoding="utf-8")

    try:
        result = invoke("--data-dir", str(home), "sessions", "list")
    finally:
        i18n.set_language("en")

    assert result.exit_code == 0, result.output
    assert "No saved conversations yet" not in result.output
    assert result.output.strip()
